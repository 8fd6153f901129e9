import { Catalog } from '#core/catalog/catalog.ts';
import {
  backupStorage,
  RESTORE_TIERS,
  requestBackupRestore,
  requireReadable,
} from '#core/dumps/cold-storage.ts';
import { InvalidArgument } from '#core/shared/errors.ts';
import type { Repository, RestoreTier } from '#core/repository/types.ts';
import { type BackupSelector, selectBackup } from '#core/verify/verify.ts';
import { bool, type Parsed, positiveInt, str } from './args.ts';

/** Options of the commands that read a backup's artifacts (restore, verify). */
export const archiveOptions = {
  'request-restore': { type: 'boolean' },
  tier: { type: 'string' },
  days: { type: 'string' },
} as const;

export const ARCHIVE_USAGE = '[--request-restore [--tier Standard|Bulk|Expedited] [--days N]]';

export const archiveHelp = `  --request-restore    the backup is archived (GLACIER, DEEP_ARCHIVE): start an S3 restore of each
                       of its artifacts, say when they will be readable and the command to run then
  --tier T             Standard (default; GLACIER 3-5 h, DEEP_ARCHIVE within 12 h), Bulk (5-12 h,
                       within 48 h) or Expedited (GLACIER only, 1-5 min)
  --days N             how long the restored copies stay readable (default 7)`;

/** Exit status when the backup is archived and a restore was requested (or runs): come back later. */
export const EXIT_ARCHIVED = 3;

function shellWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

/**
 * Before a restore or verification reads a backup: if any of its artifacts is archived and not
 * restored, either refuse naming the tier (ArchivedObject), or with --request-restore start the S3
 * restores and print when to come back and the exact command to run then. Returns the exit status
 * to end with, or null when every artifact is readable and the command may go on.
 */
export async function archivePreflight(
  p: Parsed,
  repository: Repository,
  selector: BackupSelector,
  command: { name: 'restore' | 'verify'; argv: readonly string[] },
  out: NodeJS.WritableStream,
): Promise<number | null> {
  const tier = (str(p, 'tier') ?? 'Standard') as RestoreTier;
  if (!RESTORE_TIERS.includes(tier)) {
    throw new InvalidArgument(`--tier expects ${RESTORE_TIERS.join(', ')}, got "${tier}"`);
  }
  const days = positiveInt(p, 'days', 7);
  const requested = bool(p, 'request-restore');
  if (!requested && (str(p, 'tier') || str(p, 'days'))) {
    throw new InvalidArgument('--tier and --days go with --request-restore');
  }
  if (!repository.storage) return null;
  const backup = await selectBackup(new Catalog(repository), selector);
  const storage = await backupStorage(repository, backup.manifest);
  if ((storage ?? []).every((s) => s.readable)) {
    if (requested) out.write(`backup ${backup.id}: every artifact is readable now\n`);
    return null;
  }
  if (!requested) requireReadable(backup.id, storage);
  const report = await requestBackupRestore(repository, backup.manifest, { tier, days });
  for (const a of report.artifacts) {
    const what =
      a.outcome === 'requested'
        ? `restore requested (${tier}, readable for ${days} days)`
        : a.outcome === 'in-progress'
          ? 'a restore is already running'
          : 'readable now';
    out.write(`${a.key} (${a.storageClass}): ${what}\n`);
  }
  const rest: string[] = [];
  let skip = false;
  let positionalDropped = false;
  for (const w of command.argv) {
    if (skip) {
      skip = false;
      continue;
    }
    if (w === '--request-restore') continue;
    if (w === '--tier' || w === '--days') {
      skip = true;
      continue;
    }
    if (w.startsWith('--tier=') || w.startsWith('--days=')) continue;
    if (!w.startsWith('-') && !positionalDropped && isPositional(command.argv, w)) {
      positionalDropped = true;
      continue;
    }
    rest.push(w);
  }
  const resume = ['lifeboat', command.name, backup.id, ...rest].map(shellWord).join(' ');
  out.write(
    `backup ${backup.id} will be readable by ${report.readyBy ?? 'now'} at the latest; then run:\n  ${resume}\n`,
  );
  return EXIT_ARCHIVED;
}

/** The positional (backup id or `latest`) of a restore/verify command line. */
function isPositional(argv: readonly string[], word: string): boolean {
  const i = argv.indexOf(word);
  const previous = i > 0 ? argv[i - 1]! : '';
  // A value of a string option follows its option; boolean options take none.
  return !(previous.startsWith('--') && !BOOLEAN.has(previous) && !previous.includes('='));
}

const BOOLEAN = new Set([
  '--request-restore',
  '--clean',
  '--create-roles',
  '--no-owner',
  '--no-privileges',
  '--json',
  '--verbose',
]);
