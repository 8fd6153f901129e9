import type { Metrics } from '@aws-lambda-powertools/metrics';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Catalog, CheckResult, VerificationRecord } from '#core/catalog/catalog.ts';
import { DIMENSION, METRIC } from '#core/shared/metrics.ts';
import { type RestoreTestPlan, restoreTestRecord } from '#core/restore/restore-plan.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { catalogFromEnv } from '../wf-common/index.ts';
import { as } from '../wf-common/events.ts';

/** RecordRestoreTest / RecordFailedRestoreTest: the verification record, with durations. */
export interface RecordRestoreTestEvent {
  readonly executionId: string;
  readonly startedAt: string;
  readonly database: string;
  readonly plan: Partial<RestoreTestPlan>;
  readonly timing: { restoredAt?: string };
  readonly checks?: { passed: boolean; checks: CheckResult[] };
  readonly error?: { Error: string; Cause?: string };
}

export interface RecordRestoreTestResult {
  readonly recorded: boolean;
  readonly key: string | null;
  readonly restoreDurationMs: number | null;
  readonly totalDurationMs: number | null;
}

/** Where a recorded restore test is counted (EMF): the verified-age alarms and the dashboard read it. */
export interface VerificationMetrics {
  readonly sink: Pick<Metrics, 'addMetric' | 'addDimensions'>;
  readonly environment: string;
}

export async function recordRestoreTest(
  event: RecordRestoreTestEvent,
  catalog: Catalog,
  now = new Date(),
  metrics?: VerificationMetrics,
): Promise<RecordRestoreTestResult> {
  const record = restoreTestRecord({
    plan: event.plan,
    database: event.database,
    startedAt: event.startedAt,
    restoredAt: event.timing.restoredAt,
    finishedAt: now.toISOString(),
    checks: event.checks,
    error: event.error,
  });
  // Nothing was planned (no snapshot): there is no backup to record against.
  if (!record) return { recorded: false, key: null, restoreDurationMs: null, totalDurationMs: null };
  const key = await catalog.record(record);
  if (metrics) recordVerificationMetrics(metrics, record);
  return {
    recorded: true,
    key,
    restoreDurationMs: record.restoreDurationMs,
    totalDurationMs: record.totalDurationMs,
  };
}

/**
 * The same figures verify-backup emits for a dump (VerificationPassed or VerificationFailed,
 * RestoreDurationSeconds), so a snapshot that passed its restore test keeps the database's
 * verified-age alarm quiet too.
 */
export function recordVerificationMetrics(metrics: VerificationMetrics, record: VerificationRecord): void {
  const { sink, environment } = metrics;
  sink.addDimensions({ [DIMENSION.environment]: environment, [DIMENSION.database]: record.database });
  sink.addMetric(record.passed ? METRIC.verificationPassed : METRIC.verificationFailed, MetricUnit.Count, 1);
  if (record.restoreDurationMs !== null) {
    sink.addMetric(METRIC.restoreDurationSeconds, MetricUnit.Seconds, record.restoreDurationMs / 1000);
  }
}

export const RecordRestoreTestEvent = as<RecordRestoreTestEvent>(
  z.looseObject({
    executionId: z.string().check(z.minLength(1)),
    startedAt: z.string().check(z.minLength(1)),
    database: z.string().check(z.minLength(1)),
    plan: z.looseObject({}),
    timing: z.looseObject({ restoredAt: z.optional(z.string()) }),
    checks: z.optional(z.looseObject({ passed: z.boolean(), checks: z.array(z.unknown()) })),
    error: z.optional(z.looseObject({ Error: z.string(), Cause: z.optional(z.string()) })),
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-record-restore-test', metrics: handlerMetrics, event: RecordRestoreTestEvent },
  async (event, { metrics }) => {
    const environment = process.env.LIFEBOAT_ENVIRONMENT ?? 'unknown';
    return recordRestoreTest(event, catalogFromEnv(), new Date(), { sink: metrics, environment });
  },
);
