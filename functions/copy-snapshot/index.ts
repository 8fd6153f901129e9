import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from '#core/shared/zod.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import { DIMENSION, METRIC } from '#core/shared/metrics.ts';
import { type CopyBatchResult, copySnapshotBatch } from '#core/snapshots/copy-snapshot.ts';
import { ConfigError, requireEnv } from '#core/shared/errors.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import { S3Repository } from '#core/repository/s3.ts';
import type { Repository } from '#core/repository/types.ts';
import { awsClient, clientsByRegion } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { DEFAULT_MAX_INFLIGHT_COPIES, ENV } from './env.ts';

export interface CopySnapshotHandlerDeps {
  /** RDS of the primary region (where the function runs). */
  readonly source: RDSClient;
  /** Builds the DR region's RDS client once the region is known from the environment. */
  readonly drClient: (region: string) => RDSClient;
  readonly s3: S3Client;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  readonly repository?: Repository | undefined;
  readonly runner?: string | undefined;
  /** Receives the SnapshotCopied metric (Powertools in Lambda, a real Metrics capturing EMF in tests). */
  readonly metrics?: Pick<Metrics, 'addMetric' | 'addDimensions' | 'publishStoredMetrics'> | undefined;
}

export interface CopySnapshotConfig {
  readonly environment: string;
  readonly bucket: string;
  readonly drRegion: string;
  readonly drKmsKeyArn: string;
  readonly maxInFlight: number;
}

export function readConfig(env: NodeJS.ProcessEnv): CopySnapshotConfig {
  const raw = env[ENV.maxInFlightCopies];
  const maxInFlight = raw === undefined || raw === '' ? DEFAULT_MAX_INFLIGHT_COPIES : Number(raw);
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) {
    throw new ConfigError(`${ENV.maxInFlightCopies} must be a positive integer, got "${raw}"`);
  }
  const drKmsKeyArn = requireEnv(ENV.drKmsKeyArn, env);
  const drRegion = requireEnv(ENV.drRegion, env);
  if (!drKmsKeyArn.startsWith(`arn:aws`) || !drKmsKeyArn.includes(`:kms:${drRegion}:`)) {
    throw new ConfigError(
      `${ENV.drKmsKeyArn} must be the ARN of a KMS key in ${drRegion}, got "${drKmsKeyArn}"`,
    );
  }
  return {
    environment: requireEnv(ENV.environment, env),
    bucket: requireEnv(ENV.bucket, env),
    drRegion,
    drKmsKeyArn,
    maxInFlight,
  };
}

export async function runCopySnapshot(
  event: SQSEvent,
  deps: CopySnapshotHandlerDeps,
): Promise<CopyBatchResult> {
  const config = readConfig(deps.env);
  const repository =
    deps.repository ?? new S3Repository({ client: deps.s3, bucket: config.bucket, prefix: '' });
  return copySnapshotBatch(event.Records ?? [], {
    source: deps.source,
    dr: deps.drClient(config.drRegion),
    drRegion: config.drRegion,
    drKmsKeyId: config.drKmsKeyArn,
    maxInFlight: config.maxInFlight,
    environment: config.environment,
    catalog: new Catalog(repository),
    logger: deps.logger,
    runner: deps.runner ?? 'lambda',
    // One metric document per copy: each has its own Database dimension.
    onCopyArrived: ({ database }) => {
      if (!deps.metrics) return;
      deps.metrics.addDimensions({
        [DIMENSION.environment]: config.environment,
        [DIMENSION.database]: database,
      });
      deps.metrics.addMetric(METRIC.snapshotCopied, MetricUnit.Count, 1);
      deps.metrics.publishStoredMetrics();
    },
  });
}

/** The SQS batch (each record's body is checked, and failed alone, by copySnapshotBatch). */
const CopyQueueEvent = z.looseObject({
  Records: z.optional(z.array(z.looseObject({ messageId: z.string(), body: z.string() }))),
}) as unknown as z.ZodMiniType<SQSEvent>;

export const handler = lambdaHandler(
  { service: 'copy-snapshot', metrics: handlerMetrics, event: CopyQueueEvent },
  async (event, { logger, metrics, context }): Promise<SQSBatchResponse> => {
    const result = await runCopySnapshot(event, {
      source: awsClient(RDSClient, 'rds'),
      drClient: clientsByRegion(RDSClient, 'rds'),
      s3: awsClient(S3Client, 'standard'),
      logger,
      env: process.env,
      runner: context.awsRequestId,
      metrics,
    });
    logger.info('batch done', { outcomes: result.outcomes });
    return { batchItemFailures: result.batchItemFailures };
  },
);
