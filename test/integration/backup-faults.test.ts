import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import { BackupFailed } from '#core/shared/errors.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository, type Repository } from '#core/repository/index.ts';
import { startFaultyProxy } from '../support/faulty-s3-proxy.ts';
import { createDatabase, databaseUrl, dropDatabase, query, withAdmin } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

/** ~40 MB of incompressible rows, so a dump runs long enough to be hit half way. */
async function createBigDatabase(): Promise<string> {
  const name = await createDatabase('lb_faults');
  await query(
    name,
    `CREATE TABLE blobs (id int PRIMARY KEY, payload bytea NOT NULL);
     INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((g + 1)::text) || md5((-g)::text) || md5((g * 7)::text), 'hex')
     FROM generate_series(1, 600000) g;
     CREATE TABLE small (id int PRIMARY KEY); INSERT INTO small SELECT generate_series(1, 10);`,
  );
  return name;
}

async function sha256Of(repository: Repository, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await repository.readStream(key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Runs `fn` once, the first time more than `threshold` bytes have gone by. */
function onceAfter(threshold: number, fn: () => void) {
  let fired = false;
  return (bytes: number) => {
    if (!fired && bytes > threshold) {
      fired = true;
      fn();
    }
  };
}

async function expectOnlyEarlierBackupIntact(
  repository: Repository,
  earlier: { id: string; sha: string; key: string },
) {
  const backups = await new Catalog(repository).list();
  const completed = backups.filter((b) => b.state === 'completed');
  expect(completed.map((b) => b.id)).toEqual([earlier.id]);
  expect(await sha256Of(repository, earlier.key)).toBe(earlier.sha);
  const failed = backups.filter((b) => b.state === 'failed');
  expect(failed).toHaveLength(1);
  expect(failed[0]!.manifest).toBeNull();
  // The failed attempt left no artifact under any of its names (.dump, .dump.zst, .dir/…).
  const left = await repository.list(`artifacts/${failed[0]!.database}/`);
  expect(left.filter((k) => k.includes(failed[0]!.id))).toEqual([]);
  expect(left.filter((k) => k.includes(earlier.id)).length).toBeGreaterThan(0);
  return failed[0]!;
}

describe('a backup that fails half way', () => {
  let source: string;
  let dir: string;

  beforeAll(async () => {
    source = await createBigDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'lb-faults-'));
  });

  afterAll(async () => {
    await dropDatabase(source);
    await rm(dir, { recursive: true, force: true });
  });

  async function fileRepoWithOneBackup(name: string) {
    const root = path.join(dir, name);
    const repository = openRepository(pathToFileURL(root).href);
    const connection = parseDatabaseUrl(databaseUrl(source));
    const earlier = await runBackup({ connection, repository });
    return {
      root,
      repository,
      connection,
      earlier: { id: earlier.id, sha: earlier.artifact.sha256, key: earlier.artifact.key },
    };
  }

  it('pg_dump killed half way: no completed record, partial file removed, earlier backup intact', async () => {
    // Prepare
    const { root, repository, connection, earlier } = await fileRepoWithOneBackup('killed');
    const kill = onceAfter(5_000_000, () => {
      execFileSync('pkill', ['-KILL', '-f', `pg_dump.*dbname=.*${source}`]);
    });

    // Act
    const attempt = runBackup({ connection, repository, onProgress: kill });

    // Assess
    await expect(attempt).rejects.toThrow(BackupFailed);
    await expect(attempt).rejects.toThrow(/pg_dump failed: killed by SIGKILL/);
    const failed = await expectOnlyEarlierBackupIntact(repository, earlier);
    expect(failed.error?.message).toMatch(/pg_dump failed/);
    const files = await readdir(root, { recursive: true });
    expect(files.filter((f) => f.includes('.partial'))).toEqual([]);
  });

  it("database connections terminated half way: the failure carries pg_dump's own message", async () => {
    // Prepare
    const { repository, connection, earlier } = await fileRepoWithOneBackup('terminated');
    const terminate = onceAfter(5_000_000, () => {
      void withAdmin((c) =>
        c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [source],
        ),
      );
    });

    // Act
    const attempt = runBackup({ connection, repository, onProgress: terminate });

    // Assess
    await expect(attempt).rejects.toThrow(
      /terminating connection due to administrator command|server closed the connection/,
    );
    const failed = await expectOnlyEarlierBackupIntact(repository, earlier);
    expect(failed.error?.name).toMatch(/PgDumpFailed|BackupFailed/);
  });

  it('interrupted (Ctrl-C): pg_dump is stopped, the attempt is recorded as failed, nothing looks complete', async () => {
    // Prepare
    const { repository, connection, earlier } = await fileRepoWithOneBackup('interrupted');
    const controller = new AbortController();

    // Act
    const attempt = runBackup({
      connection,
      repository,
      signal: controller.signal,
      onProgress: onceAfter(5_000_000, () => controller.abort()),
    });

    // Assess
    await expect(attempt).rejects.toThrow(/interrupted/);
    await expectOnlyEarlierBackupIntact(repository, earlier);
    const left = execFileSync('sh', ['-c', `pgrep -f "[p]g_dump.*dbname=.*${source}" || true`])
      .toString()
      .trim();
    expect(left).toBe('');
  });

  it('the S3 server failing half way: the multipart upload is aborted and no object appears', async () => {
    // Prepare
    const endpoint = inject('s3Endpoint');
    const bucket = await createBucket(s3Client(endpoint));
    const proxy = await startFaultyProxy(
      endpoint,
      (req) => req.method === 'PUT' && /partNumber=/.test(req.url ?? ''),
    );
    try {
      const repository = openRepository(`s3://${bucket}/faults`, { s3Client: s3Client(proxy.endpoint) });
      const connection = parseDatabaseUrl(databaseUrl(source));
      const earlierManifest = await runBackup({ connection, repository });
      const earlier = {
        id: earlierManifest.id,
        sha: earlierManifest.artifact.sha256,
        key: earlierManifest.artifact.key,
      };
      expect(proxy.requests.some((r) => r.startsWith('POST') && r.includes('uploads'))).toBe(true);

      // Act
      const attempt = runBackup({
        connection,
        repository,
        onProgress: onceAfter(15_000_000, () => {
          proxy.failing = true;
        }),
      });

      // Assess
      // s3rver does not implement AbortMultipartUpload (405); real S3 does. Either way the reason is kept.
      await expect(attempt).rejects.toThrow(/InternalError \(HTTP 500\): injected failure/);
      expect(proxy.failed).toBeGreaterThan(0);
      proxy.failing = false;
      expect(proxy.requests.filter((r) => r.startsWith('DELETE') && r.includes('uploadId='))).toHaveLength(1);
      const failed = await expectOnlyEarlierBackupIntact(repository, earlier);
      expect(failed.error?.name).toBe('RepositoryError');
    } finally {
      await proxy.close();
    }
  });

  it('an unreachable database, a missing database, a bad password and a missing bucket write nothing', async () => {
    // Prepare
    const root = path.join(dir, 'bad-input');
    const repository = openRepository(pathToFileURL(root).href);
    const good = parseDatabaseUrl(databaseUrl(source));

    // Act + Assess
    await expect(runBackup({ connection: { ...good, port: 1 }, repository })).rejects.toThrow(
      'cannot connect to PostgreSQL at 127.0.0.1:1: connection refused',
    );
    await expect(
      runBackup({ connection: { ...good, database: 'no_such_db_here' }, repository }),
    ).rejects.toThrow('database "no_such_db_here" does not exist at 127.0.0.1:5432');
    await expect(runBackup({ connection: { ...good, user: 'no_such_role' }, repository })).rejects.toThrow(
      /authentication failed for user "no_such_role"/,
    );
    const s3 = openRepository('s3://no-such-bucket-lifeboat/x', { s3Client: s3Client(inject('s3Endpoint')) });
    await expect(runBackup({ connection: good, repository: s3 })).rejects.toThrow(
      'bucket "no-such-bucket-lifeboat" does not exist',
    );
    expect(await new Catalog(repository).list()).toEqual([]);
    expect(await readdir(root).catch(() => [])).toEqual([]);
  });
});

describe('what a failed attempt leaves', () => {
  it('a dump manifest is only written after the artifact, so a started record alone never lists as completed', async () => {
    // Prepare
    const root = await mkdtemp(path.join(tmpdir(), 'lb-started-'));
    const repository = openRepository(pathToFileURL(root).href);
    const catalog = new Catalog(repository, { now: () => new Date('2026-11-23T12:00:00Z') });
    await catalog.record({
      kind: 'started',
      backupId: '20261123T110000Z-aaaaaa',
      database: 'db',
      at: '2026-11-23T11:00:00.000Z',
      backupKind: 'logical-dump',
      runner: 'test',
    });
    await catalog.record({
      kind: 'started',
      backupId: '20261120T110000Z-bbbbbb',
      database: 'db',
      at: '2026-11-20T11:00:00.000Z',
      backupKind: 'logical-dump',
      runner: 'test',
    });

    // Act
    const listed = await catalog.list();

    // Assess
    expect(listed.map((b) => [b.id, b.state])).toEqual([
      ['20261123T110000Z-aaaaaa', 'in-progress'],
      ['20261120T110000Z-bbbbbb', 'abandoned'],
    ]);
    const recordDir = path.join(root, 'catalog/db/20261123T110000Z-aaaaaa/records');
    const [recordFile] = await readdir(recordDir);
    expect(JSON.parse(await readFile(path.join(recordDir, recordFile!), 'utf8')).kind).toBe('started');
    await rm(root, { recursive: true, force: true });
  });
});
