import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import { Catalog, manifestKey } from '#core/catalog/catalog.ts';
import { artifactKeysOf } from '#core/catalog/manifest.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import type { PruneReport } from '#core/retention/prune-report.ts';
import { openRepository, type Repository, S3Repository } from '#core/repository/index.ts';
import { runVerify } from '#core/verify/verify.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';
import { createBucket, S3RVER_CREDENTIALS, s3Client } from '../support/s3.ts';

/**
 * `lifeboat prune` over repositories made by real backups of a small database (pg_dump, verified
 * by restoring into an ephemeral PostgreSQL), through the CLI as a person runs it: a directory and
 * an S3 bucket (s3rver). One database's history holds a manifest cut off mid-write.
 */

const CLI = fileURLToPath(new URL('../../bin/lifeboat.mjs', import.meta.url));
const DAY = 86_400_000;

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
}

/**
 * Six real backups of `orders` taken one a day over the last six days (the clock moved back for
 * each), the ones of 1 and 4 days ago verified; three of `billing`, one of whose manifests is
 * then cut off. Returns the ids, newest first.
 */
async function makeHistory(
  repository: Repository,
  source: string,
  corrupt: (key: string, text: string) => Promise<void>,
): Promise<{ orders: string[]; billing: string[]; corrupted: string; keys: Map<string, string[]> }> {
  const connection = parseDatabaseUrl(databaseUrl(source));
  const base = Date.now();
  const orders: string[] = [];
  const keys = new Map<string, string[]>();
  // Every form of dump: directory dumps (one object per file) on days 4 and 5, pg_dump's own gzip
  // on day 2, zstd beside pg_dump (the default) on the others.
  const forms: Record<number, Partial<Parameters<typeof runBackup>[0]>> = {
    5: { jobs: 2 },
    4: { jobs: 2 },
    2: { compression: { method: 'pg_dump-gzip', level: 6 } },
  };
  for (let d = 5; d >= 0; d--) {
    const at = () => new Date(base - d * DAY - 3600_000);
    const m = await runBackup({ connection, repository, database: 'orders', now: at, ...forms[d] });
    orders.unshift(m.id);
    keys.set(m.id, artifactKeysOf(m));
  }
  for (const id of [orders[1]!, orders[4]!]) {
    const verified = await runVerify({ repository, ref: id, database: 'orders' });
    expect(verified.passed).toBe(true);
  }
  const billing: string[] = [];
  for (let d = 2; d >= 0; d--) {
    const at = () => new Date(base - d * DAY - 3600_000);
    const m = await runBackup({ connection, repository, database: 'billing', now: at });
    billing.unshift(m.id);
    keys.set(m.id, artifactKeysOf(m));
  }
  const corrupted = billing[2]!;
  const key = manifestKey('billing', corrupted);
  const text = (await repository.read(key)).toString('utf8');
  await corrupt(key, text.slice(0, Math.floor(text.length / 3)));
  return { orders, billing, corrupted, keys };
}

async function expectStored(repository: Repository, keys: readonly string[]): Promise<void> {
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) expect(await repository.size(key), key).toBeGreaterThan(0);
}

describe.each(['file', 's3'] as const)('lifeboat prune --repo (%s repository)', (kind) => {
  let source: string;
  let dir: string;
  let repo: string;
  let repository: Repository;
  let env: NodeJS.ProcessEnv;
  let extra: string[];
  let history: Awaited<ReturnType<typeof makeHistory>>;

  beforeAll(async () => {
    source = await createDatabase('lb_prune');
    await query(
      source,
      `CREATE TABLE "Order Lines" (id int PRIMARY KEY, note text);
       INSERT INTO "Order Lines" SELECT g, md5(g::text) FROM generate_series(1, 500) g`,
    );
    dir = await mkdtemp(path.join(tmpdir(), 'lb-prune-'));
    if (kind === 'file') {
      repo = pathToFileURL(path.join(dir, 'repo')).href;
      repository = openRepository(repo);
      await repository.check({ write: true });
      env = {};
      extra = [];
      history = await makeHistory(repository, source, (key, text) =>
        writeFile(path.join(dir, 'repo', key), text),
      );
    } else {
      const client = s3Client(inject('s3Endpoint'));
      const bucket = await createBucket(client, 'lb-prune');
      repo = `s3://${bucket}/team-a`;
      repository = new S3Repository({ client, bucket, prefix: 'team-a' });
      env = {
        AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
        AWS_REGION: 'us-east-1',
      };
      extra = ['--s3-endpoint', inject('s3Endpoint')];
      history = await makeHistory(repository, source, (key, text) =>
        client
          .send(new PutObjectCommand({ Bucket: bucket, Key: `team-a/${key}`, Body: text }))
          .then(() => undefined),
      );
    }
  });

  afterAll(async () => {
    await dropDatabase(source);
    await rm(dir, { recursive: true, force: true });
  });

  it('--dry-run keeps and reports the database with a corrupt manifest, lists what would go and why, deletes nothing', async () => {
    // Act
    const human = cli(
      ['prune', '--repo', repo, ...extra, '--keep-daily', '2', '--min-verified', '1', '--dry-run'],
      env,
    );
    const json = cli(
      ['prune', '--repo', repo, ...extra, '--keep-daily', '2', '--min-verified', '1', '--dry-run', '--json'],
      env,
    );

    // Assess
    expect(human.stderr).toBe('');
    expect(human.status).toBe(1);
    expect(human.stdout).toContain('(dry run: nothing is deleted)');
    expect(human.stdout).toMatch(
      /REFUSED TO JUDGE \(everything of these databases is kept\)\n {2}billing: catalog of billing not read completely \(1 document\): not judged this run/,
    );
    expect(human.stdout).toContain(
      `catalog/billing/${history.corrupted}/manifest.json: unparseable: not JSON`,
    );
    const report = JSON.parse(json.stdout) as PruneReport;
    expect(json.status).toBe(1);
    // billing: all three kept, the corrupt one among them.
    expect(
      report.kept
        .filter((i) => i.database === 'billing')
        .map((i) => i.backupId)
        .sort(),
    ).toEqual([...history.billing].sort());
    // orders: days 0 and 1 hold the two daily slots, day 1 is also the newest verified; days 2-5
    // are older than it and in no slot... except that day 4 is verified too: with min-verified 1
    // only day 1 is guarded.
    expect(report.wouldDelete.map((i) => i.backupId).sort()).toEqual(history.orders.slice(2).sort());
    expect(
      report.wouldDelete.every((i) => i.reasons.includes('in no daily/weekly/monthly/yearly slot')),
    ).toBe(true);
    expect(report.kept.find((i) => i.backupId === history.orders[1])?.reasons).toContain(
      'newest verified (guard 1 of 1)',
    );
    expect(report.deleted).toEqual([]);
    for (const id of history.orders) await expectStored(repository, history.keys.get(id)!);
  });

  it('deletes what the policy lets go (artifact gone, a deleted record added), and never anything of billing', async () => {
    // Act
    const run = cli(
      ['prune', '--repo', repo, ...extra, '--keep-daily', '2', '--min-verified', '2', '--json'],
      env,
    );
    const again = cli(
      ['prune', '--repo', repo, ...extra, '--keep-daily', '2', '--min-verified', '2', '--json'],
      env,
    );

    // Assess: min-verified 2 also guards day 4.
    const report = JSON.parse(run.stdout) as PruneReport;
    expect(run.status).toBe(1);
    expect(report.deleted.map((i) => i.backupId).sort()).toEqual(
      [history.orders[2]!, history.orders[3]!, history.orders[5]!].sort(),
    );
    // Every object of a deleted dump goes: the directory dump of day 5 had a data file and its toc.
    expect(history.keys.get(history.orders[5]!)!.length).toBeGreaterThanOrEqual(2);
    for (const id of [history.orders[2]!, history.orders[3]!, history.orders[5]!]) {
      for (const key of history.keys.get(id)!) expect(await repository.size(key), key).toBeNull();
    }
    // Nothing of a deleted backup is left under its name: the roles beside the dump go with it.
    for (const id of [history.orders[2]!, history.orders[3]!, history.orders[5]!]) {
      expect(await repository.list(`artifacts/orders/${id}.`)).toEqual([]);
    }
    for (const id of [history.orders[0]!, history.orders[1]!, history.orders[4]!, ...history.billing]) {
      await expectStored(repository, history.keys.get(id)!);
    }
    const catalog = new Catalog(repository);
    expect((await catalog.get(history.orders[2]!, 'orders')).state).toBe('deleted');
    expect((await catalog.read({ database: 'billing' })).problems).toHaveLength(1);
    // Idempotent: the second run finds nothing more to delete.
    expect((JSON.parse(again.stdout) as PruneReport).deleted).toEqual([]);
    // `lifeboat list` shows the unreadable backup for what it is.
    const list = cli(['list', '--repo', repo, ...extra, '--database', 'billing'], env);
    expect(list.stdout).toMatch(new RegExp(`${history.corrupted} +billing +logical-dump +unreadable`));
  });
});

describe('lifeboat prune: bad options', () => {
  it('says what was expected, and touches nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-prune-args-'));
    const repo = pathToFileURL(dir).href;
    try {
      const nothingToKeep = cli(['prune', '--repo', repo, '--dry-run']);
      expect(nothingToKeep.status).toBe(2);
      expect(nothingToKeep.stderr).toMatch(/say what to keep: at least one of --keep-daily, --keep-weekly/);
      const zero = cli(['prune', '--repo', repo, '--keep-daily', '7', '--min-verified', '0']);
      expect(zero.status).toBe(2);
      expect(zero.stderr).toMatch(/--min-verified expects a whole number from 1 to 10000, got "0"/);
      const zone = cli(['prune', '--repo', repo, '--keep-daily', '7', '--time-zone', 'Mars/Base']);
      expect(zone.status).toBe(2);
      expect(zone.stderr).toMatch(/--time-zone expects an IANA time zone/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
