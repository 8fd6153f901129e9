import 'aws-sdk-client-mock-vitest/extend';
import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  DescribeAccountAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  InvalidDBClusterStateFault,
  InvalidDBInstanceStateFault,
  RDSClient,
  SnapshotQuotaExceededFault,
} from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Catalog } from '../../../functions/core/catalog/catalog.ts';
import type { FileRepository } from '../../../functions/core/repository/file.ts';
import type { TakeSnapshotResult } from '../../../functions/core/snapshots/take-snapshot.ts';
import { runTakeSnapshot } from '../../../functions/take-snapshot/index.ts';

/** A configured database's event always gives a single snapshot's result. */
const runSnapshot = (...args: Parameters<typeof runTakeSnapshot>) =>
  runTakeSnapshot(...args) as Promise<TakeSnapshotResult>;
import { awsError, spyLogger, tempRepository } from './support.ts';

const rds = new RDSClient({ region: 'eu-west-1' });
const rdsMock = mockClient(rds);
const env = { LIFEBOAT_ENVIRONMENT: 'prod', LIFEBOAT_BUCKET: 'lifeboat-prod-backups' };
const event = {
  database: 'orders',
  identifier: 'orders-db',
  type: 'instance',
  policy: 'gold',
  scheduledTime: '2026-11-23T09:15:00Z',
};
const SNAPSHOT_ID = 'lifeboat-orders-db-202611230915';
const SNAPSHOT_ARN = `arn:aws:rds:eu-west-1:123456789012:snapshot:${SNAPSHOT_ID}`;

let repository: FileRepository;
let cleanup: () => Promise<void>;
let logger: ReturnType<typeof spyLogger>;
let gauge: { usedPercent: ReturnType<typeof vi.fn<(percent: number) => void>> };

const run = (input: unknown = event) =>
  runSnapshot(input, {
    rds,
    s3: new S3Client({}),
    logger,
    env,
    repository,
    quotaGauge: gauge,
    runner: 'req-1',
  });

const notFound = () =>
  new DBSnapshotNotFoundFault({ message: `DBSnapshot ${SNAPSHOT_ID} not found`, $metadata: {} });

beforeEach(async () => {
  rdsMock.reset();
  ({ repository, cleanup } = await tempRepository());
  logger = spyLogger();
  gauge = { usedPercent: vi.fn() };
  rdsMock.on(DescribeDBSnapshotsCommand).rejects(notFound());
  rdsMock.on(DescribeAccountAttributesCommand).resolves({
    AccountQuotas: [
      { AccountQuotaName: 'ManualSnapshots', Used: 40, Max: 100 },
      { AccountQuotaName: 'ManualClusterSnapshots', Used: 3, Max: 100 },
    ],
  });
  rdsMock.on(CreateDBSnapshotCommand).resolves({
    DBSnapshot: { DBSnapshotIdentifier: SNAPSHOT_ID, DBSnapshotArn: SNAPSHOT_ARN, Status: 'creating' },
  });
});

afterEach(async () => {
  await cleanup();
});

describe('take-snapshot', () => {
  it('creates a tagged instance snapshot named after the slot and records that it started', async () => {
    // Act
    const result = await run();

    // Assess
    expect(rdsMock).toHaveReceivedCommandTimes(CreateDBSnapshotCommand, 1);
    expect(rdsMock).toHaveReceivedCommandWith(CreateDBSnapshotCommand, {
      DBSnapshotIdentifier: SNAPSHOT_ID,
      DBInstanceIdentifier: 'orders-db',
      Tags: [
        { Key: 'lifeboat:policy', Value: 'gold' },
        { Key: 'lifeboat:slot', Value: '2026-11-23T09:15:00Z' },
        { Key: 'lifeboat:environment', Value: 'prod' },
        { Key: 'lifeboat:database', Value: 'orders' },
      ],
    });
    expect(result).toMatchObject({
      created: true,
      snapshotIdentifier: SNAPSHOT_ID,
      snapshotArn: SNAPSHOT_ARN,
      backupId: '20261123T091500Z-rds-eu-west-1',
    });
    const [backup] = await new Catalog(repository).list({ database: 'orders' });
    expect(backup).toMatchObject({
      id: '20261123T091500Z-rds-eu-west-1',
      kind: 'rds-snapshot',
      state: 'in-progress',
    });
    expect(gauge.usedPercent).toHaveBeenCalledWith(40);
  });

  it('creates an Aurora cluster snapshot for a cluster', async () => {
    // Prepare
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    rdsMock.on(CreateDBClusterSnapshotCommand).resolves({
      DBClusterSnapshot: {
        DBClusterSnapshotIdentifier: 'lifeboat-analytics-202611230915',
        Status: 'creating',
      },
    });

    // Act
    const result = await run({ ...event, identifier: 'analytics', type: 'cluster' });

    // Assess
    expect(rdsMock).toHaveReceivedCommandWith(CreateDBClusterSnapshotCommand, {
      DBClusterSnapshotIdentifier: 'lifeboat-analytics-202611230915',
      DBClusterIdentifier: 'analytics',
    });
    expect(rdsMock).not.toHaveReceivedCommand(CreateDBSnapshotCommand);
    expect(result.created).toBe(true);
  });

  it('turns a duplicate schedule event into one snapshot: the second event finds it and succeeds', async () => {
    // Prepare: RDS as it behaves, the snapshot exists once created
    let exists = false;
    rdsMock.on(CreateDBSnapshotCommand).callsFake(() => {
      exists = true;
      return {
        DBSnapshot: { DBSnapshotIdentifier: SNAPSHOT_ID, DBSnapshotArn: SNAPSHOT_ARN, Status: 'creating' },
      };
    });
    rdsMock.on(DescribeDBSnapshotsCommand).callsFake(() => {
      if (!exists) throw notFound();
      return {
        DBSnapshots: [
          {
            DBSnapshotIdentifier: SNAPSHOT_ID,
            DBSnapshotArn: SNAPSHOT_ARN,
            DBInstanceIdentifier: 'orders-db',
            Status: 'creating',
            TagList: [{ Key: 'lifeboat:environment', Value: 'prod' }],
          },
        ],
      };
    });

    // Act
    const first = await run();
    const second = await run();

    // Assess
    expect(rdsMock).toHaveReceivedCommandTimes(CreateDBSnapshotCommand, 1);
    expect(first.created).toBe(true);
    expect(second).toMatchObject({
      created: false,
      snapshotIdentifier: SNAPSHOT_ID,
      snapshotArn: SNAPSHOT_ARN,
    });
    const [backup] = await new Catalog(repository).list({ database: 'orders' });
    expect(backup?.records.filter((r) => r.kind === 'started')).toHaveLength(1);
  });

  it('succeeds when two events race and RDS answers DBSnapshotAlreadyExists', async () => {
    // Prepare
    rdsMock
      .on(DescribeDBSnapshotsCommand)
      .rejectsOnce(notFound())
      .resolves({
        DBSnapshots: [
          { DBSnapshotIdentifier: SNAPSHOT_ID, DBInstanceIdentifier: 'orders-db', Status: 'creating' },
        ],
      });
    rdsMock.on(CreateDBSnapshotCommand).rejects(
      new DBSnapshotAlreadyExistsFault({
        message: 'Cannot create the snapshot because a snapshot with the identifier already exists.',
        $metadata: {},
      }),
    );

    // Act
    const result = await run();

    // Assess
    expect(result).toMatchObject({ created: false, status: 'creating' });
    expect(await new Catalog(repository).list()).toEqual([]);
  });

  it('does not retake a slot whose snapshot failed in RDS, and says so at error', async () => {
    // Prepare
    rdsMock.on(DescribeDBSnapshotsCommand).resolves({
      DBSnapshots: [
        { DBSnapshotIdentifier: SNAPSHOT_ID, DBInstanceIdentifier: 'orders-db', Status: 'failed' },
      ],
    });

    // Act
    const result = await run();

    // Assess
    expect(result).toMatchObject({ created: false, status: 'failed' });
    expect(rdsMock).not.toHaveReceivedCommand(CreateDBSnapshotCommand);
    expect(logger.error).toHaveBeenCalledWith(
      'the snapshot of this slot failed in RDS; not retaken',
      expect.anything(),
    );
  });

  it('throws the retryable DatabaseBusy when the instance is backing up', async () => {
    // Prepare
    rdsMock.on(CreateDBSnapshotCommand).rejects(
      new InvalidDBInstanceStateFault({
        message: 'DB instance orders-db is not in available state (backing-up).',
        $metadata: {},
      }),
    );

    // Act / Assess
    await expect(run()).rejects.toMatchObject({
      name: 'DatabaseBusy',
      message: expect.stringContaining('backing-up'),
    });
    expect(logger.warn).toHaveBeenCalledWith(
      'take-snapshot failed',
      expect.objectContaining({ database: 'orders' }),
    );
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('throws DatabaseBusy for an Aurora cluster in an invalid state too', async () => {
    // Prepare
    rdsMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    rdsMock.on(CreateDBClusterSnapshotCommand).rejects(
      new InvalidDBClusterStateFault({
        message: 'DBCluster analytics is in backing-up state',
        $metadata: {},
      }),
    );

    // Act / Assess
    await expect(run({ ...event, identifier: 'analytics', type: 'cluster' })).rejects.toMatchObject({
      name: 'DatabaseBusy',
    });
  });

  it('fails loudly on SnapshotQuotaExceeded, logging the quota figures at error', async () => {
    // Prepare
    rdsMock.on(DescribeAccountAttributesCommand).resolves({
      AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 100, Max: 100 }],
    });
    rdsMock.on(CreateDBSnapshotCommand).rejects(
      new SnapshotQuotaExceededFault({
        message: 'Cannot create more than 100 manual snapshots',
        $metadata: {},
      }),
    );

    // Act / Assess
    await expect(run()).rejects.toMatchObject({ name: 'SnapshotQuotaExceeded' });
    expect(logger.error).toHaveBeenCalledWith(
      'manual snapshot quota exceeded: no snapshot taken',
      expect.objectContaining({ quota: { instance: { used: 100, max: 100 }, cluster: null } }),
    );
    expect(gauge.usedPercent).toHaveBeenCalledWith(100);
  });

  it('surfaces throttling that outlasted the SDK retries as the named error Throttled', async () => {
    // Prepare
    rdsMock.on(CreateDBSnapshotCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    // Act / Assess
    await expect(run()).rejects.toMatchObject({
      name: 'Throttled',
      message: expect.stringContaining('throttling'),
    });
  });

  it('names the KMS key when KMS refuses', async () => {
    // Prepare
    const key = 'arn:aws:kms:eu-west-1:123456789012:key/1111-2222';
    rdsMock
      .on(CreateDBSnapshotCommand)
      .rejects(awsError('KMSKeyNotAccessibleFault', 'The specified KMS key is disabled.'));
    rdsMock
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceIdentifier: 'orders-db', KmsKeyId: key }] });

    // Act / Assess
    await expect(run()).rejects.toMatchObject({
      name: 'KmsKeyNotAccessible',
      message: expect.stringContaining(key),
    });
  });

  it('still takes the snapshot when the quota cannot be read', async () => {
    // Prepare
    rdsMock.on(DescribeAccountAttributesCommand).rejects(awsError('AccessDenied', 'not authorized'));

    // Act
    const result = await run();

    // Assess
    expect(result.created).toBe(true);
    expect(gauge.usedPercent).not.toHaveBeenCalled();
    expect(logger.warn).toHaveBeenCalledWith('could not read the manual snapshot quota', expect.anything());
  });

  it('refuses a malformed event and missing configuration, naming what is wrong', async () => {
    await expect(run({ ...event, type: 'table' })).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('type'),
    });
    await expect(run({ ...event, extra: 1 })).rejects.toMatchObject({ name: 'InvalidArgument' });
    await expect(
      runTakeSnapshot(event, {
        rds,
        s3: new S3Client({}),
        logger,
        env: { LIFEBOAT_BUCKET: 'b' },
        repository,
      }),
    ).rejects.toMatchObject({
      name: 'MissingEnvironment',
      message: expect.stringContaining('LIFEBOAT_ENVIRONMENT'),
    });
    expect(rdsMock).not.toHaveReceivedCommand(CreateDBSnapshotCommand);
  });
});
