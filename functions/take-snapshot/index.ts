import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import * as z from '#core/shared/zod.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import {
  type ConflictGauge,
  DiscoverSnapshotsEvent,
  type DiscoveryResult,
  isDiscoverEvent,
  parseDiscoverEvent,
  takeDiscoveredSnapshots,
} from '#core/snapshots/discovery.ts';
import { DatabaseBusy, requireEnv } from '#core/shared/errors.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import { ENVIRONMENT_METRIC } from '#core/shared/metrics.ts';
import { S3Repository } from '#core/repository/s3.ts';
import type { Repository } from '#core/repository/types.ts';
import {
  parseTakeSnapshotEvent,
  type QuotaGauge,
  TakeSnapshotEvent,
  type TakeSnapshotResult,
  takeSnapshot,
} from '#core/snapshots/take-snapshot.ts';
import { awsClient } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { ENV } from './env.ts';
import { QUOTA_METRIC } from '#core/contracts/index.ts';

export interface TakeSnapshotHandlerDeps {
  readonly rds: RDSClient;
  readonly s3: S3Client;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  readonly quotaGauge?: QuotaGauge | undefined;
  /** Discovery's refusals of a catalog name in use (Lambda: the SeriesConflicts metric). */
  readonly conflictGauge?: ConflictGauge | undefined;
  /** Tests hand in a FileRepository; in Lambda the catalog is in the backup bucket. */
  readonly repository?: Repository | undefined;
  readonly runner?: string | undefined;
}

/**
 * Validates the Scheduler event and configuration, then takes the slot's snapshot: of one
 * configured database, or (a `discover` event) of every database tagged with the policy.
 */
export async function runTakeSnapshot(
  input: unknown,
  deps: TakeSnapshotHandlerDeps,
): Promise<TakeSnapshotResult | DiscoveryResult> {
  const environment = requireEnv(ENV.environment, deps.env);
  const bucket = requireEnv(ENV.bucket, deps.env);
  const repository = deps.repository ?? new S3Repository({ client: deps.s3, bucket, prefix: '' });
  const core = {
    rds: deps.rds,
    catalog: new Catalog(repository),
    logger: deps.logger,
    quotaGauge: deps.quotaGauge,
    environment,
    runner: deps.runner ?? 'lambda',
  };
  if (isDiscoverEvent(input))
    return takeDiscoveredSnapshots(parseDiscoverEvent(input), { ...core, conflictGauge: deps.conflictGauge });
  const event = parseTakeSnapshotEvent(input);
  try {
    return await takeSnapshot(event, core);
  } catch (err) {
    // DatabaseBusy is expected now and then (backing-up): the invocation is retried later.
    const level = err instanceof DatabaseBusy ? 'warn' : 'error';
    deps.logger[level]('take-snapshot failed', { database: event.database, error: err });
    throw err;
  }
}

/**
 * The Scheduler's event: a discovery event (`discover`) or one database's. Checked against the
 * schema of its kind, so a mismatch names the field of that kind.
 */
const SnapshotScheduleEvent = z.pipe(
  z.unknown(),
  z.transform((event, ctx) => {
    const parsed = (isDiscoverEvent(event) ? DiscoverSnapshotsEvent : TakeSnapshotEvent).safeParse(event);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues)
      ctx.issues.push({ code: 'custom', message: issue.message, path: issue.path, input: event });
    return z.NEVER;
  }),
);

export const handler = lambdaHandler(
  {
    service: 'take-snapshot',
    metrics: handlerMetrics,
    event: SnapshotScheduleEvent,
    // The alarm matches on Environment alone, so Powertools' default `service` dimension goes.
    environmentDimension: { variable: ENV.environment, required: true },
  },
  (event, { logger, metrics, context }) =>
    runTakeSnapshot(event, {
      rds: awsClient(RDSClient, 'rds'),
      s3: awsClient(S3Client, 'standard'),
      logger,
      env: process.env,
      runner: context.awsRequestId,
      quotaGauge: {
        usedPercent: (percent) => metrics.addMetric(QUOTA_METRIC.metricName, MetricUnit.Percent, percent),
      },
      conflictGauge: {
        conflicts: (n) => metrics.addMetric(ENVIRONMENT_METRIC.seriesConflicts, MetricUnit.Count, n),
      },
    }),
);
