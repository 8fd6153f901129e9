import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import type pg from 'pg';
import { artifactKey, Catalog, newBackupId } from '../catalog/catalog.ts';
import { BackupFailed, errorMessage, LifeboatError, PgDumpFailed } from '../shared/errors.ts';
import { type Logger, silentLogger } from '../shared/logger.ts';
import {
  type Compression,
  type CompressionSetting,
  formatCompression,
  isPipelineCompressed,
  pgDumpCompressArgs,
  resolveCompression,
  type Stage,
  startCompressor,
} from './compression.ts';
import { type DirectoryDumpOptions, dumpDirectory } from './dump-directory.ts';
import {
  DOCUMENT_SCHEMA,
  type DumpFile,
  type DumpManifest,
  type SourceStatistics,
} from '../catalog/manifest.ts';
import { type ConnectionInfo, connect, libpqConnString, libpqEnv, mapPgError } from '../shared/pg.ts';
import { majorOf, toolForServer } from '../shared/pgtools.ts';
import type { Repository } from '../repository/types.ts';
import { storeRoles } from './roles.ts';
import { captureStatistics } from '../verify/stats.ts';

export interface BackupOptions {
  readonly connection: ConnectionInfo;
  readonly repository: Repository;
  /** Name the catalog files the backup under. @default the connection's database name */
  readonly database?: string | undefined;
  readonly logger?: Logger;
  /** Called with the bytes pg_dump has produced so far. */
  readonly onProgress?: (bytes: number) => void;
  /** Where this runs, for the catalog (host name, Lambda request id). @default the host name */
  readonly runner?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly now?: () => Date;
  /** Aborting stops pg_dump and fails the backup cleanly (Ctrl-C, Lambda about to time out). */
  readonly signal?: AbortSignal | undefined;
  /** How the dump is compressed. @default DEFAULT_COMPRESSION (zstd 3 beside pg_dump) */
  readonly compression?: CompressionSetting | Compression | undefined;
  /**
   * Dump in the directory format with this many pg_dump workers (`-Fd -j N`) into `workDir`,
   * storing each file as it completes. @default - one custom-format stream, no local files
   */
  readonly jobs?: number | undefined;
  /** Where a directory dump is written before its files are stored. @default os.tmpdir() */
  readonly workDir?: string | undefined;
}

/** Name endings of stored artifacts: what turns them back into a pg_restore archive is in the name. */
export const EXTENSION: Record<Compression['method'], string> = {
  zstd: '.zst',
  gzip: '.gz',
  none: '',
  'pg_dump-gzip': '',
  'pg_dump-lz4': '',
  'pg_dump-zstd': '',
};

/** Lines of pg_dump's stderr kept for the error message. */
const STDERR_LIMIT = 16 * 1024;

/**
 * Takes a logical backup: pg_dump (custom format) of the snapshot this function exports, streamed
 * through SHA-256 into the repository, with the source's statistics read in the same snapshot.
 *
 * Order of writes: `started` record → artifact (visible only when complete) → manifest. The backup
 * counts as completed only once the manifest exists. On any failure the partial artifact is
 * removed (or the multipart upload aborted), a `failed` record is written, and BackupFailed is thrown
 * with the reason, including pg_dump's own message. Errors before anything is written (database
 * unreachable, bad credentials, repository missing) leave the catalog untouched.
 */
export async function runBackup(options: BackupOptions): Promise<DumpManifest> {
  const log = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const { connection, repository } = options;
  const database = options.database ?? connection.database;
  const catalog = new Catalog(repository, { now });

  await repository.check({ write: true });
  const client = await connect(connection);
  let dump: ChildProcess | undefined;
  let backupId: string | undefined;
  try {
    const version = await client.query<{ num: string; version: string }>(
      `SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version`,
    );
    const serverVersionNum = Number(version.rows[0]!.num);
    const serverVersion = version.rows[0]!.version.split(' ')[0]!;
    const pgDump = await toolForServer('pg_dump', majorOf(serverVersionNum), options.env);
    const compression = resolveCompression(options.compression);
    // Refuses pg_dump's lz4/zstd on a pg_dump older than 16 before anything is written.
    const compressArgs = pgDumpCompressArgs(compression, pgDump.major);

    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const snapshotId = (await client.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s;

    const started = now();
    backupId = newBackupId(started);
    // A directory dump's files are stored under `<id>.dir/`; a single archive under `<id>.dump[.zst|.gz]`.
    const key = options.jobs
      ? artifactKey(database, backupId).replace(/\.dump$/, '.dir/')
      : artifactKey(database, backupId) + EXTENSION[compression.method];
    await catalog.record({
      kind: 'started',
      backupId,
      database,
      at: started.toISOString(),
      backupKind: 'logical-dump',
      runner: options.runner ?? hostname(),
    });
    log.info('backup started', { backupId, database, pgDump: pgDump.path, snapshotId });

    const stored = options.jobs
      ? storeDirectory({
          client,
          connection,
          log,
          dump: {
            pgDumpPath: pgDump.path,
            connection,
            snapshotId,
            jobs: options.jobs,
            compressArgs,
            compression,
            repository,
            keyPrefix: key,
            workDir: options.workDir,
            env: options.env,
            onSpawn: (child) => {
              dump = child;
            },
            onProgress: options.onProgress,
            signal: options.signal,
            log,
          },
        })
      : dumpAndStore({
          client,
          connection,
          pgDumpPath: pgDump.path,
          compressArgs,
          compression,
          env: options.env,
          snapshotId,
          repository,
          key,
          onSpawn: (child) => {
            dump = child;
          },
          onProgress: options.onProgress,
          signal: options.signal,
          log,
        });
    // The roles the database needs, beside the dump, captured while pg_dump runs (a failure
    // there is recorded, not fatal; storeRoles never rejects). The same snapshot's transaction
    // answers its catalog queries between the statistics queries.
    const rolesStored = storeRoles({
      client,
      connection,
      repository,
      // `<id>.roles.json` beside the dump, whatever its format (file, compressed, directory).
      artifactKey: artifactKey(database, backupId),
      serverMajor: majorOf(serverVersionNum),
      env: options.env,
      log,
    });
    const result = await stored.catch(async (err: unknown) => {
      const reason = err instanceof LifeboatError ? err : new BackupFailed(errorMessage(err), { cause: err });
      const storedRoles = await rolesStored;
      if (storedRoles.roles) await removeArtifact(repository, storedRoles.roles.key);
      const cleanup = await removeArtifact(repository, key);
      await catalog
        .record({
          kind: 'failed',
          backupId: backupId!,
          database,
          at: now().toISOString(),
          error: { name: reason.name, message: reason.message },
          cleanup,
        })
        .catch((recordErr) => log.error('could not record the failure', { error: errorMessage(recordErr) }));
      throw new BackupFailed(`backup ${backupId} of "${database}" failed: ${reason.message}`, {
        cause: reason,
      });
    });

    const roles = await rolesStored;
    const finished = now();
    const manifest: DumpManifest = {
      schemaVersion: DOCUMENT_SCHEMA.major,
      schemaMinor: DOCUMENT_SCHEMA.minor,
      kind: 'logical-dump',
      id: backupId,
      database,
      source: {
        host: connection.host,
        port: connection.port,
        database: connection.database,
        serverVersion,
        serverVersionNum,
      },
      tool: {
        name: 'pg_dump',
        version: pgDump.version,
        path: pgDump.path,
        ...(options.jobs
          ? { format: 'directory' as const, jobs: options.jobs }
          : { format: 'custom' as const }),
      },
      snapshotId,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      artifact: {
        key,
        bytes: result.bytes,
        sha256: result.sha256,
        encryption: repository.encryption,
        compression,
        ...(result.files ? { files: result.files } : {}),
      },
      statistics: result.statistics,
      ...roles,
    };
    try {
      await catalog.writeManifest(manifest);
    } catch (err) {
      const cleanup = await removeArtifact(repository, result.files?.map((f) => f.key) ?? key);
      if (roles.roles) await removeArtifact(repository, roles.roles.key);
      await catalog
        .record({
          kind: 'failed',
          backupId,
          database,
          at: now().toISOString(),
          error: { name: 'ManifestWriteFailed', message: errorMessage(err) },
          cleanup,
        })
        .catch(() => undefined);
      throw new BackupFailed(
        `backup ${backupId} of "${database}" failed writing its manifest: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    await client.query('COMMIT').catch(() => undefined);
    log.info('backup completed', {
      backupId,
      bytes: result.bytes,
      sha256: result.sha256,
      compression: formatCompression(compression),
    });
    return manifest;
  } catch (err) {
    if (dump && dump.exitCode === null) dump.kill('SIGKILL');
    if (err instanceof LifeboatError) throw err;
    throw mapPgError(err, connection);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function removeArtifact(repository: Repository, key: string | string[]): Promise<string> {
  // A directory dump removes its own files when it fails; this removes them when a later step does.
  if (Array.isArray(key)) {
    const results = await Promise.allSettled(key.map((k) => repository.remove(k)));
    const failed = results.filter((r) => r.status === 'rejected').length;
    return failed === 0 ? `removed ${key.length} files` : `could not remove ${failed} of ${key.length} files`;
  }
  try {
    // Uploads abort themselves; this catches an artifact completed just before a later step failed.
    if ((await repository.size(key)) === null) return 'no artifact was stored';
    await repository.remove(key);
    return `removed ${key}`;
  } catch (err) {
    return `could not remove ${key}: ${errorMessage(err)}`;
  }
}

interface StoreDirectory {
  readonly client: pg.Client;
  readonly connection: ConnectionInfo;
  readonly log: Logger;
  readonly dump: DirectoryDumpOptions;
}

/** A directory dump, with the source's statistics read in the same snapshot meanwhile. */
async function storeDirectory(o: StoreDirectory): Promise<StoredDump> {
  // Statistics that cannot be read stop the dump (which removes what it stored).
  const stop = new AbortController();
  const signal = o.dump.signal ? AbortSignal.any([o.dump.signal, stop.signal]) : stop.signal;
  const statistics = captureStatistics(o.client).catch((err: unknown) => {
    stop.abort();
    const e = mapPgError(err, o.connection);
    throw new BackupFailed(`reading source statistics failed: ${e.message}`, { cause: err });
  });
  statistics.catch(() => undefined);
  const dumped = dumpDirectory({ ...o.dump, signal });
  dumped.catch(() => undefined);
  try {
    const [stats, result] = await Promise.all([statistics, dumped]);
    return { ...result, statistics: stats };
  } catch (err) {
    await dumped.catch(() => undefined);
    throw (
      (await statistics.then(
        () => null,
        (e: unknown) => e,
      )) ?? err
    );
  }
}

interface StoredDump {
  readonly bytes: number;
  readonly sha256: string;
  readonly statistics: SourceStatistics;
  readonly files?: DumpFile[];
}

interface DumpAndStore {
  readonly client: pg.Client;
  readonly connection: ConnectionInfo;
  readonly pgDumpPath: string;
  readonly compressArgs: string[];
  readonly compression: Compression;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly snapshotId: string;
  readonly repository: Repository;
  readonly key: string;
  readonly onSpawn: (child: ChildProcess) => void;
  readonly onProgress?: ((bytes: number) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly log: Logger;
}

async function dumpAndStore(o: DumpAndStore): Promise<StoredDump> {
  // The database's size bounds the compressed dump: S3 sizes its multipart parts from it.
  const sized = await o.client.query<{ size: string }>(
    'SELECT pg_database_size(current_database())::text AS size',
  );
  const expectedBytes = Number(sized.rows[0]?.size ?? 0) || undefined;
  const child = spawn(
    o.pgDumpPath,
    [
      '--format=custom',
      ...o.compressArgs,
      `--snapshot=${o.snapshotId}`,
      '--no-password',
      `--dbname=${libpqConnString(o.connection)}`,
    ],
    { env: libpqEnv(o.connection), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  o.onSpawn(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-STDERR_LIMIT);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new PgDumpFailed(`could not run ${o.pgDumpPath}: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const message = pgToolMessage(stderr) || (signal ? `killed by ${signal}` : `exit code ${code}`);
      reject(new PgDumpFailed(`pg_dump failed: ${message}`));
    });
  });
  // Observed through the stream too; this keeps an early rejection from going unhandled.
  exited.catch(() => undefined);

  // pg_dump → (compressor, on other cores) → SHA-256 → repository. The stream ends only once every
  // process before it has exited cleanly.
  let stage: Stage | undefined;
  if (isPipelineCompressed(o.compression)) {
    try {
      stage = await startCompressor(o.compression, child.stdout!, o.env);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }
  const finished = stage ? Promise.all([exited, stage.done]).then(() => undefined) : exited;
  finished.catch(() => undefined);
  const hashing = new HashingStream(finished, o.onProgress);
  const output = stage ? stage.output : child.stdout!;
  output.on('error', (err) => hashing.destroy(err));
  output.pipe(hashing);
  o.log.info('dump pipeline', {
    pgDump: ['--format=custom', ...o.compressArgs].join(' '),
    compressor: stage?.description ?? 'none',
  });

  const abort = () => {
    hashing.destroy(new BackupFailed('interrupted'));
    child.kill('SIGTERM');
    stage?.kill();
  };
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener('abort', abort, { once: true });

  // Statistics come from the exported snapshot; if they cannot be read, the backup must not complete.
  const statistics = captureStatistics(o.client).catch((err: unknown) => {
    const e = mapPgError(err, o.connection);
    hashing.destroy(new BackupFailed(`reading source statistics failed: ${e.message}`, { cause: err }));
    child.kill('SIGTERM');
    throw e;
  });
  statistics.catch(() => undefined);

  try {
    const [{ bytes }, stats] = await Promise.all([
      o.repository.upload(o.key, hashing, { expectedBytes }),
      statistics,
      finished,
    ]);
    if (bytes !== hashing.bytes) {
      throw new BackupFailed(`stored ${bytes} bytes but pg_dump produced ${hashing.bytes}`);
    }
    if (stderr.trim()) o.log.warn('pg_dump wrote to stderr', { stderr: stderr.trim() });
    return { bytes, sha256: hashing.digest(), statistics: stats };
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    stage?.kill();
    if (o.signal?.aborted) throw new BackupFailed('interrupted: pg_dump was stopped', { cause: err });
    // pg_dump's own message is the most useful reason when it failed too.
    const dumpError = await exited.then(
      () => null,
      (e: unknown) => e,
    );
    throw dumpError && !(err instanceof PgDumpFailed) && isSecondary(err) ? dumpError : err;
  } finally {
    o.signal?.removeEventListener('abort', abort);
  }
}

/** Errors that are only a consequence of pg_dump dying (a destroyed stream, a closed pipe). */
function isSecondary(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || err instanceof BackupFailed;
}

/** The lines of pg_dump/pg_restore output that say what went wrong. */
export function pgToolMessage(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const important = lines.filter((l) => /error|fatal|could not|failed|detail:/i.test(l));
  return (important.length ? important : lines).slice(-4).join(' | ');
}

/**
 * Hashes and counts what passes through, and holds back the end of the stream until pg_dump has
 * exited: if pg_dump fails, the stream errors instead of ending, so the repository aborts the
 * upload rather than completing a truncated artifact.
 */
class HashingStream extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(
    private readonly exited: Promise<void>,
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.exited.then(
      () => callback(),
      (err: unknown) => callback(err as Error),
    );
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
