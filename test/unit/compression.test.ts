import { execFile, execFileSync, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Duplex, Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_BYTES,
  COMPRESSION_METHODS,
  decompressToFile,
  DEFAULT_COMPRESSION,
  formatCompression,
  parseCompression,
  pgDumpCompressArgs,
  resolveCompression,
  findZstd,
  startCompressor,
  startDecompressor,
  type ZlibZstd,
  zlibZstd,
} from '#core/dumps/compression.ts';
import { fileListDigest } from '#core/dumps/dump-directory.ts';
import { artifactKeysOf, DumpManifest } from '#core/catalog/manifest.ts';
import { ConfigError, InvalidArgument } from '#core/shared/errors.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import type { EnvironmentConfigInput } from '../../lib/config/schema.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';

describe('compression settings', () => {
  it('reads method[:level], fills in the default level, and writes it back the same way', () => {
    expect(parseCompression('zstd')).toEqual({ method: 'zstd', level: 2 });
    expect(parseCompression('zstd:9')).toEqual({ method: 'zstd', level: 9 });
    expect(parseCompression('pg_dump-gzip')).toEqual({ method: 'pg_dump-gzip', level: 6 });
    expect(parseCompression('none')).toEqual({ method: 'none', level: 0 });
    for (const method of COMPRESSION_METHODS) {
      const c = resolveCompression({ method });
      expect(parseCompression(formatCompression(c))).toEqual(c);
    }
    expect(DEFAULT_COMPRESSION).toEqual({ method: 'zstd', level: 2 });
  });

  it('refuses an unknown method or a level out of range, naming the field and what is expected', () => {
    expect(() => parseCompression('brotli', '--compression')).toThrow(InvalidArgument);
    expect(() => parseCompression('brotli', '--compression')).toThrow(
      '--compression "brotli": expected method[:level] with method one of zstd, gzip, none, pg_dump-gzip, pg_dump-lz4, pg_dump-zstd',
    );
    expect(() => parseCompression('gzip:12')).toThrow(
      'compression "gzip:12": gzip takes a level from 1 to 9, not 12',
    );
    expect(() => parseCompression('zstd:x')).toThrow(/expected method\[:level\]/);
    expect(() => parseCompression('zstd:3:1')).toThrow(/expected method\[:level\]/);
  });

  it('asks pg_dump for -Z0 when compressing beside it, and for lz4/zstd only from pg_dump 16', () => {
    expect(pgDumpCompressArgs({ method: 'zstd', level: 3 }, 15)).toEqual(['--compress=0']);
    expect(pgDumpCompressArgs({ method: 'pg_dump-gzip', level: 1 }, 15)).toEqual(['--compress=1']);
    expect(pgDumpCompressArgs({ method: 'pg_dump-zstd', level: 5 }, 16)).toEqual(['--compress=zstd:5']);
    expect(pgDumpCompressArgs({ method: 'pg_dump-lz4', level: 1 }, 17)).toEqual(['--compress=lz4:1']);
    expect(() => pgDumpCompressArgs({ method: 'pg_dump-lz4', level: 1 }, 15)).toThrow(
      /pg_dump-lz4:1 needs pg_dump 16 or newer; the pg_dump for this server is 15/,
    );
  });
});

describe('compression beside pg_dump round-trips', () => {
  it('gzip in blocks on the thread pool: any input comes back byte for byte, as concatenated gzip members', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 * BLOCK_BYTES }), { minLength: 0, maxLength: 4 }),
        async (sizes) => {
          const chunks = sizes.map((n, i) => Buffer.alloc(n, i % 2 ? 'ab' : 'xyz'));
          const input = Buffer.concat(chunks);
          const c = await startCompressor({ method: 'gzip', level: 1 }, Readable.from(chunks));
          const compressed = await buffer(c.output);
          await c.done;
          expect(gunzipSync(compressed).equals(input)).toBe(true);
          const d = await startDecompressor({ method: 'gzip', level: 1 }, Readable.from([compressed]));
          expect((await buffer(d.output)).equals(input)).toBe(true);
        },
      ),
      { numRuns: 8 },
    );
  });

  it('zstd through the zstd program: compressed and back', async () => {
    const input = Buffer.from('lifeboat '.repeat(200_000));
    const c = await startCompressor({ method: 'zstd', level: 3 }, Readable.from([input]));
    const compressed = await buffer(c.output);
    await c.done;
    expect(compressed.length).toBeLessThan(input.length / 50);
    expect(compressed.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    const d = await startDecompressor({ method: 'zstd', level: 3 }, Readable.from([compressed]));
    expect((await buffer(d.output)).equals(input)).toBe(true);
  });

  it('decompressToFile: the zstd program writes the file itself; gzip goes through Node; a truncated artifact fails', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-decompress-'));
    try {
      const input = Buffer.from(Array.from({ length: 50_000 }, (_, i) => `row ${i} lifeboat\n`).join(''));
      const zstd = await startCompressor({ method: 'zstd', level: 2 }, Readable.from([input]));
      const compressed = await buffer(zstd.output);
      await zstd.done;

      const viaProgram = await decompressToFile(
        { method: 'zstd', level: 2 },
        Readable.from([compressed]),
        path.join(dir, 'a.dump'),
      );
      await viaProgram.done;
      expect((await readFile(path.join(dir, 'a.dump'))).equals(input)).toBe(true);

      const gzip = await startCompressor({ method: 'gzip', level: 1 }, Readable.from([input]));
      const gzipped = await buffer(gzip.output);
      await gzip.done;
      const viaNode = await decompressToFile(
        { method: 'gzip', level: 1 },
        Readable.from([gzipped]),
        path.join(dir, 'b.dump'),
      );
      await viaNode.done;
      expect((await readFile(path.join(dir, 'b.dump'))).equals(input)).toBe(true);

      const truncated = await decompressToFile(
        { method: 'zstd', level: 2 },
        Readable.from([compressed.subarray(0, Math.floor(compressed.length / 2))]),
        path.join(dir, 'c.dump'),
      );
      await expect(truncated.done).rejects.toThrow(/zstd failed/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('LIFEBOAT_ZSTD names the program, or with `none` turns it off (zlib zstd then, as on Lambda)', async () => {
    const installed = await findZstd({ PATH: process.env.PATH });
    expect(installed).toMatch(/\/zstd$/);
    expect(await findZstd({ PATH: process.env.PATH, LIFEBOAT_ZSTD: installed! })).toBe(installed);
    expect(await findZstd({ PATH: process.env.PATH, LIFEBOAT_ZSTD: '/nonexistent/zstd' })).toBeNull();
    expect(await findZstd({ PATH: process.env.PATH, LIFEBOAT_ZSTD: 'none' })).toBeNull();

    const byProgram = zlibZstdByProgram();
    const stage = await startCompressor(
      { method: 'zstd', level: 4 },
      Readable.from([Buffer.from('lifeboat '.repeat(1000))]),
      { PATH: process.env.PATH, LIFEBOAT_ZSTD: 'none' },
      byProgram,
    );
    const out = await buffer(stage.output);
    await stage.done;
    expect(stage.description).toMatch(/^zlib zstd level 4/);
    expect(byProgram.levels).toEqual([4]);
    expect(execFileSync(installed!, ['-d', '-c'], { input: out }).toString()).toBe('lifeboat '.repeat(1000));
  });

  it('zstd with no program and no zlib zstd says what is missing, both ways', async () => {
    const env = { PATH: '/nonexistent' };
    const x = () => Readable.from([Buffer.from('x')]);

    await expect(startCompressor({ method: 'zstd', level: 3 }, x(), env, null)).rejects.toThrow(
      /neither the zstd program .* nor zlib zstd \(Node 22\.15\+\)/,
    );
    await expect(startDecompressor({ method: 'zstd', level: 3 }, x(), env, null)).rejects.toThrow(
      /neither the zstd program .* nor zlib zstd \(Node 22\.15\+\)/,
    );
  });
});

/**
 * zlib's zstd API (Node 22.15+, what Lambda's Node 22 has) implemented by the zstd program, so the
 * in-process path runs here on Node 20 on real zstd frames: each call compresses one block with
 * the level in `params`; the decompressor is a `zstd -d` stream. Records the levels asked for.
 */
function zlibZstdByProgram(): ZlibZstd & { levels: number[] } {
  const LEVEL = 100;
  const levels: number[] = [];
  return {
    levels,
    constants: { ZSTD_c_compressionLevel: LEVEL },
    zstdCompress(buf, options, callback) {
      const level = options.params[LEVEL]!;
      levels.push(level);
      const child = execFile(
        'zstd',
        ['-q', '-c', `-${level}`],
        { encoding: 'buffer', maxBuffer: 4 * BLOCK_BYTES },
        (err, out) => callback(err, out),
      );
      child.stdin!.end(buf);
    },
    createZstdDecompress() {
      const child = spawn('zstd', ['-q', '-d', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] });
      return Duplex.from({ writable: child.stdin, readable: child.stdout });
    },
  };
}

describe('zstd in process (zlib zstd: the path Lambda runs, where no zstd program is installed)', () => {
  // No zstd program on this PATH: the in-process implementation is the only one.
  const noProgram = { PATH: '/nonexistent' };
  const input = Buffer.concat(
    Array.from({ length: 5 }, (_, i) => Buffer.from(`block ${i} `.repeat(BLOCK_BYTES / 16))),
  ).subarray(0, 2 * BLOCK_BYTES + 12345);

  it('compresses block by block with the level asked; the zstd program reads the frames back', async () => {
    const zstd = zlibZstdByProgram();
    // As a pipe delivers it: 64 KiB at a time, cut into blocks of 2 MiB.
    const pieces = Array.from({ length: Math.ceil(input.length / 65536) }, (_, i) =>
      input.subarray(i * 65536, (i + 1) * 65536),
    );
    const c = await startCompressor({ method: 'zstd', level: 7 }, Readable.from(pieces), noProgram, zstd);
    const compressed = await buffer(c.output);
    await c.done;

    expect(c.description).toMatch(/^zlib zstd level 7, 2 MiB blocks/);
    expect(zstd.levels).toEqual([7, 7, 7]);
    expect(compressed.subarray(0, 4).toString('hex')).toBe('28b52ffd');
    const back = execFileSync('zstd', ['-q', '-d', '-c'], { input: compressed, maxBuffer: 4 * BLOCK_BYTES });
    expect(back.equals(input)).toBe(true);
  });

  it('reads frames written by the zstd program, with zlib zstd', async () => {
    const zstd = zlibZstdByProgram();
    const compressed = execFileSync('zstd', ['-q', '-c', '-3'], { input, maxBuffer: 4 * BLOCK_BYTES });
    const d = await startDecompressor(
      { method: 'zstd', level: 3 },
      Readable.from([compressed]),
      noProgram,
      zstd,
    );
    const out = await buffer(d.output);
    await d.done;

    expect(d.description).toBe('zlib zstd');
    expect(out.equals(input)).toBe(true);
  });

  it('prefers the zstd program where there is one (its threads), and never calls zlib then', async () => {
    const untouchable: ZlibZstd = {
      constants: { ZSTD_c_compressionLevel: 100 },
      zstdCompress: () => expect.fail('zlib zstd called although the zstd program is installed'),
      createZstdDecompress: () => expect.fail('zlib zstd called although the zstd program is installed'),
    };
    const c = await startCompressor(
      { method: 'zstd', level: 3 },
      Readable.from([input]),
      process.env,
      untouchable,
    );
    const compressed = await buffer(c.output);
    await c.done;
    const d = await startDecompressor(
      { method: 'zstd', level: 3 },
      Readable.from([compressed]),
      process.env,
      untouchable,
    );

    expect(c.description).toMatch(/^zstd -q -c -3 -T\d+$/);
    expect((await buffer(d.output)).equals(input)).toBe(true);
  });

  it("runs the logical-dump image's zstd wrapper as the image does: found on PATH, a child's stdout handed to it", async () => {
    // The image (built only by `cdk deploy`) installs zstd behind the wrapper its Dockerfile writes
    // with printf; render that wrapper here around this machine's zstd and put it first on PATH.
    const dockerfile = await readFile(path.join(PROJECT_ROOT, 'functions/logical-dump/Dockerfile'), 'utf8');
    const template = /printf '(#!\/bin\/sh\\nLD_LIBRARY_PATH=%s\/lib exec %s\/libexec\/zstd "\$@"\\n)'/.exec(
      dockerfile,
    )?.[1];
    expect(template, 'the zstd wrapper of functions/logical-dump/Dockerfile').toBeDefined();
    const root = await mkdtemp(path.join(tmpdir(), 'lifeboat-zstd-image-'));
    try {
      const dest = path.join(root, 'usr/lib/lifeboat-zstd');
      const bin = path.join(root, 'usr/local/bin');
      await mkdir(path.join(dest, 'libexec'), { recursive: true });
      await mkdir(path.join(dest, 'lib'));
      await mkdir(bin, { recursive: true });
      await copyFile(
        execFileSync('sh', ['-c', 'command -v zstd'], { encoding: 'utf8' }).trim(),
        path.join(dest, 'libexec/zstd'),
      );
      await chmod(path.join(dest, 'libexec/zstd'), 0o755);
      const wrapper = template!.replaceAll('%s', dest).replaceAll('\\n', '\n');
      await writeFile(path.join(bin, 'zstd'), wrapper, { mode: 0o755 });
      const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };

      expect(await findZstd(env)).toBe(path.join(bin, 'zstd'));
      // As pg_dump's stdout is: a child process's pipe, which the wrapper's zstd reads directly.
      const producer = spawn('sh', ['-c', `yes 'row of a dump' | head -c ${2 * BLOCK_BYTES}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const c = await startCompressor({ method: 'zstd', level: 2 }, producer.stdout, env, null);
      const compressed = await buffer(c.output);
      await c.done;

      expect(c.description).toMatch(/^zstd -q -c -2 -T\d+$/);
      const restored = execFileSync('zstd', ['-q', '-d', '-c'], {
        input: compressed,
        maxBuffer: 4 * BLOCK_BYTES,
      });
      expect(restored.length).toBe(2 * BLOCK_BYTES);
      expect(restored.subarray(0, 15).toString()).toBe('row of a dump\nr');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('finds zlib zstd on a zlib that has it, and none on one that does not', () => {
    const withZstd = {
      zstdCompress: () => undefined,
      createZstdDecompress: () => undefined,
      constants: { ZSTD_c_compressionLevel: 100 },
    };

    expect(zlibZstd(withZstd)).toBe(withZstd);
    expect(zlibZstd({ ...withZstd, createZstdDecompress: undefined })).toBeNull();
    expect(zlibZstd({ gzip: () => undefined, constants: {} })).toBeNull();
  });
});

describe('the manifest of a directory dump', () => {
  it('owns every file it lists; a single archive owns its key; the list digest is order-independent', () => {
    const files = [
      { name: 'toc.dat', key: 'artifacts/db/1.dir/toc.dat.zst', bytes: 3, sha256: 'a'.repeat(64) },
      { name: '3401.dat', key: 'artifacts/db/1.dir/3401.dat.zst', bytes: 5, sha256: 'b'.repeat(64) },
    ];
    expect(artifactKeysOf({ artifact: { key: 'artifacts/db/1.dir/', files } as never })).toEqual(
      files.map((f) => f.key),
    );
    expect(artifactKeysOf({ artifact: { key: 'artifacts/db/1.dump.zst' } as never })).toEqual([
      'artifacts/db/1.dump.zst',
    ]);
    expect(fileListDigest(files)).toBe(fileListDigest([...files].reverse()));
    expect(fileListDigest(files)).not.toBe(fileListDigest([files[0]!]));
    expect(DumpManifest.shape.artifact.shape.files.safeParse([{ ...files[0], name: '../x' }]).success).toBe(
      false,
    );
  });
});

describe('compression in the configuration', () => {
  type Draft = EnvironmentConfigInput & { databases: NonNullable<EnvironmentConfigInput['databases']> };
  const devWith = (change: (cfg: Draft) => void) => {
    const cfg = structuredClone(ENVIRONMENTS.dev!) as Draft;
    change(cfg);
    return { dev: cfg };
  };

  it('a policy may set it; errors name the environment and the field', () => {
    const ok = devWith((cfg) => {
      cfg.policies!.standard!.compression = { method: 'gzip', level: 4 };
    });
    expect(loadEnvironmentConfig('dev', ok).policies.standard!.compression).toEqual({
      method: 'gzip',
      level: 4,
    });

    const badLevel = devWith((cfg) => {
      cfg.policies!.standard!.compression = { method: 'zstd', level: 30 };
    });
    expect(() => loadEnvironmentConfig('dev', badLevel)).toThrow(ConfigError);
    expect(() => loadEnvironmentConfig('dev', badLevel)).toThrow(
      'config for environment "dev": policies.standard.compression.level: zstd takes a level from 1 to 19, not 30',
    );
    const badMethod = devWith((cfg) => {
      cfg.policies!.standard!.compression = { method: 'brotli' as never };
    });
    expect(() => loadEnvironmentConfig('dev', badMethod)).toThrow(
      /config for environment "dev": policies\.standard\.compression\.method: expected one of zstd, gzip, none/,
    );
  });

  it("pg_dump's lz4/zstd with a database older than PostgreSQL 16 is refused; dumpJobs only for large databases", () => {
    const old = devWith((cfg) => {
      cfg.policies!.standard!.compression = { method: 'pg_dump-zstd' };
      cfg.databases[0]!.engineVersion = '15.8';
    });
    expect(() => loadEnvironmentConfig('dev', old)).toThrow(
      `config for environment "dev": policies.standard.compression.method: pg_dump-zstd needs pg_dump 16 or newer, and database "${ENVIRONMENTS.dev!.databases![0]!.name}" runs PostgreSQL 15.8: use zstd or pg_dump-gzip`,
    );
    const jobs = devWith((cfg) => {
      cfg.databases[0]!.dumpJobs = 4;
    });
    expect(() => loadEnvironmentConfig('dev', jobs)).toThrow(
      /databases\[0\]\.dumpJobs: applies to large databases only/,
    );
  });
});

describe('the logical-dump event', () => {
  it('refuses a parallel dump in Lambda, and a bad compression, before touching anything', async () => {
    const { logicalDump } = await import('../../functions/logical-dump/index.ts');
    const deps = { env: {}, remainingMs: () => 900_000 } as never;
    const event = { database: 'orders', secretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:x' };

    await expect(logicalDump({ ...event, jobs: 2 }, deps)).rejects.toThrow(
      'logical-dump event: jobs: a parallel dump runs as the Fargate task only, not in Lambda',
    );
    await expect(logicalDump({ ...event, compression: 'lzma' }, deps)).rejects.toThrow(
      /logical-dump event: compression "lzma": expected method\[:level\]/,
    );
  });
});
