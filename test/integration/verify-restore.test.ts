import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository, type Repository } from '#core/repository/index.ts';
import { runRestore } from '#core/restore/restore.ts';
import { runVerify } from '#core/verify/verify.ts';
import { createAwkwardDatabase } from '../support/awkward.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = path.join(ROOT, 'bin/lifeboat.mjs');

/** Runs the CLI as a user would; resolves with its exit code and output. */
function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  onStdout?: (text: string, kill: () => void) => void,
) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, cwd: tmpdir() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      onStdout?.(stdout, () => child.kill('SIGINT'));
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A directory the `postgres` OS user can traverse, to hold ephemeral clusters of one test. */
async function workDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lb-work-'));
  await chmod(dir, 0o755);
  return dir;
}

async function clustersLeft(dir: string): Promise<{ dirs: string[]; processes: string }> {
  const dirs = (await readdir(dir)).filter((d) => d.startsWith('lifeboat-pg-'));
  const { execFileSync } = await import('node:child_process');
  const processes = execFileSync('sh', ['-c', `pgrep -af "[p]ostgres.*${dir}" || true`])
    .toString()
    .trim();
  return { dirs, processes };
}

describe('verify and restore', () => {
  let source: string;
  let dir: string;
  let repoRoot: string;
  let repository: Repository;
  let backupId: string;
  const dbs: string[] = [];

  beforeAll(async () => {
    source = await createAwkwardDatabase('lb_verify');
    dir = await mkdtemp(path.join(tmpdir(), 'lb-verify-'));
    repoRoot = path.join(dir, 'repo');
    repository = openRepository(pathToFileURL(repoRoot).href);
    backupId = (await runBackup({ connection: parseDatabaseUrl(databaseUrl(source)), repository })).id;
  });

  afterAll(async () => {
    await dropDatabase(source);
    for (const db of dbs) await dropDatabase(db);
    await rm(dir, { recursive: true, force: true });
  });

  /** A private copy of the repository, to damage without touching the shared one. */
  async function copyRepo(name: string): Promise<{ root: string; repository: Repository }> {
    const root = path.join(dir, name);
    const { cp } = await import('node:fs/promises');
    await cp(repoRoot, root, { recursive: true });
    return { root, repository: openRepository(pathToFileURL(root).href) };
  }

  it('verifies the awkward database: every check on the list runs and passes, the record lands in the catalog', async () => {
    // Prepare
    const work = await workDir();

    // Act
    const { code, stdout } = await cli(['verify', backupId, '--repo', pathToFileURL(repoRoot).href], {
      TMPDIR: work,
    });

    // Assess
    expect(code).toBe(0);
    for (const check of [
      'checksum',
      'archive-toc',
      'restore',
      'tables',
      'indexes',
      'constraints',
      'functions',
      'row-level-security',
      'extensions',
      'views-and-sequences',
      'large-objects',
      'database-size',
      'roles',
      'amcheck',
    ]) {
      expect(stdout).toMatch(new RegExp(`^✓ ${check} `, 'm'));
    }
    expect(stdout).toMatch(/11 tables, 13,958 rows, exact/);
    expect(stdout).toMatch(/verified: backup .* all 14 checks passed/);
    const [summary] = await new Catalog(repository).list();
    expect(summary?.verification).toBe('verified');
    expect(summary?.lastVerification?.restoreDurationMs).toBeGreaterThan(0);
    expect(summary?.lastVerification?.method).toBe('ephemeral');
    expect(await clustersLeft(work)).toEqual({ dirs: [], processes: '' });
    await rm(work, { recursive: true, force: true });
  });

  it('a flipped byte fails at the checksum, and nothing is restored', async () => {
    // Prepare
    const { root, repository: damaged } = await copyRepo('flipped');
    const file = path.join(root, `artifacts/${source}/${backupId}.dump.zst`);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(file, bytes);

    // Act
    const report = await runVerify({ repository: damaged, ref: backupId, workDir: await workDir() });

    // Assess
    expect(report.passed).toBe(false);
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([['checksum', false]]);
    expect(report.checks[0]!.detail).toMatch(/SHA-256 [0-9a-f]{64} differs from the manifest's/);
    expect((await new Catalog(damaged).list())[0]?.verification).toBe('verification-failed');
  });

  it('a truncated artifact fails (size and checksum), exit status 1', async () => {
    // Prepare
    const { root } = await copyRepo('truncated');
    await truncate(path.join(root, `artifacts/${source}/${backupId}.dump.zst`), 10_000);

    // Act
    const { code, stdout } = await cli(['verify', 'latest', '--repo', pathToFileURL(root).href]);

    // Assess
    expect(code).toBe(1);
    expect(stdout).toMatch(/^✗ checksum +stored artifact has 10000 bytes, manifest says \d+/m);
    expect(stdout).toMatch(/FAILED: backup/);
  });

  it('a manifest whose row count was altered fails the tables check, naming the table', async () => {
    // Prepare
    const { root, repository: altered } = await copyRepo('altered');
    const manifestFile = path.join(root, `catalog/${source}/${backupId}/manifest.json`);
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    const items = manifest.statistics.tables.find((t: { name: string }) => t.name === 'Order Items');
    items.rowCount = 5999;
    await writeFile(manifestFile, JSON.stringify(manifest));
    const work = await workDir();

    // Act
    const report = await runVerify({ repository: altered, ref: 'latest', workDir: work });

    // Assess
    expect(report.passed).toBe(false);
    const tables = report.checks.find((c) => c.name === 'tables')!;
    expect(tables.passed).toBe(false);
    expect(tables.failures).toEqual(['table Sales Dept.Order Items: 6,000 rows, expected 5,999']);
    expect(report.checks.filter((c) => !c.passed).map((c) => c.name)).toEqual(['tables']);
    expect(await clustersLeft(work)).toEqual({ dirs: [], processes: '' });
  });

  it('restores into an empty target with the same data checks, and refuses a non-empty one without --clean', async () => {
    // Prepare
    const target = await createDatabase('lb_target');
    dbs.push(target);
    const targetConn = parseDatabaseUrl(databaseUrl(target));

    // Act
    const first = await runRestore({ repository, ref: backupId, target: targetConn, jobs: 2 });
    const refused = await cli([
      'restore',
      backupId,
      '--repo',
      pathToFileURL(repoRoot).href,
      '--target-url',
      databaseUrl(target),
    ]);
    await query(target, `INSERT INTO "we""ird"."select" VALUES (99, 'marker', NULL)`);
    const cleaned = await runRestore({ repository, ref: backupId, target: targetConn, clean: true });

    // Assess
    expect(first.passed).toBe(true);
    expect(first.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['checksum', 'restore', 'tables', 'row-level-security']),
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /target .* already has 11 user tables .*pass --clean.*nothing was changed/,
    );
    expect(await query(target, `SELECT count(*)::int AS n FROM "we""ird"."select"`)).toEqual([{ n: 3 }]);
    expect(cleaned.passed).toBe(true);
  });

  it('restore latest picks the newest verified backup; --before picks one taken before a time', async () => {
    // Prepare
    const { repository: repo } = await copyRepo('selection');
    const connection = parseDatabaseUrl(databaseUrl(source));
    const newer = await runBackup({ connection, repository: repo });
    const target = await createDatabase('lb_target_latest');
    dbs.push(target);

    // Act
    const report = await runRestore({
      repository: repo,
      ref: 'latest',
      target: parseDatabaseUrl(databaseUrl(target)),
    });
    const none = runRestore({
      repository: repo,
      ref: 'latest',
      before: new Date('2000-01-01T00:00:00Z'),
      target: parseDatabaseUrl(databaseUrl(target)),
    });

    // Assess
    expect(report.backupId).toBe(backupId);
    expect(report.skippedUnverified).toEqual([newer.id]);
    await expect(none).rejects.toThrow(/no verified backups .* taken before 2000-01-01T00:00:00.000Z/);
  });

  it('bad input: one clear line each, exit 2, nothing changed', async () => {
    const repo = pathToFileURL(repoRoot).href;
    const before = (await readdir(path.join(repoRoot, `catalog/${source}/${backupId}/records`))).length;
    const cases: Array<[string[], RegExp, NodeJS.ProcessEnv?]> = [
      [['verify', '20200101T000000Z-abcdef', '--repo', repo], /no backup 20200101T000000Z-abcdef in file:/],
      [['verify', 'not-an-id', '--repo', repo], /"not-an-id" is not a backup id/],
      [
        ['verify', 'latest', '--repo', repo, '--database', 'nothing_here'],
        /no completed backups of "nothing_here"/,
      ],
      [
        ['verify', 'latest', '--repo', 's3://no-such-bucket-lb', '--s3-endpoint', inject('s3Endpoint')],
        /bucket "no-such-bucket-lb" does not exist/,
        { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' },
      ],
      [
        ['restore', 'latest', '--repo', repo, '--target-url', 'postgres://postgres@127.0.0.1:1/x'],
        /cannot connect to PostgreSQL at 127.0.0.1:1: connection refused/,
      ],
      [
        [
          'restore',
          'latest',
          '--repo',
          repo,
          '--target-url',
          'postgres://postgres@127.0.0.1/x',
          '--before',
          'yesterday',
        ],
        /--before expects an ISO 8601 time/,
      ],
      [['verify', '--jobs', 'two', '--repo', repo], /--jobs expects a positive integer, got "two"/],
      // A mistyped repository path is an error for every reading command, and is not created.
      ...([
        'list',
        'verify latest',
        'restore latest --target-url postgres://postgres@127.0.0.1/x',
        'status',
      ].map((command) => [
        [...command.split(' '), '--repo', `${repo}-typo`],
        /repository directory \S+-typo does not exist/,
      ]) as Array<[string[], RegExp]>),
    ];
    // restore latest needs a verified backup, which the first test made
    for (const [args, message, env] of cases) {
      const { code, stderr } = await cli(args, env);
      expect({ args, code, stderr: stderr.trim().split('\n')[0] }).toEqual({
        args,
        code: 2,
        stderr: expect.stringMatching(message),
      });
    }
    expect((await readdir(path.join(repoRoot, `catalog/${source}/${backupId}/records`))).length).toBe(before);
    expect(existsSync(`${repoRoot}-typo`)).toBe(false);
  });

  it('server binaries missing for the ephemeral cluster: a clear error naming what is needed, exit 2', async () => {
    // Prepare: a bin dir with the client tools only
    const bin = path.join(dir, 'client-only-bin');
    await mkdir(bin, { recursive: true });
    for (const tool of ['pg_dump', 'pg_restore'])
      await symlink(`/usr/lib/postgresql/15/bin/${tool}`, path.join(bin, tool));

    // Act
    const { code, stderr } = await cli(['verify', backupId, '--repo', pathToFileURL(repoRoot).href], {
      LIFEBOAT_PG_BIN_DIRS: bin,
    });

    // Assess
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /PostgreSQL server binaries \(initdb, pg_ctl\) of major 15 or newer are needed .* found none/,
    );
  });

  it('verifies a backup in an S3 repository, through a temporary local copy that is removed afterwards', async () => {
    // Prepare
    const s3 = s3Client(inject('s3Endpoint'));
    const bucket = await createBucket(s3);
    const repo = openRepository(`s3://${bucket}/v`, { s3Client: s3 });
    const id = (await runBackup({ connection: parseDatabaseUrl(databaseUrl(source)), repository: repo })).id;
    const work = await workDir();

    // Act
    const report = await runVerify({ repository: repo, ref: id, workDir: work });

    // Assess
    expect(report.passed).toBe(true);
    expect(await readdir(work)).toEqual([]);
  });

  it('an interrupted verify (Ctrl-C during the restore) leaves no cluster process or directory behind', async () => {
    // Prepare: a database big enough that the restore is still running when interrupted
    const big = await createDatabase('lb_interrupt');
    dbs.push(big);
    await query(
      big,
      `CREATE TABLE blobs (id int PRIMARY KEY, payload bytea);
       INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((-g)::text), 'hex') FROM generate_series(1, 1500000) g;`,
    );
    const root = path.join(dir, 'interrupt-repo');
    const repo = openRepository(pathToFileURL(root).href);
    const id = (await runBackup({ connection: parseDatabaseUrl(databaseUrl(big)), repository: repo })).id;
    const work = await workDir();

    // Act: interrupt once the archive's table of contents has been read, i.e. during the restore
    const { code, stderr } = await cli(
      ['verify', id, '--repo', pathToFileURL(root).href],
      { TMPDIR: work },
      (out, kill) => {
        if (out.includes('archive-toc')) setTimeout(kill, 200);
      },
    );

    // Assess
    expect(code).toBe(2);
    expect(stderr).toMatch(/interrupted/);
    expect(await clustersLeft(work)).toEqual({ dirs: [], processes: '' });
    expect((await new Catalog(repo).list())[0]?.verification).toBe('unverified');
  });
});
