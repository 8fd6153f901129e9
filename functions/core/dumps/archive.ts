import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pgToolMessage } from './backup.ts';
import type { CheckResult } from '../catalog/catalog.ts';
import { decompressToFile, isPipelineCompressed } from './compression.ts';
import { errorMessage, PgRestoreFailed, RepositoryError } from '../shared/errors.ts';
import { fileListDigest } from './dump-directory.ts';
import type { DumpFile, DumpManifest } from '../catalog/manifest.ts';
import { type ConnectionInfo, libpqConnString, libpqEnv } from '../shared/pg.ts';
import type { Repository } from '../repository/types.ts';

/** A dump artifact as a local file pg_restore can read (and seek, for -j), checksummed on the way. */
export interface LocalArchive {
  readonly path: string;
  readonly checksum: CheckResult;
  /** Removes the temporary copy, if one was made. */
  release(): Promise<void>;
}

/**
 * Makes the artifact readable as a file and checks its SHA-256 and size against the manifest in
 * the same pass: a directory repository's file is hashed in place; an S3 object is streamed into
 * a temporary file (parallel pg_restore needs a seekable file) while being hashed. An artifact
 * compressed beside pg_dump (zstd, gzip) is decompressed into the temporary file on the way.
 */
export async function materialize(
  repository: Repository,
  manifest: DumpManifest,
  workDir?: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LocalArchive> {
  if (manifest.artifact.files)
    return materializeDirectory(repository, manifest, manifest.artifact.files, workDir, env);
  const key = manifest.artifact.key;
  const compression = manifest.artifact.compression;
  const local = isPipelineCompressed(compression) ? undefined : repository.localPath?.(key);
  if (local) {
    const stored = await hashStored(repository, key);
    return {
      path: local,
      checksum: checksumResult(manifest, stored.sha256, stored.bytes),
      release: async () => undefined,
    };
  }
  const dir = await mkdtemp(path.join(workDir ?? tmpdir(), 'lifeboat-archive-'));
  // Compressed beside pg_dump: decompressed on the way, hashed as stored.
  const file = path.join(dir, path.basename(key).replace(/\.(zst|gz)$/, ''));
  try {
    const read = await readHashed(repository, key);
    if (isPipelineCompressed(compression)) {
      const stage = await decompressToFile(compression, read.stream, file, env);
      const failed = await stage.done.then(
        () => null,
        (err: unknown) => err,
      );
      // A read that failed half way is the reason, whatever the decompressor made of the cut.
      read.throwIfFailed();
      if (failed) {
        stage.kill();
        // Damaged bytes fail decompression: then the stored object is hashed on its own, so the
        // report says "checksum" (the artifact changed) rather than only that zstd/gunzip failed.
        const rehash = await hashStored(repository, key);
        if (rehash.sha256 !== manifest.artifact.sha256 || rehash.bytes !== manifest.artifact.bytes) {
          const damaged = checksumResult(manifest, rehash.sha256, rehash.bytes);
          return { path: file, checksum: damaged, release: () => rm(dir, { recursive: true, force: true }) };
        }
        throw failed;
      }
    } else {
      await pipeline(read.stream, createWriteStream(file));
    }
    const stored = read.result();
    return {
      path: file,
      checksum: checksumResult(manifest, stored.sha256, stored.bytes),
      release: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A directory dump's files, each read, hashed against its own SHA-256 and decompressed into a
 * temporary dump directory (two at a time), for `pg_restore -j`.
 */
async function materializeDirectory(
  repository: Repository,
  manifest: DumpManifest,
  files: readonly DumpFile[],
  workDir: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<LocalArchive> {
  const dir = await mkdtemp(path.join(workDir ?? tmpdir(), 'lifeboat-archive-'));
  const out = path.join(dir, 'dump');
  const release = () => rm(dir, { recursive: true, force: true });
  const failures: string[] = [];
  let bytes = 0;
  try {
    await mkdir(out);
    const queue = [...files];
    const worker = async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        const got = await fetchFile(
          repository,
          f,
          path.join(out, f.name),
          manifest.artifact.compression,
          env,
        );
        bytes += got.bytes;
        if (got.bytes !== f.bytes)
          failures.push(`${f.name}: stored ${got.bytes} bytes, manifest says ${f.bytes}`);
        if (got.sha256 !== f.sha256)
          failures.push(`${f.name}: SHA-256 ${got.sha256} differs from the manifest's ${f.sha256}`);
      }
    };
    await Promise.all([worker(), worker()]);
  } catch (err) {
    await release();
    throw err;
  }
  if (fileListDigest(files) !== manifest.artifact.sha256)
    failures.push('the file list differs from the manifest');
  if (files.reduce((n, f) => n + f.bytes, 0) !== manifest.artifact.bytes)
    failures.push(`the files add up to a size other than the manifest's ${manifest.artifact.bytes} bytes`);
  return {
    path: out,
    checksum: {
      name: 'checksum',
      passed: failures.length === 0,
      detail:
        failures.length === 0
          ? `SHA-256 of ${files.length} files, ${bytes.toLocaleString('en-US')} bytes`
          : failures.slice(0, 5).join('; '),
      failures,
    },
    release,
  };
}

async function fetchFile(
  repository: Repository,
  file: DumpFile,
  dest: string,
  compression: DumpManifest['artifact']['compression'],
  env: NodeJS.ProcessEnv,
): Promise<{ bytes: number; sha256: string }> {
  const read = await readHashed(repository, file.key);
  if (!isPipelineCompressed(compression)) {
    await pipeline(read.stream, createWriteStream(dest));
    return read.result();
  }
  const stage = await decompressToFile(compression, read.stream, dest, env);
  const failed = await stage.done.then(
    () => null,
    (err: unknown) => err,
  );
  read.throwIfFailed();
  if (!failed) return read.result();
  stage.kill();
  // A damaged file fails decompression: hash it on its own so the check names the change.
  const rehash = await hashStored(repository, file.key);
  if (rehash.sha256 !== file.sha256 || rehash.bytes !== file.bytes) return rehash;
  throw failed;
}

function checksumResult(manifest: DumpManifest, sha: string, bytes: number): CheckResult {
  const failures: string[] = [];

  if (bytes !== manifest.artifact.bytes)
    failures.push(`stored artifact has ${bytes} bytes, manifest says ${manifest.artifact.bytes}`);
  if (sha !== manifest.artifact.sha256)
    failures.push(`SHA-256 ${sha} differs from the manifest's ${manifest.artifact.sha256}`);
  return {
    name: 'checksum',
    passed: failures.length === 0,
    detail:
      failures.length === 0
        ? `SHA-256 ${sha.slice(0, 12)}…, ${bytes.toLocaleString('en-US')} bytes`
        : failures.join('; '),
    failures,
  };
}

/**
 * The stored object as it is read, hashed and counted on the way. A read that fails half way (a
 * connection reset, a 5xx mid-body) fails the stream with a RepositoryError naming the key:
 * `pipe` alone would leave the body's error unhandled (the process crashed) and the consumer
 * waiting, or a decompressor could take the cut for the end of the artifact.
 */
async function readHashed(
  repository: Repository,
  key: string,
): Promise<{
  readonly stream: Readable;
  /** Throws the read's failure, if it failed. */
  throwIfFailed(): void;
  /** SHA-256 and size of what was read (call once the stream has ended). */
  result(): { sha256: string; bytes: number };
}> {
  const hash = createHash('sha256');
  let bytes = 0;
  let failure: RepositoryError | undefined;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  const body = await repository.readStream(key);
  // The stream fails only once its consumer reads it (pipe, pipeline resume it): a body failing
  // before the consumer is attached would otherwise fail a stream nobody listens to yet, and the
  // consumer would wait for an end that never comes.
  let started = false;
  body.on('error', (err) => {
    failure ??= new RepositoryError(`reading ${key} failed half way: ${errorMessage(err)}`, { cause: err });
    if (started) counter.destroy(failure);
  });
  counter.once('resume', () => {
    started = true;
    if (failure) counter.destroy(failure);
    else body.pipe(counter);
  });
  // The failure is also kept for throwIfFailed/result, whoever listens to the stream.
  counter.on('error', () => undefined);
  return {
    stream: counter,
    throwIfFailed: () => {
      if (failure) throw failure;
    },
    result: () => {
      if (failure) throw failure;
      return { sha256: hash.digest('hex'), bytes };
    },
  };
}

async function hashStored(repository: Repository, key: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of await repository.readStream(key)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a pg tool; stdout kept up to `maxStdout` characters (the rest is counted, not kept). */
export function runTool(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: {
    signal?: AbortSignal | undefined;
    onStdout?: (chunk: string) => void;
    /** Sees stderr as it comes; `filterStderr` then says which lines to keep for error messages. */
    onStderr?: (chunk: string) => void;
    filterStderr?: (line: string) => boolean;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      const text = c.toString();
      if (options.onStdout) options.onStdout(text);
      else if (stdout.length < 4 * 1024 * 1024) stdout += text;
    });
    let partial = '';
    child.stderr.on('data', (c: Buffer) => {
      const text = c.toString();
      options.onStderr?.(text);
      if (!options.filterStderr) {
        stderr = (stderr + text).slice(-64 * 1024);
        return;
      }
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      const kept = lines.filter(options.filterStderr);
      if (kept.length) stderr = (stderr + kept.map((l) => `${l}\n`).join('')).slice(-64 * 1024);
    });
    const abort = () => child.kill('SIGTERM');
    options.signal?.addEventListener('abort', abort, { once: true });
    child.once('error', (err) => reject(new PgRestoreFailed(`could not run ${file}: ${err.message}`)));
    child.once('close', (code, signal) => {
      options.signal?.removeEventListener('abort', abort);
      if (partial && options.filterStderr?.(partial)) stderr = (stderr + partial).slice(-64 * 1024);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `pg_restore --list`: the whole table of contents must read. */
export async function readTableOfContents(pgRestore: string, archive: string): Promise<CheckResult> {
  let entries = 0;
  let dataEntries = 0;
  let partial = '';
  const result = await runTool(pgRestore, ['--list', archive], process.env, {
    onStdout: (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line || line.startsWith(';')) continue;
        entries++;
        if (/ (TABLE DATA|BLOBS|BLOB DATA|LARGE OBJECTS) /.test(line)) dataEntries++;
      }
    },
  });
  if (result.code !== 0) {
    const message = pgToolMessage(result.stderr) || `exit code ${result.code}`;
    return {
      name: 'archive-toc',
      passed: false,
      detail: `pg_restore --list failed: ${message}`,
      failures: [message],
    };
  }
  return {
    name: 'archive-toc',
    passed: entries > 0,
    detail: `${entries.toLocaleString('en-US')} entries (${dataEntries.toLocaleString('en-US')} with data) read`,
    failures: entries > 0 ? [] : ['the table of contents is empty'],
  };
}

/**
 * Roles the archive assigns ownership or privileges to, read from the schema part of the
 * archive: a restore needs them to exist on the target (or --no-owner / --no-privileges).
 */
export async function referencedRoles(pgRestore: string, archive: string): Promise<string[]> {
  const roles = new Set<string>();
  let partial = '';
  const ident = '("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)';
  const owner = new RegExp(`OWNER TO ${ident};`);
  const grant = new RegExp(`^(?:GRANT|REVOKE) .* (?:TO|FROM) ${ident}(?: WITH GRANT OPTION)?;$`);
  const unquote = (s: string) => (s.startsWith('"') ? s.slice(1, -1).replaceAll('""', '"') : s.toLowerCase());
  const result = await runTool(pgRestore, ['--schema-only', '--file=-', archive], process.env, {
    onStdout: (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const m = owner.exec(line) ?? grant.exec(line);
        if (m?.[1]) roles.add(unquote(m[1]));
      }
    },
  });
  if (result.code !== 0) {
    throw new PgRestoreFailed(
      `pg_restore could not read the archive's schema: ${pgToolMessage(result.stderr)}`,
    );
  }
  roles.delete('public');
  return [...roles].sort();
}

export interface RestoreOptions {
  readonly jobs?: number;
  readonly clean?: boolean;
  readonly noOwner?: boolean;
  readonly noPrivileges?: boolean;
  readonly signal?: AbortSignal | undefined;
  /**
   * Table-of-contents entries restored out of the total (`pg_restore --list`), as pg_restore
   * --verbose reports them; called once with 0 before the restore and once with the total after.
   */
  readonly onProgress?: ((done: number, total: number) => void) | undefined;
}

/** The ids of the archive's table-of-contents entries, as `pg_restore --list` gives them. */
export async function tableOfContentsIds(pgRestore: string, archive: string): Promise<Set<number>> {
  const ids = new Set<number>();
  let partial = '';
  const take = (line: string) => {
    const m = /^(\d+); /.exec(line);
    if (m) ids.add(Number(m[1]));
  };
  const result = await runTool(pgRestore, ['--list', archive], process.env, {
    onStdout: (chunk) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach(take);
    },
  });
  take(partial);
  if (result.code !== 0) {
    throw new PgRestoreFailed(
      `pg_restore --list failed: ${pgToolMessage(result.stderr) || `exit code ${result.code}`}`,
    );
  }
  return ids;
}

/** pg_restore --verbose's line for one entry: with its id when parallel, without when serial (-j1). */
const ENTRY_WITH_ID = /^pg_restore: (?:processing|finished) item (\d+) /;
const ENTRY_SERIAL =
  /^pg_restore: (?:creating |processing data for table |executing |restoring large object)/;
/** Verbose lines that only say what pg_restore is doing: not kept for error messages. */
const CHATTER =
  /^pg_restore: (?:connecting|processing|finished|launching|creating|executing|entering|dropping|restoring|implied data-only|setting owner|disabling|enabling|reducing|transferring|skipping)/;

/**
 * Counts the entries pg_restore --verbose reports done, against the table of contents. With
 * parallel jobs pg_restore names each entry's id (`processing item N` before the parallel loop,
 * `finished item N` in it); with one job it prints one line per entry without ids.
 */
export class TocProgress {
  private readonly done = new Set<number>();
  private serial = 0;
  private withIds = false;
  private partial = '';

  constructor(
    private readonly ids: ReadonlySet<number>,
    private readonly report: (done: number, total: number) => void,
  ) {}

  get total(): number {
    return this.ids.size;
  }

  get count(): number {
    return Math.min(this.total, this.withIds ? this.done.size : this.serial);
  }

  feed(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    const before = this.count;
    for (const line of lines) {
      const m = ENTRY_WITH_ID.exec(line);
      if (m) {
        this.withIds = true;
        const id = Number(m[1]);
        if (this.ids.has(id)) this.done.add(id);
      } else if (!this.withIds && ENTRY_SERIAL.test(line)) {
        this.serial++;
      }
    }
    if (this.count !== before) this.report(this.count, this.total);
  }
}

/** pg_restore into `target`; throws PgRestoreFailed with pg_restore's own messages on any error. */
export async function pgRestore(
  pgRestorePath: string,
  archive: string,
  target: ConnectionInfo,
  options: RestoreOptions = {},
): Promise<{ durationMs: number }> {
  const args = ['--no-password', `--dbname=${libpqConnString(target)}`, `--jobs=${options.jobs ?? 1}`];
  if (options.clean) args.push('--clean', '--if-exists');
  if (options.noOwner) args.push('--no-owner');
  if (options.noPrivileges) args.push('--no-privileges');
  let progress: TocProgress | null = null;
  if (options.onProgress) {
    progress = new TocProgress(await tableOfContentsIds(pgRestorePath, archive), options.onProgress);
    options.onProgress(0, progress.total);
    args.push('--verbose');
  }
  args.push(archive);
  const started = performance.now();
  const result = await runTool(pgRestorePath, args, libpqEnv(target), {
    signal: options.signal,
    ...(progress
      ? {
          onStderr: (chunk: string) => progress.feed(chunk),
          filterStderr: (line: string) => !CHATTER.test(line),
        }
      : {}),
  });
  const durationMs = Math.round(performance.now() - started);
  if (options.signal?.aborted) throw new PgRestoreFailed('interrupted: pg_restore was stopped');
  if (result.code !== 0 && !(options.clean && onlyHarmlessCleanErrors(result.stderr))) {
    const ignored = /errors ignored on restore: (\d+)/.exec(result.stderr)?.[1];
    const message = pgToolMessage(result.stderr) || `exit code ${result.code}`;
    throw new PgRestoreFailed(`pg_restore failed${ignored ? ` with ${ignored} errors` : ''}: ${message}`);
  }
  if (progress) options.onProgress?.(progress.total, progress.total);
  return { durationMs };
}

/**
 * pg_restore --clean drops a partition's inherited constraints before the parent table, which
 * PostgreSQL refuses; dropping the parent then removes them anyway. Errors of only that kind are
 * not failures (the data checks that follow every restore would show anything missing).
 */
function onlyHarmlessCleanErrors(stderr: string): boolean {
  const errors = stderr.split('\n').filter((l) => /^pg_restore: error: /.test(l));
  return errors.length > 0 && errors.every((l) => /cannot drop inherited constraint/.test(l));
}
