import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as validateRestore } from '../../../functions/wf-validate-restore/index.ts';
import {
  handler as planRestoreTest,
  planRestoreTestTask,
} from '../../../functions/wf-plan-restore-test/index.ts';
import { dumpBackup, snapshotBackup } from '../../state-machines/catalog-fixtures.ts';
import { awsError, captureStdout, lambdaContext } from './support.ts';

/**
 * ValidateInput (wf-validate-restore) and PlanRestoreTest (wf-plan-restore-test) as deployed:
 * what each returns, what it refuses (the error names the workflows catch), and what an S3 fault
 * does to the plan.
 */

const s3 = mockClient(S3Client);
const secretArn = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:lifeboat/orders-AbCdEf';

beforeEach(() => {
  s3.reset();
  vi.stubEnv('AWS_REGION', 'eu-central-1');
  vi.stubEnv('LIFEBOAT_BUCKET', 'lifeboat-prod-backups-eu-central-1');
  vi.stubEnv('LIFEBOAT_DATABASE_SECRETS', JSON.stringify({ orders: secretArn }));
  captureStdout();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('wf-validate-restore', () => {
  const context = lambdaContext('wf-validate-restore');

  it('plans a valid request: the route, defaults filled in, the instance to create', async () => {
    const planned = await validateRestore(
      {
        input: {
          database: 'orders',
          source: 'snapshot',
          target: {
            kind: 'cluster',
            identifier: 'orders-restored',
            instanceClass: 'db.r6g.large',
            subnetGroupName: 'lifeboat-restore',
            securityGroupIds: ['sg-0123456789abcdef0'],
            secretArn,
          },
        },
      },
      context,
    );

    expect(planned).toMatchObject({
      database: 'orders',
      source: 'snapshot',
      route: 'cluster-snapshot',
      restorePoint: { kind: 'latest-verified' },
      verify: true,
      target: { kind: 'cluster', identifier: 'orders-restored', instanceIdentifier: 'orders-restored-1' },
    });
  });

  it('a dump restore gets the archive defaults', async () => {
    const planned = await validateRestore(
      {
        input: {
          database: 'orders',
          source: 'dump',
          target: { identifier: 'orders-db', databaseName: 'orders_copy', secretArn },
        },
      },
      context,
    );

    expect(planned).toMatchObject({ route: 'dump', archive: { tier: 'Standard', days: 7 } });
  });

  it('refuses a bad request with InvalidRestoreInput naming the field', async () => {
    await expect(
      validateRestore(
        { input: { database: 'orders', source: 'tape', target: { identifier: 'orders-restored' } } },
        context,
      ),
    ).rejects.toMatchObject({ name: 'InvalidRestoreInput', message: expect.stringContaining('source') });
    await expect(
      validateRestore({ input: { database: 'orders', source: 'snapshot', target: {} } }, context),
    ).rejects.toMatchObject({
      name: 'InvalidRestoreInput',
      message: expect.stringContaining('target.identifier'),
    });
  });

  it('an event that is not the state machine envelope is refused as InvalidArgument', async () => {
    await expect(validateRestore('orders', context)).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('wf-validate-restore event'),
    });
  });
});

describe('wf-plan-restore-test', () => {
  const context = lambdaContext('wf-plan-restore-test');

  it('plans the newest snapshot of the region with the dump matching it, and temporary names', async () => {
    const backups = [
      snapshotBackup('20261123T091500Z-snap', '2026-11-23T09:15:00Z'),
      dumpBackup('20261123T090000Z-dump', '2026-11-23T09:00:00Z'),
      snapshotBackup('20261122T091500Z-old', '2026-11-22T09:15:00Z'),
    ];
    const plan = await planRestoreTestTask(
      { database: 'orders', executionName: 'rt-1' },
      { list: async () => backups },
      process.env,
    );

    expect(plan).toMatchObject({
      database: 'orders',
      route: 'instance-snapshot',
      backupId: '20261123T091500Z-snap',
      snapshotIdentifier: 'lifeboat-20261123T091500Z-snap',
      secretArn,
    });
    expect(plan.identifier).toEqual(plan.instanceIdentifier);
    expect(plan.identifier).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
  });

  it('no snapshot in this region: NoRestorePoint (a snapshot of another region does not count)', async () => {
    const backups = [
      snapshotBackup('20261123T091500Z-snap', '2026-11-23T09:15:00Z', { region: 'eu-west-1' }),
    ];

    await expect(
      planRestoreTestTask({ database: 'orders', executionName: 'rt-1' }, { list: async () => backups }),
    ).rejects.toMatchObject({ name: 'NoRestorePoint', message: expect.stringContaining('eu-central-1') });
  });

  it('the deployed handler reads the catalog from the bucket; an empty one is NoRestorePoint', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });

    await expect(
      planRestoreTest({ database: 'orders', executionName: 'rt-1' }, context),
    ).rejects.toMatchObject({ name: 'NoRestorePoint' });
    expect(s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input).toMatchObject({
      Bucket: 'lifeboat-prod-backups-eu-central-1',
      Prefix: expect.stringContaining('orders'),
    });
  });

  it('a database without a configured secret is a ConfigError naming the variable', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });

    await expect(
      planRestoreTest({ database: 'billing', executionName: 'rt-1' }, context),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      message: 'LIFEBOAT_DATABASE_SECRETS has no secret for database "billing"',
    });
  });

  it('a throttled catalog read fails (RepositoryError, saying what S3 said): no plan from a partial catalog', async () => {
    s3.on(ListObjectsV2Command).rejects(awsError('SlowDown', 'Please reduce your request rate.'));

    await expect(
      planRestoreTest({ database: 'orders', executionName: 'rt-1' }, context),
    ).rejects.toMatchObject({ name: 'RepositoryError', message: expect.stringContaining('SlowDown') });
  });

  it('refuses an event without the database, naming the field', async () => {
    await expect(planRestoreTest({ executionName: 'rt-1' }, context)).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('database'),
    });
    expect(s3.calls()).toHaveLength(0);
  });
});
