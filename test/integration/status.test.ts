import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog } from '#core/catalog/catalog.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository, S3Repository } from '#core/repository/index.ts';
import { runVerify } from '#core/verify/verify.ts';
import { listCommand } from '../../bin/cli/commands/list.ts';
import { statusCommand } from '../../bin/cli/commands/status.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';
import { s3Client } from '../support/s3.ts';

const CLI = fileURLToPath(new URL('../../bin/lifeboat.mjs', import.meta.url));
const HOUR = 3600_000;

describe('lifeboat status --repo', () => {
  let db: string;
  let dir: string;
  let repo: string;

  beforeAll(async () => {
    db = await createDatabase('lb_status');
    await query(db, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)');
    dir = await mkdtemp(path.join(tmpdir(), 'lb-status-'));
    repo = pathToFileURL(path.join(dir, 'repo')).href;
    const repository = openRepository(repo);
    const catalog = new Catalog(repository);

    // fresh: backed up and verified just now
    const fresh = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(db)),
      repository,
      database: 'fresh',
    });
    await runVerify({ repository, ref: fresh.id, database: 'fresh' });

    // stale: a verified backup taken 50 hours ago (the catalog documents as they would be then)
    const staleAt = new Date(Date.now() - 50 * HOUR);
    const stale: DumpManifest = {
      ...fresh,
      id: `${staleAt
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '')}-aaaaaa`,
      database: 'stale',
      startedAt: staleAt.toISOString(),
      finishedAt: new Date(staleAt.getTime() + 1000).toISOString(),
    };
    await catalog.writeManifest(stale);
    await catalog.record({
      kind: 'verification',
      backupId: stale.id,
      database: 'stale',
      at: new Date(staleAt.getTime() + HOUR).toISOString(),
      passed: true,
      method: 'ephemeral',
      checks: [],
      restoreDurationMs: 10,
      totalDurationMs: 20,
      error: null,
    });

    // unverified: backed up just now, never verified
    await runBackup({ connection: parseDatabaseUrl(databaseUrl(db)), repository, database: 'unverified' });
  });

  afterAll(async () => {
    await dropDatabase(db);
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the fresh, the stale and the unverified database each as it is, and exits 1', () => {
    // Act
    const human = spawnSync(process.execPath, [CLI, 'status', '--repo', repo], { encoding: 'utf8' });
    const json = spawnSync(process.execPath, [CLI, 'status', '--repo', repo, '--json'], { encoding: 'utf8' });

    // Assess
    expect(human.status).toBe(1);
    expect(human.stdout).toMatch(/^fresh +✓ ok /m);
    expect(human.stdout).toMatch(/^stale +✗ critical /m);
    expect(human.stdout).toMatch(/^unverified +✗ critical /m);
    expect(human.stdout).toMatch(/stale: newest backup is 50\.0 h old \(critical over 48 h\)/);
    expect(human.stdout).toMatch(/stale: newest verified backup is 50\.0 h old \(RPO target 48 h\)/);
    expect(human.stdout).toMatch(/unverified: no verified backup: nothing is proven to restore/);

    const statuses = JSON.parse(json.stdout) as Array<{
      database: string;
      health: string;
      newestVerified: unknown;
    }>;
    expect(statuses.map((s) => [s.database, s.health])).toEqual([
      ['fresh', 'ok'],
      ['stale', 'critical'],
      ['unverified', 'critical'],
    ]);
    expect(statuses.find((s) => s.database === 'unverified')?.newestVerified).toBeNull();
    expect(json.status).toBe(1);
  });

  it('exits 0 when every database named is within its targets, and 1 with a tighter target', () => {
    const ok = spawnSync(process.execPath, [CLI, 'status', '--repo', repo, '--database', 'fresh'], {
      encoding: 'utf8',
    });
    expect(ok.status).toBe(0);
    const relaxed = spawnSync(
      process.execPath,
      [
        CLI,
        'status',
        '--repo',
        repo,
        '--database',
        'stale',
        '--max-age',
        '72',
        '--warn-age',
        '60',
        '--rpo-target',
        '72',
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(relaxed.status).toBe(0);
    const warning = spawnSync(
      process.execPath,
      [CLI, 'status', '--repo', repo, '--database', 'stale', '--max-age', '72', '--rpo-target', '72'],
      {
        encoding: 'utf8',
      },
    );
    expect(warning.stdout).toMatch(/stale: newest backup is 50\.0 h old \(warning over 26 h\)/);
    expect(warning.status).toBe(1);
    const onlyCritical = spawnSync(
      process.execPath,
      [
        CLI,
        'status',
        '--repo',
        repo,
        '--database',
        'stale',
        '--max-age',
        '72',
        '--rpo-target',
        '72',
        '--fail-on',
        'critical',
      ],
      { encoding: 'utf8' },
    );
    expect(onlyCritical.status).toBe(0);
  });

  it('says what was expected for a bad option', () => {
    const bad = spawnSync(process.execPath, [CLI, 'status', '--repo', repo, '--max-age', 'soon'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--max-age expects a number of hours such as 26, got "soon"/);
  });
});

describe("lifeboat status --env (catalog in the environment's bucket, through the S3 protocol)", () => {
  const PRIMARY = 'lifeboat-dev-111111111111-eu-west-1';
  const DR = 'lifeboat-dev-111111111111-eu-central-1';
  let db: string;

  /** Runs the command with S3 clients of s3rver (or a dead endpoint for an unreachable region). */
  async function run(argv: string[], unreachable: string[] = []) {
    let out = '';
    let err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
      out += String(c);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err += String(c);
      return true;
    });
    try {
      const code = await statusCommand(argv, (region) =>
        unreachable.includes(region) ? s3Client('http://127.0.0.1:1') : s3Client(inject('s3Endpoint')),
      );
      return { code, out, err };
    } finally {
      vi.restoreAllMocks();
    }
  }

  beforeAll(async () => {
    db = await createDatabase('lb_status_env');
    await query(db, 'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1)');
    const s3 = s3Client(inject('s3Endpoint'));
    for (const bucket of [PRIMARY, DR])
      await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
    // The DR bucket is the replica: the same backup lands in both (S3 replication does that in AWS).
    for (const bucket of [PRIMARY, DR]) {
      await runBackup({
        connection: parseDatabaseUrl(databaseUrl(db)),
        repository: new S3Repository({ client: s3, bucket, prefix: '' }),
        database: 'orders',
      });
    }
  });
  afterAll(async () => dropDatabase(db));

  it("holds every configured database to the environment's thresholds, including one with no backup", async () => {
    const { code, out } = await run(['--env', 'dev', '--json']);
    const statuses = JSON.parse(out) as Array<{ database: string; health: string; problems: string[] }>;
    expect(statuses.map((s) => s.database)).toEqual(['orders']);
    expect(statuses[0]).toMatchObject({
      health: 'critical',
      problems: ['no verified backup: nothing is proven to restore'],
    });
    expect(code).toBe(1);
  });

  it('reads the DR replica when the primary region cannot be reached, and says so', async () => {
    const { out, err } = await run(['--env', 'dev', '--json'], ['eu-west-1']);
    expect(err).toMatch(
      /note: the primary region's bucket cannot be read .*; reading the DR replica in eu-central-1/,
    );
    expect((JSON.parse(out) as Array<{ newestBackup: unknown }>)[0]?.newestBackup).not.toBeNull();
  });

  it('lifeboat list --env reads the same catalog without being told the bucket; --region dr reads the replica', async () => {
    const list = async (argv: string[], unreachable: string[] = []) => {
      let out = '';
      let err = '';
      vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
        out += String(c);
        return true;
      });
      vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
        err += String(c);
        return true;
      });
      try {
        const code = await listCommand(argv, (region) =>
          unreachable.includes(region) ? s3Client('http://127.0.0.1:1') : s3Client(inject('s3Endpoint')),
        );
        return { code, out, err };
      } finally {
        vi.restoreAllMocks();
      }
    };
    const primary = await list(['--env', 'dev', '--database', 'orders']);
    expect(primary.code).toBe(0);
    expect(primary.err).toMatch(`s3://${PRIMARY}/ (eu-west-1)`);
    expect(primary.out).toMatch(
      /^ID +DATABASE +KIND +STATE +VERIFIED +STARTED +SIZE +TIER +NOTE\n\S+ +orders +logical-dump +completed/,
    );
    const dr = await list(['--env', 'dev', '--region', 'dr', '--json']);
    expect(dr.err).toBe('');
    const rows = JSON.parse(dr.out) as Array<{ database: string; storage?: { storageClass: string } }>;
    expect(rows.map((r) => r.database)).toEqual(['orders']);
    expect(rows[0]!.storage).toMatchObject({ storageClass: 'STANDARD', readable: true });
    const fallback = await list(['--env', 'dev'], ['eu-west-1']);
    expect(fallback.err).toMatch(/reading the DR replica in eu-central-1/);
    const typo = await list(['--env', 'dev', '--database', 'order']);
    expect(typo.out).toMatch(/no backups in .* for order \(configured databases: orders\)/);
  });

  it('refuses --env with --repo', async () => {
    await expect(run(['--env', 'dev', '--repo', 'file:///tmp/x'])).rejects.toThrow(
      'pass --env or --repo, not both',
    );
  });
});
