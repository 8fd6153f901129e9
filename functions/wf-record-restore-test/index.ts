import type { Catalog, CheckResult } from '#core/catalog.ts';
import { type RestoreTestPlan, restoreTestRecord } from '#core/restore-plan.ts';
import { catalogFromEnv, taskHandler } from '../wf-common/index.ts';

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

export async function recordRestoreTest(
  event: RecordRestoreTestEvent,
  catalog: Catalog,
  now = new Date(),
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
  return {
    recorded: true,
    key,
    restoreDurationMs: record.restoreDurationMs,
    totalDurationMs: record.totalDurationMs,
  };
}

export const handler = taskHandler<RecordRestoreTestEvent, RecordRestoreTestResult>(
  'wf-record-restore-test',
  (event) => recordRestoreTest(event, catalogFromEnv()),
);
