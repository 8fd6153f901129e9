import { Catalog } from '#core/catalog/catalog.ts';
import { InvalidArgument } from '#core/shared/errors.ts';
import { silentLogger } from '#core/shared/logger.ts';
import { prune } from '#core/retention/prune.ts';
import { type PruneItem, type PruneReport } from '#core/retention/prune-report.ts';
import { type DatabaseRetention } from '#core/retention/prune-settings.ts';
import { openRepository } from '../repository.ts';
import { bool, parse, required, str, type Syntax } from '../args.ts';
import { table } from '../format.ts';

const USAGE =
  'lifeboat prune --repo URL [--database NAME] [--keep-daily N] [--keep-weekly N] [--keep-monthly N] [--keep-yearly N] [--min-verified N] [--time-zone ZONE] [--max-deletions N] [--dry-run] [--s3-endpoint URL] [--json]';

const DEFAULT_MIN_VERIFIED = 2;
const DEFAULT_MAX_DELETIONS = 100;

export const pruneHelp = `Applies a grandfather-father-son retention to the logical dumps of a repository, with the same
rules and guards as the deployed prune: it never deletes the newest verified backups, anything in
progress, or anything of a database whose catalog it could not read completely. It prints what it
keeps and why, what it deletes (with --dry-run: would delete), and what it refused to judge.
A deletion removes the dump's artifact and adds a "deleted" record; no catalog document is removed.

usage: ${USAGE}

  --keep-daily N      the newest backup of each of the last N days that have one (default 0)
  --keep-weekly N     the same per ISO week (default 0)
  --keep-monthly N    the same per calendar month (default 0)
  --keep-yearly N     the same per calendar year (default 0)
                      (at least one --keep-* is required)
  --min-verified N    never delete the newest N verified backups of a database (default ${DEFAULT_MIN_VERIFIED}, at least 1)
  --time-zone ZONE    IANA zone of the day/week/month/year boundaries (default UTC)
  --max-deletions N   at most N deletions per run and per 24 hours, oldest first (default ${DEFAULT_MAX_DELETIONS})
  --database NAME     only this database (default: every database in the catalog)
  --dry-run           delete nothing; list what would be deleted

exit status: 0 judged and done, 1 a database was not judged (its catalog could not be read
completely) or a deletion failed, 2 the prune could not run`;

function count(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > 10_000) {
    throw new InvalidArgument(
      `--${name} expects a whole number from ${min} to 10000, got "${value}"\nusage: ${USAGE}`,
    );
  }
  return Number(value);
}

export interface PruneOptions {
  readonly repo: string;
  readonly s3Endpoint: string | undefined;
  readonly database: string | undefined;
  readonly policy: DatabaseRetention;
  readonly maxDeletions: number;
  readonly dryRun: boolean;
  readonly json: boolean;
}

export const pruneSyntax = {
  usage: USAGE,
  options: {
    repo: { type: 'string' },
    database: { type: 'string' },
    'keep-daily': { type: 'string' },
    'keep-weekly': { type: 'string' },
    'keep-monthly': { type: 'string' },
    'keep-yearly': { type: 'string' },
    'min-verified': { type: 'string' },
    'time-zone': { type: 'string' },
    'max-deletions': { type: 'string' },
    'dry-run': { type: 'boolean' },
    's3-endpoint': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

/** The command line, checked: InvalidArgument says what was expected. */
export function pruneOptions(argv: string[]): PruneOptions {
  const p = parse(pruneSyntax.usage, argv, pruneSyntax.options, pruneSyntax.positionals);
  const repoUrl = required(p, 'repo', USAGE, 'LIFEBOAT_REPO');
  const keeps = ['keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] as const;
  if (keeps.every((k) => str(p, k) === undefined)) {
    throw new InvalidArgument(
      `say what to keep: at least one of ${keeps.map((k) => `--${k}`).join(', ')}\nusage: ${USAGE}`,
    );
  }
  const timeZone = str(p, 'time-zone') ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new InvalidArgument(
      `--time-zone expects an IANA time zone such as Europe/Paris, got "${timeZone}"`,
    );
  }
  const maxDeletions = count(str(p, 'max-deletions'), 'max-deletions', DEFAULT_MAX_DELETIONS);
  const policy: DatabaseRetention = {
    daily: count(str(p, 'keep-daily'), 'keep-daily', 0),
    weekly: count(str(p, 'keep-weekly'), 'keep-weekly', 0),
    monthly: count(str(p, 'keep-monthly'), 'keep-monthly', 0),
    yearly: count(str(p, 'keep-yearly'), 'keep-yearly', 0),
    minVerified: count(str(p, 'min-verified'), 'min-verified', DEFAULT_MIN_VERIFIED, 1),
    maxDeletionsPerRun: maxDeletions,
    timeZone,
  };
  return {
    repo: repoUrl,
    s3Endpoint: str(p, 's3-endpoint'),
    database: str(p, 'database'),
    policy,
    maxDeletions,
    dryRun: bool(p, 'dry-run'),
    json: bool(p, 'json'),
  };
}

export async function pruneCommand(argv: string[]): Promise<number> {
  const o = pruneOptions(argv);
  const repository = openRepository(o.repo, { s3Endpoint: o.s3Endpoint });
  await repository.check();

  const report = await prune(
    { dryRun: o.dryRun },
    {
      catalog: new Catalog(repository),
      policies: {},
      defaultPolicy: o.policy,
      database: o.database,
      environment: repository.url,
      limits: { maxDeletionsPerRun: o.maxDeletions, maxDeletionsPerDay: o.maxDeletions },
      logger: silentLogger,
    },
  );
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${pruneText(report, o.policy)}\n`);
  return report.refused.length > 0 || report.errors.length > 0 ? 1 : 0;
}

const when = (iso: string) => iso.replace('T', ' ').replace(/:\d{2}(\.\d+)?Z$/, 'Z');

function items(list: readonly PruneItem[]): string {
  const sorted = [...list].sort((a, b) =>
    a.database < b.database ? -1 : a.database > b.database ? 1 : b.takenAt.localeCompare(a.takenAt),
  );
  return table(
    ['BACKUP', 'DATABASE', 'TAKEN', 'WHY'],
    sorted.map((i) => [i.backupId, i.database, when(i.takenAt), i.reasons.join('; ')]),
  )
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

/** The report for a person: the refusals first, then what stays and what goes, each with why. */
export function pruneText(report: PruneReport, policy: DatabaseRetention): string {
  const out: string[] = [];
  out.push(
    `prune ${report.environment}${report.dryRun ? ' (dry run: nothing is deleted)' : ''}`,
    `policy: daily ${policy.daily}, weekly ${policy.weekly}, monthly ${policy.monthly}, yearly ${policy.yearly}, min-verified ${policy.minVerified}, time zone ${policy.timeZone}, at most ${report.limits.maxDeletionsPerRun} deletions`,
  );
  if (report.refused.length > 0) {
    out.push('', `REFUSED TO JUDGE (everything of these databases is kept)`);
    for (const r of report.refused) {
      out.push(`  ${r.database}: ${r.reason}`);
      for (const problem of r.problems)
        out.push(`    ${problem.key}: ${problem.problem}: ${problem.message}`);
    }
  }
  if (report.kept.length > 0) out.push('', 'KEEP', items(report.kept));
  const gone = report.dryRun ? report.wouldDelete : report.deleted;
  if (gone.length > 0) out.push('', report.dryRun ? 'WOULD DELETE' : 'DELETED', items(gone));
  if (report.errors.length > 0) {
    out.push('', 'ERRORS');
    for (const e of report.errors) {
      out.push(
        `  ${[e.database, e.backupId].filter(Boolean).join(' ') || '-'}: ${e.error.name}: ${e.error.message}`,
      );
    }
  }
  out.push(
    '',
    `kept ${report.kept.length}, ${report.dryRun ? 'would delete' : 'deleted'} ${gone.length}, refused ${report.refused.length} database${report.refused.length === 1 ? '' : 's'}, errors ${report.errors.length}`,
  );
  return out.join('\n');
}
