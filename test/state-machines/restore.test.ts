import { beforeAll, describe, expect, it } from 'vitest';
import {
  chooseRestorePoint,
  type PlannedRestore,
  planRestore,
} from '../../functions/core/restore/restore-plan.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { backoffSchedule } from '../../state-machines/resilience.ts';
import { CUTOVER_POLL, RESTORE_POLL } from '../../state-machines/restore.ts';
import { dumpBackup, REGION, snapshotBackup } from './catalog-fixtures.ts';
import { failWith, type Handlers, runWorkflow } from './harness.ts';

const CREATE_STATES = [
  'RestoreInstanceFromSnapshot',
  'RestoreInstanceToPointInTime',
  'RestoreClusterFromSnapshot',
  'RestoreClusterToPointInTime',
  'CreateClusterInstance',
  'RestoreDump',
] as const;
const DELETE_STATES = ['DeleteCreatedInstance', 'DeleteCreatedCluster', 'DropCreatedDatabase'] as const;

const backups = [
  snapshotBackup('20261123T030000Z-new', '2026-11-23T03:00:00.000Z'),
  snapshotBackup('20261122T030000Z-ver', '2026-11-22T03:00:00.000Z', { verified: true }),
  snapshotBackup('20261122T030000Z-clu', '2026-11-22T03:00:00.000Z', { verified: true, type: 'cluster' }),
  dumpBackup('20261122T020000Z-dmp', '2026-11-22T02:00:00.000Z', { verified: true }),
  snapshotBackup('20261121T030000Z-old', '2026-11-21T03:00:00.000Z', { verified: true }),
];

const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-restore-AbCdEf';
const instanceTarget = {
  kind: 'instance',
  identifier: 'orders-restored',
  instanceClass: 'db.r6g.large',
  subnetGroupName: 'lifeboat-restore',
  securityGroupIds: ['sg-0123456789abcdef0'],
  secretArn: SECRET,
};
const fromSnapshot = { database: 'orders', source: 'snapshot', target: instanceTarget };

function endpointOf(id: string) {
  return `${id}.abc.${REGION}.rds.amazonaws.com`;
}

const someoneElsesInstance = (p: { DbInstanceIdentifier: string }) => ({
  DbInstances: [{ DbInstanceIdentifier: p.DbInstanceIdentifier, DbInstanceStatus: 'available', TagList: [] }],
});
const someoneElsesCluster = (p: { DbClusterIdentifier: string }) => ({
  DbClusters: [{ DbClusterIdentifier: p.DbClusterIdentifier, Status: 'available', TagList: [] }],
});

const readableDump = {
  readable: true,
  artifacts: 2,
  readableNow: 2,
  archived: 0,
  restoring: 0,
  storageClasses: ['STANDARD'],
  waitingFor: [],
};

function handlers(overrides: Handlers = {}): Handlers {
  const published = () => ({ MessageId: 'm' });
  return {
    ValidateInput: (e: { input: unknown }) => planRestore(e.input),
    NotifyRestoreStarted: published,
    ResolveRestorePoint: (e: { request: PlannedRestore }) => chooseRestorePoint(e.request, backups, REGION),
    RestoreInstanceFromSnapshot: (p: { DbInstanceIdentifier: string }) => ({
      DbInstance: { DbInstanceIdentifier: p.DbInstanceIdentifier, DbInstanceStatus: 'creating' },
    }),
    RestoreInstanceToPointInTime: (p: { TargetDBInstanceIdentifier: string }) => ({
      DbInstance: { DbInstanceIdentifier: p.TargetDBInstanceIdentifier, DbInstanceStatus: 'creating' },
    }),
    RestoreClusterFromSnapshot: (p: { DbClusterIdentifier: string }) => ({
      DbCluster: { DbClusterIdentifier: p.DbClusterIdentifier, Status: 'creating' },
    }),
    RestoreClusterToPointInTime: (p: { DbClusterIdentifier: string }) => ({
      DbCluster: { DbClusterIdentifier: p.DbClusterIdentifier, Status: 'creating' },
    }),
    CreateClusterInstance: (p: { DbInstanceIdentifier: string }) => ({
      DbInstance: { DbInstanceIdentifier: p.DbInstanceIdentifier, DbInstanceStatus: 'creating' },
    }),
    // Ownership checks after a create failed: by default the resource is someone else's (untagged).
    ExistingInstanceDescribe: someoneElsesInstance,
    UnsureInstanceDescribe: someoneElsesInstance,
    ExistingClusterDescribe: someoneElsesCluster,
    UnsureClusterDescribe: someoneElsesCluster,
    DescribeRestoredInstance: (p: { DbInstanceIdentifier: string }) => ({
      DbInstances: [
        {
          DbInstanceIdentifier: p.DbInstanceIdentifier,
          DbInstanceStatus: 'available',
          Endpoint: { Address: endpointOf(p.DbInstanceIdentifier), Port: 5432 },
        },
      ],
    }),
    DescribeRestoredCluster: (p: { DbClusterIdentifier: string }) => ({
      DbClusters: [
        {
          DbClusterIdentifier: p.DbClusterIdentifier,
          Endpoint: `${p.DbClusterIdentifier}.cluster-abc.${REGION}.rds.amazonaws.com`,
        },
      ],
    }),
    // The dump's artifacts are readable (not archived) unless a test says otherwise.
    CheckDumpArtifacts: () => readableDump,
    RequestArchiveRestore: failWith('Unexpected', 'no restore request for a readable dump'),
    NotifyArchiveRestore: published,
    CheckArchiveRestore: () => readableDump,
    RestoreDump: (e: { target: { databaseName: string } }) => ({
      database: e.target.databaseName,
      endpoint: 'reports-db.abc.rds.amazonaws.com',
      passed: true,
      checks: [{ name: 'tables', passed: true, detail: '3 tables, 10 rows, exact', failures: [] }],
    }),
    VerifyRestore: () => ({
      passed: true,
      checks: [{ name: 'tables', passed: true, detail: 'ok', failures: [] }],
    }),
    Cutover: () => ({ ChangeInfo: { Id: '/change/C9', Status: 'PENDING' } }),
    GetCutoverChange: () => ({ ChangeInfo: { Id: '/change/C9', Status: 'INSYNC' } }),
    FinishRestore: () => ({ recorded: true, durationMs: 754_000 }),
    NotifyRestored: published,
    DeleteCreatedInstance: () => ({}),
    DeleteCreatedCluster: () => ({}),
    DropCreatedDatabase: () => ({}),
    NotifyRestoreFailed: published,
    ...overrides,
  };
}

function creates(calls: Record<string, unknown[]>): number {
  return CREATE_STATES.reduce((n, s) => n + (calls[s]?.length ?? 0), 0);
}
function deletes(calls: Record<string, unknown[]>): number {
  return DELETE_STATES.reduce((n, s) => n + (calls[s]?.length ?? 0), 0);
}

describe('RestoreWorkflow', () => {
  let asl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('restore');
  });

  describe('success paths', () => {
    it('restores the latest verified snapshot into a new instance, verifies it and reports the duration', async () => {
      const result = await runWorkflow('restore', asl, fromSnapshot, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RestoreInstanceFromSnapshot).toEqual([
        {
          DbInstanceIdentifier: 'orders-restored',
          DbSnapshotIdentifier: 'lifeboat-20261122T030000Z-ver',
          DbInstanceClass: 'db.r6g.large',
          DbSubnetGroupName: 'lifeboat-restore',
          VpcSecurityGroupIds: ['sg-0123456789abcdef0'],
          PubliclyAccessible: false,
          MultiAZ: false,
          DeletionProtection: false,
          Tags: [
            { Key: 'lifeboat:workflow', Value: 'restore' },
            { Key: 'lifeboat:created-by', Value: 'test-execution' },
          ],
        },
      ]);
      expect(result.calls.DescribeRestoredInstance).toEqual([{ DbInstanceIdentifier: 'orders-restored' }]);
      expect(result.calls.VerifyRestore![0]).toMatchObject({
        endpoint: endpointOf('orders-restored'),
        secretArn: SECRET,
        restorePoint: { backupId: '20261122T030000Z-ver' },
      });
      expect(result.calls.FinishRestore![0]).toMatchObject({
        created: { instance: { identifier: 'orders-restored' } },
        verification: { passed: true },
        startedAt: expect.any(String),
      });
      expect(result.calls.NotifyRestored![0]).toMatchObject({
        Message: { type: 'restore.completed', report: { durationMs: 754_000 } },
      });
      expect(result.output).toMatchObject({ result: 'restored', endpoint: endpointOf('orders-restored') });
      expect(deletes(result.calls)).toBe(0);
    });

    it('restores a named backup', async () => {
      const input = { ...fromSnapshot, restorePoint: { kind: 'backup', backupId: '20261123T030000Z-new' } };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.calls.RestoreInstanceFromSnapshot![0]).toMatchObject({
        DbSnapshotIdentifier: 'lifeboat-20261123T030000Z-new',
      });
    });

    it('restores the newest snapshot finished before a time', async () => {
      const input = { ...fromSnapshot, restorePoint: { kind: 'time', time: '2026-11-21T12:00:00Z' } };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.calls.RestoreInstanceFromSnapshot![0]).toMatchObject({
        DbSnapshotIdentifier: 'lifeboat-20261121T030000Z-old',
      });
    });

    it('restores an instance to a point in time', async () => {
      const input = {
        database: 'orders',
        source: 'point-in-time',
        sourceIdentifier: 'orders-db',
        restorePoint: { kind: 'time', time: '2026-11-23T08:15:00Z' },
        target: instanceTarget,
      };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RestoreInstanceToPointInTime![0]).toMatchObject({
        SourceDBInstanceIdentifier: 'orders-db',
        TargetDBInstanceIdentifier: 'orders-restored',
        RestoreTime: '2026-11-23T08:15:00.000Z',
      });
    });

    it('restores an Aurora cluster from a snapshot, creates its instance and cuts over to the cluster endpoint', async () => {
      const input = {
        ...fromSnapshot,
        target: { ...instanceTarget, kind: 'cluster', identifier: 'orders-aurora-restored' },
        cutover: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com' },
      };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RestoreClusterFromSnapshot![0]).toMatchObject({
        DbClusterIdentifier: 'orders-aurora-restored',
        SnapshotIdentifier: 'lifeboat-20261122T030000Z-clu',
        Engine: 'aurora-postgresql',
      });
      expect(result.calls.CreateClusterInstance![0]).toMatchObject({
        DbInstanceIdentifier: 'orders-aurora-restored-1',
        DbClusterIdentifier: 'orders-aurora-restored',
        DbInstanceClass: 'db.r6g.large',
      });
      const clusterEndpoint = `orders-aurora-restored.cluster-abc.${REGION}.rds.amazonaws.com`;
      expect(result.calls.Cutover![0]).toMatchObject({
        HostedZoneId: 'Z0123456789ABC',
        ChangeBatch: {
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: 'orders.db.example.com',
                Ttl: 60,
                ResourceRecords: [{ Value: clusterEndpoint }],
              },
            },
          ],
        },
      });
      expect(result.calls.GetCutoverChange).toEqual([{ Id: '/change/C9' }]);
      expect(result.output.cutover).toEqual({ changeId: '/change/C9', status: 'INSYNC' });
    });

    it('restores an Aurora cluster to a point in time', async () => {
      const input = {
        database: 'orders',
        source: 'point-in-time',
        sourceIdentifier: 'orders-aurora',
        restorePoint: { kind: 'time', time: '2026-11-23T08:15:00Z' },
        target: { ...instanceTarget, kind: 'cluster', identifier: 'orders-pitr' },
      };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RestoreClusterToPointInTime![0]).toMatchObject({
        SourceDBClusterIdentifier: 'orders-aurora',
        DbClusterIdentifier: 'orders-pitr',
        RestoreToTime: '2026-11-23T08:15:00.000Z',
      });
      expect(result.calls.CreateClusterInstance).toHaveLength(1);
    });

    it('restores a dump into a new database (checked by the restore itself) without creating RDS resources', async () => {
      const input = {
        database: 'orders',
        source: 'dump',
        target: { identifier: 'reports-db', databaseName: 'orders_restored', secretArn: SECRET },
      };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RestoreDump![0]).toMatchObject({
        backupId: '20261122T020000Z-dmp',
        database: 'orders',
      });
      expect(result.calls.VerifyRestore).toHaveLength(0);
      expect(creates(result.calls)).toBe(1);
      expect(result.output).toMatchObject({
        endpoint: 'reports-db.abc.rds.amazonaws.com',
        created: { database: { name: 'orders_restored' } },
        verification: { passed: true },
      });
    });

    it('skips verification when asked to', async () => {
      const result = await runWorkflow('restore', asl, { ...fromSnapshot, verify: false }, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.VerifyRestore).toHaveLength(0);
      expect(result.output.verification).toEqual({ skipped: true });
    });

    it('polls until the instance is available', async () => {
      let n = 0;
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({
          DescribeRestoredInstance: () => ({
            DbInstances: [
              ++n < 4
                ? { DbInstanceStatus: 'creating' }
                : { DbInstanceStatus: 'available', Endpoint: { Address: 'x.rds.amazonaws.com' } },
            ],
          }),
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.DescribeRestoredInstance).toHaveLength(4);
    });

    it('keeps a restored database whose cutover is not in sync in time, and says so', async () => {
      const input = {
        ...fromSnapshot,
        cutover: { hostedZoneId: 'Z0123456789ABC', recordName: 'o.example.com' },
      };
      const result = await runWorkflow(
        'restore',
        asl,
        input,
        handlers({ GetCutoverChange: () => ({ ChangeInfo: { Id: '/change/C9', Status: 'PENDING' } }) }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.GetCutoverChange).toHaveLength(backoffSchedule(CUTOVER_POLL).length);
      expect(result.output.cutover.status).toBe('PENDING');
      expect(deletes(result.calls)).toBe(0);
    });

    it('does not fail (or clean up) a finished restore because the catalog record failed', async () => {
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({ FinishRestore: failWith('RepositoryError') }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.output.report).toMatchObject({ recorded: false, error: { Error: 'RepositoryError' } });
      expect(deletes(result.calls)).toBe(0);
    });
  });

  describe('refusals before anything is created', () => {
    it.each([
      [{ ...fromSnapshot, source: 'tape' }, 'field source'],
      [{ ...fromSnapshot, target: { ...instanceTarget, identifier: '1-bad' } }, 'field target.identifier'],
      [
        { ...fromSnapshot, target: { ...instanceTarget, securityGroupIds: [] } },
        'field target.securityGroupIds',
      ],
      [{ database: 'orders', source: 'point-in-time', target: instanceTarget }, 'field restorePoint'],
      [{ ...fromSnapshot, surprise: true }, 'unknown field surprise'],
    ])('bad input %#: %s', async (input, field) => {
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('InvalidRestoreInput');
      expect(result.cause).toContain(field);
      expect(result.calls.ResolveRestorePoint).toHaveLength(0);
      expect(creates(result.calls)).toBe(0);
      expect(deletes(result.calls)).toBe(0);
      expect(result.calls.NotifyRestoreFailed).toHaveLength(1);
    });

    it('no restore point in the catalog', async () => {
      const input = { ...fromSnapshot, restorePoint: { kind: 'time', time: '2020-01-01T00:00:00Z' } };
      const result = await runWorkflow('restore', asl, input, handlers());

      expect(result.error).toBe('NoRestorePoint');
      expect(creates(result.calls)).toBe(0);
      expect(deletes(result.calls)).toBe(0);
    });

    it('a target that already exists is refused and never deleted', async () => {
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({ ResolveRestorePoint: failWith('TargetAlreadyExists', 'orders-restored already exists') }),
      );

      expect(result.error).toBe('TargetAlreadyExists');
      expect(creates(result.calls)).toBe(0);
      expect(deletes(result.calls)).toBe(0);
    });
  });

  describe('on failure, cleanup removes only what this execution created', () => {
    it('create refused because the instance exists (a race): nothing is deleted', async () => {
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({ RestoreInstanceFromSnapshot: failWith('Rds.DbInstanceAlreadyExistsException', 'exists') }),
      );

      expect(result.error).toBe('Rds.DbInstanceAlreadyExistsException');
      expect(deletes(result.calls)).toBe(0);
      expect(
        (result.calls.NotifyRestoreFailed![0] as { Message: { removed: unknown } }).Message.removed,
      ).toEqual({});
    });

    it.each(['incompatible-restore', 'storage-full', 'failed'])(
      'instance ends %s: the created instance is deleted, nothing else',
      async (status) => {
        const result = await runWorkflow(
          'restore',
          asl,
          fromSnapshot,
          handlers({ DescribeRestoredInstance: () => ({ DbInstances: [{ DbInstanceStatus: status }] }) }),
        );

        expect(result.error).toBe('RestoreFailed');
        expect(result.cause).toBe(`orders-restored is ${status}: it will not become available`);
        expect(result.calls.DeleteCreatedInstance).toEqual([
          { DbInstanceIdentifier: 'orders-restored', SkipFinalSnapshot: true, DeleteAutomatedBackups: true },
        ]);
        expect(result.calls.DeleteCreatedCluster).toHaveLength(0);
        expect(result.calls.DropCreatedDatabase).toHaveLength(0);
      },
    );

    it('instance never available: timed out, deleted', async () => {
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({ DescribeRestoredInstance: () => ({ DbInstances: [{ DbInstanceStatus: 'creating' }] }) }),
      );

      expect(result.error).toBe('RestoreTimedOut');
      expect(result.calls.DescribeRestoredInstance).toHaveLength(backoffSchedule(RESTORE_POLL).length);
      expect(result.calls.DeleteCreatedInstance).toHaveLength(1);
    });

    it('cluster created but its instance is not: only the cluster is deleted', async () => {
      const input = {
        ...fromSnapshot,
        target: { ...instanceTarget, kind: 'cluster', identifier: 'orders-aurora-restored' },
      };
      const result = await runWorkflow(
        'restore',
        asl,
        input,
        handlers({ CreateClusterInstance: failWith('Rds.InsufficientDbInstanceCapacityException') }),
      );

      expect(result.error).toBe('Rds.InsufficientDbInstanceCapacityException');
      expect(result.calls.DeleteCreatedInstance).toHaveLength(0);
      expect(result.calls.DeleteCreatedCluster).toEqual([
        { DbClusterIdentifier: 'orders-aurora-restored', SkipFinalSnapshot: true },
      ]);
    });

    it('cluster restored but verification fails: instance, then cluster, are deleted', async () => {
      const input = {
        ...fromSnapshot,
        target: { ...instanceTarget, kind: 'cluster', identifier: 'orders-aurora-restored' },
      };
      const result = await runWorkflow(
        'restore',
        asl,
        input,
        handlers({ VerifyRestore: failWith('VerificationFailed', '2 of 12 tables differ') }),
      );

      expect(result.error).toBe('VerificationFailed');
      expect(result.cause).toBe('2 of 12 tables differ');
      expect(result.calls.DeleteCreatedInstance).toEqual([
        expect.objectContaining({ DbInstanceIdentifier: 'orders-aurora-restored-1' }),
      ]);
      expect(result.calls.DeleteCreatedCluster).toHaveLength(1);
      expect(result.path.indexOf('DeleteCreatedInstance')).toBeLessThan(
        result.path.indexOf('DeleteCreatedCluster'),
      );
    });

    it('a failed cutover deletes the restored instance (DNS was not changed)', async () => {
      const input = {
        ...fromSnapshot,
        cutover: { hostedZoneId: 'Z0123456789ABC', recordName: 'o.example.com' },
      };
      const result = await runWorkflow(
        'restore',
        asl,
        input,
        handlers({ Cutover: failWith('Route53.InvalidChangeBatchException') }),
      );

      expect(result.error).toBe('Route53.InvalidChangeBatchException');
      expect(result.calls.DeleteCreatedInstance).toHaveLength(1);
    });

    it('a failed dump restore drops the database it created', async () => {
      const input = {
        database: 'orders',
        source: 'dump',
        target: { identifier: 'reports-db', databaseName: 'orders_restored', secretArn: SECRET },
      };
      const result = await runWorkflow(
        'restore',
        asl,
        input,
        handlers({ RestoreDump: failWith('PgRestoreFailed') }),
      );

      expect(result.error).toBe('PgRestoreFailed');
      expect(result.calls.DropCreatedDatabase).toEqual([
        expect.objectContaining({
          database: 'orders_restored',
          target: expect.objectContaining({ identifier: 'reports-db' }),
        }),
      ]);
      expect(result.calls.DeleteCreatedInstance).toHaveLength(0);
    });

    it('a dump restore that finds the database already there drops nothing', async () => {
      const input = {
        database: 'orders',
        source: 'dump',
        target: { identifier: 'reports-db', databaseName: 'orders', secretArn: SECRET },
      };
      const result = await runWorkflow(
        'restore',
        asl,
        input,
        handlers({ RestoreDump: failWith('TargetAlreadyExists') }),
      );

      expect(result.error).toBe('TargetAlreadyExists');
      expect(deletes(result.calls)).toBe(0);
    });

    it('a cleanup error is reported and does not hide the original error', async () => {
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({
          VerifyRestore: failWith('VerificationFailed', 'rows differ'),
          DeleteCreatedInstance: failWith('Rds.AccessDeniedException', 'not allowed'),
        }),
      );

      expect(result.error).toBe('VerificationFailed');
      expect(result.calls.NotifyRestoreFailed![0]).toMatchObject({
        Message: {
          error: { Error: 'VerificationFailed' },
          cleanupErrors: { instance: { Error: 'Rds.AccessDeniedException' } },
        },
      });
    });

    it('an instance already gone is not a cleanup error', async () => {
      const result = await runWorkflow(
        'restore',
        asl,
        fromSnapshot,
        handlers({
          VerifyRestore: failWith('VerificationFailed'),
          DeleteCreatedInstance: failWith('Rds.DbInstanceNotFoundException'),
        }),
      );

      const message = (result.calls.NotifyRestoreFailed![0] as { Message: Record<string, unknown> }).Message;
      expect(message.cleanupErrors).toEqual({});
      expect(message.removed).toEqual({ instance: { identifier: 'orders-restored' } });
    });
  });
});
