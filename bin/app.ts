import { App } from 'aws-cdk-lib';
import { ConfigError } from '#core/shared/errors.ts';
import { addChecks, addEnvironment } from '../lib/app.ts';
import { loadEnvironmentConfig } from '../lib/config/load.ts';

// `npx cdk synth -c env=<name>`: one environment per invocation, so a broken configuration of one
// environment never blocks work on another.
const app = new App();
const environment = app.node.tryGetContext('env') as string | undefined;
try {
  addEnvironment(app, environment ?? '', loadEnvironmentConfig(environment));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // One line a person can act on, not a stack trace.
  console.error(`lifeboat: ${err.message}`);
  process.exit(1);
}
addChecks(app);
app.synth();
