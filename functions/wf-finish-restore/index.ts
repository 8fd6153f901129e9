import type { Catalog, CheckResult } from '#core/catalog/catalog.ts';
import { elapsedMs, type PlannedRestore, type RestorePoint } from '#core/restore/restore-plan.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { catalogFromEnv } from '../wf-common/index.ts';
import { as, plannedRestore, restorePoint } from '../wf-common/events.ts';

/**
 * FinishRestore: measures the restore's duration and, for a verified snapshot restore, writes a
 * verification record (method restore) to the catalog. (A dump restore records itself.)
 */

export interface FinishRestoreEvent {
  readonly executionId: string;
  readonly startedAt: string;
  readonly request: PlannedRestore;
  readonly restorePoint: RestorePoint;
  readonly created: Record<string, unknown>;
  readonly endpoint: string;
  readonly verification: { skipped?: boolean; passed?: boolean; checks?: CheckResult[] };
  readonly cutover: { skipped?: boolean; status?: string };
}

export interface FinishRestoreResult {
  readonly recorded: boolean;
  readonly durationMs: number;
  readonly key: string | null;
}

export async function finishRestore(
  event: FinishRestoreEvent,
  catalog: Catalog,
  now = new Date(),
): Promise<FinishRestoreResult> {
  const durationMs = elapsedMs(event.startedAt, now.toISOString());
  const point = event.restorePoint;
  if (point.kind !== 'snapshot' || event.verification.passed !== true)
    return { recorded: false, durationMs, key: null };
  const key = await catalog.record({
    kind: 'verification',
    backupId: point.backupId,
    database: event.request.database,
    at: now.toISOString(),
    passed: true,
    method: 'restore',
    checks: event.verification.checks ?? [],
    restoreDurationMs: durationMs,
    totalDurationMs: durationMs,
    error: null,
  });
  return { recorded: true, durationMs, key };
}

export const FinishRestoreEvent = as<FinishRestoreEvent>(
  z.looseObject({
    executionId: z.string().check(z.minLength(1)),
    startedAt: z.string().check(z.minLength(1)),
    request: plannedRestore,
    restorePoint,
    created: z.record(z.string(), z.unknown()),
    endpoint: z.string(),
    verification: z.looseObject({ skipped: z.optional(z.boolean()), passed: z.optional(z.boolean()) }),
    cutover: z.looseObject({ skipped: z.optional(z.boolean()), status: z.optional(z.string()) }),
  }),
);

export const handler = lambdaHandler({ service: 'wf-finish-restore', event: FinishRestoreEvent }, (event) =>
  finishRestore(event, catalogFromEnv()),
);
