import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { materialize } from '#core/dumps/archive.ts';
import { type Compression, formatCompression } from '#core/dumps/compression.ts';
import { fileListDigest } from '#core/dumps/dump-directory.ts';
import { BackupFailed, RepositoryError } from '#core/shared/errors.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository, type Repository } from '#core/repository/index.ts';
import { runRestore } from '#core/restore/restore.ts';
import { runVerify } from '#core/verify/verify.ts';
import { startFaultyProxy } from '../support/faulty-s3-proxy.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

const run = promisify(execFile);

/** Two tables of a few MB each (so a directory dump has two data files), partly compressible. */
async function createSource(): Promise<string> {
  const name = await createDatabase('lb_forms');
  await query(
    name,
    `CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL);
     INSERT INTO orders SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 60000) g;
     CREATE TABLE blobs (id int PRIMARY KEY, payload bytea NOT NULL);
     INSERT INTO blobs SELECT g, decode(md5(g::text) || md5((g + 1)::text), 'hex') FROM generate_series(1, 60000) g;`,
  );
  return name;
}

async function sha256(repository: Repository, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await repository.readStream(key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('every dump form backs up, verifies and restores', () => {
  let source: string;
  let dir: string;
  const dropLater: string[] = [];

  beforeAll(async () => {
    source = await createSource();
    dir = await mkdtemp(path.join(tmpdir(), 'lb-forms-'));
  });

  afterAll(async () => {
    await dropDatabase(source);
    for (const db of dropLater) await dropDatabase(db);
    await rm(dir, { recursive: true, force: true });
  });

  const forms: Array<[Compression, string]> = [
    [{ method: 'zstd', level: 3 }, '.dump.zst'],
    [{ method: 'gzip', level: 1 }, '.dump.gz'],
    [{ method: 'none', level: 0 }, '.dump'],
    [{ method: 'pg_dump-gzip', level: 1 }, '.dump'],
  ];
  for (const [compression, ending] of forms) {
    it(`${compression.method}:${compression.level} — the manifest says the form, verify passes`, async () => {
      // Prepare
      const repository = openRepository(pathToFileURL(path.join(dir, compression.method)).href);

      // Act
      const manifest = await runBackup({
        connection: parseDatabaseUrl(databaseUrl(source)),
        repository,
        compression,
      });
      const report = await runVerify({ repository, ref: manifest.id });

      // Assess
      expect(manifest.artifact.compression).toEqual(compression);
      expect(manifest.artifact.key.endsWith(ending)).toBe(true);
      expect(await sha256(repository, manifest.artifact.key)).toBe(manifest.artifact.sha256);
      expect(report.checks.filter((c) => !c.passed)).toEqual([]);
      expect(report.checks.find((c) => c.name === 'tables')?.detail).toMatch(/120,000 rows/);
    });
  }

  it('the gzip form is what stock tools read after `gunzip`; a 1.1 manifest without the field still verifies', async () => {
    // Prepare
    const repository = openRepository(pathToFileURL(path.join(dir, 'old')).href);
    const manifest = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      compression: { method: 'pg_dump-gzip', level: 6 },
    });
    // Rewrite the manifest as a version before compression was recorded.
    const file = path.join(dir, 'old', 'catalog', manifest.database, manifest.id, 'manifest.json');
    const doc = JSON.parse(await readFile(file, 'utf8'));
    delete doc.artifact.compression;
    doc.schemaMinor = 1;
    await writeFile(file, JSON.stringify(doc));

    // Act
    const report = await runVerify({ repository, ref: manifest.id });
    const gz = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      compression: { method: 'gzip', level: 1 },
    });
    const archive = path.join(dir, 'from-gzip.dump');
    await run('sh', ['-c', 'gunzip < "$1" > "$2"', 'sh', path.join(dir, 'old', gz.artifact.key), archive]);
    const { stdout } = await run('/usr/lib/postgresql/15/bin/pg_restore', ['--list', archive]);

    // Assess
    expect((await new Catalog(repository).get(manifest.id)).manifest).not.toHaveProperty(
      'artifact.compression',
    );
    expect(report.passed).toBe(true);
    expect(stdout).toMatch(/TABLE DATA public blobs/);
  });

  it("pg_dump's lz4/zstd on a pg_dump older than 16: refused before anything is written, naming the setting", async () => {
    // Prepare
    const root = path.join(dir, 'refused');
    const repository = openRepository(pathToFileURL(root).href);

    // Act
    const attempt = runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      compression: { method: 'pg_dump-zstd', level: 3 },
    });

    // Assess
    await expect(attempt).rejects.toThrow(
      /compression pg_dump-zstd:3 needs pg_dump 16 or newer; the pg_dump for this server is 15/,
    );
    expect(await new Catalog(repository).list()).toEqual([]);
  });

  it('a read of the artifact that fails half way fails verify and restore naming the key, in every form, and leaves no temporary files', async () => {
    const backups: DumpManifest[] = [];
    const repository = openRepository(pathToFileURL(path.join(dir, 'cut')).href);
    for (const compression of [
      { method: 'zstd', level: 2 },
      { method: 'gzip', level: 1 },
      { method: 'none', level: 0 },
    ] as const) {
      backups.push(
        await runBackup({ connection: parseDatabaseUrl(databaseUrl(source)), repository, compression }),
      );
    }
    backups.push(
      await runBackup({
        connection: parseDatabaseUrl(databaseUrl(source)),
        repository,
        jobs: 2,
        workDir: dir,
      }),
    );
    // The repository as S3 serves it (no local path), its artifacts' bodies cut after 64 KiB by a
    // connection reset; everything else (the catalog, the roles) reads whole.
    const cut: Repository = Object.create(repository, {
      localPath: { value: undefined },
      readStream: {
        value: async (key: string) => {
          const body = await repository.readStream(key);
          if (!key.startsWith('artifacts/')) return body;
          let seen = 0;
          const reset = new Transform({
            transform(chunk: Buffer, _enc, cb) {
              seen += chunk.length;
              if (seen > 64 * 1024) cb(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
              else cb(null, chunk);
            },
          });
          body.pipe(reset);
          return reset;
        },
      },
    });
    const work = await mkdtemp(path.join(dir, 'work-'));

    for (const manifest of backups) {
      const attempt = materialize(cut, manifest, work);
      await expect(
        attempt,
        `${formatCompression(manifest.artifact.compression!)} ${manifest.tool.format}`,
      ).rejects.toThrow(/reading artifacts\/.+ failed half way: read ECONNRESET/);
      await expect(attempt).rejects.toBeInstanceOf(RepositoryError);
    }
    const verify = runVerify({ repository: cut, ref: backups[0]!.id, workDir: work });
    await expect(verify).rejects.toThrow(/failed half way: read ECONNRESET/);
    const target = await createDatabase('lb_forms_cut');
    dropLater.push(target);
    const restore = runRestore({
      repository: cut,
      ref: backups[0]!.id,
      target: parseDatabaseUrl(databaseUrl(target)),
      workDir: work,
    });
    await expect(restore).rejects.toThrow(/failed half way: read ECONNRESET/);
    expect(
      await query(target, `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`),
    ).toEqual([{ n: 0 }]);

    expect(await readdir(work)).toEqual([]);
  });

  it('a damaged zstd artifact fails the checksum check (not only decompression), and restore refuses it', async () => {
    // Prepare
    const root = path.join(dir, 'damaged');
    const repository = openRepository(pathToFileURL(root).href);
    const manifest = await runBackup({ connection: parseDatabaseUrl(databaseUrl(source)), repository });
    const file = path.join(root, manifest.artifact.key);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await writeFile(file, bytes);
    const target = await createDatabase('lb_forms_target');
    dropLater.push(target);

    // Act
    const report = await runVerify({ repository, ref: manifest.id });
    const restore = runRestore({
      repository,
      ref: manifest.id,
      target: parseDatabaseUrl(databaseUrl(target)),
      workDir: dir,
    });

    // Assess
    expect(report.passed).toBe(false);
    expect(report.checks[0]).toMatchObject({ name: 'checksum', passed: false });
    expect(report.checks[0]!.detail).toMatch(/differs from the manifest/);
    await expect(restore).rejects.toThrow(/is damaged, nothing was restored/);
  });
});

describe('directory dumps (pg_dump -Fd -j N) stored file by file', () => {
  let source: string;
  let dir: string;
  const dropLater: string[] = [];

  beforeAll(async () => {
    source = await createSource();
    dir = await mkdtemp(path.join(tmpdir(), 'lb-dirdump-'));
  });

  afterAll(async () => {
    await dropDatabase(source);
    for (const db of dropLater) await dropDatabase(db);
    await rm(dir, { recursive: true, force: true });
  });

  it('to S3: one manifest lists every file and its SHA-256; the catalog shows one backup; verify and restore run pg_restore -j2', async () => {
    // Prepare
    const s3 = s3Client(inject('s3Endpoint'));
    const repository = openRepository(`s3://${await createBucket(s3)}/dir`, { s3Client: s3 });
    const target = await createDatabase('lb_dir_target');
    dropLater.push(target);

    // Act
    const manifest = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      jobs: 2,
    });
    const verify = await runVerify({ repository, ref: manifest.id, jobs: 2 });
    const restore = await runRestore({
      repository,
      ref: manifest.id,
      target: parseDatabaseUrl(databaseUrl(target)),
      jobs: 2,
      workDir: dir,
    });

    // Assess
    expect(manifest.tool).toMatchObject({ format: 'directory', jobs: 2 });
    const files = manifest.artifact.files!;
    expect(files.map((f) => f.name).sort()).toEqual([
      expect.stringMatching(/^\d+\.dat$/),
      expect.stringMatching(/^\d+\.dat$/),
      'toc.dat',
    ]);
    for (const f of files) {
      expect(f.key).toBe(`${manifest.artifact.key}${f.name}.zst`);
      expect(await sha256(repository, f.key)).toBe(f.sha256);
    }
    expect(manifest.artifact.sha256).toBe(fileListDigest(files));
    expect(manifest.artifact.bytes).toBe(files.reduce((n, f) => n + f.bytes, 0));
    const listed = await new Catalog(repository).list();
    expect(listed.map((b) => [b.id, b.state, b.bytes])).toEqual([
      [manifest.id, 'completed', manifest.artifact.bytes],
    ]);
    expect(verify.checks.filter((c) => !c.passed)).toEqual([]);
    expect(verify.checks.find((c) => c.name === 'restore')?.detail).toMatch(/pg_restore -j2/);
    expect(restore.passed).toBe(true);
    expect(restore.checks.find((c) => c.name === 'tables')?.detail).toMatch(/120,000 rows/);
  });

  it('the S3 server failing half way: no manifest, none of its files left, the earlier backup untouched', async () => {
    // Prepare
    const endpoint = inject('s3Endpoint');
    const bucket = await createBucket(s3Client(endpoint));
    const proxy = await startFaultyProxy(
      endpoint,
      (req) => req.method === 'PUT' && /\.dir\//.test(req.url ?? ''),
    );
    try {
      const repository = openRepository(`s3://${bucket}/faults`, { s3Client: s3Client(proxy.endpoint) });
      const connection = parseDatabaseUrl(databaseUrl(source));
      const earlier = await runBackup({ connection, repository, jobs: 2 });
      const earlierHashes = await Promise.all(earlier.artifact.files!.map((f) => sha256(repository, f.key)));

      // Act: the first file is stored, then the server fails.
      const attempt = runBackup({
        connection,
        repository,
        jobs: 2,
        onProgress: () => {
          proxy.failing = true;
        },
      });

      // Assess
      await expect(attempt).rejects.toThrow(BackupFailed);
      await expect(attempt).rejects.toThrow(/injected failure/);
      proxy.failing = false;
      expect(proxy.failed).toBeGreaterThan(0);
      const backups = await new Catalog(repository).list();
      expect(backups.filter((b) => b.state === 'completed').map((b) => b.id)).toEqual([earlier.id]);
      const failed = backups.find((b) => b.state === 'failed')!;
      expect(failed.manifest).toBeNull();
      const keys = await repository.list('artifacts/');
      expect(keys.filter((k) => k.includes(failed.id))).toEqual([]);
      expect(await Promise.all(earlier.artifact.files!.map((f) => sha256(repository, f.key)))).toEqual(
        earlierHashes,
      );
    } finally {
      await proxy.close();
    }
  });
});
