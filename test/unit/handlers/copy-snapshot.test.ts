import 'aws-sdk-client-mock-vitest/extend';
import {
  CopyDBClusterSnapshotCommand,
  CopyDBSnapshotCommand,
  type DBSnapshot,
  DBSnapshotAlreadyExistsFault,
  DBSnapshotNotFoundFault,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotsCommand,
  KMSKeyNotAccessibleFault,
  RDSClient,
  SnapshotQuotaExceededFault,
} from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readConfig, runCopySnapshot } from '../../../functions/copy-snapshot/index.ts';
import { lifeboatMetrics } from '../../../functions/core/shared/emf.ts';
import { Catalog } from '../../../functions/core/catalog/catalog.ts';
import type { FileRepository } from '../../../functions/core/repository/file.ts';
import { awsError, spyLogger, tempRepository } from './support.ts';

const source = new RDSClient({ region: 'eu-west-1' });
const dr = new RDSClient({ region: 'eu-central-1' });
const sourceMock = mockClient(source);
const drMock = mockClient(dr);
const DR_KEY = 'arn:aws:kms:eu-central-1:123456789012:key/dr-key-1';
const env = {
  LIFEBOAT_ENVIRONMENT: 'prod',
  LIFEBOAT_BUCKET: 'lifeboat-prod-backups',
  LIFEBOAT_DR_REGION: 'eu-central-1',
  LIFEBOAT_DR_KMS_KEY_ARN: DR_KEY,
  LIFEBOAT_MAX_INFLIGHT_COPIES: '5',
};

const tags = (slot = '2026-11-23T09:15:00Z') => [
  { Key: 'lifeboat:policy', Value: 'gold' },
  { Key: 'lifeboat:slot', Value: slot },
  { Key: 'lifeboat:environment', Value: 'prod' },
  { Key: 'lifeboat:database', Value: 'orders' },
];

function snapshot(id: string, region: string, extra: Partial<DBSnapshot> = {}): DBSnapshot {
  return {
    DBSnapshotIdentifier: id,
    DBSnapshotArn: `arn:aws:rds:${region}:123456789012:snapshot:${id}`,
    DBInstanceIdentifier: 'orders-db',
    Engine: 'postgres',
    EngineVersion: '16.4',
    Status: 'available',
    SnapshotType: 'manual',
    SnapshotCreateTime: new Date('2026-11-23T09:15:20Z'),
    AllocatedStorage: 100,
    Encrypted: true,
    KmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/primary',
    TagList: tags(),
    ...extra,
  };
}

const ID = 'lifeboat-orders-db-202611230915';
const SOURCE_ARN = `arn:aws:rds:eu-west-1:123456789012:snapshot:${ID}`;

function message(id = ID, detailType = 'RDS DB Snapshot Event', messageId = `m-${id}`) {
  return {
    messageId,
    body: JSON.stringify({
      version: '0',
      id: 'e1',
      'detail-type': detailType,
      source: 'aws.rds',
      account: '123456789012',
      time: '2026-11-23T09:31:00Z',
      region: 'eu-west-1',
      resources: [`arn:aws:rds:eu-west-1:123456789012:snapshot:${id}`],
      detail: {
        EventCategories: ['creation'],
        SourceType: 'SNAPSHOT',
        SourceArn: `arn:aws:rds:eu-west-1:123456789012:snapshot:${id}`,
        Date: '2026-11-23T09:31:00Z',
        Message: 'Manual snapshot created',
        SourceIdentifier: id,
        EventID: 'RDS-EVENT-0042',
      },
    }),
  };
}

const sqs = (...records: { messageId: string; body: string }[]) =>
  ({ Records: records }) as unknown as SQSEvent;

let repository: FileRepository;
let cleanup: () => Promise<void>;
let logger: ReturnType<typeof spyLogger>;

const run = (event: SQSEvent, environment: NodeJS.ProcessEnv = env) =>
  runCopySnapshot(event, {
    source,
    drClient: () => dr,
    s3: new S3Client({}),
    logger,
    env: environment,
    repository,
    runner: 'req-1',
  });

const notFound = () => new DBSnapshotNotFoundFault({ message: 'not found', $metadata: {} });

beforeEach(async () => {
  sourceMock.reset();
  drMock.reset();
  ({ repository, cleanup } = await tempRepository());
  logger = spyLogger();
  sourceMock.on(DescribeDBSnapshotsCommand).callsFake((input: { DBSnapshotIdentifier?: string }) => ({
    DBSnapshots: [snapshot(input.DBSnapshotIdentifier ?? ID, 'eu-west-1')],
  }));
  drMock.on(DescribeDBSnapshotsCommand).rejects(notFound());
  drMock.on(DescribeDBSnapshotsCommand, { SnapshotType: 'manual' }).resolves({ DBSnapshots: [] });
  drMock.on(CopyDBSnapshotCommand).resolves({ DBSnapshot: { Status: 'creating' } });
});

afterEach(async () => {
  await cleanup();
});

describe('copy-snapshot', () => {
  it('copies a new snapshot to the DR region with the DR key and its tags, and catalogs the source', async () => {
    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(drMock).toHaveReceivedCommandWith(CopyDBSnapshotCommand, {
      SourceDBSnapshotIdentifier: SOURCE_ARN,
      TargetDBSnapshotIdentifier: ID,
      KmsKeyId: DR_KEY,
      CopyTags: true,
    });
    expect(sourceMock).not.toHaveReceivedCommand(CopyDBSnapshotCommand);
    const backups = (await new Catalog(repository).list({ database: 'orders' })).sort((a, b) =>
      a.id.localeCompare(b.id),
    );
    expect(backups.map((b) => [b.id, b.state])).toEqual([
      ['20261123T091500Z-rds-eu-central-1', 'in-progress'],
      ['20261123T091500Z-rds-eu-west-1', 'completed'],
    ]);
    expect(backups[1]?.manifest).toMatchObject({
      kind: 'rds-snapshot',
      snapshotArn: SOURCE_ARN,
      region: 'eu-west-1',
      copiedFrom: null,
      engineVersion: '16.4',
    });
    // The message comes back so that the copy is cataloged once it is available.
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: `m-${ID}` }]);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('catalogs the copy when a redelivered message finds it available, without copying again', async () => {
    // Prepare
    drMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: ID }).resolves({
      DBSnapshots: [
        snapshot(ID, 'eu-central-1', {
          SourceDBSnapshotIdentifier: SOURCE_ARN,
          KmsKeyId: DR_KEY,
          OriginalSnapshotCreateTime: new Date('2026-11-23T09:15:20Z'),
        }),
      ],
    });

    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(drMock).not.toHaveReceivedCommand(CopyDBSnapshotCommand);
    expect(result.batchItemFailures).toEqual([]);
    const [copy] = await new Catalog(repository)
      .list({ database: 'orders' })
      .then((b) => b.filter((x) => x.id.endsWith('central-1')));
    expect(copy?.manifest).toMatchObject({
      region: 'eu-central-1',
      copiedFrom: SOURCE_ARN,
      kmsKeyId: DR_KEY,
      startedAt: '2026-11-23T09:15:20.000Z',
    });
  });

  it('counts a copy that arrived (SnapshotCopied, Environment and Database) once, however often it is seen', async () => {
    // Prepare: the copy is available in the DR region; the message comes twice.
    drMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: ID }).resolves({
      DBSnapshots: [
        snapshot(ID, 'eu-central-1', { SourceDBSnapshotIdentifier: SOURCE_ARN, KmsKeyId: DR_KEY }),
      ],
    });
    const metrics = lifeboatMetrics('test');
    const documents: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      documents.push(String(chunk));
      return true;
    });

    // Act
    try {
      for (let delivery = 0; delivery < 2; delivery++) {
        await runCopySnapshot(sqs(message()), {
          source,
          drClient: () => dr,
          s3: new S3Client({}),
          logger,
          env,
          repository,
          metrics,
        });
      }
    } finally {
      write.mockRestore();
    }

    // Assess
    const emf = documents
      .join('')
      .split('\n')
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l));
    expect(emf).toHaveLength(1);
    expect(emf[0]._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Lifeboat',
      Dimensions: [['Environment', 'Database']],
      Metrics: [{ Name: 'SnapshotCopied', Unit: 'Count' }],
    });
    expect(emf[0]).toMatchObject({ Environment: 'prod', Database: 'orders', SnapshotCopied: 1 });
  });

  it('is idempotent: the same event twice starts one copy and writes each manifest once', async () => {
    // Prepare: once started, the copy is there (copying)
    let copying = false;
    drMock.on(CopyDBSnapshotCommand).callsFake(() => {
      copying = true;
      return { DBSnapshot: { Status: 'creating' } };
    });
    drMock.on(DescribeDBSnapshotsCommand, { DBSnapshotIdentifier: ID }).callsFake(() => {
      if (!copying) throw notFound();
      return {
        DBSnapshots: [
          snapshot(ID, 'eu-central-1', { Status: 'creating', SourceDBSnapshotIdentifier: SOURCE_ARN }),
        ],
      };
    });

    // Act
    const first = await run(sqs(message()));
    const second = await run(sqs(message()));

    // Assess
    expect(drMock).toHaveReceivedCommandTimes(CopyDBSnapshotCommand, 1);
    expect(first.outcomes[0]?.outcome).toBe('copy started: waiting for it to be available');
    expect(second.outcomes[0]?.outcome).toBe('copy is creating: waiting');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('returns the message for later when 5 lifeboat copies are in flight, and never fails it', async () => {
    // Prepare
    drMock.on(DescribeDBSnapshotsCommand, { SnapshotType: 'manual' }).resolves({
      DBSnapshots: [
        ...[1, 2, 3, 4, 5].map((i) =>
          snapshot(`lifeboat-other-${i}`, 'eu-central-1', { Status: i % 2 ? 'creating' : 'copying' }),
        ),
        snapshot('lifeboat-done', 'eu-central-1', { Status: 'available' }),
        snapshot('someone-else', 'eu-central-1', { Status: 'creating', TagList: [] }),
      ],
    });

    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(drMock).not.toHaveReceivedCommand(CopyDBSnapshotCommand);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: `m-${ID}` }]);
    expect(result.outcomes[0]?.outcome).toBe('copy limit reached (5 of 5 in flight): waiting');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('keeps a batch under the limit, counting the copies it starts itself', async () => {
    // Prepare: 3 already in flight, limit 5, seven new snapshots
    drMock.on(DescribeDBSnapshotsCommand, { SnapshotType: 'manual' }).resolves({
      DBSnapshots: [1, 2, 3].map((i) =>
        snapshot(`lifeboat-other-${i}`, 'eu-central-1', { Status: 'creating' }),
      ),
    });
    const ids = [1, 2, 3, 4, 5, 6, 7].map((i) => `lifeboat-db${i}-202611230915`);

    // Act
    const result = await run(sqs(...ids.map((id) => message(id))));

    // Assess
    expect(drMock).toHaveReceivedCommandTimes(CopyDBSnapshotCommand, 2);
    expect(drMock.commandCalls(DescribeDBSnapshotsCommand, { SnapshotType: 'manual' })).toHaveLength(1);
    expect(result.batchItemFailures).toHaveLength(7);
    expect(result.outcomes.filter((o) => o.outcome.startsWith('copy limit reached'))).toHaveLength(5);
  });

  it('treats RDS refusing a copy for too many cross-region copies as "wait"', async () => {
    // Prepare
    drMock.on(CopyDBSnapshotCommand).rejects(
      new SnapshotQuotaExceededFault({
        message: 'Cannot copy more than 5 snapshots across regions',
        $metadata: {},
      }),
    );

    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: `m-${ID}` }]);
    expect(result.outcomes[0]?.outcome).toBe('copy limit reached (RDS): waiting');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('reports a full manual snapshot quota in the DR region as SnapshotQuotaExceeded', async () => {
    // Prepare
    drMock.on(CopyDBSnapshotCommand).rejects(
      new SnapshotQuotaExceededFault({
        message: 'Cannot create more than 100 manual snapshots',
        $metadata: {},
      }),
    );

    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(result.outcomes[0]?.outcome).toMatch(/^error: SnapshotQuotaExceeded/);
    expect(logger.error).toHaveBeenCalledOnce();
  });

  it('names the DR key when KMS refuses the copy', async () => {
    // Prepare
    drMock.on(CopyDBSnapshotCommand).rejects(
      new KMSKeyNotAccessibleFault({
        message:
          'The target KMS key does not exist, is not enabled or you do not have permissions to access it.',
        $metadata: {},
      }),
    );

    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: `m-${ID}` }]);
    expect(result.outcomes[0]?.outcome).toMatch(/^error: KmsKeyNotAccessible: .*dr-key-1/);
    expect(logger.error).toHaveBeenCalledWith(
      'copy-snapshot failed for a message',
      expect.objectContaining({
        error: expect.objectContaining({
          name: 'KmsKeyNotAccessible',
          message: expect.stringContaining(DR_KEY),
        }),
      }),
    );
  });

  it('surfaces throttling after the SDK retries as Throttled, and goes on with the rest of the batch', async () => {
    // Prepare
    drMock
      .on(CopyDBSnapshotCommand)
      .rejectsOnce(awsError('ThrottlingException', 'Rate exceeded'))
      .resolves({});

    // Act
    const result = await run(sqs(message(), message('lifeboat-db2-202611230915')));

    // Assess
    expect(result.outcomes.map((o) => o.outcome)).toEqual([
      expect.stringMatching(/^error: Throttled/),
      'copy started: waiting for it to be available',
    ]);
    expect(drMock).toHaveReceivedCommandTimes(CopyDBSnapshotCommand, 2);
  });

  it('copies an Aurora cluster snapshot with CopyDBClusterSnapshot', async () => {
    // Prepare
    const id = 'lifeboat-analytics-202611230915';
    sourceMock.on(DescribeDBClusterSnapshotsCommand).resolves({
      DBClusterSnapshots: [
        {
          DBClusterSnapshotIdentifier: id,
          DBClusterSnapshotArn: `arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:${id}`,
          DBClusterIdentifier: 'analytics',
          Engine: 'aurora-postgresql',
          Status: 'available',
          TagList: tags(),
        },
      ],
    });
    drMock.on(DescribeDBClusterSnapshotsCommand).rejects(awsError('DBClusterSnapshotNotFoundFault'));
    drMock
      .on(DescribeDBClusterSnapshotsCommand, { SnapshotType: 'manual' })
      .resolves({ DBClusterSnapshots: [] });
    drMock.on(CopyDBClusterSnapshotCommand).resolves({});

    // Act
    await run(sqs(message(id, 'RDS DB Cluster Snapshot Event')));

    // Assess
    expect(drMock).toHaveReceivedCommandWith(CopyDBClusterSnapshotCommand, {
      SourceDBClusterSnapshotIdentifier: `arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:${id}`,
      TargetDBClusterSnapshotIdentifier: id,
      KmsKeyId: DR_KEY,
      CopyTags: true,
    });
  });

  it('waits when two deliveries race and RDS answers DBSnapshotAlreadyExists', async () => {
    // Prepare
    drMock
      .on(CopyDBSnapshotCommand)
      .rejects(new DBSnapshotAlreadyExistsFault({ message: 'exists', $metadata: {} }));

    // Act
    const result = await run(sqs(message()));

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('copy already started: waiting for it to be available');
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('ignores snapshots that are not lifeboat’s, and returns a malformed message as a failure', async () => {
    // Prepare
    sourceMock.on(DescribeDBSnapshotsCommand).resolves({
      DBSnapshots: [
        snapshot(ID, 'eu-west-1', { TagList: [{ Key: 'lifeboat:environment', Value: 'staging' }] }),
      ],
    });

    // Act
    const result = await run(
      sqs(message('manual-by-hand'), message(), {
        messageId: 'garbage',
        body: '{"detail-type":"EC2 Instance State-change"',
      }),
    );

    // Assess
    expect(result.outcomes.map((o) => o.outcome)).toEqual([
      'not a lifeboat snapshot: ignored',
      'not lifeboat-tagged for this environment: ignored',
      'error: InvalidArgument: message body is not JSON',
    ]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'garbage' }]);
    expect(drMock).not.toHaveReceivedCommand(CopyDBSnapshotCommand);
  });
});

describe('copy-snapshot configuration', () => {
  it('names a missing variable, and refuses a key outside the DR region or a bad limit', () => {
    const { LIFEBOAT_DR_KMS_KEY_ARN: _, ...noKey } = env;
    expect(() => readConfig(noKey)).toThrow(/LIFEBOAT_DR_KMS_KEY_ARN/);
    expect(() => readConfig({ ...env, LIFEBOAT_DR_KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:1:key/x' })).toThrow(
      /in eu-central-1/,
    );
    expect(() => readConfig({ ...env, LIFEBOAT_MAX_INFLIGHT_COPIES: 'lots' })).toThrow(
      /LIFEBOAT_MAX_INFLIGHT_COPIES/,
    );
    expect(readConfig({ ...env, LIFEBOAT_MAX_INFLIGHT_COPIES: '' }).maxInFlight).toBe(5);
  });
});
