import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { candidateTiers, installedTools, toolForServer } from '#core/shared/pgtools.ts';

/**
 * Tool discovery against fake installations: shell scripts that print a version and append their
 * own path to a log, so a test can see which copies were run.
 */
let root: string;
let log: string;
let roots: { debian: string; usr: string };

async function fakeTool(dir: string, tool: string, version: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, tool);
  await writeFile(
    file,
    `#!/bin/sh\necho "$0" >> ${JSON.stringify(log)}\necho "${tool} (PostgreSQL) ${version}"\n`,
  );
  await chmod(file, 0o755);
  return file;
}

const ran = async (): Promise<string[]> =>
  (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);

// Each test gets its own PATH string: discoveries are cached per tool, PATH and layout roots.
let n = 0;
const envWith = (dirs: string[]): NodeJS.ProcessEnv => ({ PATH: [...dirs, `/nonexistent-${++n}`].join(':') });

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'lifeboat-pgtools-'));
  log = path.join(root, 'ran.log');
  roots = { debian: path.join(root, 'usr/lib/postgresql'), usr: path.join(root, 'usr') };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('PostgreSQL tool discovery', () => {
  it('takes the versioned directory of the server major without running any copy on PATH', async () => {
    const v15 = await fakeTool(path.join(roots.debian, '15/bin'), 'pg_dump', '15.20');
    await fakeTool(path.join(roots.debian, '16/bin'), 'pg_dump', '16.6');
    const onPath = await fakeTool(path.join(root, 'bin'), 'pg_dump', '17.2');
    const found = await toolForServer('pg_dump', 15, envWith([path.join(root, 'bin')]), roots);
    expect(found).toMatchObject({ path: v15, major: 15, version: '15.20' });
    expect(await ran()).not.toContain(onPath);
  });

  it('looks on PATH when no versioned directory has the major, and takes the lowest newer one there', async () => {
    await fakeTool(path.join(roots.debian, '14/bin'), 'pg_dump', '14.15');
    const onPath = await fakeTool(path.join(root, 'bin'), 'pg_dump', '17.2');
    const env = envWith([path.join(root, 'bin')]);
    expect(await toolForServer('pg_dump', 16, env, roots)).toMatchObject({ path: onPath, major: 17 });
    expect((await installedTools('pg_dump', env, roots)).map((t) => t.version)).toEqual(['17.2', '14.15']);
  });

  it('runs one copy of a file reached through two directories (a /bin linked to /usr/bin)', async () => {
    const real = await fakeTool(path.join(root, 'usr/bin'), 'pg_dumpall', '15.20');
    await symlink(path.join(root, 'usr/bin'), path.join(root, 'bin'));
    const env = envWith([path.join(root, 'usr/bin'), path.join(root, 'bin')]);
    const all = await installedTools('pg_dumpall', env, roots);
    expect(all).toEqual([{ tool: 'pg_dumpall', path: real, major: 15, version: '15.20' }]);
    expect(await ran()).toEqual([real]);
  });

  it('keeps the first copy of a version, in the order of the directories', async () => {
    const first = await fakeTool(path.join(roots.usr, 'pgsql-15/bin'), 'psql', '15.20');
    await fakeTool(path.join(root, 'bin'), 'psql', '15.20');
    const all = await installedTools('psql', envWith([path.join(root, 'bin')]), roots);
    expect(all).toEqual([{ tool: 'psql', path: first, major: 15, version: '15.20' }]);
  });

  it('skips a copy that does not run or does not say its version', async () => {
    await mkdir(path.join(roots.debian, '15/bin'), { recursive: true });
    await writeFile(path.join(roots.debian, '15/bin/pg_restore'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
    await fakeTool(path.join(roots.debian, '16/bin'), 'pg_restore', 'unknown');
    const good = await fakeTool(path.join(root, 'bin'), 'pg_restore', '16.6');
    const env = envWith([path.join(root, 'bin')]);
    expect(await installedTools('pg_restore', env, roots)).toEqual([
      { tool: 'pg_restore', path: good, major: 16, version: '16.6' },
    ]);
  });

  it('names what it found when no copy fits the server', async () => {
    await fakeTool(path.join(roots.debian, '13/bin'), 'pg_dump', '13.18');
    await expect(toolForServer('pg_dump', 15, envWith([]), roots)).rejects.toThrow(
      /no pg_dump for PostgreSQL 15 is installed: need major 15 or newer, found 13\.18 \(.*13\/bin\/pg_dump\)/,
    );
  });

  it('uses only LIFEBOAT_PG_BIN_DIRS when it is set, PATH ignored', async () => {
    const mine = await fakeTool(path.join(root, 'mine'), 'pg_dump', '16.6');
    await fakeTool(path.join(root, 'bin'), 'pg_dump', '15.20');
    const env = { LIFEBOAT_PG_BIN_DIRS: path.join(root, 'mine'), PATH: path.join(root, 'bin') };
    expect(await candidateTiers(env, roots)).toEqual({ layout: [path.join(root, 'mine')], path: [] });
    expect(await toolForServer('pg_dump', 15, env, roots)).toMatchObject({ path: mine, major: 16 });
    expect(await ran()).toEqual([mine]);
  });
});
