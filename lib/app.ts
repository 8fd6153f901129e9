import { type App, Aspects, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import type { EnvironmentConfig } from './config/schema.ts';
import { NodejsFunctionGuard } from './constructs/lifeboat-function.ts';
import { stackName } from './naming.ts';
import { DrStack } from './stacks/dr-stack.ts';
import { PrimaryStack } from './stacks/primary-stack.ts';

export interface LifeboatStacks {
  readonly primary: PrimaryStack;
  readonly dr: DrStack;
}

/**
 * Adds one environment's stacks to `app`: the primary-region stack and the DR-region stack.
 * The DR stack is deployed first (`--all` follows the dependency), because the primary bucket
 * replicates into the DR bucket.
 */
export function addEnvironment(app: App, environment: string, config: EnvironmentConfig): LifeboatStacks {
  const dr = new DrStack(app, stackName(environment, 'dr'), {
    environment,
    config,
    env: { account: config.account, region: config.drRegion },
    description: `lifeboat ${environment}: DR-region backup replica (${config.drRegion})`,
    crossRegionReferences: false,
  });
  const primary = new PrimaryStack(app, stackName(environment, 'primary'), {
    environment,
    config,
    env: { account: config.account, region: config.primaryRegion },
    description: `lifeboat ${environment}: backups in the primary region (${config.primaryRegion})`,
  });
  primary.addStackDependency(dr, 'the primary bucket replicates into the DR bucket');
  return { primary, dr };
}

/**
 * The checks every lifeboat app runs at synthesis: the NodejsFunction guard and cdk-nag's
 * AwsSolutions and NIST 800-53 rev 5 packs (a finding fails synthesis).
 */
export function addChecks(app: App): void {
  Aspects.of(app).add(new NodejsFunctionGuard());
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
}
