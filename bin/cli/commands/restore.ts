import { silentLogger, stderrLogger } from '#core/shared/logger.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository } from '../repository.ts';
import { runRestore } from '#core/restore/restore.ts';
import { type CreateRolesReport, quoteIdent } from '#core/dumps/roles.ts';
import { ARCHIVE_USAGE, archiveHelp, archiveOptions, archivePreflight } from '../archived.ts';
import { bool, parse, positiveInt, required, str, type Syntax } from '../args.ts';
import { checkLine } from '../checklist.ts';
import { entriesReporter } from '../progress.ts';
import { duration } from '../format.ts';
import { parseTime, sizeTolerance, withInterrupt } from './shared.ts';

const USAGE =
  'lifeboat restore <id|latest> --repo URL --target-url URL [--database NAME] [--before TIME] [--jobs N] [--clean] [--create-roles] [--no-owner] [--no-privileges] ' +
  `${ARCHIVE_USAGE} [--s3-endpoint URL] [--json]`;

export const restoreHelp = `Restores a logical backup into a database you name, then runs the same data checks on it.

usage: ${USAGE}

  latest               the newest *verified* backup (newer unverified ones are named, not used)
  --before TIME        the newest verified backup taken before TIME (ISO 8601)
  --target-url URL     the database to restore into; it must exist, and be empty unless --clean
  --clean              drop and recreate the backup's objects in a target that has tables
  --create-roles       create the roles the backup needs that the target lacks (attributes,
                       memberships, settings; no passwords), and give the target database the
                       source's owner, settings and grants; existing roles are left as they are
  --no-owner, --no-privileges   skip ownership / grants (when the target lacks the roles)
${archiveHelp}
  --jobs N             parallel pg_restore jobs (default 2)

Refuses, changing nothing, when the checksum does not match, the target has tables (without
--clean), or roles the backup needs are missing.
exit status: 0 restored and all checks passed, 1 restored but a check failed, 2 not restored,
3 the backup is archived and an S3 restore was requested (run the command it prints later)`;

export const restoreSyntax = {
  usage: USAGE,
  options: {
    repo: { type: 'string' },
    'target-url': { type: 'string' },
    database: { type: 'string' },
    before: { type: 'string' },
    jobs: { type: 'string' },
    clean: { type: 'boolean' },
    'create-roles': { type: 'boolean' },
    ...archiveOptions,
    'no-owner': { type: 'boolean' },
    'no-privileges': { type: 'boolean' },
    'size-tolerance': { type: 'string' },
    's3-endpoint': { type: 'string' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean' },
  },
  positionals: 1,
} satisfies Syntax;

export async function restoreCommand(argv: string[]): Promise<number> {
  const p = parse(restoreSyntax.usage, argv, restoreSyntax.options, restoreSyntax.positionals);
  const ref = p.positionals[0] ?? 'latest';
  const before = parseTime('before', str(p, 'before'));
  const target = parseDatabaseUrl(required(p, 'target-url', USAGE));
  const repository = openRepository(required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), {
    s3Endpoint: str(p, 's3-endpoint'),
  });
  const json = bool(p, 'json');
  const database = str(p, 'database');
  const archived = await archivePreflight(
    p,
    repository,
    { ref, before, database, verifiedOnly: ref === 'latest' },
    { name: 'restore', argv },
    process.stdout,
  );
  if (archived !== null) return archived;
  const progress = entriesReporter('restoring:');
  const report = await withInterrupt((signal) =>
    runRestore({
      repository,
      ref,
      before,
      database: str(p, 'database'),
      target,
      jobs: positiveInt(p, 'jobs', 2),
      clean: bool(p, 'clean'),
      createRoles: bool(p, 'create-roles'),
      noOwner: bool(p, 'no-owner'),
      noPrivileges: bool(p, 'no-privileges'),
      sizeTolerance: sizeTolerance(p),
      logger: bool(p, 'verbose') ? stderrLogger('debug') : silentLogger,
      signal,
      onCheck: json ? undefined : (c) => process.stdout.write(`${checkLine(c)}\n`),
      // The line goes once every entry is in: the checks print after it.
      onRestoreProgress: process.stderr.isTTY
        ? (done, total) => (done === total ? progress.done() : progress.update(done, total))
        : undefined,
    }),
  ).finally(() => progress.done());
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    if (report.roles) process.stdout.write(rolesText(report.roles));
    if (report.skippedUnverified.length) {
      process.stdout.write(
        `note: newer backups exist but are not verified, so were not used: ${report.skippedUnverified.join(', ')}\n`,
      );
    }
    process.stdout.write(
      `${report.passed ? 'restored' : 'restored, but checks FAILED:'} backup ${report.backupId} of "${report.database}" into ${report.target} — restore ${duration(report.restoreDurationMs)}, total ${duration(report.totalDurationMs)}\n`,
    );
  }
  return report.passed ? 0 : 1;
}

/** What --create-roles did, for people: created, left alone (and how they differ), passwords to set. */
export function rolesText(r: CreateRolesReport): string {
  const lines: string[] = [];
  lines.push(`roles created: ${r.created.length ? r.created.join(', ') : 'none (all existed)'}`);
  for (const e of r.existing)
    lines.push(
      `role ${e.role} existed and was left as it is${e.differences.length ? `; differs from the source: ${e.differences.join('; ')}` : ''}`,
    );
  if (r.membershipsGranted.length) lines.push(`memberships granted: ${r.membershipsGranted.join(', ')}`);
  if (r.membershipsNotGranted.length)
    lines.push(
      `memberships between existing roles not granted (grant them if wanted): ${r.membershipsNotGranted.join(', ')}`,
    );
  if (r.databaseSettingsApplied.length)
    lines.push(`database and role settings applied: ${r.databaseSettingsApplied.join('; ')}`);
  for (const role of r.needPassword)
    lines.push(
      `set a password before ${role} can log in: ALTER ROLE ${quoteIdent(role)} PASSWORD '…' (or use IAM authentication)`,
    );
  return `${lines.join('\n')}\n`;
}
