// The CLI as it runs: bin/lifeboat.ts and the project's TypeScript it imports, bundled by esbuild
// (npm packages stay in node_modules) into .lifeboat/cli/<build>/, and bundled again whenever one
// of those sources changed. Bundled, a command starts without tsx's loader: `lifeboat --help` took
// 0.15-0.17 s against 0.45-0.53 s through tsx, and `lifeboat backup` starts pg_dump sooner, with
// less CPU taken from it (bench/README.md).
//
// Code split, as the handlers are: what a command loads on use (the AWS SDK clients of the deployed
// forms, the CDK) stays out of the commands that do not use it. .lifeboat/cli/current.json names the
// build in use and every source with its size and modification time; a source that differs (an
// edit, a checkout) means a new build in a new directory, and current.json is replaced by a rename,
// so a process never reads half a build. A build is removed a day after it stopped being current:
// a command still running from it can still load its chunks.
//
// Without esbuild (installed without dev dependencies), where the bundle cannot be written (a
// read-only checkout), or with LIFEBOAT_CLI_SOURCE=1, the sources run through tsx, as they always did.
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Changes when what goes into a build changes, so an older build is replaced. */
const FORMAT = 2;
/** How long a build stays after it stopped being current. */
const KEEP_MS = 24 * 3600 * 1000;

/**
 * The CLI's module: the current build (bundled first when missing or stale) or, failing that, the
 * sources through tsx. `built` says whether this call bundled.
 * @param {{ root?: string; entry?: string; dir?: string; env?: NodeJS.ProcessEnv }} [options]
 * @returns {Promise<{ module: { main: (argv: string[]) => Promise<number> }; bundled: boolean; built: boolean }>}
 */
export async function loadCli(options = {}) {
  const root = options.root ?? ROOT;
  const entry = options.entry ?? path.join(root, 'bin', 'lifeboat.ts');
  const dir = options.dir ?? path.join(root, '.lifeboat', 'cli');
  const env = options.env ?? process.env;
  if (env.LIFEBOAT_CLI_SOURCE !== '1') {
    let current = await currentBuild(root, dir);
    let built = false;
    if (!current) {
      // A checkout that cannot be written to (read-only, another user's) or sources esbuild
      // refuses: the sources run through tsx, which says what is wrong with them if anything is.
      current = await bundle(root, entry, dir).catch(() => null);
      built = current !== null;
    }
    if (current) {
      return { module: await import(pathToFileURL(current).href), bundled: true, built };
    }
  }
  const { register } = await import('tsx/esm/api');
  register();
  return { module: await import(pathToFileURL(entry).href), bundled: false, built: false };
}

/** The entry file of the current build, when there is one and every source it lists is unchanged. */
export async function currentBuild(root, dir) {
  let pointer;
  try {
    pointer = JSON.parse(await readFile(path.join(dir, 'current.json'), 'utf8'));
  } catch {
    return null;
  }
  if (pointer?.format !== FORMAT || typeof pointer.build !== 'string' || !Array.isArray(pointer.sources)) {
    return null;
  }
  const entry = path.join(dir, pointer.build, 'lifeboat.js');
  const stats = await Promise.all([
    stat(entry).catch(() => null),
    ...pointer.sources.map(([file]) => stat(path.join(root, file)).catch(() => null)),
  ]);
  if (!stats[0]) return null;
  const unchanged = pointer.sources.every(
    ([, size, mtimeMs], i) => stats[i + 1]?.size === size && stats[i + 1]?.mtimeMs === mtimeMs,
  );
  return unchanged ? entry : null;
}

/** Bundles `entry` into a new build under `dir` and makes it current; null when esbuild is not installed. */
async function bundle(root, entry, dir) {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  const started = Date.now();
  const build = `${started.toString(36)}-${randomBytes(4).toString('hex')}`;
  const outdir = path.join(dir, build);
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { lifeboat: entry },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    splitting: true,
    // npm packages load from node_modules as they do unbundled; the project's own modules
    // (relative paths and package.json's #core/ and #runtime/ imports) are bundled.
    packages: 'external',
    metafile: true,
    outdir,
    logLevel: 'silent',
  });
  const sources = await Promise.all(
    ['package.json', 'tsconfig.json', ...Object.keys(result.metafile.inputs)].map(async (file) => {
      const s = await stat(path.join(root, file)).catch(() => null);
      return s && [file, s.size, s.mtimeMs];
    }),
  );
  const file = path.join(outdir, 'lifeboat.js');
  // A source changed while it was read: this build may hold the old one. It runs this once and is
  // not made current, so the next run bundles again. Whole milliseconds: a file written in the
  // millisecond the build started, just before it, is not a change (file times are coarser than
  // the clock anyway, so this guard sees edits made during the build, not at its very start). A
  // time ahead of the clock is not a change either.
  const finished = Date.now();
  if (sources.some((s) => s !== null && Math.floor(s[2]) > started && s[2] <= finished)) return file;
  const pointer = path.join(dir, 'current.json');
  const previous = await readFile(pointer, 'utf8')
    .then((text) => JSON.parse(text).build)
    .catch(() => undefined);
  const partial = `${pointer}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(partial, JSON.stringify({ format: FORMAT, build, sources: sources.filter(Boolean) }));
  await rename(partial, pointer);
  // The build replaced stops being current now: its time says so, and it is kept a day from now.
  if (typeof previous === 'string' && previous !== build && !previous.includes('/')) {
    const now = new Date();
    await utimes(path.join(dir, previous), now, now).catch(() => undefined);
  }
  await removeOldBuilds(dir, build).catch(() => undefined);
  return file;
}

/** Removes builds other than `keep` that stopped being current (or were made) over KEEP_MS ago. */
async function removeOldBuilds(dir, keep) {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isDirectory() || e.name === keep) continue;
    const s = await stat(path.join(dir, e.name));
    if (Date.now() - s.mtimeMs > KEEP_MS) await rm(path.join(dir, e.name), { recursive: true, force: true });
  }
}
