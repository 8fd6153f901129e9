import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import * as z from '#core/shared/zod.ts';
import { announce } from '#core/notify/announce.ts';
import type { CheckResult } from '#core/catalog/catalog.ts';
import { InvalidArgument, requireEnv } from '#core/shared/errors.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import { DIMENSION, METRIC } from '#core/shared/metrics.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { runVerify } from '#core/verify/verify.ts';
import { awsClient } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { ENV } from './env.ts';

export const VerifyBackupEvent = z.strictObject({
  /** The protected database's name in the catalog. */
  database: z.string().check(z.minLength(1), z.maxLength(200)),
  /** A backup id, or `latest` (the newest completed dump of the database). */
  backupId: z._default(
    z.string().check(z.regex(/^(latest|[0-9]{8}T[0-9]{6}Z-[0-9a-z-]{1,64})$/, 'a backup id or "latest"')),
    'latest',
  ),
  jobs: z._default(z.int().check(z.gte(1), z.lte(16)), 2),
});

/** Failures listed per check in the result; the full list is in the catalog record. */
const MAX_FAILURES = 20;

export interface VerifyBackupResult {
  readonly backupId: string;
  readonly database: string;
  readonly passed: boolean;
  readonly checks: CheckResult[];
  readonly restoreDurationMs: number | null;
  readonly totalDurationMs: number;
  readonly recordKey: string;
}

export interface VerifyBackupDeps {
  readonly s3: S3Client;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted in time to stop the ephemeral cluster and report before Lambda's timeout. */
  readonly signal?: AbortSignal | undefined;
}

const ABORT_MARGIN_MS = 30_000;

/**
 * Verifies a logical dump from the backup bucket: the same checks as `lifeboat verify`, with the
 * ephemeral PostgreSQL cluster in the function's /tmp (the image carries the server binaries and
 * runs as a non-root user, so initdb runs directly). A failed check is a result (`passed: false`),
 * not an error; an error means the checks could not run.
 */
export async function verifyBackup(input: unknown, deps: VerifyBackupDeps): Promise<VerifyBackupResult> {
  const parsed = VerifyBackupEvent.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidArgument(`verify-backup event: ${issue.path.join('.') || '(event)'}: ${issue.message}`);
  }
  const event = parsed.data;
  const repository = new S3Repository({
    client: deps.s3,
    bucket: requireEnv(ENV.bucket, deps.env),
    prefix: deps.env[ENV.prefix] ?? '',
    kmsKeyId: deps.env[ENV.kmsKeyId] || undefined,
  });
  const report = await runVerify({
    repository,
    ref: event.backupId,
    database: event.database,
    jobs: event.jobs,
    logger: deps.logger,
    signal: deps.signal,
    workDir: deps.env[ENV.workDir] || undefined,
    env: deps.env,
  });
  return {
    ...report,
    checks: report.checks.map((c) => ({ ...c, failures: c.failures.slice(0, MAX_FAILURES) })),
  };
}

/** verification.passed / verification.failed for on-call (when the function has the events topic). */
export async function announceVerification(
  client: SNSClient,
  env: NodeJS.ProcessEnv,
  log: CoreLogger,
  result: VerifyBackupResult,
): Promise<void> {
  const failed = result.checks.filter((c) => !c.passed);
  await announce(client, env, log, {
    type: result.passed ? 'verification.passed' : 'verification.failed',
    database: result.database,
    summary: result.passed
      ? `backup ${result.backupId} of ${result.database} verified: ${result.checks.length} checks passed`
      : `backup ${result.backupId} of ${result.database} FAILED verification: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`,
    figures: {
      backupId: result.backupId,
      checks: result.checks.length,
      failedChecks: failed.length,
      ...(result.restoreDurationMs !== null && { restoreDurationMs: result.restoreDurationMs }),
      totalDurationMs: result.totalDurationMs,
    },
  });
}

/** Verification outcome as metrics (Environment, Database). */
export function recordVerificationMetrics(
  sink: Pick<Metrics, 'addMetric' | 'addDimensions'>,
  environment: string,
  result: VerifyBackupResult,
): void {
  sink.addDimensions({ [DIMENSION.environment]: environment, [DIMENSION.database]: result.database });
  sink.addMetric(result.passed ? METRIC.verificationPassed : METRIC.verificationFailed, MetricUnit.Count, 1);
  if (result.restoreDurationMs !== null) {
    sink.addMetric(METRIC.restoreDurationSeconds, MetricUnit.Seconds, result.restoreDurationMs / 1000);
  }
}

export const handler = lambdaHandler(
  {
    service: 'verify-backup',
    metrics: handlerMetrics,
    event: VerifyBackupEvent,
    eventLabel: 'verify-backup event',
    timeoutMarginMs: ABORT_MARGIN_MS,
  },
  async (event, { logger, metrics, signal }) => {
    const result = await verifyBackup(event, {
      s3: awsClient(S3Client, 'standard'),
      logger,
      env: process.env,
      signal,
    });
    recordVerificationMetrics(metrics, process.env[ENV.environment] ?? 'unknown', result);
    await announceVerification(awsClient(SNSClient, 'announce'), process.env, logger, result);
    return result;
  },
);
