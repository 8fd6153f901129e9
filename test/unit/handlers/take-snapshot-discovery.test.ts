import 'aws-sdk-client-mock-vitest/extend';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DBSnapshotNotFoundFault,
  DescribeAccountAttributesCommand,
  DescribeDBClustersCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBInstanceStateFault,
  RDSClient,
  SnapshotQuotaExceededFault,
} from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../../functions/core/catalog/catalog.ts';
import type { DiscoveryResult } from '../../../functions/core/snapshots/discovery.ts';
import type { FileRepository } from '../../../functions/core/repository/file.ts';
import { runTakeSnapshot } from '../../../functions/take-snapshot/index.ts';
import { spyLogger, tempRepository } from './support.ts';

const rds = new RDSClient({ region: 'eu-west-1' });
const rdsMock = mockClient(rds);
const env = { LIFEBOAT_ENVIRONMENT: 'prod', LIFEBOAT_BUCKET: 'lifeboat-prod-backups' };
const event = {
  discover: { policy: 'gold', tagKey: 'lifeboat:policy', exclude: ['configured-db'] },
  scheduledTime: '2026-11-23T03:00:00Z',
};
const gold = [{ Key: 'lifeboat:policy', Value: 'gold' }];

let repository: FileRepository;
let cleanup: () => Promise<void>;
let logger: ReturnType<typeof spyLogger>;

const run = (input: unknown = event, extra: Partial<Parameters<typeof runTakeSnapshot>[1]> = {}) =>
  runTakeSnapshot(input, {
    rds,
    s3: new S3Client({}),
    logger,
    env,
    repository,
    runner: 'req-1',
    ...extra,
  }) as Promise<DiscoveryResult>;

function instances() {
  rdsMock.on(DescribeDBInstancesCommand).resolvesOnce({
    DBInstances: [
      { DBInstanceIdentifier: 'Orders-DB', Engine: 'postgres', DBInstanceStatus: 'available', TagList: gold },
      {
        DBInstanceIdentifier: 'billing',
        Engine: 'postgres',
        DBInstanceStatus: 'available',
        TagList: [...gold, { Key: 'lifeboat:database', Value: 'billing-main' }],
      },
      // Not tagged with this policy, or tagged with another one: not ours to snapshot.
      { DBInstanceIdentifier: 'untagged', Engine: 'postgres', DBInstanceStatus: 'available', TagList: [] },
      {
        DBInstanceIdentifier: 'silver-db',
        Engine: 'postgres',
        DBInstanceStatus: 'available',
        TagList: [{ Key: 'lifeboat:policy', Value: 'silver' }],
      },
    ],
    Marker: 'page-2',
  });
  rdsMock.on(DescribeDBInstancesCommand, { Marker: 'page-2' }).resolves({
    DBInstances: [
      { DBInstanceIdentifier: 'mysql-db', Engine: 'mysql', DBInstanceStatus: 'available', TagList: gold },
      {
        DBInstanceIdentifier: 'aurora-writer',
        Engine: 'aurora-postgresql',
        DBClusterIdentifier: 'reports',
        DBInstanceStatus: 'available',
        TagList: gold,
      },
      {
        DBInstanceIdentifier: 'orders-replica',
        Engine: 'postgres',
        ReadReplicaSourceDBInstanceIdentifier: 'Orders-DB',
        DBInstanceStatus: 'available',
        TagList: gold,
      },
      {
        DBInstanceIdentifier: 'configured-db',
        Engine: 'postgres',
        DBInstanceStatus: 'available',
        TagList: gold,
      },
    ],
  });
  rdsMock.on(DescribeDBClustersCommand).resolves({
    DBClusters: [
      { DBClusterIdentifier: 'reports', Engine: 'aurora-postgresql', Status: 'available', TagList: gold },
    ],
  });
}

beforeEach(async () => {
  rdsMock.reset();
  ({ repository, cleanup } = await tempRepository());
  logger = spyLogger();
  rdsMock.on(DescribeAccountAttributesCommand).resolves({ AccountQuotas: [] });
  rdsMock
    .on(DescribeDBSnapshotsCommand)
    .rejects(new DBSnapshotNotFoundFault({ message: 'not found', $metadata: {} }));
  rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({ DBClusterSnapshots: [] });
  rdsMock.on(CreateDBSnapshotCommand).callsFake((input: { DBSnapshotIdentifier: string }) => ({
    DBSnapshot: {
      DBSnapshotIdentifier: input.DBSnapshotIdentifier,
      DBSnapshotArn: `arn:aws:rds:eu-west-1:123456789012:snapshot:${input.DBSnapshotIdentifier}`,
      Status: 'creating',
    },
  }));
  rdsMock.on(CreateDBClusterSnapshotCommand).callsFake((input: { DBClusterSnapshotIdentifier: string }) => ({
    DBClusterSnapshot: {
      DBClusterSnapshotIdentifier: input.DBClusterSnapshotIdentifier,
      DBClusterSnapshotArn: `arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:${input.DBClusterSnapshotIdentifier}`,
      Status: 'creating',
    },
  }));
});

afterEach(async () => {
  await cleanup();
});

describe('take-snapshot discovery (databases tagged lifeboat:policy=<policy>)', () => {
  it('snapshots every tagged PostgreSQL instance and cluster, across pages, and says why others were skipped', async () => {
    // Arrange
    instances();

    // Act
    const result = await run();

    // Assess
    expect(result.snapshots.map((s) => [s.database, s.snapshotIdentifier, s.snapshotType])).toEqual([
      ['orders-db', 'lifeboat-orders-db-202611230300', 'instance'],
      ['billing-main', 'lifeboat-billing-202611230300', 'instance'],
      ['reports', 'lifeboat-reports-202611230300', 'cluster'],
    ]);
    expect(rdsMock).toHaveReceivedCommandTimes(CreateDBSnapshotCommand, 2);
    expect(rdsMock).toHaveReceivedCommandWith(CreateDBSnapshotCommand, {
      DBInstanceIdentifier: 'billing',
      Tags: expect.arrayContaining([
        { Key: 'lifeboat:policy', Value: 'gold' },
        { Key: 'lifeboat:database', Value: 'billing-main' },
        { Key: 'lifeboat:environment', Value: 'prod' },
      ]),
    });
    expect(rdsMock).toHaveReceivedCommandTimes(CreateDBClusterSnapshotCommand, 1);
    expect(Object.fromEntries(result.skipped.map((s) => [s.identifier, s.reason]))).toEqual({
      'mysql-db': 'engine mysql is not PostgreSQL',
      'aurora-writer': 'member of cluster reports: the cluster is snapshotted',
      'orders-replica': 'read replica of Orders-DB: its source is snapshotted',
      'configured-db': 'configured explicitly: its own schedule snapshots it',
    });
    expect(result.failed).toEqual([]);
    // Each started snapshot is cataloged under its database's name.
    const catalog = new Catalog(repository);
    expect((await catalog.list()).map((b) => b.database).sort()).toEqual([
      'billing-main',
      'orders-db',
      'reports',
    ]);
  });

  it('a repeated event takes no second snapshot', async () => {
    // Arrange: the slot's snapshots exist already.
    instances();
    rdsMock.on(DescribeDBSnapshotsCommand).callsFake((input: { DBSnapshotIdentifier: string }) => ({
      DBSnapshots: [
        {
          DBSnapshotIdentifier: input.DBSnapshotIdentifier,
          DBInstanceIdentifier: input.DBSnapshotIdentifier.includes('billing') ? 'billing' : 'orders-db',
          DBSnapshotArn: `arn:aws:rds:eu-west-1:123456789012:snapshot:${input.DBSnapshotIdentifier}`,
          Status: 'available',
          SnapshotType: 'manual',
          Engine: 'postgres',
          TagList: [{ Key: 'lifeboat:environment', Value: 'prod' }],
        },
      ],
    }));
    rdsMock.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        {
          DBClusterSnapshotIdentifier: 'lifeboat-reports-202611230300',
          DBClusterIdentifier: 'reports',
          DBClusterSnapshotArn:
            'arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:lifeboat-reports-202611230300',
          Status: 'available',
          SnapshotType: 'manual',
          Engine: 'aurora-postgresql',
          TagList: [],
        },
      ],
    });

    // Act
    const result = await run();

    // Assess
    expect(result.snapshots.map((s) => s.created)).toEqual([false, false, false]);
    expect(rdsMock).not.toHaveReceivedCommand(CreateDBSnapshotCommand);
    expect(rdsMock).not.toHaveReceivedCommand(CreateDBClusterSnapshotCommand);
  });

  it('one busy database does not stop the others; the invocation then fails as DatabaseBusy to be retried', async () => {
    // Arrange
    instances();
    rdsMock
      .on(CreateDBSnapshotCommand, { DBInstanceIdentifier: 'Orders-DB' })
      .rejects(new InvalidDBInstanceStateFault({ message: 'backing-up', $metadata: {} }));

    // Act
    const failure = await run().catch((e: unknown) => e);

    // Assess
    expect(failure).toMatchObject({ name: 'DatabaseBusy' });
    expect((failure as Error).message).toContain(
      '1 of 3 snapshots of policy gold failed (2 taken or already there)',
    );
    expect((failure as Error).message).toContain('Orders-DB');
    expect(rdsMock).toHaveReceivedCommandWith(CreateDBSnapshotCommand, { DBInstanceIdentifier: 'billing' });
    expect(rdsMock).toHaveReceivedCommandTimes(CreateDBClusterSnapshotCommand, 1);
  });

  it('a quota failure keeps its name, so it fails loudly rather than being retried as busy', async () => {
    // Arrange
    instances();
    rdsMock
      .on(CreateDBClusterSnapshotCommand)
      .rejects(new SnapshotQuotaExceededFault({ message: 'quota', $metadata: {} }));

    // Act
    const failure = await run().catch((e: unknown) => e);

    // Assess
    expect(failure).toMatchObject({ name: 'SnapshotQuotaExceeded' });
    expect(rdsMock).toHaveReceivedCommandTimes(CreateDBSnapshotCommand, 2);
  });

  it('two databases claiming one catalog name: the second is skipped with the fix', async () => {
    // Arrange
    rdsMock.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceIdentifier: 'a',
          Engine: 'postgres',
          DBInstanceStatus: 'available',
          TagList: [...gold, { Key: 'lifeboat:database', Value: 'shared' }],
        },
        {
          DBInstanceIdentifier: 'b',
          Engine: 'postgres',
          DBInstanceStatus: 'available',
          TagList: [...gold, { Key: 'lifeboat:database', Value: 'shared' }],
        },
      ],
    });
    rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });

    // Act
    const result = await run();

    // Assess
    expect(result.snapshots.map((s) => s.database)).toEqual(['shared']);
    expect(result.conflicts).toEqual([
      {
        identifier: 'b',
        reason: 'catalog name "shared" is already used by a: tag it lifeboat:database=<unique name>',
      },
    ]);
  });

  describe('a second source under a catalog name already in use', () => {
    it("is refused when the name is a configured database's, logged as an error and counted for the alarm", async () => {
      // Arrange: "orders" is configured (orders-db); an instance called orders, and another tagged
      // lifeboat:database=orders, are discovered.
      rdsMock.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          {
            DBInstanceIdentifier: 'orders',
            Engine: 'postgres',
            DBInstanceStatus: 'available',
            TagList: gold,
          },
          {
            DBInstanceIdentifier: 'reporting-copy',
            Engine: 'postgres',
            DBInstanceStatus: 'available',
            TagList: [...gold, { Key: 'lifeboat:database', Value: 'orders' }],
          },
          {
            DBInstanceIdentifier: 'billing',
            Engine: 'postgres',
            DBInstanceStatus: 'available',
            TagList: gold,
          },
        ],
      });
      rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
      const conflicts: number[] = [];

      // Act
      const result = await run(
        { ...event, discover: { ...event.discover, exclude: ['orders-db'], names: ['orders'] } },
        { conflictGauge: { conflicts: (n: number) => conflicts.push(n) } },
      );

      // Assess
      expect(result.snapshots.map((s) => s.database)).toEqual(['billing']);
      expect(result.conflicts).toEqual([
        {
          identifier: 'orders',
          reason: 'catalog name "orders" is a configured database\'s: tag it lifeboat:database=<unique name>',
        },
        {
          identifier: 'reporting-copy',
          reason: 'catalog name "orders" is a configured database\'s: tag it lifeboat:database=<unique name>',
        },
      ]);
      expect(conflicts).toEqual([2]);
      expect(logger.error).toHaveBeenCalledWith(
        'a second source under a catalog name in use: not snapshotted',
        expect.objectContaining({ identifier: 'reporting-copy' }),
      );
      expect(rdsMock).not.toHaveReceivedCommandWith(CreateDBSnapshotCommand, {
        DBInstanceIdentifier: 'orders',
      });
    });

    it('the older source keeps a name across policies: the newer is refused whichever policy runs', async () => {
      // Arrange: "old" (policy silver, 2025) and "new" (policy gold, 2026) both claim "shared".
      const shared = { Key: 'lifeboat:database', Value: 'shared' };
      rdsMock.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [
          {
            DBInstanceIdentifier: 'new',
            Engine: 'postgres',
            DBInstanceStatus: 'available',
            InstanceCreateTime: new Date('2026-06-01T00:00:00Z'),
            TagList: [...gold, shared],
          },
          {
            DBInstanceIdentifier: 'old',
            Engine: 'postgres',
            DBInstanceStatus: 'available',
            InstanceCreateTime: new Date('2025-01-01T00:00:00Z'),
            TagList: [{ Key: 'lifeboat:policy', Value: 'silver' }, shared],
          },
        ],
      });
      rdsMock.on(DescribeDBClustersCommand).resolves({ DBClusters: [] });
      const conflicts: number[] = [];
      const gauge = { conflictGauge: { conflicts: (n: number) => conflicts.push(n) } };

      // Act
      const goldRun = await run(event, gauge);
      const silverRun = await run({ ...event, discover: { ...event.discover, policy: 'silver' } }, gauge);

      // Assess
      expect(goldRun.snapshots).toEqual([]);
      expect(goldRun.conflicts).toEqual([
        {
          identifier: 'new',
          reason: 'catalog name "shared" is already used by old: tag it lifeboat:database=<unique name>',
        },
      ]);
      expect(silverRun.snapshots.map((s) => [s.database, s.snapshotIdentifier])).toEqual([
        ['shared', 'lifeboat-old-202611230300'],
      ]);
      expect(conflicts).toEqual([1, 0]);
    });
  });

  it('a malformed discovery event names the field', async () => {
    await expect(run({ discover: { policy: '' }, scheduledTime: 'x' })).rejects.toThrow(
      /take-snapshot discovery event: discover.policy: .*discover.tagKey/,
    );
  });
});
