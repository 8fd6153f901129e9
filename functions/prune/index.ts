import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from '#core/shared/zod.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import { ConfigError, requireEnv } from '#core/shared/errors.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import { ENVIRONMENT_METRIC } from '#core/shared/metrics.ts';
import { prune } from '#core/retention/prune.ts';
import { type PruneGauges, type PruneReport } from '#core/retention/prune-report.ts';
import {
  DEFAULT_PRUNE_LIMITS,
  type PruneLimits,
  PruneEvent,
  parsePruneEvent,
  parseRetentionPolicies,
} from '#core/retention/prune-settings.ts';
import { S3Repository } from '#core/repository/s3.ts';
import type { Repository } from '#core/repository/types.ts';
import { awsClient, clientsByRegion } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { ENV } from './env.ts';

export interface PruneHandlerDeps {
  /** RDS of the region the function runs in (the primary region, for scope snapshots-and-dumps). */
  readonly primary: RDSClient;
  readonly drClient: (region: string) => RDSClient;
  readonly s3: S3Client;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  readonly repository?: Repository | undefined;
  readonly now?: () => Date;
  readonly gauges?: PruneGauges;
}

export async function runPrune(input: unknown, deps: PruneHandlerDeps): Promise<PruneReport> {
  const environment = requireEnv(ENV.environment, deps.env);
  const bucket = requireEnv(ENV.bucket, deps.env);
  const scope = deps.env[ENV.scope] || 'snapshots-and-dumps';
  if (scope !== 'snapshots-and-dumps' && scope !== 'dumps') {
    throw new ConfigError(`${ENV.scope}: expected snapshots-and-dumps or dumps, got "${scope}"`);
  }
  const drRegion = scope === 'dumps' ? undefined : requireEnv(ENV.drRegion, deps.env);
  const policies = parseRetentionPolicies(requireEnv(ENV.policies, deps.env), ENV.policies);
  const byName = deps.env[ENV.policiesByName];
  const policiesByName = byName ? parseRetentionPolicies(byName, ENV.policiesByName) : {};
  const limits: PruneLimits = {
    maxDeletionsPerRun: limit(deps.env, ENV.maxDeletionsPerRun, DEFAULT_PRUNE_LIMITS.maxDeletionsPerRun),
    maxDeletionsPerDay: limit(deps.env, ENV.maxDeletionsPerDay, DEFAULT_PRUNE_LIMITS.maxDeletionsPerDay),
  };
  const event = parsePruneEvent(input);
  const repository = deps.repository ?? new S3Repository({ client: deps.s3, bucket, prefix: '' });
  // The bucket is in the function's region: deletions recorded for another region's copy of a
  // dump (the replica's records) do not count here.
  const region = await deps.primary.config.region();
  return prune(event, {
    ...(drRegion ? { snapshots: { primary: deps.primary, dr: deps.drClient(drRegion), drRegion } } : {}),
    catalog: new Catalog(repository, { region, ...(deps.now ? { now: deps.now } : {}) }),
    policies,
    policiesByName,
    environment,
    limits,
    logger: deps.logger,
    now: deps.now,
    gauges: deps.gauges,
  });
}

function limit(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^[0-9]+$/.test(raw)) throw new ConfigError(`${name}: expected a whole number, got "${raw}"`);
  return Number(raw);
}

export const handler = lambdaHandler(
  {
    service: 'prune',
    metrics: handlerMetrics,
    // The Scheduler may send no input: a run that deletes.
    event: z.pipe(
      z.transform((event: unknown) => event ?? {}),
      PruneEvent,
    ),
    eventLabel: 'prune event',
    // The alarms match on Environment alone, so Powertools' default `service` dimension goes.
    environmentDimension: { variable: ENV.environment, required: true },
  },
  async (event, { logger, metrics }) => {
    const report = await runPrune(event, {
      primary: awsClient(RDSClient, 'rds'),
      drClient: clientsByRegion(RDSClient, 'rds'),
      s3: awsClient(S3Client, 'standard'),
      logger,
      env: process.env,
      gauges: {
        refused: (n) => metrics.addMetric(ENVIRONMENT_METRIC.pruneRefused, MetricUnit.Count, n),
        errors: (n) => metrics.addMetric(ENVIRONMENT_METRIC.pruneErrors, MetricUnit.Count, n),
      },
    });
    logger.info('prune report', { report });
    return report;
  },
);
