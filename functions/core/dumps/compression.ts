import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { access, constants, open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Socket } from 'node:net';
import path from 'node:path';
import { type Duplex, type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import * as z from '../shared/zod.ts';
import { InvalidArgument, LifeboatError } from '../shared/errors.ts';

/**
 * How a dump is compressed. `zstd` and `gzip` run pg_dump with `-Z0` and compress its output on
 * other cores (the `zstd` program with its threads where installed, otherwise zlib on Node's thread
 * pool, block by block); `pg_dump-*` leave compression to pg_dump's one thread (what stock
 * pg_restore reads directly; lz4 and zstd need pg_dump 16 or newer); `none` stores pg_dump -Z0.
 */
export const COMPRESSION_METHODS = [
  'zstd',
  'gzip',
  'none',
  'pg_dump-gzip',
  'pg_dump-lz4',
  'pg_dump-zstd',
] as const;
export type CompressionMethod = (typeof COMPRESSION_METHODS)[number];

/** Allowed and default level of each method. */
export const COMPRESSION_LEVELS: Record<CompressionMethod, { min: number; max: number; default: number }> = {
  zstd: { min: 1, max: 19, default: 2 },
  gzip: { min: 1, max: 9, default: 1 },
  none: { min: 0, max: 0, default: 0 },
  // pg_dump's own default is zlib's 6 (-Z absent on a custom-format dump).
  'pg_dump-gzip': { min: 1, max: 9, default: 6 },
  'pg_dump-lz4': { min: 1, max: 12, default: 1 },
  'pg_dump-zstd': { min: 1, max: 22, default: 3 },
};

/**
 * The default, chosen from bench:backup (bench/README.md): zstd off pg_dump's thread is the
 * fastest setting measured, and level 2 rather than zstd's own 3: on the bench database level 3
 * took 2.1 × the CPU of level 2 for a 3 % larger artifact, and on source text level 2 still
 * compressed better than pg_dump's default gzip 6 (level 1 did not).
 */
export const DEFAULT_COMPRESSION: Compression = { method: 'zstd', level: 2 };

/** What a manifest records (artifact.compression); a manifest without it holds a pg_dump default archive. */
export const Compression = z.object({
  method: z.enum(COMPRESSION_METHODS),
  level: z.int().check(z.nonnegative()),
});
export type Compression = z.infer<typeof Compression>;

/** The setting as configured: the level is optional (the method's default). */
export const CompressionSetting = z
  .strictObject({
    method: z.enum(COMPRESSION_METHODS, {
      error: `expected one of ${COMPRESSION_METHODS.join(', ')}`,
    }),
    level: z.optional(z.int()),
  })
  .check(
    z.superRefine((c, ctx) => {
      if (c.level === undefined) return;
      const { min, max } = COMPRESSION_LEVELS[c.method];
      if (c.level < min || c.level > max) {
        ctx.addIssue({
          code: 'custom',
          path: ['level'],
          message: `${c.method} takes a level from ${min} to ${max}, not ${c.level}`,
        });
      }
    }),
  );
export type CompressionSetting = z.infer<typeof CompressionSetting>;

/** A setting with its level settled. */
export function resolveCompression(setting: CompressionSetting | undefined): Compression {
  if (!setting) return DEFAULT_COMPRESSION;
  return { method: setting.method, level: setting.level ?? COMPRESSION_LEVELS[setting.method].default };
}

/**
 * Reads `method[:level]` (`zstd`, `zstd:6`, `pg_dump-gzip:6`, `none`): the CLI's and the event's
 * spelling. `what` names the field in the error.
 */
export function parseCompression(spec: string, what = 'compression'): Compression {
  const [method, level, ...rest] = spec.split(':');
  const parsed = CompressionSetting.safeParse({
    method,
    ...(level === undefined ? {} : { level: /^\d+$/.test(level) ? Number(level) : NaN }),
  });
  if (rest.length > 0 || !parsed.success) {
    const issue = parsed.success ? null : parsed.error.issues[0];
    throw new InvalidArgument(
      `${what} "${spec}": ${issue && issue.path[0] === 'level' && !Number.isNaN(Number(level)) ? issue.message : `expected method[:level] with method one of ${COMPRESSION_METHODS.join(', ')}`}`,
    );
  }
  return resolveCompression(parsed.data);
}

export const formatCompression = (c: Compression): string =>
  c.method === 'none' ? 'none' : `${c.method}:${c.level}`;

/** Whether pg_dump compresses (the artifact is a stock custom-format archive). */
export const compressedByPgDump = (c: Compression | undefined): boolean =>
  c === undefined || c.method === 'none' || c.method.startsWith('pg_dump-');

/** The compression an archive in a manifest has: absent means pg_dump's own (every manifest before 1.2). */
export const isPipelineCompressed = (
  c: Compression | undefined,
): c is Compression & { method: 'zstd' | 'gzip' } => c?.method === 'zstd' || c?.method === 'gzip';

/** A compression method this pg_dump or this machine cannot run. */
export class CompressionUnavailable extends LifeboatError {
  override readonly name = 'CompressionUnavailable';
}

/** pg_dump's `--compress` argument for a setting; lz4 and zstd need pg_dump 16 or newer. */
export function pgDumpCompressArgs(c: Compression, pgDumpMajor: number): string[] {
  switch (c.method) {
    case 'zstd':
    case 'gzip':
    case 'none':
      return ['--compress=0'];
    case 'pg_dump-gzip':
      return [`--compress=${c.level}`];
    case 'pg_dump-lz4':
    case 'pg_dump-zstd': {
      if (pgDumpMajor < 16) {
        throw new CompressionUnavailable(
          `compression ${formatCompression(c)} needs pg_dump 16 or newer; the pg_dump for this server is ${pgDumpMajor}: use zstd (compressed beside pg_dump) or pg_dump-gzip`,
        );
      }
      return [`--compress=${c.method.slice('pg_dump-'.length)}:${c.level}`];
    }
  }
}

/**
 * The `zstd` program, if installed (LIFEBOAT_ZSTD names it explicitly; otherwise PATH).
 * `LIFEBOAT_ZSTD=none` uses no program even where one is installed: zlib's zstd runs, as on
 * Lambda (how `npm run bench:backup` measures that path on a machine with the program).
 */
export async function findZstd(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (env.LIFEBOAT_ZSTD === 'none') return null;
  const candidates = env.LIFEBOAT_ZSTD
    ? [env.LIFEBOAT_ZSTD]
    : // An env given for PostgreSQL tools may carry no PATH: the process's own then applies.
      (env.PATH ?? process.env.PATH ?? '')
        .split(':')
        .filter(Boolean)
        .map((d) => path.join(d, 'zstd'));
  for (const file of candidates) {
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return null;
}

/**
 * zlib's zstd as Node 22.15+ has it (the Lambda runtime; not Node 20): the part lifeboat uses. Where
 * no `zstd` program is installed (the zip functions on Lambda), dumps are compressed and read with it.
 */
export interface ZlibZstd {
  zstdCompress(
    buf: Buffer,
    options: { params: Record<number, number> },
    callback: (err: Error | null, out: Buffer) => void,
  ): void;
  createZstdDecompress(): Duplex;
  readonly constants: { readonly ZSTD_c_compressionLevel: number };
}

/** `zlibModule`'s zstd (default: this Node's zlib), or null where it has none. */
export function zlibZstd(zlibModule: object = zlib): ZlibZstd | null {
  const z = zlibModule as Partial<ZlibZstd> & { constants?: Record<string, number> };
  return typeof z.zstdCompress === 'function' &&
    typeof z.createZstdDecompress === 'function' &&
    typeof z.constants?.ZSTD_c_compressionLevel === 'number'
    ? (z as ZlibZstd)
    : null;
}

/** A running compression stage: write into `input`, read from `output`; `done` settles when it has finished. */
export interface Stage {
  readonly input: NodeJS.WritableStream;
  readonly output: Readable;
  readonly done: Promise<void>;
  /** What ran, for logs and the bench: `zstd -3 -T2`, `zlib gzip level 1 × 4 blocks`. */
  readonly description: string;
  kill(): void;
}

/**
 * A compressor for a pipeline method. `source` is piped in; when `source` is a child process's
 * stdout and the `zstd` program runs, the bytes go from pg_dump to zstd without passing through Node.
 */
export async function startCompressor(
  c: Compression & { method: 'zstd' | 'gzip' },
  source: Readable,
  env: NodeJS.ProcessEnv = process.env,
  inProcess: ZlibZstd | null = zlibZstd(),
): Promise<Stage> {
  const threads = Math.max(1, availableParallelism());
  if (c.method === 'zstd') {
    const zstd = await findZstd(env);
    if (zstd) return programStage(zstd, ['-q', '-c', `-${c.level}`, `-T${threads}`], source);
    if (!inProcess) {
      throw new CompressionUnavailable(
        `compression ${formatCompression(c)}: neither the zstd program (PATH or LIFEBOAT_ZSTD) nor zlib zstd (Node 22.15+) is available here; use gzip or pg_dump-gzip`,
      );
    }
    const level = inProcess.constants.ZSTD_c_compressionLevel;
    return blockStage(
      source,
      (block, cb) => inProcess.zstdCompress(block, { params: { [level]: c.level } }, cb),
      `zlib zstd level ${c.level}`,
      threads,
    );
  }
  return blockStage(
    source,
    (block, cb) => zlib.gzip(block, { level: c.level }, cb),
    `zlib gzip level ${c.level}`,
    threads,
  );
}

/** A decompressor for an artifact compressed by the pipeline (concatenated frames or members). */
export async function startDecompressor(
  c: Compression & { method: 'zstd' | 'gzip' },
  source: Readable,
  env: NodeJS.ProcessEnv = process.env,
  inProcess: ZlibZstd | null = zlibZstd(),
): Promise<Stage> {
  if (c.method === 'gzip') return transformStage(source, zlib.createGunzip(), 'zlib gunzip');
  const zstd = await findZstd(env);
  if (zstd) return programStage(zstd, ['-q', '-d', '-c'], source);
  if (inProcess) return transformStage(source, inProcess.createZstdDecompress(), 'zlib zstd');
  throw new CompressionUnavailable(
    'the artifact is zstd-compressed and neither the zstd program (PATH or LIFEBOAT_ZSTD) nor zlib zstd (Node 22.15+) is available here',
  );
}

function programStage(program: string, args: string[], source: Readable): Stage {
  const run = runProgram(program, args, source, 'pipe');
  return { ...run, output: run.child.stdout! };
}

/**
 * Runs a compression program on `source`, its output to a pipe or to an open file (`stdout`, a
 * descriptor the program writes itself).
 */
function runProgram(
  program: string,
  args: string[],
  source: Readable,
  stdout: 'pipe' | number,
): Omit<Stage, 'output'> & { readonly child: ChildProcess } {
  // A child's stdout (a pipe) is handed to the program itself: the bytes never pass through Node.
  const viaFd = source instanceof Socket;
  const child: ChildProcess = spawn(program, args, {
    stdio: [viaFd ? source : 'pipe', stdout, 'pipe'],
  });
  // The program has its own copy of the pipe: closing ours lets the writer's 'close' event come.
  if (viaFd) source.destroy();
  else {
    source.on('error', (err) => child.stdin!.destroy(err));
    child.stdin!.on('error', () => undefined);
    source.pipe(child.stdin!);
  }
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4096);
  });
  const name = path.basename(program);
  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new CompressionUnavailable(`could not run ${program}: ${err.message}`)),
    );
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new LifeboatError(
            `${name} failed: ${stderr.trim() || (signal ? `killed by ${signal}` : `exit code ${code}`)}`,
          ),
        );
    });
  });
  done.catch(() => undefined);
  return {
    child,
    input: child.stdin ?? (source as unknown as NodeJS.WritableStream),
    done,
    description: `${name} ${args.join(' ')}`,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/**
 * Decompresses an artifact compressed by the pipeline into `file`. With the zstd program, zstd
 * writes the file itself: the decompressed bytes (about three times the stored ones) never pass
 * through Node, which made decompressing take about twice as long (bench/README.md, bench:verify).
 * Otherwise the decompressor's output is written to the file. Settles when the file is complete;
 * `kill` stops it.
 */
export async function decompressToFile(
  c: Compression & { method: 'zstd' | 'gzip' },
  source: Readable,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  inProcess: ZlibZstd | null = zlibZstd(),
): Promise<{ readonly done: Promise<void>; kill(): void }> {
  const zstd = c.method === 'zstd' ? await findZstd(env) : null;
  if (zstd) {
    const handle = await open(file, 'w');
    let run: ReturnType<typeof runProgram>;
    try {
      run = runProgram(zstd, ['-q', '-d', '-c'], source, handle.fd);
    } finally {
      // The program holds its own copy of the descriptor.
      await handle.close();
    }
    return { done: run.done, kill: run.kill };
  }
  const stage = await startDecompressor(c, source, env, inProcess);
  const done = Promise.all([pipeline(stage.output, createWriteStream(file)), stage.done]).then(
    () => undefined,
  );
  done.catch(() => undefined);
  return { done, kill: () => stage.kill() };
}

function transformStage(source: Readable, transform: Duplex, description: string): Stage {
  const done = new Promise<void>((resolve, reject) => {
    transform.once('end', resolve);
    transform.once('error', reject);
    source.once('error', (err) => transform.destroy(err));
  });
  done.catch(() => undefined);
  source.pipe(transform);
  return { input: transform, output: transform, done, description, kill: () => transform.destroy() };
}

type BlockCodec = (block: Buffer, cb: (err: Error | null, out: Buffer) => void) => void;

/** Block size of the thread-pool compressor: big enough for the ratio, small enough for memory. */
export const BLOCK_BYTES = 2 * 1024 * 1024;

function blockStage(source: Readable, codec: BlockCodec, description: string, threads: number): Stage {
  const transform = new BlockCompressor(codec, Math.max(2, threads));
  return transformStage(
    source,
    transform,
    `${description}, ${BLOCK_BYTES / 1048576} MiB blocks, ${Math.max(2, threads)} at a time`,
  );
}

/**
 * Cuts the stream into blocks and compresses each on Node's thread pool, several at a time, emitting
 * them in order: each block is a complete gzip member / zstd frame, and a concatenation of those is
 * what gunzip and zstd -d read. Memory is bounded by `parallel` blocks in and out.
 *
 * The blocks are `parallel` buffers allocated once and filled again and again: a block lives across
 * many reads and its compression, long enough for V8 to move a fresh buffer into its old generation,
 * which frees it only at a full collection. A new buffer per block (and the reads it was gathered
 * from) left tens of MiB of dead blocks waiting for one: peak RSS on Node 22 went from 105 MiB
 * with no compression to 147–160 MiB with zlib's zstd (bench/README.md).
 */
export class BlockCompressor extends Transform {
  private readonly free: Buffer[];
  private fill: Buffer | null = null;
  private filled = 0;
  private readonly inFlight: Array<{ readonly block: Buffer; readonly out: Promise<Buffer> }> = [];
  private dispatched = false;

  constructor(
    private readonly codec: BlockCodec,
    private readonly parallel: number,
  ) {
    super({ highWaterMark: BLOCK_BYTES });
    this.free = Array.from({ length: parallel }, () => Buffer.allocUnsafeSlow(BLOCK_BYTES));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.copyIn(chunk).then(() => callback(), callback);
  }

  /** Copies `chunk` into blocks, sending each block that fills up to the codec. */
  private async copyIn(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      // At most parallel - 1 blocks are in flight here: a buffer is free.
      this.fill ??= this.free.pop()!;
      const n = chunk.copy(this.fill, this.filled, offset);
      this.filled += n;
      offset += n;
      if (this.filled === BLOCK_BYTES) {
        this.dispatch();
        await this.drain(this.parallel - 1);
      }
    }
  }

  override _flush(callback: TransformCallback): void {
    // An empty input still gives one (empty) member, which decompresses to nothing.
    if (this.filled > 0 || !this.dispatched) {
      this.fill ??= this.free.pop()!;
      this.dispatch();
    }
    this.drain(0).then(() => callback(), callback);
  }

  private dispatch(): void {
    this.dispatched = true;
    const block = this.fill!;
    const input = block.subarray(0, this.filled);
    this.fill = null;
    this.filled = 0;
    const out = new Promise<Buffer>((resolve, reject) =>
      this.codec(input, (err, result) => (err ? reject(err) : resolve(result))),
    );
    out.catch(() => undefined);
    this.inFlight.push({ block, out });
  }

  /** Emits finished blocks, in order, until at most `keep` are in flight. */
  private async drain(keep: number): Promise<void> {
    while (this.inFlight.length > keep) {
      const { block, out } = this.inFlight.shift()!;
      this.push(await out);
      // The codec is done with the block: it is filled again.
      this.free.push(block);
    }
  }
}
