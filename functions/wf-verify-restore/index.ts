import * as z from '#core/shared/zod.ts';
import type { BackupSummary, Catalog, CheckResult } from '#core/catalog/catalog.ts';
import { BackupNotFound } from '#core/shared/errors.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import {
  matchingDump,
  type RestorePoint,
  relaxRowCounts,
  VerificationFailed,
} from '#core/restore/restore-plan.ts';
import type { Logger } from '#core/shared/logger.ts';
import type { ConnectionInfo } from '#core/shared/pg.ts';
import { checkRestored } from '#core/verify/verify.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { connectionAt } from '../wf-common/connection.ts';
import { catalogFromEnv } from '../wf-common/index.ts';
import { as, restorePoint } from '../wf-common/events.ts';

/**
 * VerifyRestore / RunDataChecks: the data checks of `lifeboat verify` on a restored database,
 * against the statistics of a dump: the restored dump itself, else the dump named by
 * statisticsBackupId, else the dump matching the restored snapshot or point in time. With
 * statistics from a dump of another moment, row counts are reported but not compared exactly.
 */

export interface VerifyRestoreEvent {
  readonly database: string;
  readonly restorePoint: Partial<RestorePoint> & { kind: RestorePoint['kind'] };
  readonly statisticsBackupId?: string | null;
  readonly endpoint: string;
  readonly secretArn: string;
  /** Throw VerificationFailed on a mismatch (restore) rather than report it (restore test). @default true */
  readonly failOnMismatch?: boolean;
}

export interface VerifyRestoreResult {
  readonly passed: boolean;
  readonly checks: CheckResult[];
  /** Backup id of the dump whose statistics were used. */
  readonly statisticsFrom: string;
  readonly exactRowCounts: boolean;
}

type Dump = BackupSummary & { manifest: DumpManifest };
const isDump = (b: BackupSummary | undefined): b is Dump => b?.manifest?.kind === 'logical-dump';

export async function statisticsFor(
  event: VerifyRestoreEvent,
  catalog: Catalog,
): Promise<{ dump: Dump; exact: boolean }> {
  const backups = await catalog.list({ database: event.database });
  const byId = (id: string | null | undefined) => backups.find((b) => b.id === id);
  const point = event.restorePoint as Record<string, unknown>;
  if (point.kind === 'dump') {
    const dump = byId(point.backupId as string);
    if (isDump(dump)) return { dump, exact: true };
  }
  const named = byId(event.statisticsBackupId);
  if (isDump(named)) return { dump: named, exact: false };
  let found: Dump | null = null;
  if (point.kind === 'snapshot') {
    const snapshot = byId(point.backupId as string);
    if (snapshot) found = matchingDump(snapshot, backups);
  } else if (point.kind === 'point-in-time') {
    const at = Date.parse(point.restoreTime as string);
    found =
      (backups.find((b) => isDump(b) && b.state === 'completed' && Date.parse(b.startedAt) <= at) as Dump) ??
      null;
  }
  if (!found) throw new BackupNotFound(`no logical dump of "${event.database}" to check the restore against`);
  return { dump: found, exact: false };
}

export interface VerifyRestoreDeps {
  readonly catalog: Catalog;
  /** Connection details of the restored database (from the event's secret, at its endpoint). */
  readonly connect: (database: string) => Promise<ConnectionInfo>;
  readonly logger: Pick<Logger, 'info'>;
}

/** The checks against the chosen dump's statistics; VerificationFailed on a mismatch unless reporting. */
export async function verifyRestore(
  event: VerifyRestoreEvent,
  deps: VerifyRestoreDeps,
): Promise<VerifyRestoreResult> {
  const { dump, exact } = await statisticsFor(event, deps.catalog);
  const connection = await deps.connect(dump.manifest.source.database);
  const raw = await checkRestored(connection, dump.manifest.statistics);
  const checks = exact ? raw : raw.map(relaxRowCounts);
  const passed = checks.every((c) => c.passed);
  deps.logger.info('checks', {
    passed,
    statisticsFrom: dump.id,
    checks: checks.map((c) => [c.name, c.passed]),
  });
  if (!passed && event.failOnMismatch !== false) {
    const failed = checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    throw new VerificationFailed(`restored data does not match dump ${dump.id}: ${failed.join('; ')}`);
  }
  return { passed, checks, statisticsFrom: dump.id, exactRowCounts: exact };
}

export const VerifyRestoreEvent = as<VerifyRestoreEvent>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    restorePoint,
    statisticsBackupId: z.nullish(z.string()),
    endpoint: z.string().check(z.minLength(1)),
    secretArn: z.string().check(z.minLength(1)),
    failOnMismatch: z.optional(z.boolean()),
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-verify-restore', event: VerifyRestoreEvent },
  (event, { logger }) =>
    verifyRestore(event, {
      catalog: catalogFromEnv(),
      connect: (database) => connectionAt(event.secretArn, event.endpoint, database),
      logger,
    }),
);
