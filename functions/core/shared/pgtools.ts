import { execFile } from 'node:child_process';
import { access, constants, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { PgToolNotFound } from './errors.ts';

const run = promisify(execFile);

export type PgTool =
  'pg_dump' | 'pg_dumpall' | 'pg_restore' | 'psql' | 'initdb' | 'pg_ctl' | 'pg_basebackup' | 'postgres';

export interface InstalledTool {
  readonly tool: PgTool;
  readonly path: string;
  readonly major: number;
  /** e.g. "15.20". */
  readonly version: string;
}

/** Where the packages put each major's binaries: /usr/lib/postgresql/<major>/bin, /usr/pgsql-<major>/bin. */
export interface LayoutRoots {
  /** The Debian/Ubuntu layout's root. */
  readonly debian: string;
  /** Where the PGDG RPM layout's pgsql-<major> directories are. */
  readonly usr: string;
}

const LAYOUT_ROOTS: LayoutRoots = { debian: '/usr/lib/postgresql', usr: '/usr' };

/**
 * Where PostgreSQL binaries are looked for, in two tiers: `layout`, only LIFEBOAT_PG_BIN_DIRS
 * (colon-separated) when it is set, otherwise the versioned directories of the packages (Debian/
 * Ubuntu's, then PGDG RPM's); and `path`, PATH (empty when LIFEBOAT_PG_BIN_DIRS is set). A tool
 * of the right major in the first tier is used without running any copy on PATH: on Debian and
 * Ubuntu those are postgresql-common's Perl wrapper, about 0.1 s per `--version` (bench/README.md).
 */
export async function candidateTiers(
  env: NodeJS.ProcessEnv = process.env,
  roots: LayoutRoots = LAYOUT_ROOTS,
): Promise<{ layout: string[]; path: string[] }> {
  if (env.LIFEBOAT_PG_BIN_DIRS) {
    const dirs = env.LIFEBOAT_PG_BIN_DIRS.split(':').filter(Boolean);
    return { layout: [...new Set(dirs.map((d) => path.resolve(d)))], path: [] };
  }
  const layout: string[] = [];
  const entries = await readdir(roots.debian).catch(() => [] as string[]);
  for (const e of entries) layout.push(path.join(roots.debian, e, 'bin'));
  const usr = await readdir(roots.usr).catch(() => [] as string[]);
  for (const e of usr) if (/^pgsql-\d+$/.test(e)) layout.push(path.join(roots.usr, e, 'bin'));
  const resolved = [...new Set(layout.map((d) => path.resolve(d)))];
  const onPath = (env.PATH ?? '')
    .split(':')
    .filter(Boolean)
    .map((d) => path.resolve(d))
    .filter((d) => !resolved.includes(d));
  return { layout: resolved, path: [...new Set(onPath)] };
}

/** What has been found of one tool under one environment: the layout tier, and PATH once asked for. */
interface Discovery {
  readonly layout: Promise<InstalledTool[]>;
  all(): Promise<InstalledTool[]>;
}

const cache = new Map<string, Discovery>();

function discovery(tool: PgTool, env: NodeJS.ProcessEnv, roots: LayoutRoots = LAYOUT_ROOTS): Discovery {
  const cacheKey = `${tool}\0${env.LIFEBOAT_PG_BIN_DIRS ?? ''}\0${env.PATH ?? ''}\0${roots.debian}\0${roots.usr}`;
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const tiers = candidateTiers(env, roots);
  // Real paths probed so far: /bin/pg_dump and /usr/bin/pg_dump are one file where /bin is a link.
  const probed = new Set<string>();
  const layout = tiers.then((t) => probeAll(tool, t.layout, probed));
  let all: Promise<InstalledTool[]> | undefined;
  const found: Discovery = {
    layout,
    all: () =>
      (all ??= Promise.all([layout, tiers]).then(async ([first, t]) =>
        byVersion([...first, ...(await probeAll(tool, t.path, probed))]),
      )),
  };
  cache.set(cacheKey, found);
  return found;
}

/** Every installed copy of `tool`, with its version, highest major first. */
export function installedTools(
  tool: PgTool,
  env: NodeJS.ProcessEnv = process.env,
  roots?: LayoutRoots,
): Promise<InstalledTool[]> {
  return discovery(tool, env, roots).all();
}

/** Runs `--version` of the tool in each directory, all at once; results in the directories' order. */
async function probeAll(
  tool: PgTool,
  dirs: readonly string[],
  probed: Set<string>,
): Promise<InstalledTool[]> {
  const files: string[] = [];
  for (const dir of dirs) {
    const file = path.join(dir, tool);
    try {
      await access(file, constants.X_OK);
      const real = await realpath(file);
      if (probed.has(real)) continue;
      probed.add(real);
      files.push(file);
    } catch {
      // not there
    }
  }
  const versions = await Promise.all(files.map((file) => probe(tool, file)));
  return byVersion(versions.filter((v): v is InstalledTool => v !== null));
}

async function probe(tool: PgTool, file: string): Promise<InstalledTool | null> {
  try {
    const { stdout } = await run(file, ['--version'], { timeout: 10_000 });
    // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
    const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
    if (!m) return null;
    const version = m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`;
    return { tool, path: file, major: Number(m[1]), version };
  } catch {
    // not runnable here: skip it
    return null;
  }
}

/** One copy per version (the first found), highest major first. */
function byVersion(tools: readonly InstalledTool[]): InstalledTool[] {
  const seen = new Map<string, InstalledTool>();
  for (const t of tools) if (!seen.has(t.version)) seen.set(t.version, t);
  return [...seen.values()].sort((a, b) => b.major - a.major);
}

/**
 * The copy of a client tool that fits a server of `serverMajor`: the same major when installed,
 * otherwise the lowest newer one (pg_dump reads older servers, never newer ones).
 */
export async function toolForServer(
  tool: PgTool,
  serverMajor: number,
  env: NodeJS.ProcessEnv = process.env,
  roots?: LayoutRoots,
): Promise<InstalledTool> {
  const found = discovery(tool, env, roots);
  const preferred = (await found.layout).find((t) => t.major === serverMajor);
  if (preferred) return preferred;
  const all = await found.all();
  const exact = all.find((t) => t.major === serverMajor);
  if (exact) return exact;
  const newer = all.filter((t) => t.major > serverMajor).sort((a, b) => a.major - b.major);
  if (newer[0]) return newer[0];
  const list = all.length ? all.map((t) => `${t.version} (${t.path})`).join(', ') : 'none';
  throw new PgToolNotFound(
    `no ${tool} for PostgreSQL ${serverMajor} is installed: need major ${serverMajor} or newer, found ${list}` +
      (env.LIFEBOAT_PG_BIN_DIRS
        ? ` in LIFEBOAT_PG_BIN_DIRS (${env.LIFEBOAT_PG_BIN_DIRS})`
        : ' (set LIFEBOAT_PG_BIN_DIRS to the directory that holds it)'),
  );
}

/** The newest installed copy of a tool (for server binaries of ephemeral clusters). */
export async function newestTool(tool: PgTool, env: NodeJS.ProcessEnv = process.env): Promise<InstalledTool> {
  const all = await installedTools(tool, env);
  if (!all[0]) {
    throw new PgToolNotFound(
      `${tool} is not installed: looked in ${env.LIFEBOAT_PG_BIN_DIRS ? `LIFEBOAT_PG_BIN_DIRS (${env.LIFEBOAT_PG_BIN_DIRS})` : '/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin and PATH'}`,
    );
  }
  return all[0];
}

/** Server version number (e.g. 150020) to its major (15); 9.x servers are 90600 → 9. */
export function majorOf(serverVersionNum: number): number {
  return Math.floor(serverVersionNum / 10000);
}
