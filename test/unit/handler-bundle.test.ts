import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HANDLER_BUILD_OPTIONS,
  HANDLER_FILE,
  handlerBuild,
  handlerCliFlags,
  initialFiles,
} from '../../lib/constructs/handler-bundle.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';

/** Each `RUN npx esbuild …` command of a Dockerfile, continuation lines joined. */
function esbuildCommands(dockerfile: string): string[] {
  return readFileSync(dockerfile, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((line) => /^RUN npx esbuild /.test(line));
}

const dockerfiles = readdirSync(path.join(PROJECT_ROOT, 'functions'), { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => path.join(PROJECT_ROOT, 'functions', e.name, 'Dockerfile'))
  .filter((f) => {
    try {
      return esbuildCommands(f).length > 0;
    } catch {
      return false;
    }
  });

describe('the container images bundle their handlers as LifeboatFunction does', () => {
  it('finds the images that bundle handlers', () => {
    expect(dockerfiles.map((f) => path.basename(path.dirname(f))).sort()).toEqual([
      'logical-dump',
      'verify-backup',
    ]);
  });

  it.each(dockerfiles.map((f) => [path.relative(PROJECT_ROOT, f), f]))(
    '%s: every esbuild command has the handler options and writes chunks beside the entry',
    (_name, file) => {
      for (const command of esbuildCommands(file)) {
        const words = command.split(/\s+/);
        for (const flag of handlerCliFlags()) expect(words, command).toContain(flag);
        expect(command).toContain(`--banner:js="${HANDLER_BUILD_OPTIONS.banner.js}"`);
        expect(words).toContain('--outdir=/out/');
        expect(command).not.toMatch(/--outfile|--sourcemap/);
      }
    },
  );
});

describe('the logical-dump image', () => {
  it('runs Node as the in-process zstd path was measured: small young generation, one malloc arena', () => {
    // Where no zstd program is installed (this image), zlib's zstd compresses on the thread pool;
    // glibc's per-thread arenas kept its freed memory (bench/README.md, in-process zstd).
    const env = readFileSync(path.join(PROJECT_ROOT, 'functions/logical-dump/Dockerfile'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('ENV '));
    expect(env).toContain('ENV MALLOC_ARENA_MAX=1');
    expect(env).toContain('ENV NODE_OPTIONS=--max-semi-space-size=1');
  });
});

describe('the SDK tracing constant', () => {
  it('is "false" unless asked for (the images are never traced), "true" when asked', () => {
    const define = (flags: string[]) => flags.filter((f) => f.startsWith('--define:'));

    expect(HANDLER_BUILD_OPTIONS.define).toEqual({ 'process.env.LIFEBOAT_SDK_TRACING': '"false"' });
    expect(handlerBuild('x.ts', 'out').define).toEqual({ 'process.env.LIFEBOAT_SDK_TRACING': '"false"' });
    expect(handlerBuild('x.ts', 'out', { sdkTracing: true }).define).toEqual({
      'process.env.LIFEBOAT_SDK_TRACING': '"true"',
    });
    expect(define(handlerCliFlags())).toEqual([`--define:process.env.LIFEBOAT_SDK_TRACING='"false"'`]);
    expect(define(handlerCliFlags({ sdkTracing: true }))).toEqual([
      `--define:process.env.LIFEBOAT_SDK_TRACING='"true"'`,
    ]);
  });
});

describe('a handler bundle', () => {
  let out: string;
  let files: Map<string, number>;
  let all: string[];

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'lifeboat-handler-bundle-'));
    const result = await build({
      ...handlerBuild(path.join(PROJECT_ROOT, 'test/fixtures/bundle/entry.ts'), out),
      metafile: true,
      logLevel: 'silent',
    });
    all = Object.keys(result.metafile.outputs).filter((f) => f.endsWith('.mjs'));
    files = initialFiles(result.metafile, path.relative(PROJECT_ROOT, path.join(out, HANDLER_FILE)));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('puts code reached only through import() into a chunk a cold start does not read', async () => {
    const texts = async (list: string[]) =>
      Promise.all(list.map((f) => readFile(path.join(PROJECT_ROOT, f), 'utf8')));
    const initial = await texts([...files.keys()]);
    const everything = await texts(all);

    expect(files.size).toBeGreaterThan(0);
    expect(all.length).toBeGreaterThan(files.size);
    expect(initial.join('\n')).not.toContain('RARE-PATH-MARKER');
    expect(everything.join('\n')).toContain('RARE-PATH-MARKER');
  });

  it('loads the chunk when, and only when, the path that needs it runs', async () => {
    const mod = (await import(pathToFileURL(path.join(out, HANDLER_FILE)).href)) as {
      handler: (e: { rare?: boolean }) => Promise<string>;
    };
    const seen = globalThis as { rareModuleLoaded?: boolean };

    expect(await mod.handler({})).toBe('common');
    expect(seen.rareModuleLoaded).toBeUndefined();
    expect(await mod.handler({ rare: true })).toBe('RARE-PATH-MARKER');
    expect(seen.rareModuleLoaded).toBe(true);
  });
});
