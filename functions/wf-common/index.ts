import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import { Catalog } from '#core/catalog/catalog.ts';
import { requireEnv } from '#core/shared/errors.ts';
import type { ConnectionInfo } from '#core/shared/pg.ts';
import { S3Repository } from '#core/repository/s3.ts';
import type { Repository } from '#core/repository/types.ts';
import { connectionFromSecret } from '#core/shared/secrets.ts';
import { WF_ENV } from './env.ts';
import { RETRY } from '#core/contracts/index.ts';

/**
 * What the workflow task functions (functions/wf-*) share: environment names, clients per region,
 * the catalog, database connections from a secret. Each wf-* handler is a thin adapter: it parses
 * the state's input, calls core logic, and returns exactly what the state machine keeps.
 */

export { WF_ENV } from './env.ts';

const rdsClients = new Map<string, RDSClient>();

/** One RDS client per region; cross-region calls (old primary, recovered region) use their own. */
export function rdsIn(region: string | undefined, options: { fast?: boolean } = {}): RDSClient {
  const key = `${region ?? 'default'}:${options.fast ? 'fast' : 'std'}`;
  let client = rdsClients.get(key);
  if (!client) {
    client = new RDSClient({
      ...(region ? { region } : {}),
      // An unreachable region must answer "unreachable" quickly, not after minutes of retries.
      ...(options.fast ? RETRY.probe : RETRY.rds),
    });
    rdsClients.set(key, client);
  }
  return client;
}

let s3: S3Client | undefined;
let secrets: SecretsManagerClient | undefined;

export function repositoryFromEnv(env: NodeJS.ProcessEnv = process.env): Repository {
  s3 ??= new S3Client({ maxAttempts: 5 });
  return new S3Repository({ client: s3, bucket: requireEnv(WF_ENV.bucket, env), prefix: '' });
}

export function catalogFromEnv(env: NodeJS.ProcessEnv = process.env): Catalog {
  // The bucket is in the function's region: a deletion of another region's copy (replicated from
  // there) does not make a backup of this one deleted.
  return new Catalog(repositoryFromEnv(env), { region: env.AWS_REGION });
}

/**
 * Connection details from a database secret, pointed at `host` (a restored or promoted database
 * keeps the source's credentials but has its own endpoint) and `database`.
 */
export async function connectionAt(
  secretArn: string,
  host: string | undefined,
  database?: string,
): Promise<ConnectionInfo> {
  secrets ??= new SecretsManagerClient({ maxAttempts: 3 });
  const info = await connectionFromSecret(secrets, secretArn, { database, sslmode: 'require' });
  return host ? { ...info, host } : info;
}

/** Wraps a task function with the Powertools logger; errors propagate with their `name`. */
export function taskHandler<E, R>(serviceName: string, run: (event: E, logger: Logger) => Promise<R>) {
  const logger = new Logger({ serviceName });
  return middy<E, R>()
    .use(injectLambdaContext(logger, { clearState: true }))
    .handler((event) => run(event, logger));
}
