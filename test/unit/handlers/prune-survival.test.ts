import 'aws-sdk-client-mock-vitest/extend';
import {
  type DBSnapshot,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeAccountAttributesCommand,
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { artifactKey, Catalog, manifestKey } from '../../../functions/core/catalog/catalog.ts';
import { PRUNE_REASON } from '../../../functions/core/retention/prune-report.ts';
import type { FileRepository } from '../../../functions/core/repository/file.ts';
import { runPrune } from '../../../functions/prune/index.ts';
import {
  catalogSnapshot,
  copyOf,
  DR,
  dump,
  dumpManifest,
  NOW,
  PRIMARY,
  policy,
  pruneEnv,
  snap,
  snapshotId,
  verificationRecord,
} from './prune-world.ts';
import { awsError, spyLogger, tempRepository } from './support.ts';

/**
 * What prune must never delete, case by case: each of these deleted real backups before prune
 * identified a series by its source, read the catalog strictly, and failed closed.
 */

const primary = new RDSClient({ region: PRIMARY });
const dr = new RDSClient({ region: DR });
const primaryMock = mockClient(primary);
const drMock = mockClient(dr);

let repository: FileRepository;
let cleanup: () => Promise<void>;
let logger: ReturnType<typeof spyLogger>;
let catalog: Catalog;

const run = (input: unknown = {}, environment: NodeJS.ProcessEnv = pruneEnv()) =>
  runPrune(input, {
    primary,
    drClient: () => dr,
    s3: new S3Client({}),
    logger,
    env: environment,
    repository,
    now: () => NOW,
  });

const deleted = (mock: typeof primaryMock = primaryMock) =>
  mock
    .commandCalls(DeleteDBSnapshotCommand)
    .map((c) => c.args[0].input.DBSnapshotIdentifier!)
    .sort();
const ids = (snapshots: DBSnapshot[]) => snapshots.map((s) => s.DBSnapshotIdentifier!).sort();
const deletedRecordKeys = async () =>
  (await repository.list('catalog/')).filter((k) => k.includes('-deleted-'));

beforeEach(async () => {
  primaryMock.reset();
  drMock.reset();
  ({ repository, cleanup } = await tempRepository());
  catalog = new Catalog(repository, { now: () => NOW });
  logger = spyLogger();
  for (const m of [primaryMock, drMock]) {
    m.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
    m.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [] });
    m.on(DescribeDBSnapshotAttributesCommand).resolves({
      DBSnapshotAttributesResult: {
        DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: [] }],
      },
    });
    m.on(DescribeDBClusterSnapshotAttributesCommand).resolves({
      DBClusterSnapshotAttributesResult: {
        DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: [] }],
      },
    });
    m.on(DeleteDBSnapshotCommand).resolves({});
    m.on(DeleteDBClusterSnapshotCommand).resolves({});
    m.on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [] });
  }
});

afterEach(async () => {
  await cleanup();
});

describe('two databases under one catalog name', () => {
  it('a second instance tagged with the same name never takes the slots of the first: each source is its own series', async () => {
    // Prepare: the configured orders (orders-db), 8 daily snapshots, the newest verified; an
    // instance "orders" tagged lifeboat:database=orders, snapshotted half an hour later each day.
    const real = [0, 1, 2, 3, 4, 5, 6, 7].map((d) => snap(d));
    const other = [0, 1, 2, 3, 4, 5, 6, 7].map((d) => snap(d, { source: 'orders', minute: 30 }));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [...real, ...other] });
    await catalogSnapshot(catalog, real[0]!, [true]);
    await catalogSnapshot(catalog, other[0]!, [true]);

    // Act
    const report = await run();

    // Assess: per series, days 0-2 hold the 3 daily slots; days 3-7 of each go.
    expect(deleted()).toEqual([...ids(real.slice(3)), ...ids(other.slice(3))].sort());
    const series = new Set(report.kept.map((i) => i.series));
    expect(series).toEqual(
      new Set([
        'snapshot in eu-west-1 of orders-db (db-ORDERSDB)',
        'snapshot in eu-west-1 of orders (db-ORDERS)',
      ]),
    );
    expect(report.conflicts).toEqual([
      expect.objectContaining({
        database: 'orders',
        sources: ['orders (db-ORDERS)', 'orders-db (db-ORDERSDB)'],
      }),
    ]);
  });

  it('a restore test cataloged for another source of the same name and slot never vouches for a snapshot', async () => {
    // Prepare: the catalog entry of today's slot holds the other instance's manifest and its passed test.
    const real = [0, 1, 2, 3, 4, 5].map((d) => snap(d));
    const other = snap(0, { source: 'orders' });
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [...real, other] });
    await catalogSnapshot(catalog, other, [true]);

    // Act
    const report = await run();

    // Assess: whose test it was cannot be told, so neither snapshot of that slot counts (both are
    // kept), and orders-db has no verified snapshot of its own: everything of it is kept.
    expect(deleted()).toEqual([]);
    const reasons = (s: DBSnapshot) =>
      report.kept.find((i) => i.resource === s.DBSnapshotIdentifier)?.reasons;
    expect(reasons(real[0]!)).toEqual([PRUNE_REASON.ambiguousTest]);
    expect(reasons(other)).toEqual([PRUNE_REASON.ambiguousTest]);
    expect(reasons(real[5]!)).toEqual([
      'no verified snapshot in eu-west-1 of orders-db (db-ORDERSDB): keeping everything (safety first)',
    ]);
  });
});

describe('a catalog document that cannot be read', () => {
  it('a manifest that does not parse keeps every backup of its database, and says so', async () => {
    // Prepare: 10 verified monthly dumps; the newest one's manifest is cut off mid-write.
    const dumps = [];
    for (let m = 0; m < 10; m++) dumps.push(await dump(catalog, repository, m * 30, [true]));
    await repository.putOnce(
      `catalog/orders/${dumpManifest(400).id}/manifest.json`,
      '{"schemaVersion": 1, "kind": "logi',
    );
    await catalog.record({
      kind: 'started',
      backupId: dumpManifest(400).id,
      database: 'orders',
      at: dumpManifest(400).startedAt,
      backupKind: 'logical-dump',
      runner: 'test',
    });

    // Act
    const report = await run();

    // Assess
    expect(await deletedRecordKeys()).toEqual([]);
    for (const id of dumps) expect(await repository.size(artifactKey('orders', id))).toBe(18);
    expect(report.refused).toEqual([
      expect.objectContaining({
        database: 'orders',
        problems: [
          expect.objectContaining({
            key: `catalog/orders/${dumpManifest(400).id}/manifest.json`,
            problem: 'unparseable',
          }),
        ],
      }),
    ]);
    expect(report.deleted).toEqual([]);
    expect(report.wouldDelete).toEqual([]);
  });

  it('manifests of a newer major schema version stop pruning of their database; newer minor versions are read', async () => {
    // Prepare: "orders" has 8 dumps written by a future major version; "billing" 8 dumps of a newer
    // minor version with a field this version does not know.
    for (let d = 0; d < 8; d++) {
      const m = dumpManifest(d * 31, 'orders');
      await repository.putOnce(manifestKey('orders', m.id), JSON.stringify({ ...m, schemaVersion: 2 }));
      await catalog.record({
        ...verificationRecord('orders', m.id, true, m.finishedAt),
        method: 'ephemeral',
      });
      const b = dumpManifest(d * 31, 'billing');
      await repository.putOnce(
        manifestKey('billing', b.id),
        JSON.stringify({ ...b, schemaMinor: 4, encryptionContext: { team: 'payments' } }),
      );
      await catalog.record({
        ...verificationRecord('billing', b.id, true, b.finishedAt),
        method: 'ephemeral',
      });
    }

    // Act
    const report = await run({ dryRun: true }, pruneEnv({ orders: policy, billing: policy }));

    // Assess
    expect(report.wouldDelete.filter((i) => i.database === 'orders')).toEqual([]);
    expect(report.refused.map((r) => r.database)).toEqual(['orders']);
    expect(report.refused[0]!.problems).toHaveLength(8);
    expect(report.refused[0]!.problems[0]).toMatchObject({ problem: 'unknown-schema' });
    expect(report.wouldDelete.filter((i) => i.database === 'billing')).toHaveLength(5);
  });

  it('an unreadable verification record of one of the newest verified backups keeps its database whole', async () => {
    // Prepare: 6 dumps all verified; the newest's passed test is a corrupt document.
    for (let d = 1; d < 6; d++) await dump(catalog, repository, d, [true]);
    const newest = await dump(catalog, repository, 0);
    await repository.putOnce(
      `catalog/orders/${newest}/records/20261123T050000Z-verification-0000.json`,
      '{"kind":"verification","passed":tru',
    );

    // Act
    const report = await run({}, pruneEnv({ orders: { ...policy, daily: 1, minVerified: 2 } }));

    // Assess
    expect(report.deleted).toEqual([]);
    expect(report.refused.map((r) => r.database)).toEqual(['orders']);
  });

  it('a lost failure record never leaves a stale pass in charge', async () => {
    // Prepare: the newest snapshot passed a test, then failed one whose record is unreadable.
    const history = [0, 1, 2, 3, 4, 5].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    const newest = await catalogSnapshot(catalog, history[0]!, [true]);
    await repository.putOnce(
      `catalog/orders/${newest}/records/20261123T060000Z-verification-ffff.json`,
      'garbage',
    );

    // Act
    const report = await run();

    // Assess
    expect(deleted()).toEqual([]);
    expect(report.refused).toEqual([
      expect.objectContaining({
        database: 'orders',
        problems: [expect.objectContaining({ backupId: newest, problem: 'unparseable' })],
      }),
    ]);
    expect(report.kept.every((i) => i.reasons[0]!.startsWith('catalog of orders not read completely'))).toBe(
      true,
    );
  });
});

describe('a backup dated in the future', () => {
  it('is kept and never counted: it holds no slot and is not the newest verified', async () => {
    // Prepare: a verified snapshot whose slot is three days ahead (a clock that was wrong), and a
    // normal daily history with day 0 verified.
    const history = [0, 1, 2, 3, 4, 5, 6].map((d) => snap(d));
    const future = snap(-3);
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [future, ...history] });
    await catalogSnapshot(catalog, future, [true]);
    await catalogSnapshot(catalog, history[0]!, [true]);

    // Act
    const report = await run({}, pruneEnv({ orders: { ...policy, minVerified: 1 } }));

    // Assess: days 0-2 hold the daily slots; the future one is kept.
    expect(deleted()).toEqual(ids(history.slice(3)));
    expect(report.kept.find((i) => i.resource === future.DBSnapshotIdentifier)?.reasons).toEqual([
      'taken after now (clock skew?): kept and not counted',
    ]);
  });
});

describe('guards that depend on a listing fail closed', () => {
  it('when the DR region cannot be listed, no source snapshot is deleted (its copy may be in flight)', async () => {
    // Prepare
    const history = [0, 1, 2, 3, 4, 5].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    drMock.on(DescribeDBSnapshotsCommand).rejects(awsError('ServiceUnavailable', 'try later'));
    await catalogSnapshot(catalog, history[0]!, [true]);

    // Act
    const report = await run();

    // Assess
    expect(deleted()).toEqual([]);
    expect(report.kept.find((i) => i.resource === history[5]!.DBSnapshotIdentifier)?.reasons).toEqual([
      `instance snapshots of ${DR} could not be listed: not judged this run`,
    ]);
    expect(report.errors).toEqual([expect.objectContaining({ region: DR })]);
  });

  it('a repeating pagination marker ends the listing as a failure, not an endless loop', async () => {
    // Prepare: RDS answers every page with the same marker.
    const history = [0, 1, 2, 3, 4, 5].map((d) => snap(d));
    let pages = 0;
    primaryMock.on(DescribeDBSnapshotsCommand).callsFake(() => {
      pages++;
      if (pages > 50) throw awsError('TestGuard', 'the listing did not stop');
      return { DBSnapshots: history, Marker: 'same-marker' };
    });
    await catalogSnapshot(catalog, history[0]!, [true]);

    // Act
    const report = await run();

    // Assess
    expect(pages).toBeLessThanOrEqual(3);
    expect(deleted()).toEqual([]);
    expect(report.errors).toEqual([
      expect.objectContaining({
        region: PRIMARY,
        error: expect.objectContaining({ message: expect.stringMatching(/marker .* repeated/) }),
      }),
    ]);
  });

  it('a snapshot shared with another account is never deleted, nor one whose sharing cannot be read', async () => {
    // Prepare
    const history = [0, 1, 2, 3, 4, 5].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    primaryMock
      .on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: history[3]!.DBSnapshotIdentifier })
      .resolves({
        DBSnapshotAttributesResult: {
          DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: ['210987654321'] }],
        },
      })
      .on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: history[4]!.DBSnapshotIdentifier })
      .resolves({
        DBSnapshotAttributesResult: {
          DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: ['all'] }],
        },
      })
      .on(DescribeDBSnapshotAttributesCommand, { DBSnapshotIdentifier: history[5]!.DBSnapshotIdentifier })
      .rejects(awsError('Throttling'));
    await catalogSnapshot(catalog, history[0]!, [true]);

    // Act
    const report = await run();

    // Assess
    expect(deleted()).toEqual([]);
    const reasons = (i: number) =>
      report.kept.find((k) => k.resource === history[i]!.DBSnapshotIdentifier)?.reasons;
    expect(reasons(3)).toEqual(['shared with other accounts (210987654321): not deleted']);
    expect(reasons(4)).toEqual(['shared with other accounts (all): not deleted']);
    expect(reasons(5)?.[0]).toMatch(/^sharing could not be read: not deleted/);
  });
});

describe('one bad snapshot never aborts the run', () => {
  it("a person's same-region copy with copied tags is left alone, and every database is still pruned", async () => {
    // Prepare: billing sorts first; orders has a hand-made copy of today's snapshot, tags and all.
    const billing = [0, 1, 2, 3, 4].map((d) => snap(d, { database: 'billing', source: 'billing-db' }));
    const orders = [0, 1, 2, 3, 4].map((d) => snap(d));
    const manual = { ...orders[0]!, DBSnapshotIdentifier: 'orders-before-migration' };
    manual.DBSnapshotArn = `arn:aws:rds:${PRIMARY}:123456789012:snapshot:orders-before-migration`;
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [...billing, ...orders, manual] });
    await catalogSnapshot(catalog, billing[0]!, [true]);
    await catalogSnapshot(catalog, orders[0]!, [true]);

    // Act
    const report = await run({}, pruneEnv({ orders: policy, billing: policy }));

    // Assess
    expect(deleted()).toEqual([...ids(billing.slice(3)), ...ids(orders.slice(3))].sort());
    expect(report.ignored).toEqual([
      expect.objectContaining({
        resource: 'orders-before-migration',
        reason: expect.stringMatching(/not a name lifeboat gives/),
      }),
    ]);
  });

  it('a database named "constructor" (or "__proto__") without a policy is left alone and the others are pruned', async () => {
    // Prepare
    const strange = [0, 1, 2, 3, 4].flatMap((d) => [
      snap(d, { database: 'constructor', source: 'c-db' }),
      snap(d, { database: '__proto__', source: 'p-db' }),
    ]);
    const orders = [0, 1, 2, 3, 4].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [...strange, ...orders] });
    await catalogSnapshot(catalog, orders[0]!, [true]);

    // Act
    const report = await run();

    // Assess
    expect(deleted()).toEqual(ids(orders.slice(3)));
    expect(
      report.kept
        .filter((i) => i.database === 'constructor' || i.database === '__proto__')
        .map((i) => i.reasons),
    ).toEqual(Array(10).fill(['no retention policy for this database: untouched']));
  });

  it('snapshots that are not manual, or not named or tagged by lifeboat, are never judged', async () => {
    // Prepare: the server filter asked for manual snapshots; these came back anyway.
    const history = [0, 1, 2, 3, 4].map((d) => snap(d));
    const automated = snap(6, { snapshotType: 'automated', identifier: 'rds:orders-db-2026-11-17-03-00' });
    const awsBackup = snap(7, { snapshotType: 'awsbackup' });
    const renamed = snap(8, { identifier: 'lifeboat-orders-db-keep-forever' });
    primaryMock
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [...history, automated, awsBackup, renamed] });
    await catalogSnapshot(catalog, history[0]!, [true]);

    // Act
    const report = await run();

    // Assess
    expect(deleted()).toEqual(ids(history.slice(3)));
    expect(report.ignored.map((i) => i.resource).sort()).toEqual(
      [automated.DBSnapshotIdentifier, awsBackup.DBSnapshotIdentifier, renamed.DBSnapshotIdentifier].sort(),
    );
  });

  it("a DR copy's own failed restore test is not overridden by its source's pass", async () => {
    // Prepare: DR copies of 6 days; the newest copy failed its own test, its source passed.
    const sources = [0, 1, 2, 3, 4, 5].map((d) => snap(d));
    const copies = sources.map((s) => copyOf(s));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: sources });
    drMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: copies });
    await catalogSnapshot(catalog, sources[0]!, [true]);
    await catalogSnapshot(catalog, copies[0]!, [false], sources[0]!.DBSnapshotArn!);
    await catalogSnapshot(catalog, sources[2]!, [true]);

    // Act
    const report = await run({}, pruneEnv({ orders: { ...policy, daily: 1 } }));

    // Assess: in the DR series the newest verified copy is day 2's (vouched for by its source), so
    // days 0 and 1 are newer than it and kept; days 3-5 go.
    expect(deleted(drMock)).toEqual(ids(copies.slice(3)));
    expect(report.kept.find((i) => i.backupId === snapshotId(2, DR))?.reasons).toContain(
      'newest verified (guard 1 of 1)',
    );
  });

  it('a dump running for more than 24 hours never gets a deleted record', async () => {
    // Prepare: a large dump started 30 hours ago and still running; verified dumps before and after.
    for (const d of [0, 2, 3, 4, 5]) await dump(catalog, repository, d, [true]);
    const running = dumpManifest(1, 'orders', 'long');
    const startedAt = new Date(NOW.getTime() - 30 * 3600_000).toISOString();
    await catalog.record({
      kind: 'started',
      backupId: running.id,
      database: 'orders',
      at: startedAt,
      backupKind: 'logical-dump',
      runner: 'fargate',
    });

    // Act
    const report = await run();

    // Assess
    const records = await deletedRecordKeys();
    expect(records.some((k) => k.includes(running.id))).toBe(false);
    expect(report.deleted.map((i) => i.backupId)).not.toContain(running.id);
    // When it finishes, it is a completed dump like any other.
    await catalog.writeManifest({ ...running, startedAt, finishedAt: NOW.toISOString() });
    expect((await catalog.get(running.id, 'orders')).state).toBe('completed');
  });
});

describe('deletion caps across all databases', () => {
  it('deletes at most the per-run cap of the environment, oldest first across databases', async () => {
    // Prepare: 3 databases, each with 10 snapshots past their 3 daily slots.
    const all: DBSnapshot[] = [];
    for (const db of ['a', 'b', 'c']) {
      const history = Array.from({ length: 13 }, (_, d) => snap(d, { database: db, source: `${db}-db` }));
      all.push(...history);
      await catalogSnapshot(catalog, history[0]!, [true]);
    }
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: all });

    // Act
    const report = await run(
      {},
      pruneEnv({ a: policy, b: policy, c: policy }, { LIFEBOAT_MAX_DELETIONS_PER_RUN: '12' }),
    );

    // Assess: the 12 oldest: days 12-9 of each database.
    expect(deleted()).toHaveLength(12);
    expect(report.deleted.every((i) => Date.parse(i.takenAt) <= Date.UTC(2026, 10, 14, 3))).toBe(true);
    expect(
      report.kept.filter((i) => i.reasons[0] === 'environment deletion cap reached (max 12 per run)'),
    ).toHaveLength(18);
  });

  it('counts what was already deleted in the last 24 hours against the per-day cap', async () => {
    // Prepare: 10 snapshots deleted two hours ago (a run earlier today); 10 more candidates now.
    const history = Array.from({ length: 13 }, (_, d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    await catalogSnapshot(catalog, history[0]!, [true]);
    for (let d = 20; d < 30; d++) {
      await catalog.record({
        kind: 'deleted',
        backupId: await catalogSnapshot(catalog, snap(d)),
        database: 'orders',
        at: new Date(NOW.getTime() - 2 * 3600_000).toISOString(),
        reason: 'in no daily/weekly/monthly/yearly slot',
      });
    }

    // Act
    const report = await run({}, pruneEnv({ orders: policy }, { LIFEBOAT_MAX_DELETIONS_PER_DAY: '14' }));

    // Assess
    expect(deleted()).toHaveLength(4);
    expect(
      report.kept.filter((i) => i.reasons[0] === 'environment deletion cap reached (max 14 per day)'),
    ).toHaveLength(6);
  });
});

describe('what prune writes', () => {
  it('records a deletion as a new catalog document and never removes a catalog document', async () => {
    // Prepare
    for (let d = 0; d < 6; d++) await dump(catalog, repository, d, [true]);
    const removed: string[] = [];
    const remove = repository.remove.bind(repository);
    repository.remove = async (key: string) => {
      removed.push(key);
      await remove(key);
    };
    const before = await repository.list('catalog/');

    // Act
    const report = await run();

    // Assess
    expect(report.deleted).toHaveLength(3);
    expect(removed.every((k) => k.startsWith('artifacts/'))).toBe(true);
    const after = await repository.list('catalog/');
    expect(before.every((k) => after.includes(k))).toBe(true);
    expect(after.length - before.length).toBe(3);
    expect(report.deleted.every((i) => i.region === PRIMARY)).toBe(true);
  });
});
