import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of bin/, typed by its JSDoc only.
import { currentBuild, loadCli } from '../../bin/cli-bundle.mjs';

/**
 * bin/cli-bundle.mjs on a project of three files: an entry whose `main` returns what a dependency
 * exports, and a module it imports on use (the code split).
 */
type Loaded = { module: { main: (argv: string[]) => Promise<number> }; bundled: boolean; built: boolean };
const load = loadCli as (o: {
  root: string;
  entry: string;
  dir: string;
  env: NodeJS.ProcessEnv;
}) => Promise<Loaded>;

let root: string;
let options: { root: string; entry: string; dir: string; env: NodeJS.ProcessEnv };
// Each build's modules get a new URL, so Node's module cache never answers for an edited source.

async function source(file: string, text: string, mtime?: Date): Promise<void> {
  await mkdir(path.dirname(path.join(root, file)), { recursive: true });
  await writeFile(path.join(root, file), text);
  if (mtime) await utimes(path.join(root, file), mtime, mtime);
}

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lifeboat-cli-bundle-'));
  await source('package.json', '{ "type": "module" }\n');
  await source(
    'bin/entry.ts',
    "import { answer } from './dep.ts';\nexport async function main(argv: string[]): Promise<number> {\n  if (argv[0] === 'lazy') return (await import('./lazy.ts')).lazy();\n  return answer;\n}\n",
  );
  await source('bin/dep.ts', 'export const answer: number = 1;\n');
  await source('bin/lazy.ts', 'export const lazy = (): number => 7;\n');
  options = { root, entry: path.join(root, 'bin/entry.ts'), dir: path.join(root, '.lifeboat/cli'), env: {} };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('the CLI bundle', () => {
  it('bundles on first use, then runs the build it made without bundling again', async () => {
    const first = await load(options);
    expect(first).toMatchObject({ bundled: true, built: true });
    expect(await first.module.main([])).toBe(1);
    // The module imported on use is a chunk of its own.
    expect(await first.module.main(['lazy'])).toBe(7);
    const builds = (await readdir(options.dir)).filter((e) => e !== 'current.json');
    expect(builds).toHaveLength(1);
    expect((await readdir(path.join(options.dir, builds[0]!))).length).toBeGreaterThan(1);

    const second = await load(options);
    expect(second).toMatchObject({ bundled: true, built: false });
    expect(await second.module.main([])).toBe(1);
  });

  it('bundles again when a source changed, and runs the change', async () => {
    await load(options);
    const before = await currentBuild(root, options.dir);
    await source('bin/dep.ts', 'export const answer: number = 2;\n', new Date(Date.now() - 60_000));
    expect(await currentBuild(root, options.dir)).toBeNull();
    const again = await load(options);
    expect(again).toMatchObject({ bundled: true, built: true });
    expect(await again.module.main([])).toBe(2);
    expect(await currentBuild(root, options.dir)).not.toBe(before);
  });

  it('bundles again when a source is gone, the pointer is damaged or the build was removed', async () => {
    await load(options);
    await rm(path.join(root, 'bin/lazy.ts'));
    expect(await currentBuild(root, options.dir)).toBeNull();
    await source('bin/lazy.ts', 'export const lazy = (): number => 8;\n', new Date(Date.now() - 60_000));
    expect(await (await load(options)).module.main(['lazy'])).toBe(8);

    await writeFile(path.join(options.dir, 'current.json'), '{ "format": 2, "build": "x"');
    expect(await currentBuild(root, options.dir)).toBeNull();
    expect((await load(options)).built).toBe(true);

    const entry = (await currentBuild(root, options.dir)) as string;
    await rm(path.dirname(entry), { recursive: true });
    expect(await currentBuild(root, options.dir)).toBeNull();
    expect((await load(options)).built).toBe(true);
  });

  it('lets processes bundle at once: each gets a whole build and one becomes current', async () => {
    const all = await Promise.all([load(options), load(options), load(options)]);
    for (const l of all) expect(await l.module.main([])).toBe(1);
    const pointer = JSON.parse(await readFile(path.join(options.dir, 'current.json'), 'utf8')) as {
      build: string;
    };
    expect(await currentBuild(root, options.dir)).toBe(path.join(options.dir, pointer.build, 'lifeboat.js'));
  });

  it('removes builds a day after they stopped being current, and keeps younger ones', async () => {
    await load(options);
    const old = path.join(options.dir, 'old-build');
    const young = path.join(options.dir, 'young-build');
    for (const d of [old, young]) await mkdir(d);
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(old, twoDaysAgo, twoDaysAgo);
    await source('bin/dep.ts', 'export const answer: number = 3;\n', new Date(Date.now() - 60_000));
    await load(options);
    const left = await readdir(options.dir);
    expect(left).not.toContain('old-build');
    expect(left).toContain('young-build');
  });

  it('keeps a build a day from when it stopped being current, however old it is', async () => {
    await load(options);
    const first = path.dirname((await currentBuild(root, options.dir)) as string);
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(first, twoDaysAgo, twoDaysAgo);
    await source('bin/dep.ts', 'export const answer: number = 4;\n', new Date(Date.now() - 60_000));
    expect((await load(options)).built).toBe(true);
    // A command started from the first build can still load its chunks.
    expect(await readdir(options.dir)).toContain(path.basename(first));
  });

  it('runs the sources through tsx where the bundle cannot be written', async () => {
    // A directory under a file: every write fails (permissions do not stop root, this does).
    const l = await load({ ...options, dir: path.join(root, 'package.json', 'cli') });
    expect(l).toMatchObject({ bundled: false, built: false });
    expect(await l.module.main(['lazy'])).toBe(7);
  });

  it('runs the sources through tsx with LIFEBOAT_CLI_SOURCE=1, and bundles nothing', async () => {
    const l = await load({ ...options, env: { LIFEBOAT_CLI_SOURCE: '1' } });
    expect(l).toMatchObject({ bundled: false, built: false });
    expect(await l.module.main([])).toBe(1);
    await expect(readdir(options.dir)).rejects.toThrow(/ENOENT/);
  });
});
