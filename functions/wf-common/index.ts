import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { Catalog } from '#core/catalog/catalog.ts';
import { requireEnv } from '#core/shared/errors.ts';
import { S3Repository } from '#core/repository/s3.ts';
import type { Repository } from '#core/repository/types.ts';
import { awsClient } from '#runtime/clients.ts';
import { WF_ENV } from './env.ts';

/**
 * What the workflow task functions (functions/wf-*) share: environment names, the clients they
 * use (from functions/runtime's cache), the catalog, database connections from a secret. Each
 * wf-* handler is `lambdaHandler` (functions/runtime/handler.ts): its event schema, the core
 * logic, and exactly what the state machine keeps.
 */

export { WF_ENV } from './env.ts';

/**
 * The RDS client of `region` (the function's own without one); `fast` for a region that may be
 * down (the old primary's): it answers "unreachable" in seconds (RETRY.probe), not after minutes.
 */
export function rdsIn(region: string | undefined, options: { fast?: boolean } = {}): RDSClient {
  return awsClient(RDSClient, options.fast ? 'probe' : 'rds', region);
}

export function repositoryFromEnv(env: NodeJS.ProcessEnv = process.env): Repository {
  return new S3Repository({
    client: awsClient(S3Client, 'standard'),
    bucket: requireEnv(WF_ENV.bucket, env),
    prefix: '',
  });
}

export function catalogFromEnv(env: NodeJS.ProcessEnv = process.env): Catalog {
  // The bucket is in the function's region: a deletion of another region's copy (replicated from
  // there) does not make a backup of this one deleted.
  return new Catalog(repositoryFromEnv(env), { region: env.AWS_REGION });
}
