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

/** Upper bound, in hours, of a restore of `storageClass` at `tier`; InvalidArgument if S3 has no such tier. */
export function expectedRestoreHours(storageClass: string, tier: RestoreTier): number {
  const hours = HOURS[classOf(storageClass)]![tier];
  if (hours === undefined) {
    throw new InvalidArgument(
      `--tier ${tier} is not available for ${classOf(storageClass)}: use ${Object.keys(HOURS[classOf(storageClass)]!).join(' or ')}`,
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
}

/**
 * Starts an S3 restore of every archived artifact of the backup that is not readable yet. Asking
 * again is harmless: a restore already running is left to finish, a restored copy stays.
 */
export async function requestBackupRestore(
  repository: Repository,
  manifest: Pick<DumpManifest, 'artifact' | 'roles'>,
  options: { tier: RestoreTier; days: number; now?: Date },
): Promise<RestoreRequestReport> {
  if (!repository.requestRestore || !repository.storage) {
    throw new InvalidArgument(`${repository.url} has no archive tiers: nothing to restore`);
  }
  if (!Number.isInteger(options.days) || options.days < 1 || options.days > 30) {
    throw new InvalidArgument(`--days expects a whole number of days from 1 to 30, got "${options.days}"`);
  }
  const storage = (await backupStorage(repository, manifest))!;
  for (const s of storage)
    if (s.archived && s.restore === 'none') expectedRestoreHours(s.storageClass, options.tier);
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
  };
}

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
