import { silentLogger, stderrLogger } from '#core/shared/logger.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository } from '../repository.ts';
import { runVerify } from '#core/verify/verify.ts';
import { ARCHIVE_USAGE, archiveHelp, archiveOptions, archivePreflight } from '../archived.ts';
import { bool, parse, positiveInt, required, str, type Syntax } from '../args.ts';
import { checkLine } from '../checklist.ts';
import { duration } from '../format.ts';
import { entriesReporter } from '../progress.ts';
import { sizeTolerance, withInterrupt } from './shared.ts';

const USAGE =
  'lifeboat verify <id|latest> --repo URL [--database NAME] [--scratch-url URL] [--jobs N] [--size-tolerance F] ' +
  `${ARCHIVE_USAGE} [--s3-endpoint URL] [--json]`;

export const verifyHelp = `Proves a logical backup restores and equals what was dumped: checksum, table of contents,
restore into an ephemeral PostgreSQL (or --scratch-url, an empty database), data checks against
the manifest, amcheck. Records the outcome in the catalog.

usage: ${USAGE}

  --database NAME      which database's backups (needed with latest when the repository holds several)
  --scratch-url URL    restore into this empty database instead of an ephemeral cluster
  --jobs N             parallel pg_restore jobs (default 2)
  --size-tolerance F   allowed relative difference of database size (default 0.5)
${archiveHelp}

exit status: 0 all checks passed, 1 a check failed, 2 an error prevented checking, 3 the backup is
archived and an S3 restore was requested (run the command it prints later)`;

export const verifySyntax = {
  usage: USAGE,
  options: {
    repo: { type: 'string' },
    database: { type: 'string' },
    'scratch-url': { type: 'string' },
    jobs: { type: 'string' },
    'size-tolerance': { type: 'string' },
    's3-endpoint': { type: 'string' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean' },
    ...archiveOptions,
  },
  positionals: 1,
} satisfies Syntax;

export async function verifyCommand(argv: string[]): Promise<number> {
  const p = parse(verifySyntax.usage, argv, verifySyntax.options, verifySyntax.positionals);
  const ref = p.positionals[0] ?? 'latest';
  const repository = openRepository(required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), {
    s3Endpoint: str(p, 's3-endpoint'),
  });
  const json = bool(p, 'json');
  const archived = await archivePreflight(
    p,
    repository,
    { ref, database: str(p, 'database') },
    { name: 'verify', argv },
    process.stdout,
  );
  if (archived !== null) return archived;
  const scratch = str(p, 'scratch-url');
  const progress = entriesReporter('restoring into the ephemeral cluster:');
  const report = await withInterrupt((signal) =>
    runVerify({
      repository,
      ref,
      database: str(p, 'database'),
      scratch: scratch ? parseDatabaseUrl(scratch) : undefined,
      jobs: positiveInt(p, 'jobs', 2),
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
    const failed = report.checks.filter((c) => !c.passed).length;
    const timing = `in ${duration(report.totalDurationMs)}${report.restoreDurationMs === null ? '' : ` (restore ${duration(report.restoreDurationMs)})`}`;
    process.stdout.write(
      report.passed
        ? `verified: backup ${report.backupId} of "${report.database}" — all ${report.checks.length} checks passed ${timing}\n`
        : `FAILED: backup ${report.backupId} of "${report.database}" — ${failed} of ${report.checks.length} checks failed ${timing}\n`,
    );
  }
  return report.passed ? 0 : 1;
}
