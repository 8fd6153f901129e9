import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import { Catalog } from '#core/catalog.ts';
import { requireEnv } from '#core/errors.ts';
import type { Logger as CoreLogger } from '#core/logger.ts';
import { type PruneReport, parsePruneEvent, parseRetentionPolicies, prune } from '#core/prune.ts';
import { S3Repository } from '#core/repository/s3.ts';
import type { Repository } from '#core/repository/types.ts';
import { ENV } from './env.ts';

/** SDK attempts per call: throttling is retried with backoff this many times before it surfaces. */
export const RDS_MAX_ATTEMPTS = 6;

export interface PruneHandlerDeps {
  /** RDS of the primary region (where the function runs). */
  readonly primary: RDSClient;
  readonly drClient: (region: string) => RDSClient;
  readonly s3: S3Client;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  readonly repository?: Repository | undefined;
  readonly now?: () => Date;
}

export async function runPrune(input: unknown, deps: PruneHandlerDeps): Promise<PruneReport> {
  const environment = requireEnv(ENV.environment, deps.env);
  const bucket = requireEnv(ENV.bucket, deps.env);
  const drRegion = requireEnv(ENV.drRegion, deps.env);
  const policies = parseRetentionPolicies(requireEnv(ENV.policies, deps.env), ENV.policies);
  const byName = deps.env[ENV.policiesByName];
  const policiesByName = byName ? parseRetentionPolicies(byName, ENV.policiesByName) : {};
  const event = parsePruneEvent(input);
  const repository = deps.repository ?? new S3Repository({ client: deps.s3, bucket, prefix: '' });
  return prune(event, {
    primary: deps.primary,
    dr: deps.drClient(drRegion),
    drRegion,
    catalog: new Catalog(repository),
    policies,
    policiesByName,
    environment,
    logger: deps.logger,
    now: deps.now,
  });
}

const logger = new Logger({ serviceName: 'prune' });
const primary = new RDSClient({ maxAttempts: RDS_MAX_ATTEMPTS });
const s3 = new S3Client({ maxAttempts: 5 });

export const handler = middy<unknown, PruneReport>()
  .use(injectLambdaContext(logger, { clearState: true }))
  .handler(async (event) => {
    const report = await runPrune(event, {
      primary,
      drClient: (region) => new RDSClient({ region, maxAttempts: RDS_MAX_ATTEMPTS }),
      s3,
      logger,
      env: process.env,
    });
    logger.info('prune report', { report });
    return report;
  });
