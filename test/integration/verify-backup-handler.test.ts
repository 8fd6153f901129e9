import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import { silentLogger } from '#core/shared/logger.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { verifyBackup } from '../../functions/verify-backup/index.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

describe('verify-backup handler (real PostgreSQL, ephemeral cluster and S3 protocol)', () => {
  let db: string;
  let bucket: string;
  let work: string;
  const s3 = () => s3Client(inject('s3Endpoint'));
  const repository = () => new S3Repository({ client: s3(), bucket, prefix: 'prod' });
  const deps = () => ({
    s3: s3(),
    logger: silentLogger,
    env: { LIFEBOAT_BUCKET: bucket, LIFEBOAT_PREFIX: 'prod', LIFEBOAT_WORK_DIR: work },
  });

  beforeAll(async () => {
    db = await createDatabase('lb_vb');
    await query(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g',
    );
    bucket = await createBucket(s3());
    work = await mkdtemp(path.join(tmpdir(), 'lb-vb-'));
    await chmod(work, 0o755);
    await runBackup({
      connection: parseDatabaseUrl(databaseUrl(db)),
      repository: repository(),
      database: 'orders',
    });
  });
  afterAll(async () => {
    await dropDatabase(db);
    await rm(work, { recursive: true, force: true });
  });

  it('verifies the latest backup of a database and records the outcome in the bucket', async () => {
    // Act
    const result = await verifyBackup({ database: 'orders' }, deps());

    // Assess
    expect(result.passed).toBe(true);
    expect(result.checks.map((c) => c.name)).toContain('amcheck');
    expect(result.recordKey).toMatch(/^catalog\/orders\/.*\/records\/.*-verification-/);
    const [summary] = await new Catalog(repository()).list({ database: 'orders' });
    expect(summary?.verification).toBe('verified');
    expect(await readdir(work)).toEqual([]);
  });

  it('names the bad field of an event, and an unknown backup', async () => {
    await expect(verifyBackup({ database: 'orders', backupId: 'yesterday' }, deps())).rejects.toThrow(
      'verify-backup event: backupId: a backup id or "latest"',
    );
    await expect(
      verifyBackup({ database: 'orders', backupId: '20200101T000000Z-abcdef' }, deps()),
    ).rejects.toThrow(/no backup 20200101T000000Z-abcdef of database "orders"/);
    await expect(verifyBackup({ database: 'nothing' }, deps())).rejects.toThrow(
      /no completed backups of "nothing"/,
    );
  });
});
