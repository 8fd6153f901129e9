import type { Catalog } from '#core/catalog/catalog.ts';
import {
  type ArchiveWaitPlan,
  archiveWaitPlan,
  backupStorage,
  requestBackupRestore,
  type StorageSummary,
  summarizeStorage,
} from '#core/dumps/cold-storage.ts';
import type { Repository, RestoreTier } from '#core/repository/types.ts';
import { selectBackup } from '#core/verify/verify.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { catalogFromEnv, repositoryFromEnv } from '../wf-common/index.ts';
import { as } from '../wf-common/events.ts';

/**
 * The restore workflow's archived-dump steps (state-machines/restore.ts): `check` tells whether
 * every artifact of the chosen dump (the dump, each file of a directory dump, its roles) can be
 * read now, from HeadObject's StorageClass and Restore; `request` asks S3 to restore the archived
 * ones (RestoreObject at the request's tier, for its days) and says how the workflow waits. Asking
 * again is harmless: a restore already running answers RestoreAlreadyInProgress, which is success.
 */

interface DumpRef {
  readonly database: string;
  readonly backupId: string;
}

export type ArchivedDumpEvent =
  | (DumpRef & { readonly action: 'check' })
  | (DumpRef & { readonly action: 'request'; readonly tier: RestoreTier; readonly days: number });

export interface ArchiveRestoreRequested extends ArchiveWaitPlan {
  readonly tier: RestoreTier;
  readonly days: number;
  /** Restores this call started (or whose restored copy it extended). */
  readonly requested: number;
  /** Restores already running (asked before: by the CLI, an earlier attempt or execution). */
  readonly alreadyRunning: number;
  readonly readableNow: number;
  /** S3's published worst case, in hours, of the slowest of those restores. */
  readonly hours: number;
  /** When every artifact is readable at the latest (ISO 8601), or null if all are now. */
  readonly readyBy: string | null;
}

export interface ArchivedDumpDeps {
  readonly repository: Repository;
  readonly catalog: Catalog;
  readonly now?: () => Date;
}

export async function archivedDump(
  event: ArchivedDumpEvent,
  deps: ArchivedDumpDeps,
): Promise<StorageSummary | ArchiveRestoreRequested> {
  const backup = await selectBackup(deps.catalog, { ref: event.backupId, database: event.database });
  if (event.action === 'check') {
    return summarizeStorage(await backupStorage(deps.repository, backup.manifest));
  }
  const report = await requestBackupRestore(deps.repository, backup.manifest, {
    tier: event.tier,
    days: event.days,
    now: deps.now?.(),
    option: 'archive.tier',
  });
  const count = (outcome: string) => report.artifacts.filter((a) => a.outcome === outcome).length;
  return {
    tier: report.tier,
    days: report.days,
    requested: count('requested'),
    alreadyRunning: count('in-progress'),
    readableNow: count('readable') + count('not-archived'),
    hours: report.hours,
    readyBy: report.readyBy,
    ...archiveWaitPlan(report.hours),
  };
}

const dumpRef = { database: z.string().check(z.minLength(1)), backupId: z.string().check(z.minLength(1)) };
export const ArchivedDumpEvent = as<ArchivedDumpEvent>(
  z.discriminatedUnion('action', [
    z.looseObject({ ...dumpRef, action: z.literal('check') }),
    z.looseObject({
      ...dumpRef,
      action: z.literal('request'),
      tier: z.enum(['Standard', 'Bulk', 'Expedited']),
      days: z.int().check(z.positive()),
    }),
  ]),
);

export const handler = lambdaHandler(
  { service: 'wf-archived-dump', event: ArchivedDumpEvent },
  async (event, { logger }) => {
    const result = await archivedDump(event, { repository: repositoryFromEnv(), catalog: catalogFromEnv() });
    logger.info(`archived dump: ${event.action}`, { backupId: event.backupId, result });
    return result;
  },
);
