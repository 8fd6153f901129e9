import { runBackup } from '#core/dumps/backup.ts';
import {
  COMPRESSION_METHODS,
  DEFAULT_COMPRESSION,
  formatCompression,
  parseCompression,
} from '#core/dumps/compression.ts';
import { silentLogger, stderrLogger } from '#core/shared/logger.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository } from '../repository.ts';
import { bool, parse, positiveInt, required, str, type Syntax } from '../args.ts';
import { previousBackup, progressReporter } from '../progress.ts';

const USAGE =
  'lifeboat backup --database-url postgres://user@host:port/db --repo file:///dir|s3://bucket/prefix ' +
  '[--s3-endpoint URL] [--kms-key-id KEY] [--name NAME] [--compression METHOD[:LEVEL]] [--jobs N] [--json] [--verbose]';

export const backupHelp = `Takes a logical backup (pg_dump custom format) into a repository and catalogs it.

usage: ${USAGE}

  --database-url URL   the database to back up (or LIFEBOAT_DATABASE_URL); a password may also come from PGPASSWORD
  --repo URL           file:///absolute/dir or s3://bucket[/prefix] (or LIFEBOAT_REPO)
  --s3-endpoint URL    an S3-compatible endpoint (path-style), e.g. http://127.0.0.1:4568
  --kms-key-id KEY     SSE-KMS key for S3 repositories
  --name NAME          catalog the backup under this database name (default: the database's own name)
  --compression M[:L]  ${COMPRESSION_METHODS.join(', ')} (default ${formatCompression(DEFAULT_COMPRESSION)}):
                       zstd/gzip compress beside pg_dump on other cores; pg_dump-* leave it to pg_dump
                       (pg_dump-lz4 and pg_dump-zstd need pg_dump 16+)
  --jobs N             dump in the directory format with N pg_dump workers (pg_dump -Fd -j N), storing
                       each file as it completes (default: one streamed custom-format archive)
  --json               print the manifest as JSON instead of the backup id
  --verbose            log each step to stderr`;

export const backupSyntax = {
  usage: USAGE,
  options: {
    'database-url': { type: 'string' },
    repo: { type: 'string' },
    's3-endpoint': { type: 'string' },
    'kms-key-id': { type: 'string' },
    name: { type: 'string' },
    compression: { type: 'string' },
    jobs: { type: 'string' },
    json: { type: 'boolean' },
    verbose: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function backupCommand(argv: string[]): Promise<number> {
  const p = parse(backupSyntax.usage, argv, backupSyntax.options, backupSyntax.positionals);
  const connection = parseDatabaseUrl(required(p, 'database-url', USAGE, 'LIFEBOAT_DATABASE_URL'));
  const withPassword =
    connection.password === undefined && process.env.PGPASSWORD
      ? { ...connection, password: process.env.PGPASSWORD }
      : connection;
  const repository = openRepository(required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), {
    s3Endpoint: str(p, 's3-endpoint'),
    kmsKeyId: str(p, 'kms-key-id'),
  });
  const compression = str(p, 'compression');
  const name = str(p, 'name') ?? connection.database;
  // The ETA comes from the previous backup of the same database, read (only when it is shown)
  // while the backup starts.
  const previous = process.stderr.isTTY ? previousBackup(repository, name) : null;
  const progress = progressReporter(`backing up ${name}:`, process.stderr, { previous });
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const manifest = await runBackup({
      connection: withPassword,
      repository,
      database: str(p, 'name'),
      compression: compression === undefined ? undefined : parseCompression(compression, '--compression'),
      jobs: str(p, 'jobs') === undefined ? undefined : positiveInt(p, 'jobs', 1),
      logger: bool(p, 'verbose') ? stderrLogger('debug') : silentLogger,
      onProgress: (n) => progress.update(n),
      signal: controller.signal,
    });
    progress.done();
    process.stdout.write(bool(p, 'json') ? `${JSON.stringify(manifest, null, 2)}\n` : `${manifest.id}\n`);
    return 0;
  } finally {
    progress.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
