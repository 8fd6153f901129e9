import { execFile } from 'node:child_process';
import { access, constants, readdir } from 'node:fs/promises';
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

/**
 * Where PostgreSQL binaries are looked for: only LIFEBOAT_PG_BIN_DIRS (colon-separated) when it is
 * set; otherwise the Debian/Ubuntu layout (/usr/lib/postgresql/<major>/bin), the PGDG RPM layout
 * (/usr/pgsql-<major>/bin), then PATH.
 */
export async function candidateDirs(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const dirs: string[] = [];
  if (env.LIFEBOAT_PG_BIN_DIRS) {
    for (const d of env.LIFEBOAT_PG_BIN_DIRS.split(':')) if (d) dirs.push(path.resolve(d));
    return [...new Set(dirs)];
  }
  for (const root of ['/usr/lib/postgresql']) {
    const entries = await readdir(root).catch(() => [] as string[]);
    for (const e of entries) dirs.push(path.join(root, e, 'bin'));
  }
  const usr = await readdir('/usr').catch(() => [] as string[]);
  for (const e of usr) if (/^pgsql-\d+$/.test(e)) dirs.push(path.join('/usr', e, 'bin'));
  for (const d of (env.PATH ?? '').split(':')) if (d) dirs.push(d);
  return [...new Set(dirs.map((d) => path.resolve(d)))];
}

const cache = new Map<string, Promise<InstalledTool[]>>();

/** Every installed copy of `tool`, with its version, highest major first. */
export function installedTools(tool: PgTool, env: NodeJS.ProcessEnv = process.env): Promise<InstalledTool[]> {
  const cacheKey = `${tool}\0${env.LIFEBOAT_PG_BIN_DIRS ?? ''}\0${env.PATH ?? ''}`;
  let found = cache.get(cacheKey);
  if (!found) {
    found = discover(tool, env);
    cache.set(cacheKey, found);
  }
  return found;
}

async function discover(tool: PgTool, env: NodeJS.ProcessEnv): Promise<InstalledTool[]> {
  const seen = new Map<string, InstalledTool>();
  for (const dir of await candidateDirs(env)) {
    const file = path.join(dir, tool);
    try {
      await access(file, constants.X_OK);
    } catch {
      continue;
    }
    try {
      const { stdout } = await run(file, ['--version'], { timeout: 10_000 });
      // "pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
      const m = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?/.exec(stdout);
      if (!m) continue;
      const version = m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`;
      const key = `${version}`;
      if (!seen.has(key)) seen.set(key, { tool, path: file, major: Number(m[1]), version });
    } catch {
      // not runnable here: skip it
    }
  }
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
): Promise<InstalledTool> {
  const all = await installedTools(tool, env);
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
