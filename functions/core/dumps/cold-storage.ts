import { ArchivedObject, InvalidArgument } from '../shared/errors.ts';
import type { DumpManifest } from '../catalog/manifest.ts';
import type { ObjectStorage, Repository, RestoreRequestOutcome, RestoreTier } from '../repository/types.ts';

/**
 * Backups in archive tiers. The bucket's lifecycle moves artifacts to GLACIER and then
 * DEEP_ARCHIVE; reading one then needs an S3 restore (a temporary readable copy) first. These
 * functions tell, per backup, where its artifacts are and start the restores, idempotently.
 */

export const RESTORE_TIERS: readonly RestoreTier[] = ['Standard', 'Bulk', 'Expedited'];

/** Every object a restore or verification of the backup reads: the dump and its roles. */
export function backupArtifacts(manifest: Pick<DumpManifest, 'artifact' | 'roles'>): string[] {
  // A directory dump is stored as one object per file: each must be readable.
  const dump = manifest.artifact.files?.map((f) => f.key) ?? [manifest.artifact.key];
  return [...dump, ...(manifest.roles ? [manifest.roles.key] : [])];
}

/** Storage of each artifact of the backup, or null where the repository has no tiers (a directory). */
export async function backupStorage(
  repository: Repository,
  manifest: Pick<DumpManifest, 'artifact' | 'roles'>,
): Promise<ObjectStorage[] | null> {
  if (!repository.storage) return null;
  const storage = repository.storage.bind(repository);
  return Promise.all(backupArtifacts(manifest).map((key) => storage(key)));
}

/**
 * S3's published restore times (hours, upper bound) per storage class and tier. Expedited does
 * not exist for DEEP_ARCHIVE.
 */
const HOURS: Record<string, Partial<Record<RestoreTier, number>>> = {
  GLACIER: { Expedited: 5 / 60, Standard: 5, Bulk: 12 },
  DEEP_ARCHIVE: { Standard: 12, Bulk: 48 },
};

function classOf(storageClass: string): 'GLACIER' | 'DEEP_ARCHIVE' {
  return /DEEP_ARCHIVE/.test(storageClass) ? 'DEEP_ARCHIVE' : 'GLACIER';
}

/**
 * Upper bound, in hours, of a restore of `storageClass` at `tier`; InvalidArgument if S3 has no such
 * tier (`option` names where the tier came from in the message).
 */
export function expectedRestoreHours(storageClass: string, tier: RestoreTier, option = '--tier'): number {
  const hours = HOURS[classOf(storageClass)]![tier];
  if (hours === undefined) {
    throw new InvalidArgument(
      `${option} ${tier} is not available for ${classOf(storageClass)}: use ${Object.keys(HOURS[classOf(storageClass)]!).join(' or ')}`,
    );
  }
  return hours;
}

export interface RestoreRequestReport {
  readonly tier: RestoreTier;
  readonly days: number;
  readonly artifacts: Array<ObjectStorage & { outcome: RestoreRequestOutcome | 'readable' }>;
  /** Upper bound of when every artifact is readable (ISO 8601); null when all are readable now. */
  readonly readyBy: string | null;
  /** S3's published worst case, in hours, of the slowest restore asked for or running (0: none). */
  readonly hours: number;
}

/**
 * Starts an S3 restore of every archived artifact of the backup that is not readable yet. Asking
 * again is harmless: a restore already running is left to finish, a restored copy stays.
 */
export async function requestBackupRestore(
  repository: Repository,
  manifest: Pick<DumpManifest, 'artifact' | 'roles'>,
  options: { tier: RestoreTier; days: number; now?: Date; option?: string },
): Promise<RestoreRequestReport> {
  if (!repository.requestRestore || !repository.storage) {
    throw new InvalidArgument(`${repository.url} has no archive tiers: nothing to restore`);
  }
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 30) {
    throw new InvalidArgument(`--days expects a whole number of days from 1 to 30, got "${options.days}"`);
  }
  const storage = (await backupStorage(repository, manifest))!;
  for (const s of storage)
    if (s.archived && s.restore === 'none')
      expectedRestoreHours(s.storageClass, options.tier, options.option);
  const now = options.now ?? new Date();
  let hours = 0;
  const artifacts: RestoreRequestReport['artifacts'] = [];
  for (const s of storage) {
    if (s.readable) {
      artifacts.push({ ...s, outcome: 'readable' });
      continue;
    }
    const outcome = await repository.requestRestore(s.key, { tier: options.tier, days: options.days });
    // A restore already running keeps its own tier: the bound is that of the slowest tier.
    const h =
      outcome === 'in-progress'
        ? Math.max(...Object.values(HOURS[classOf(s.storageClass)]!))
        : expectedRestoreHours(s.storageClass, options.tier);
    hours = Math.max(hours, h);
    artifacts.push({ ...s, outcome });
  }
  const pending = artifacts.some((a) => a.outcome !== 'readable' && a.outcome !== 'not-archived');
  return {
    tier: options.tier,
    days: options.days,
    artifacts,
    readyBy: pending ? new Date(now.getTime() + hours * 3600_000).toISOString() : null,
    hours: pending ? hours : 0,
  };
}

/** Where a backup's artifacts stand, in the few figures a workflow branches on and reports. */
export interface StorageSummary {
  /** Every artifact can be read now. */
  readonly readable: boolean;
  readonly artifacts: number;
  readonly readableNow: number;
  /** Archived, and no S3 restore asked for. */
  readonly archived: number;
  /** An S3 restore is running. */
  readonly restoring: number;
  /** Storage classes of the artifacts, each once. */
  readonly storageClasses: string[];
  /** Up to five keys that cannot be read now (a directory dump may have thousands of files). */
  readonly waitingFor: string[];
}

export function summarizeStorage(storage: readonly ObjectStorage[] | null): StorageSummary {
  const all = storage ?? [];
  const unreadable = all.filter((s) => !s.readable);
  return {
    readable: unreadable.length === 0,
    artifacts: all.length,
    readableNow: all.length - unreadable.length,
    archived: unreadable.filter((s) => s.restore === 'none').length,
    restoring: unreadable.filter((s) => s.restore === 'in-progress').length,
    storageClasses: [...new Set(all.map((s) => s.storageClass))].sort(),
    waitingFor: unreadable.slice(0, 5).map((s) => s.key),
  };
}

/** How a workflow waits for an S3 restore: a check every `waitSeconds`, at most `maxChecks` times. */
export interface ArchiveWaitPlan {
  readonly waitSeconds: number;
  readonly maxChecks: number;
  /** S3's published worst case plus the margin: after this the wait gives up. */
  readonly boundHours: number;
}

/**
 * The wait loop for a restore whose published worst case is `hours`: a check every 15 minutes
 * (every minute for an Expedited restore of minutes), until the worst case plus a margin (one hour;
 * a quarter of an hour for Expedited) has passed. Long waits, few checks: a 48-hour Bulk restore
 * costs 196 checks.
 */
export function archiveWaitPlan(hours: number): ArchiveWaitPlan {
  const quick = hours <= 1;
  const waitSeconds = quick ? 60 : 900;
  const boundSeconds = Math.round(hours * 3600) + (quick ? 900 : 3600);
  const maxChecks = Math.ceil(boundSeconds / waitSeconds);
  return { waitSeconds, maxChecks, boundHours: (maxChecks * waitSeconds) / 3600 };
}

/** The longest any restore can take (DEEP_ARCHIVE Bulk) with its margin: what a workflow's timeout must allow. */
export const ARCHIVE_WAIT_MAX_HOURS = archiveWaitPlan(
  Math.max(...Object.values(HOURS).flatMap((t) => Object.values(t))),
).boundHours;

/** Throws ArchivedObject naming the tier when an artifact cannot be read now. */
export function requireReadable(backupId: string, storage: readonly ObjectStorage[] | null): void {
  const unreadable = (storage ?? []).filter((s) => !s.readable);
  if (unreadable.length === 0) return;
  const first = unreadable[0]!;
  const err = new ArchivedObject(
    `backup ${backupId} is archived (${unreadable.map((s) => `${s.key}: ${s.storageClass}${s.restore === 'in-progress' ? ', restore in progress' : ''}`).join('; ')}); ${
      unreadable.every((s) => s.restore === 'in-progress')
        ? 'an S3 restore is running: come back when it is done'
        : 'pass --request-restore [--tier Standard|Bulk|Expedited] [--days N] to start an S3 restore'
    }`,
  );
  err.storageClass = first.storageClass;
  err.key = first.key;
  throw err;
}
