import 'aws-sdk-client-mock-vitest/extend';
import { Readable } from 'node:stream';
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
import { artifactKey, Catalog } from '../../../functions/core/catalog/catalog.ts';
import { snapshotManifest } from '../../../functions/core/snapshots/copy-snapshot.ts';
import { RepositoryAccessDenied } from '../../../functions/core/shared/errors.ts';
import type { DumpManifest } from '../../../functions/core/catalog/manifest.ts';
import { COPY_IN_FLIGHT, NO_POLICY } from '../../../functions/core/retention/prune-report.ts';
import { fromDbSnapshot } from '../../../functions/core/snapshots/rds.ts';
import type { FileRepository } from '../../../functions/core/repository/file.ts';
import { runPrune } from '../../../functions/prune/index.ts';
import { awsError, spyLogger, tempRepository } from './support.ts';

const primary = new RDSClient({ region: 'eu-west-1' });
const dr = new RDSClient({ region: 'eu-central-1' });
const primaryMock = mockClient(primary);
const drMock = mockClient(dr);
const NOW = new Date('2026-11-23T12:00:00Z');

const policy = {
  daily: 3,
  weekly: 0,
  monthly: 0,
  yearly: 0,
  minVerified: 1,
  maxDeletionsPerRun: 50,
  timeZone: 'UTC',
};
const env = (policies: object = { orders: policy }) => ({
  LIFEBOAT_ENVIRONMENT: 'prod',
  LIFEBOAT_BUCKET: 'lifeboat-prod-backups',
  LIFEBOAT_DR_REGION: 'eu-central-1',
  LIFEBOAT_POLICIES: JSON.stringify(policies),
});

/** A lifeboat snapshot of "orders" taken `daysAgo` days before NOW, at 03:00 UTC. */
function snap(daysAgo: number, region = 'eu-west-1', extra: Partial<DBSnapshot> = {}): DBSnapshot {
  const slot = new Date(Date.UTC(2026, 10, 23 - daysAgo, 3, 0));
  const stamp = slot.toISOString().slice(0, 16).replace(/[-:T]/g, '');
  const id = `lifeboat-orders-db-${stamp}`;
  return {
    DBSnapshotIdentifier: id,
    DBSnapshotArn: `arn:aws:rds:${region}:123456789012:snapshot:${id}`,
    DBInstanceIdentifier: 'orders-db',
    Engine: 'postgres',
    Status: 'available',
    SnapshotType: 'manual',
    SnapshotCreateTime: slot,
    // RDS names the source of a cross-region copy by its ARN.
    ...(region === 'eu-west-1'
      ? {}
      : { SourceDBSnapshotIdentifier: `arn:aws:rds:eu-west-1:123456789012:snapshot:${id}` }),
    TagList: [
      { Key: 'lifeboat:policy', Value: 'gold' },
      { Key: 'lifeboat:slot', Value: `${slot.toISOString().slice(0, 19)}Z` },
      { Key: 'lifeboat:environment', Value: 'prod' },
      { Key: 'lifeboat:database', Value: 'orders' },
    ],
    ...extra,
  };
}

const backupIdOf = (daysAgo: number, region = 'eu-west-1') =>
  `${new Date(Date.UTC(2026, 10, 23 - daysAgo, 3, 0))
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}-rds-${region}`;

let repository: FileRepository;
let cleanup: () => Promise<void>;
let logger: ReturnType<typeof spyLogger>;
let catalog: Catalog;

/** Catalogs a snapshot and, when asked, a passed restore test of it. */
async function catalogSnapshot(s: DBSnapshot, verified: boolean) {
  const manifest = snapshotManifest(fromDbSnapshot(s), null, NOW);
  await catalog.writeManifest(manifest);
  if (verified) {
    await catalog.record({
      kind: 'verification',
      backupId: manifest.id,
      database: 'orders',
      at: '2026-11-22T00:00:00Z',
      passed: true,
      method: 'snapshot-restore-test',
      checks: [],
      restoreDurationMs: 1000,
      totalDurationMs: 2000,
      error: null,
    });
  }
}

/** A completed logical dump with its artifact (real bytes) in the repository. */
async function dump(daysAgo: number, verified: boolean): Promise<string> {
  const at = new Date(Date.UTC(2026, 10, 23 - daysAgo, 4, 0));
  const id = `${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}-d${daysAgo}`;
  const key = artifactKey('orders', id);
  await repository.upload(key, Readable.from([Buffer.from('PGDMP fake archive')]));
  const manifest: DumpManifest = {
    schemaVersion: 1,
    kind: 'logical-dump',
    id,
    database: 'orders',
    source: { host: 'db', port: 5432, database: 'orders', serverVersion: '16.4', serverVersionNum: 160004 },
    tool: { name: 'pg_dump', version: '16.4', path: '/usr/bin/pg_dump', format: 'custom' },
    snapshotId: '00000003-1',
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    durationMs: 1,
    artifact: {
      key,
      bytes: 18,
      sha256: 'a'.repeat(64),
      encryption: { type: 'none', kmsKeyId: null },
    },
    statistics: {
      databaseSizeBytes: 1,
      tables: [],
      indexes: [],
      constraints: [],
      functions: [],
      policies: [],
      extensions: [],
      views: [],
      sequences: [],
      largeObjects: 0,
    },
  };
  await catalog.writeManifest(manifest);
  if (verified) {
    await catalog.record({
      kind: 'verification',
      backupId: id,
      database: 'orders',
      at: at.toISOString(),
      passed: true,
      method: 'ephemeral',
      checks: [],
      restoreDurationMs: 1,
      totalDurationMs: 1,
      error: null,
    });
  }
  return id;
}

const run = (input: unknown, environment: NodeJS.ProcessEnv = env()) =>
  runPrune(input, {
    primary,
    drClient: () => dr,
    s3: new S3Client({}),
    logger,
    env: environment,
    repository,
    now: () => NOW,
  });

const deletedIds = () =>
  primaryMock
    .commandCalls(DeleteDBSnapshotCommand)
    .map((c) => c.args[0].input.DBSnapshotIdentifier)
    .sort();

beforeEach(async () => {
  primaryMock.reset();
  drMock.reset();
  ({ repository, cleanup } = await tempRepository());
  catalog = new Catalog(repository, { now: () => NOW });
  logger = spyLogger();
  for (const m of [primaryMock, drMock]) {
    m.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [] });
    m.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [] });
    m.on(DeleteDBSnapshotCommand).resolves({});
    m.on(DeleteDBClusterSnapshotCommand).resolves({});
    // Shared with nobody.
    m.on(DescribeDBSnapshotAttributesCommand).resolves({
      DBSnapshotAttributesResult: {
        DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: [] }],
      },
    });
    m.on(DescribeDBClusterSnapshotAttributesCommand).resolves({
      DBClusterSnapshotAttributesResult: { DBClusterSnapshotAttributes: [{ AttributeName: 'restore' }] },
    });
  }
  primaryMock.on(DescribeAccountAttributesCommand).resolves({
    AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 8, Max: 100 }],
  });
  drMock.on(DescribeAccountAttributesCommand).rejects(awsError('AccessDenied'));
});

afterEach(async () => {
  await cleanup();
});

describe('prune', () => {
  it('in dry-run lists what it would delete and why, and deletes nothing', async () => {
    // Prepare: 8 daily snapshots, the newest verified; 3 daily slots
    const history = [0, 1, 2, 3, 4, 5, 6, 7].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    await catalogSnapshot(history[0]!, true);
    const oldDump = await dump(10, false);
    for (const d of [0, 1, 2]) await dump(d, d === 0);

    // Act
    const report = await run({ dryRun: true });

    // Assess
    expect(primaryMock).not.toHaveReceivedCommand(DeleteDBSnapshotCommand);
    expect(drMock).not.toHaveReceivedCommand(DeleteDBSnapshotCommand);
    expect(report.deleted).toEqual([]);
    expect(report.wouldDelete.map((i) => i.backupId).sort()).toEqual(
      [3, 4, 5, 6, 7]
        .map((d) => backupIdOf(d))
        .concat(oldDump)
        .sort(),
    );
    expect(
      report.wouldDelete.every((i) => i.reasons.includes('in no daily/weekly/monthly/yearly slot')),
    ).toBe(true);
    expect(await repository.size(artifactKey('orders', oldDump))).toBe(18);
    expect((await catalog.list()).some((b) => b.state === 'deleted')).toBe(false);
    expect(report.quotas).toEqual({
      'eu-west-1': { instance: { used: 8, max: 100 }, cluster: null },
      'eu-central-1': null,
    });
  });

  it('never deletes the newest verified snapshot, nor anything newer than it', async () => {
    // Prepare: only the snapshot from 5 days ago passed a restore test
    const history = [0, 1, 2, 3, 4, 5, 6, 7].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    await catalogSnapshot(history[5]!, true);

    // Act
    const report = await run({ dryRun: false });

    // Assess
    expect(deletedIds()).toEqual([history[6]!.DBSnapshotIdentifier, history[7]!.DBSnapshotIdentifier].sort());
    const verified = report.kept.find((i) => i.backupId === backupIdOf(5));
    expect(verified?.reasons).toEqual(['newest verified (guard 1 of 1)']);
    expect(report.kept.find((i) => i.backupId === backupIdOf(4))?.reasons).toEqual([
      'newer than newest verified',
    ]);
  });

  it('deletes in both regions and writes a deleted record per backup; a DR copy is vouched for by its source', async () => {
    // Prepare
    const primaries = [0, 1, 2, 3, 4].map((d) => snap(d));
    const copies = [0, 1, 2, 3, 4].map((d) => snap(d, 'eu-central-1'));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: primaries });
    drMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: copies });
    await catalogSnapshot(primaries[0]!, true);
    const oldDump = await dump(9, true);
    await dump(1, true);
    await dump(0, true);
    const onlyOne = { ...policy, daily: 1, minVerified: 1 };

    // Act
    const report = await run({}, env({ orders: onlyOne }));

    // Assess
    expect(report.errors).toEqual([]);
    expect(deletedIds()).toEqual([1, 2, 3, 4].map((d) => primaries[d]!.DBSnapshotIdentifier).sort());
    expect(drMock).toHaveReceivedCommandTimes(DeleteDBSnapshotCommand, 4);
    expect(drMock).toHaveReceivedCommandWith(DeleteDBSnapshotCommand, {
      DBSnapshotIdentifier: copies[4]!.DBSnapshotIdentifier,
    });
    expect(await repository.size(artifactKey('orders', oldDump))).toBeNull();
    const deletedRecords = (await repository.list('catalog/orders/')).filter((k) => k.includes('-deleted-'));
    expect(deletedRecords).toHaveLength(4 + 4 + 2);
    expect(
      deletedRecords.some((k) => k.startsWith(`catalog/orders/${backupIdOf(4, 'eu-central-1')}/records/`)),
    ).toBe(true);
    expect((await catalog.get(oldDump, 'orders')).state).toBe('deleted');
    expect(report.deleted).toHaveLength(10);
  });

  it('keeps everything of a series with no verified backup, saying so', async () => {
    // Prepare
    primaryMock
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [0, 1, 2, 3, 4, 5].map((d) => snap(d)) });

    // Act
    const report = await run({});

    // Assess
    expect(primaryMock).not.toHaveReceivedCommand(DeleteDBSnapshotCommand);
    expect(report.kept).toHaveLength(6);
    expect(report.kept[5]?.reasons).toContain(
      'no verified snapshot in eu-west-1 of orders-db: keeping everything (safety first)',
    );
  });

  it('reports a dump that the bucket refuses to delete (Object Lock, policy) and carries on', async () => {
    // Prepare
    const history = [0, 1, 2, 3, 4].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    await catalogSnapshot(history[0]!, true);
    for (const d of [0, 1, 2]) await dump(d, d === 0);
    const locked = await dump(8, false);
    repository.remove = async (key: string) => {
      throw new RepositoryAccessDenied(`access denied to ${key}: object is WORM protected`);
    };

    // Act
    const report = await run({});

    // Assess
    expect(report.errors).toEqual([
      expect.objectContaining({
        backupId: locked,
        error: expect.objectContaining({ name: 'RepositoryAccessDenied' }),
      }),
    ]);
    expect(report.deleted.map((i) => i.backupId)).not.toContain(locked);
    expect(deletedIds()).toHaveLength(2);
    expect((await catalog.get(locked, 'orders')).state).toBe('completed');
  });

  it('leaves a source alone while its DR copy is in flight, and prunes one region when the other cannot be listed', async () => {
    // Prepare
    const history = [0, 1, 2, 3, 4].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: history });
    drMock
      .on(DescribeDBSnapshotsCommand)
      .resolves({ DBSnapshots: [snap(4, 'eu-central-1', { Status: 'creating' })] })
      .on(DescribeDBClusterSnapshotsCommand)
      .rejects(awsError('AccessDenied', 'not authorized to describe cluster snapshots'));
    await catalogSnapshot(history[0]!, true);

    // Act
    const report = await run({});

    // Assess
    expect(deletedIds()).toEqual([history[3]!.DBSnapshotIdentifier]);
    expect(report.kept.find((i) => i.backupId === backupIdOf(4))?.reasons).toEqual([COPY_IN_FLIGHT]);
    expect(report.errors).toEqual([
      expect.objectContaining({
        region: 'eu-central-1',
        error: expect.objectContaining({ name: 'SnapshotError' }),
      }),
    ]);
  });

  it('does not touch the backups of a database without a policy', async () => {
    // Prepare
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [0, 1, 2, 3, 4].map((d) => snap(d)) });

    // Act
    const report = await run({}, env({ billing: policy }));

    // Assess
    expect(primaryMock).not.toHaveReceivedCommand(DeleteDBSnapshotCommand);
    expect(report.kept.every((i) => i.reasons[0] === NO_POLICY)).toBe(true);
  });

  it('applies the tagged policy to a discovered database (not configured), via LIFEBOAT_POLICIES_BY_NAME', async () => {
    // Prepare: "orders" is not in LIFEBOAT_POLICIES; its snapshots are tagged lifeboat:policy=gold.
    const snapshots = [0, 1, 2, 3, 4].map((d) => snap(d));
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: snapshots });
    await catalogSnapshot(snapshots[0]!, true);

    // Act
    const report = await run(
      {},
      { ...env({ billing: policy }), LIFEBOAT_POLICIES_BY_NAME: JSON.stringify({ gold: policy }) },
    );

    // Assess: daily 3 keeps days 0-2, the older two go.
    expect(deletedIds()).toEqual(
      [snapshots[4]!.DBSnapshotIdentifier, snapshots[3]!.DBSnapshotIdentifier].sort(),
    );
    expect(report.kept.map((i) => i.reasons[0])).not.toContain(NO_POLICY);
  });

  it('leaves a discovered database alone when its tagged policy is unknown', async () => {
    // Prepare
    primaryMock.on(DescribeDBSnapshotsCommand).resolves({ DBSnapshots: [0, 1, 2, 3, 4].map((d) => snap(d)) });

    // Act
    const report = await run(
      {},
      { ...env({ billing: policy }), LIFEBOAT_POLICIES_BY_NAME: JSON.stringify({ silver: policy }) },
    );

    // Assess
    expect(primaryMock).not.toHaveReceivedCommand(DeleteDBSnapshotCommand);
    expect(report.kept.every((i) => i.reasons[0] === NO_POLICY)).toBe(true);
  });

  it('refuses bad configuration and a bad event, naming the field', async () => {
    await expect(run({}, env({ orders: { ...policy, minVerified: 0 } }))).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/LIFEBOAT_POLICIES: orders\.minVerified/),
    });
    await expect(run({}, env({ orders: { ...policy, timeZone: 'Moon/Base' } }))).rejects.toThrow(
      /orders\.timeZone/,
    );
    await expect(run({}, { ...env(), LIFEBOAT_POLICIES: '{' })).rejects.toThrow(
      /LIFEBOAT_POLICIES is not JSON/,
    );
    await expect(run({ dryRun: 'yes' })).rejects.toMatchObject({ name: 'InvalidArgument' });
    await expect(
      run({}, { ...env(), LIFEBOAT_POLICIES_BY_NAME: JSON.stringify({ gold: { ...policy, daily: -1 } }) }),
    ).rejects.toThrow(/LIFEBOAT_POLICIES_BY_NAME: gold\.daily/);
    const { LIFEBOAT_DR_REGION: _, ...noDr } = env();
    await expect(run({}, noDr)).rejects.toThrow(/LIFEBOAT_DR_REGION/);
  });
});
