import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import * as z from '#core/shared/zod.ts';
import { announce } from '#core/notify/announce.ts';
import { runBackup } from '#core/dumps/backup.ts';
import { parseCompression } from '#core/dumps/compression.ts';
import { manifestKey } from '#core/catalog/catalog.ts';
import { InvalidArgument, requireEnv } from '#core/shared/errors.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { DIMENSION, METRIC } from '#core/shared/metrics.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { connectionFromSecret } from '#core/shared/secrets.ts';
import { awsClient } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { powertools } from '#runtime/powertools.ts';
import { ENV } from './env.ts';
import { SECRET_ARN } from '#core/contracts/index.ts';

export const LogicalDumpEvent = z.strictObject({
  /** The protected database's name in lifeboat's configuration (names the catalog entries). */
  database: z.string().check(z.minLength(1), z.maxLength(200)),
  /** Secrets Manager secret with username, password, host, port, dbname. */
  secretArn: z.string().check(z.regex(SECRET_ARN, 'a Secrets Manager ARN')),
  /** The PostgreSQL database to dump, when it differs from the secret's dbname. */
  dbname: z.optional(z.string().check(z.minLength(1))),
  /** `method[:level]` (see #core/dumps/compression.ts). @default zstd:2 */
  compression: z.optional(z.string().check(z.minLength(1), z.maxLength(40))),
  /** pg_dump workers of a directory dump (Fargate task only). @default - one streamed archive */
  jobs: z.optional(z.int().check(z.gte(1), z.lte(32))),
});
export type LogicalDumpEvent = z.infer<typeof LogicalDumpEvent>;

/**
 * What the function returns: the manifest without the per-object statistics (those can run to
 * megabytes for big schemas, past the 256 KB a Step Functions state may carry), and where the full
 * manifest is.
 */
export interface LogicalDumpResult {
  readonly manifestKey: string;
  readonly manifest: Omit<DumpManifest, 'statistics'>;
  readonly statistics: { tables: number; rows: number; indexes: number; databaseSizeBytes: number };
}

export interface LogicalDumpDeps {
  readonly secrets: SecretsManagerClient;
  readonly s3: S3Client;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  /** Milliseconds left before the runtime stops us (Lambda), or undefined (Fargate). */
  readonly remainingMs?: (() => number) | undefined;
  /** Aborted in time to stop pg_dump and the upload and record the failure before Lambda's timeout. */
  readonly signal?: AbortSignal | undefined;
  readonly runner?: string;
}

/** Time kept in hand to abort pg_dump, abort the upload and record the failure before Lambda's timeout. */
const ABORT_MARGIN_MS = 30_000;

export async function logicalDump(input: unknown, deps: LogicalDumpDeps): Promise<LogicalDumpResult> {
  const parsed = LogicalDumpEvent.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgument(`logical-dump event: ${issue.path.join('.') || '(event)'}: ${issue.message}`);
  }
  const event = parsed.data;
  const compression =
    event.compression === undefined
      ? undefined
      : parseCompression(event.compression, 'logical-dump event: compression');
  // Lambda has 512 MB of /tmp and 15 minutes: it streams one archive; the Fargate task dumps in parallel.
  if (event.jobs !== undefined && deps.remainingMs) {
    throw new InvalidArgument(
      'logical-dump event: jobs: a parallel dump runs as the Fargate task only, not in Lambda',
    );
  }
  const bucket = requireEnv(ENV.bucket, deps.env);
  const repository = new S3Repository({
    client: deps.s3,
    bucket,
    prefix: deps.env[ENV.prefix] ?? '',
    kmsKeyId: deps.env[ENV.kmsKeyId] || undefined,
  });
  const connection = await connectionFromSecret(deps.secrets, event.secretArn, {
    database: event.dbname,
    sslmode: deps.env[ENV.sslmode] || 'require',
  });

  const manifest = await runBackup({
    connection,
    repository,
    database: event.database,
    logger: deps.logger,
    runner: deps.runner ?? 'lambda',
    signal: deps.signal,
    compression,
    jobs: event.jobs,
    workDir: deps.env[ENV.workDir] || undefined,
  });
  const { statistics, ...rest } = manifest;
  return {
    manifestKey: manifestKey(manifest.database, manifest.id),
    manifest: rest,
    statistics: {
      tables: statistics.tables.length,
      rows: statistics.tables.reduce((n, t) => n + (t.rowCount ?? 0), 0),
      indexes: statistics.indexes.length,
      databaseSizeBytes: statistics.databaseSizeBytes,
    },
  };
}

/** backup.completed / backup.failed for on-call (when the function has the events topic). */
export async function announceBackup(
  client: SNSClient,
  env: NodeJS.ProcessEnv,
  log: CoreLogger,
  event: unknown,
  outcome: { result: LogicalDumpResult } | { error: unknown },
): Promise<void> {
  const database = String((event as { database?: unknown })?.database ?? 'unknown');
  if ('result' in outcome) {
    const m = outcome.result.manifest;
    await announce(client, env, log, {
      type: 'backup.completed',
      database,
      summary: `backup ${m.id} of ${database}: ${(m.artifact.bytes / 1048576).toFixed(1)} MiB in ${(m.durationMs / 1000).toFixed(0)} s`,
      figures: {
        backupId: m.id,
        bytes: m.artifact.bytes,
        durationMs: m.durationMs,
        tables: outcome.result.statistics.tables,
      },
    });
  } else {
    const err = outcome.error as { name?: string; message?: string };
    await announce(client, env, log, {
      type: 'backup.failed',
      database,
      summary: `backup of ${database} failed: ${err?.message ?? String(outcome.error)}`,
      figures: { error: err?.name ?? 'Error' },
    });
  }
}

/** Backup figures as metrics (Environment, Database): the result's, or BackupFailed. */
export function countBackup(
  sink: Pick<Metrics, 'addMetric' | 'addDimensions'>,
  environment: string,
  event: unknown,
  outcome: { result: LogicalDumpResult } | { error: unknown },
): void {
  const database = (event as { database?: unknown })?.database;
  sink.addDimensions({
    [DIMENSION.environment]: environment,
    [DIMENSION.database]: typeof database === 'string' ? database : 'unknown',
  });
  if ('result' in outcome) {
    const { manifest } = outcome.result;
    sink.addMetric(METRIC.backupSucceeded, MetricUnit.Count, 1);
    sink.addMetric(METRIC.backupBytes, MetricUnit.Bytes, manifest.artifact.bytes);
    sink.addMetric(METRIC.backupDurationSeconds, MetricUnit.Seconds, manifest.durationMs / 1000);
  } else {
    sink.addMetric(METRIC.backupFailed, MetricUnit.Count, 1);
  }
}

/** `run` with its backup figures counted; a failure counts too, then propagates. */
export async function withBackupMetrics(
  sink: Pick<Metrics, 'addMetric' | 'addDimensions'>,
  environment: string,
  event: unknown,
  run: () => Promise<LogicalDumpResult>,
): Promise<LogicalDumpResult> {
  try {
    const result = await run();
    countBackup(sink, environment, event, { result });
    return result;
  } catch (error) {
    countBackup(sink, environment, event, { error });
    throw error;
  }
}

const SERVICE = 'logical-dump';
const environment = () => process.env[ENV.environment] ?? 'unknown';
const announced = (event: unknown, outcome: { result: LogicalDumpResult } | { error: unknown }) =>
  announceBackup(awsClient(SNSClient, 'announce'), process.env, powertools(SERVICE).logger, event, outcome);

/**
 * Every outcome is counted and announced, a refused event included (as before the dump ran): the
 * metrics outermost, so the announcement of a success comes first, as the count follows the run.
 */
export const handler = lambdaHandler<typeof LogicalDumpEvent, LogicalDumpResult>(
  {
    service: SERVICE,
    metrics: handlerMetrics,
    event: LogicalDumpEvent,
    eventLabel: 'logical-dump event',
    timeoutMarginMs: ABORT_MARGIN_MS,
    outcomes: [
      {
        success: (result, event) => countBackup(handlerMetrics(SERVICE), environment(), event, { result }),
        failure: (error, event) => countBackup(handlerMetrics(SERVICE), environment(), event, { error }),
      },
      {
        success: (result, event) => announced(event, { result }),
        failure: (error, event) => announced(event, { error }),
      },
    ],
  },
  (event, { logger, signal, remainingMs, context }) =>
    logicalDump(event, {
      secrets: awsClient(SecretsManagerClient, 'standard'),
      s3: awsClient(S3Client, 'standard'),
      logger,
      env: process.env,
      remainingMs,
      signal,
      runner: context?.awsRequestId ? `lambda:${context.awsRequestId}` : 'task',
    }),
);
