import 'aws-sdk-client-mock-vitest/extend';
import {
  CreateDBSnapshotCommand,
  DBSnapshotNotFoundFault,
  DescribeAccountAttributesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler } from '../../../functions/take-snapshot/index.ts';

/** The deployed handler, middy and Powertools included, with every AWS client mocked. */

const rdsMock = mockClient(RDSClient);
const s3Mock = mockClient(S3Client);
const context = {
  awsRequestId: 'req-42',
  functionName: 'lifeboat-prod-take-snapshot',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:lifeboat-prod-take-snapshot',
  memoryLimitInMB: '256',
  getRemainingTimeInMillis: () => 60_000,
} as unknown as Context;
const event = {
  database: 'orders',
  identifier: 'orders-db',
  type: 'instance',
  policy: 'gold',
  scheduledTime: '2026-11-23T09:15:00Z',
};

let stdout: string[];

beforeEach(() => {
  rdsMock.reset();
  s3Mock.reset();
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('LIFEBOAT_ENVIRONMENT', 'prod');
  vi.stubEnv('LIFEBOAT_BUCKET', 'lifeboat-prod-backups');
  stdout = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout.push(String(chunk));
    return true;
  });
  rdsMock
    .on(DescribeDBSnapshotsCommand)
    .rejects(new DBSnapshotNotFoundFault({ message: 'not found', $metadata: {} }));
  rdsMock.on(DescribeAccountAttributesCommand).resolves({
    AccountQuotas: [{ AccountQuotaName: 'ManualSnapshots', Used: 85, Max: 100 }],
  });
  rdsMock
    .on(CreateDBSnapshotCommand)
    .resolves({ DBSnapshot: { DBSnapshotArn: 'arn:aws:rds:eu-west-1:1:snapshot:x', Status: 'creating' } });
  s3Mock
    .on(HeadObjectCommand)
    .rejects(Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }));
  s3Mock.on(PutObjectCommand).resolves({});
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe('take-snapshot Lambda handler', () => {
  it('snapshots, writes the started record to the bucket and emits the quota metric with the Environment dimension', async () => {
    // Act
    const result = await handler(event, context);

    // Assess
    expect(result).toMatchObject({ created: true, snapshotIdentifier: 'lifeboat-orders-db-202611230915' });
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: 'lifeboat-prod-backups',
      IfNoneMatch: '*',
    });
    const emf = stdout
      .flatMap((line) => line.split('\n'))
      .filter((line) => line.includes('"CloudWatchMetrics"'))
      .map((line) => JSON.parse(line));
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: 'Lifeboat',
            Dimensions: [['Environment']],
            Metrics: [{ Name: 'ManualSnapshotQuotaUsedPercent', Unit: 'Percent' }],
          },
        ],
      },
      Environment: 'prod',
      ManualSnapshotQuotaUsedPercent: 85,
    });
  });

  it('fails naming LIFEBOAT_BUCKET when it is not set', async () => {
    // Prepare
    vi.stubEnv('LIFEBOAT_BUCKET', '');

    // Act / Assess
    await expect(handler(event, context)).rejects.toMatchObject({
      name: 'MissingEnvironment',
      message: expect.stringContaining('LIFEBOAT_BUCKET'),
    });
    expect(rdsMock).not.toHaveReceivedCommand(CreateDBSnapshotCommand);
  });
});
