import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository } from '#core/repository/index.ts';
import { captureStatistics } from '#core/verify/stats.ts';
import { createAwkwardDatabase } from '../support/awkward.ts';
import { createDatabase, databaseUrl, dropDatabase } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

const run = promisify(execFile);
const PG_RESTORE = '/usr/lib/postgresql/15/bin/pg_restore';

/** Restores an archive with the raw pg_restore into a new database and reads its statistics. */
async function restoreAndRead(archive: string) {
  const target = await createDatabase('lb_restored');
  await run(PG_RESTORE, ['--exit-on-error', '-d', databaseUrl(target), archive]);
  const client = new pg.Client({ connectionString: databaseUrl(target) });
  await client.connect();
  try {
    return { target, stats: await captureStatistics(client) };
  } finally {
    await client.end();
  }
}

function withoutSize(m: DumpManifest) {
  const { databaseSizeBytes: _size, ...rest } = m.statistics;
  return rest;
}

describe('logical backup of an awkward database', () => {
  let source: string;
  let dir: string;
  let s3: S3Client;
  const cleanup: string[] = [];

  beforeAll(async () => {
    source = await createAwkwardDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'lb-backup-'));
    s3 = s3Client(inject('s3Endpoint'));
  });

  afterAll(async () => {
    await dropDatabase(source);
    for (const db of cleanup) await dropDatabase(db);
    await rm(dir, { recursive: true, force: true });
  });

  it('backs up to a file repository (default: zstd beside pg_dump): stored bytes hash to the manifest, `zstd -d` then stock pg_restore gives the same schema and rows', async () => {
    // Prepare
    const repository = openRepository(pathToFileURL(path.join(dir, 'repo')).href);

    // Act
    const manifest = await runBackup({ connection: parseDatabaseUrl(databaseUrl(source)), repository });

    // Assess
    const stored = path.join(dir, 'repo', manifest.artifact.key);
    const bytes = await readFile(stored);
    expect(bytes.length).toBe(manifest.artifact.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.artifact.sha256);
    expect(manifest.tool.format).toBe('custom');
    expect(manifest.artifact.compression).toEqual({ method: 'zstd', level: 2 });
    expect(manifest.artifact.key).toMatch(/\.dump\.zst$/);
    expect(manifest.source.serverVersionNum).toBeGreaterThanOrEqual(150000);
    expect(manifest.snapshotId).toMatch(/^[0-9A-F]+-[0-9A-F]+-\d+$/);

    const tables = Object.fromEntries(
      manifest.statistics.tables.map((t) => [`${t.schema}.${t.name}`, t.rowCount]),
    );
    expect(tables).toMatchObject({
      'Sales Dept.Customers': 1500,
      'Sales Dept.Order Items': 6000,
      'inventory.items': 400,
      'inventory.empty_table': 0,
      'inventory.events': null,
      'we"ird.select': 3,
      'inventory.cache': 50,
    });
    expect((tables['inventory.events_2025'] ?? 0) + (tables['inventory.events_2026'] ?? 0)).toBe(6000);
    expect(manifest.statistics.largeObjects).toBe(5);
    expect(manifest.statistics.policies.map((p) => p.name).sort()).toEqual([
      'items_all',
      'tenant_isolation',
      'tenant_write',
    ]);
    expect(manifest.statistics.extensions.map((e) => e.name)).toEqual(
      expect.arrayContaining(['citext', 'hstore', 'pg_trgm']),
    );
    expect(manifest.statistics.constraints.some((c) => c.type === 'f')).toBe(true);
    expect(manifest.statistics.functions.map((f) => f.name)).toEqual(
      expect.arrayContaining(['order_total', 'touch_search', 'restock']),
    );

    // The command the docs give to turn an artifact into what stock pg_restore reads.
    const archive = path.join(dir, 'from-file.dump');
    await run('sh', ['-c', 'zstd -d < "$1" > "$2"', 'sh', stored, archive]);
    const { target, stats } = await restoreAndRead(archive);
    cleanup.push(target);
    const { databaseSizeBytes: _s, ...restored } = stats;
    expect(restored).toEqual(withoutSize(manifest));
  });

  it("backs up to an S3 repository with pg_dump's own gzip: the object hashes to the manifest and stock pg_restore reads it as stored", async () => {
    // Prepare
    const bucket = await createBucket(s3);
    const repository = openRepository(`s3://${bucket}/team/db`, { s3Client: s3 });

    // Act
    const manifest = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      compression: { method: 'pg_dump-gzip', level: 6 },
    });

    // Assess
    expect(manifest.artifact.compression).toEqual({ method: 'pg_dump-gzip', level: 6 });
    expect(manifest.artifact.key).toMatch(/\.dump$/);
    const object = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: `team/db/${manifest.artifact.key}` }),
    );
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(manifest.artifact.sha256);
    expect(bytes.length).toBe(manifest.artifact.bytes);

    const local = path.join(dir, 'from-s3.dump');
    await import('node:fs/promises').then((fs) => fs.writeFile(local, bytes));
    const { target, stats } = await restoreAndRead(local);
    cleanup.push(target);
    const { databaseSizeBytes: _s, ...restored } = stats;
    expect(restored).toEqual(withoutSize(manifest));

    const listed = await new Catalog(repository).list();
    expect(listed.map((b) => [b.id, b.state])).toEqual([[manifest.id, 'completed']]);
  });

  it('lists backups newest first, filtered by database, with the name given by --name', async () => {
    // Prepare
    const repository = openRepository(pathToFileURL(path.join(dir, 'list-repo')).href);
    const connection = parseDatabaseUrl(databaseUrl(source));

    // Act
    const first = await runBackup({ connection, repository, database: 'orders db' });
    const second = await runBackup({ connection, repository, database: 'orders db' });
    const other = await runBackup({ connection, repository });

    // Assess
    const catalog = new Catalog(repository);
    const all = await catalog.list();
    expect(all.map((b) => b.id)).toEqual([other.id, second.id, first.id]);
    expect((await catalog.list({ database: 'orders db' })).map((b) => b.id)).toEqual([second.id, first.id]);
    expect(all.every((b) => b.state === 'completed' && b.verification === 'unverified')).toBe(true);
    expect(first.artifact.key).toBe(`artifacts/orders%20db/${first.id}.dump.zst`);
  });
});
