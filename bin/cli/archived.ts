import { Catalog } from '#core/catalog/catalog.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  archiveWaitPlan,
  backupStorage,
  RESTORE_TIERS,
  requestBackupRestore,
  requireReadable,
  summarizeStorage,
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
  wait: { type: 'boolean' },
} as const;

export const ARCHIVE_USAGE = '[--request-restore [--tier Standard|Bulk|Expedited] [--days N] [--wait]]';

export const archiveHelp = `  --request-restore    the backup is archived (GLACIER, DEEP_ARCHIVE): start an S3 restore of each
                       of its artifacts, say when they will be readable and the command to run then
  --tier T             Standard (default; GLACIER 3-5 h, DEEP_ARCHIVE within 12 h), Bulk (5-12 h,
                       within 48 h) or Expedited (GLACIER only, 1-5 min)
  --days N             how long the restored copies stay readable (default 7)
  --wait               with --request-restore: wait until every artifact is readable (a check every
                       15 min, every minute for Expedited; a line per check), then go on; gives up
                       an hour after S3's worst case for the tier, with the command to resume`;

/** Exit status when the backup is archived and a restore was requested (or runs): come back later. */
export const EXIT_ARCHIVED = 3;

/** How `--wait` passes time and tells it: injectable, so a test waits no hours. */
export interface ArchiveWaitDeps {
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly now?: () => number;
}

/** Checks in a row whose HeadObject fails (past the SDK's own retries) before the wait gives up. */
const WAIT_READ_FAILURES = 3;

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
  deps: ArchiveWaitDeps = {},
): Promise<number | null> {
  const tier = (str(p, 'tier') ?? 'Standard') as RestoreTier;
  if (!RESTORE_TIERS.includes(tier)) {
    throw new InvalidArgument(`--tier expects ${RESTORE_TIERS.join(', ')}, got "${tier}"`);
  }
  const days = positiveInt(p, 'days', 7);
  const requested = bool(p, 'request-restore');
  const wait = bool(p, 'wait');
  if (!requested && (str(p, 'tier') || str(p, 'days') || wait)) {
    throw new InvalidArgument('--tier, --days and --wait go with --request-restore');
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
    if (w === '--request-restore' || w === '--wait') continue;
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
  if (wait) {
    const done = await waitUntilReadable(repository, backup.manifest, report.hours, out, deps);
    if (done) {
      out.write(`backup ${backup.id}: every artifact is readable now; going on\n`);
      return null;
    }
    out.write(
      `backup ${backup.id} is still not readable ${archiveWaitPlan(report.hours).boundHours} h after the request ` +
        `(S3's worst case for ${tier} is ${report.hours} h); check the restore with ` +
        `aws s3api head-object (its Restore field), then run:\n  ${resume}\n`,
    );
    return EXIT_ARCHIVED;
  }
  out.write(
    `backup ${backup.id} will be readable by ${report.readyBy ?? 'now'} at the latest; then run:\n  ${resume}\n`,
  );
  return EXIT_ARCHIVED;
}

/**
 * Checks the artifacts on the wait plan of the tier's worst case (`hours`) until every one is
 * readable (true) or the bound passes (false). A line per check says how many are readable. A
 * check that cannot read the storage is "not yet", unless it fails several times in a row.
 */
async function waitUntilReadable(
  repository: Repository,
  manifest: Parameters<typeof backupStorage>[1],
  hours: number,
  out: NodeJS.WritableStream,
  deps: ArchiveWaitDeps,
): Promise<boolean> {
  const pause = deps.sleep ?? ((ms: number) => sleep(ms));
  const now = deps.now ?? Date.now;
  const plan = archiveWaitPlan(hours);
  const started = now();
  let failures = 0;
  for (let check = 1; check <= plan.maxChecks; check++) {
    await pause(plan.waitSeconds * 1000);
    const minutes = Math.round((now() - started) / 60_000);
    let summary;
    try {
      summary = summarizeStorage(await backupStorage(repository, manifest));
      failures = 0;
    } catch (err) {
      failures += 1;
      if (failures >= WAIT_READ_FAILURES) throw err;
      out.write(
        `  ${minutes} min: could not read the artifacts' storage (${err instanceof Error ? err.message : String(err)}); checking again\n`,
      );
      continue;
    }
    out.write(
      `  ${minutes} min: ${summary.readableNow}/${summary.artifacts} artifacts readable` +
        (summary.restoring > 0 ? `, ${summary.restoring} restoring` : '') +
        (summary.archived > 0 ? `, ${summary.archived} archived with no restore running` : '') +
        '\n',
    );
    if (summary.readable) return true;
  }
  return false;
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
  '--wait',
  '--clean',
  '--create-roles',
  '--no-owner',
  '--no-privileges',
  '--json',
  '--verbose',
]);
