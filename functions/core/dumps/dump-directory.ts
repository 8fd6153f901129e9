import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { type Compression, isPipelineCompressed, type Stage, startCompressor } from './compression.ts';
import { BackupFailed, errorMessage, PgDumpFailed } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import type { DumpFile } from '../catalog/manifest.ts';
import { type ConnectionInfo, libpqConnString, libpqEnv } from '../shared/pg.ts';
import type { Repository } from '../repository/types.ts';

/** Name endings of files stored after compression beside pg_dump. */
const FILE_EXTENSION = { zstd: '.zst', gzip: '.gz' } as const;

export interface DirectoryDumpOptions {
  readonly pgDumpPath: string;
  readonly connection: ConnectionInfo;
  readonly snapshotId: string;
  /** pg_dump workers (`--jobs`), and as many files stored at a time. */
  readonly jobs: number;
  readonly compressArgs: string[];
  readonly compression: Compression;
  readonly repository: Repository;
  /** The key every file is stored under (ends with `/`). */
  readonly keyPrefix: string;
  readonly workDir?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly onSpawn?: (child: ChildProcess) => void;
  readonly onProgress?: ((bytes: number) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
  readonly log: Logger;
}

export interface DirectoryDumpResult {
  readonly files: DumpFile[];
  readonly bytes: number;
  /** SHA-256 of the file list (see fileListDigest). */
  readonly sha256: string;
}

/** What a directory dump's manifest hashes: `<sha256>  <name>` lines, sorted by name. */
export function fileListDigest(files: readonly Pick<DumpFile, 'name' | 'sha256'>[]): string {
  const lines = [...files]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => `${f.sha256}  ${f.name}\n`)
    .join('');
  return createHash('sha256').update(lines).digest('hex');
}

/**
 * `pg_dump -Fd -j N` of the exported snapshot into a local directory. Each table's data file is
 * compressed (when the method runs beside pg_dump), hashed and stored as soon as pg_dump reports the
 * item finished (its verbose "finished item N" line), at most `jobs` at a time, and deleted
 * locally once stored, so task storage holds only the files in flight. The table of contents
 * (`toc.dat`), which pg_dump writes last, is stored last, after pg_dump has exited cleanly.
 *
 * On any failure every file already stored is removed, so nothing of a failed dump remains that
 * could look like a complete one (the manifest, written by the caller afterwards, is what makes it
 * complete in any case).
 */
export async function dumpDirectory(o: DirectoryDumpOptions): Promise<DirectoryDumpResult> {
  const dir = await mkdtemp(path.join(o.workDir ?? tmpdir(), 'lifeboat-dump-'));
  const out = path.join(dir, 'dump');
  const stored: DumpFile[] = [];
  const queued = new Set<string>();
  const uploads = new UploadQueue(o.jobs);
  let failure: unknown;
  let storedBytes = 0;

  const child = spawn(
    o.pgDumpPath,
    [
      '--format=directory',
      `--jobs=${o.jobs}`,
      ...o.compressArgs,
      `--snapshot=${o.snapshotId}`,
      '--verbose',
      '--no-password',
      `--file=${out}`,
      `--dbname=${libpqConnString(o.connection)}`,
    ],
    { env: libpqEnv(o.connection), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  o.onSpawn?.(child);
  const fail = (err: unknown) => {
    failure ??= err;
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  const abort = () => fail(new BackupFailed('interrupted: pg_dump was stopped'));
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener('abort', abort, { once: true });

  const store = (name: string) => {
    if (queued.has(name)) return;
    queued.add(name);
    uploads
      .add(async () => {
        if (failure) return;
        const file = await storeFile(o, path.join(out, name), name);
        stored.push(file);
        storedBytes += file.bytes;
        o.onProgress?.(storedBytes);
        await rm(path.join(out, name), { force: true });
      })
      .catch(fail);
  };

  let stderr = '';
  let partial = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const lines = text.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      // "pg_dump: finished item 3385 TABLE DATA pgbench_accounts": that item's file is complete.
      const m = /^pg_dump: finished item (\d+) /.exec(line);
      if (m) {
        void dataFileOf(out, m[1]!).then((name) => name && store(name), fail);
      } else if (
        !/^pg_dump: (reading|dumping|saving|last built-in|identifying|flagging|finding|processing|launching|started)/.test(
          line,
        )
      ) {
        stderr = (stderr + line + '\n').slice(-16 * 1024);
      }
    }
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new PgDumpFailed(`could not run ${o.pgDumpPath}: ${err.message}`)));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const lines = stderr
        .split('\n')
        .filter((l) => /error|fatal|could not|failed|detail:/i.test(l))
        .slice(-4)
        .join(' | ');
      reject(
        new PgDumpFailed(
          `pg_dump failed: ${lines || (signal ? `killed by ${signal}` : `exit code ${code}`)}`,
        ),
      );
    });
  });

  try {
    await exited.catch((err: unknown) => {
      // A failure of ours (an upload) stops pg_dump: report ours, not pg_dump's SIGTERM.
      throw failure ?? err;
    });
    if (failure) throw failure;
    // Whatever is left (large objects' files, any item not reported) and then the table of contents.
    const rest = (await readdir(out)).filter((n) => !queued.has(n) && n !== 'toc.dat');
    for (const name of rest) store(name);
    await uploads.idle();
    if (failure) throw failure;
    store('toc.dat');
    await uploads.idle();
    if (failure) throw failure;
    return { files: stored, bytes: storedBytes, sha256: fileListDigest(stored) };
  } catch (err) {
    failure ??= err;
    if (child.exitCode === null) child.kill('SIGKILL');
    await uploads.idle();
    const removed = await Promise.allSettled(stored.map((f) => o.repository.remove(f.key)));
    const notRemoved = removed.filter((r) => r.status === 'rejected').length;
    if (notRemoved > 0) o.log.error('could not remove files of a failed dump', { notRemoved });
    throw failure;
  } finally {
    o.signal?.removeEventListener('abort', abort);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The data file of item `id` (`3385.dat`, `3385.dat.gz` with pg_dump's own compression), if any. */
async function dataFileOf(dir: string, id: string): Promise<string | undefined> {
  const names = await readdir(dir);
  return names.find((n) => n === `${id}.dat` || n.startsWith(`${id}.dat.`));
}

async function storeFile(o: DirectoryDumpOptions, file: string, name: string): Promise<DumpFile> {
  const source: Readable = createReadStream(file, { highWaterMark: 1024 * 1024 });
  let stage: Stage | undefined;
  if (isPipelineCompressed(o.compression)) stage = await startCompressor(o.compression, source, o.env);
  const hash = createHash('sha256');
  let count = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      hash.update(chunk);
      count += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (!stage) return cb();
      stage.done.then(() => cb(), cb);
    },
  });
  const output = stage?.output ?? source;
  output.on('error', (err) => hashing.destroy(err));
  output.pipe(hashing);
  const key = `${o.keyPrefix}${name}${isPipelineCompressed(o.compression) ? FILE_EXTENSION[o.compression.method] : ''}`;
  try {
    const { bytes } = await o.repository.upload(key, hashing);
    if (bytes !== count) throw new BackupFailed(`stored ${bytes} bytes of ${name} but read ${count}`);
    return { name, key, bytes, sha256: hash.digest('hex') };
  } catch (err) {
    stage?.kill();
    throw new BackupFailed(`storing ${name} of the dump failed: ${errorMessage(err)}`, { cause: err });
  }
}

/** Runs tasks at most `limit` at a time; `idle()` waits until none is queued or running. */
class UploadQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly all = new Set<Promise<void>>();

  constructor(private readonly limit: number) {}

  add(task: () => Promise<void>): Promise<void> {
    const run = (async () => {
      if (this.running >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
      this.running++;
      try {
        await task();
      } finally {
        this.running--;
        this.waiting.shift()?.();
      }
    })();
    this.all.add(run);
    run.finally(() => this.all.delete(run)).catch(() => undefined);
    return run;
  }

  async idle(): Promise<void> {
    while (this.all.size > 0) await Promise.allSettled([...this.all]);
  }
}
