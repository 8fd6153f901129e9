import { beforeAll, describe, expect, it } from 'vitest';
import { planRestoreTest } from '../../functions/core/restore/restore-plan.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { dumpBackup, REGION, snapshotBackup } from './catalog-fixtures.ts';
import { failWith, type Handlers, runWorkflow } from './harness.ts';

const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-AbCdEf';

const instanceBackups = [
  snapshotBackup('20261123T030000Z-snp', '2026-11-23T03:00:00.000Z'),
  dumpBackup('20261123T020000Z-dmp', '2026-11-23T02:00:00.000Z'),
];
const clusterBackups = [
  snapshotBackup('20261123T030000Z-clu', '2026-11-23T03:00:00.000Z', { type: 'cluster' }),
  dumpBackup('20261123T020000Z-dmp', '2026-11-23T02:00:00.000Z'),
];

const someoneElsesInstance = (p: { DbInstanceIdentifier: string }) => ({
  DbInstances: [{ DbInstanceIdentifier: p.DbInstanceIdentifier, DbInstanceStatus: 'available', TagList: [] }],
});
const someoneElsesCluster = (p: { DbClusterIdentifier: string }) => ({
  DbClusters: [{ DbClusterIdentifier: p.DbClusterIdentifier, Status: 'available', TagList: [] }],
});

function handlers(backups = instanceBackups, overrides: Handlers = {}): Handlers {
  const published = () => ({ MessageId: 'm' });
  const created = (p: { DbInstanceIdentifier: string }) => ({
    DbInstance: { DbInstanceIdentifier: p.DbInstanceIdentifier },
  });
  return {
    PlanRestoreTest: (e: { database: string; executionName: string }) =>
      planRestoreTest({ ...e, backups, region: REGION, secretArn: SECRET }),
    RestoreTestInstance: created,
    RestoreTestCluster: (p: { DbClusterIdentifier: string }) => ({
      DbCluster: { DbClusterIdentifier: p.DbClusterIdentifier },
    }),
    CreateTestClusterInstance: created,
    // Ownership checks after a create failed: by default the resource is someone else's (untagged).
    ExistingTestInstanceDescribe: someoneElsesInstance,
    TestUnsureInstanceDescribe: someoneElsesInstance,
    ExistingTestClusterDescribe: someoneElsesCluster,
    TestUnsureClusterDescribe: someoneElsesCluster,
    DescribeTestInstance: (p: { DbInstanceIdentifier: string }) => ({
      DbInstances: [
        {
          DbInstanceStatus: 'available',
          Endpoint: { Address: `${p.DbInstanceIdentifier}.x.rds.amazonaws.com` },
        },
      ],
    }),
    RunDataChecks: () => ({
      passed: true,
      checks: [{ name: 'tables', passed: true, detail: 'ok', failures: [] }],
    }),
    DeleteTestInstance: () => ({}),
    DeleteTestCluster: () => ({}),
    RecordRestoreTest: () => ({
      recorded: true,
      key: 'catalog/orders/20261123T030000Z-snp/records/x.json',
      restoreDurationMs: 1,
      totalDurationMs: 2,
    }),
    RecordFailedRestoreTest: () => ({ recorded: true }),
    NotifyRestoreTestPassed: published,
    NotifyRestoreTestChecksFailed: published,
    NotifyRestoreTestError: published,
    ...overrides,
  };
}

describe('RestoreTestWorkflow', () => {
  let asl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('restore-test');
  });

  it('restores the newest snapshot into an isolated instance, checks it against the matching dump, deletes it, records', async () => {
    const result = await runWorkflow('restore-test', asl, { database: 'orders' }, handlers(), {
      executionName: 'rt-1',
    });

    expect(result.status).toBe('SUCCEEDED');
    const [restore] = result.calls.RestoreTestInstance as Record<string, unknown>[];
    expect(restore).toMatchObject({
      DbSnapshotIdentifier: 'lifeboat-20261123T030000Z-snp',
      DbSubnetGroupName: 'lifeboat-drill-isolated',
      VpcSecurityGroupIds: ['sg-0000000000000000a'],
      DbInstanceClass: 'db.t4g.medium',
      PubliclyAccessible: false,
    });
    const identifier = restore!.DbInstanceIdentifier as string;
    expect(identifier).toMatch(/^lifeboat-rt-orders-[0-9a-f]{8}$/);
    expect(result.calls.RunDataChecks![0]).toMatchObject({
      restorePoint: { kind: 'snapshot', backupId: '20261123T030000Z-snp' },
      statisticsBackupId: '20261123T020000Z-dmp',
      endpoint: `${identifier}.x.rds.amazonaws.com`,
      secretArn: SECRET,
      failOnMismatch: false,
    });
    expect(result.calls.DeleteTestInstance).toEqual([
      { DbInstanceIdentifier: identifier, SkipFinalSnapshot: true, DeleteAutomatedBackups: true },
    ]);
    expect(result.calls.RecordRestoreTest![0]).toMatchObject({
      database: 'orders',
      plan: { backupId: '20261123T030000Z-snp' },
      timing: { restoredAt: expect.any(String) },
      startedAt: expect.any(String),
      checks: { passed: true },
    });
    expect(result.path.indexOf('DeleteTestInstance')).toBeLessThan(result.path.indexOf('RecordRestoreTest'));
    expect(result.output).toMatchObject({ result: 'verified', backupId: '20261123T030000Z-snp' });
  });

  it('restore-tests an Aurora cluster snapshot and deletes instance and cluster', async () => {
    const result = await runWorkflow('restore-test', asl, { database: 'orders' }, handlers(clusterBackups));

    expect(result.status).toBe('SUCCEEDED');
    expect(result.calls.RestoreTestCluster![0]).toMatchObject({ Engine: 'aurora-postgresql' });
    expect(result.calls.DeleteTestInstance).toHaveLength(1);
    expect(result.calls.DeleteTestCluster).toHaveLength(1);
  });

  it('failing checks: the instance is still deleted, the failure recorded, the execution fails', async () => {
    const result = await runWorkflow(
      'restore-test',
      asl,
      { database: 'orders' },
      handlers(instanceBackups, {
        RunDataChecks: () => ({
          passed: false,
          checks: [{ name: 'tables', passed: false, detail: '1 of 3 tables differ', failures: ['x'] }],
        }),
      }),
    );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('VerificationFailed');
    expect(result.calls.DeleteTestInstance).toHaveLength(1);
    expect(result.calls.RecordRestoreTest![0]).toMatchObject({ checks: { passed: false } });
    expect(result.calls.NotifyRestoreTestChecksFailed).toHaveLength(1);
  });

  it.each([
    [
      'checks error',
      { RunDataChecks: failWith('DatabaseUnreachable', 'connection refused') },
      'DatabaseUnreachable',
    ],
    [
      'instance never available',
      { DescribeTestInstance: () => ({ DbInstances: [{ DbInstanceStatus: 'incompatible-restore' }] }) },
      'RestoreFailed',
    ],
  ] as [string, Handlers, string][])(
    '%s: the temporary instance is deleted and the error recorded',
    async (_l, o, error) => {
      const result = await runWorkflow(
        'restore-test',
        asl,
        { database: 'orders' },
        handlers(instanceBackups, o),
      );

      expect(result.error).toBe(error);
      expect(result.calls.DeleteTestInstance).toHaveLength(1);
      expect(result.calls.DeleteTestCluster).toHaveLength(0);
      expect(result.calls.RecordFailedRestoreTest![0]).toMatchObject({ error: { Error: error } });
      expect(result.calls.RecordRestoreTest).toHaveLength(0);
    },
  );

  it('no snapshot to test: nothing created, nothing deleted, recorded as an error', async () => {
    const result = await runWorkflow('restore-test', asl, { database: 'orders' }, handlers([]));

    expect(result.error).toBe('NoRestorePoint');
    expect(result.calls.RestoreTestInstance).toHaveLength(0);
    expect(result.calls.DeleteTestInstance).toHaveLength(0);
    expect(result.calls.NotifyRestoreTestError).toHaveLength(1);
  });

  it('the create call fails: nothing to delete', async () => {
    const result = await runWorkflow(
      'restore-test',
      asl,
      { database: 'orders' },
      handlers(instanceBackups, { RestoreTestInstance: failWith('Rds.StorageQuotaExceededException') }),
    );

    expect(result.error).toBe('Rds.StorageQuotaExceededException');
    expect(result.calls.DeleteTestInstance).toHaveLength(0);
  });

  it('a failed record does not fail a passed test', async () => {
    const result = await runWorkflow(
      'restore-test',
      asl,
      { database: 'orders' },
      handlers(instanceBackups, { RecordRestoreTest: failWith('RepositoryError') }),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.output.record).toMatchObject({ recorded: false });
  });
});
