import { beforeAll, describe, expect, it } from 'vitest';
import {
  FailoverTarget,
  type FailoverTargetInput,
  type PreflightEvent,
  type PreflightFacts,
  runPreflight,
} from '../../functions/core/failover.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { failWith, type Handlers, namedError, runWorkflow } from './harness.ts';

const PROMOTE_STATES = ['PromoteReadReplica', 'SwitchoverGlobalCluster', 'FailoverGlobalCluster'] as const;

const instanceTarget = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  dns: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com' },
  maxLagSeconds: 30,
} satisfies FailoverTargetInput);

const clusterTarget = FailoverTarget.parse({
  database: 'billing',
  kind: 'cluster',
  primary: { region: 'eu-west-1', identifier: 'billing-primary' },
  replica: { region: 'eu-central-1', identifier: 'billing-secondary' },
  globalClusterIdentifier: 'billing-global',
  engineVersion: '16.4',
  dns: { hostedZoneId: 'Z0123456789ABC', recordName: 'billing.db.example.com' },
} satisfies FailoverTargetInput);

const noDnsTarget = FailoverTarget.parse({
  database: 'reports',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'reports-db' },
  replica: { region: 'eu-central-1', identifier: 'reports-db-dr' },
  engineVersion: '16.4',
} satisfies FailoverTargetInput);

const healthy: PreflightFacts = {
  target: {
    exists: true,
    status: 'available',
    engineVersion: '16.4',
    role: 'replica',
    endpoint: 'dr.example',
  },
  source: { reachable: true, engineVersion: '16.4', status: 'available' },
  replicaLagSeconds: 2,
};

/** The real preflight logic over observed facts: the override only stands in for the AWS reads. */
function preflightWith(facts: PreflightFacts = healthy) {
  return (event: PreflightEvent) =>
    runPreflight(event, [instanceTarget, clusterTarget, noDnsTarget], async (target) => ({
      facts,
      replicaArn: `arn:aws:rds:${target.replica.region}:111111111111:${target.kind === 'instance' ? 'db' : 'cluster'}:${target.replica.identifier}`,
    }));
}

function handlers(overrides: Handlers = {}): Handlers {
  const ok = () => ({});
  const published = () => ({ MessageId: 'm-1' });
  return {
    AcquireLock: ok,
    NotifyLockRefused: published,
    NotifyStarted: published,
    Preflight: preflightWith(),
    ReleaseLockDryRun: ok,
    NotifyDryRun: published,
    NotifyApprovalNeeded: published,
    RequestApproval: () => ({ approvedBy: 'alice', at: '2026-11-23T10:00:00Z' }),
    FenceOldPrimary: () => ({ status: 'fenced', detail: 'moved into the fence security group' }),
    PromoteReadReplica: () => ({ DbInstance: { DbInstanceStatus: 'modifying' } }),
    SwitchoverGlobalCluster: () => ({ GlobalCluster: { Status: 'switching-over' } }),
    FailoverGlobalCluster: () => ({ GlobalCluster: { Status: 'failing-over' } }),
    CheckWritable: () => ({
      writable: true,
      status: 'available',
      endpoint: 'orders-db-dr.abc.eu-central-1.rds.amazonaws.com',
    }),
    SwitchDns: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } }),
    GetDnsChange: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC' } }),
    VerifyWrite: () => ({ ok: true, at: '2026-11-23T10:00:42.000Z', detail: 'wrote and read back 1 row' }),
    RecordFailover: () => ({
      recorded: true,
      rtoSeconds: 42,
      rpoSeconds: 2,
      key: 'catalog/orders/_failovers/x.json',
    }),
    ReleaseLock: ok,
    NotifyCompleted: published,
    ReleaseLockAfterFailure: ok,
    NotifyFailed: published,
    ReleaseLockAfterPartial: ok,
    NotifyPartial: published,
    ...overrides,
  };
}

const planned = { database: 'orders', mode: 'planned', reason: 'quarterly drill' };

function promoteCalls(calls: Record<string, unknown[]>): number {
  return PROMOTE_STATES.reduce((n, s) => n + (calls[s]?.length ?? 0), 0);
}

describe('FailoverWorkflow', () => {
  let asl: AslDefinition;
  let automaticAsl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('failover');
    automaticAsl = renderAsl('failover', { automaticFailover: true });
  });

  describe('success paths', () => {
    it('fails over an RDS instance: lock, preflight, fence, promote, poll, DNS, verify, record, release', async () => {
      const result = await runWorkflow('failover', asl, planned, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.PromoteReadReplica).toEqual([{ DbInstanceIdentifier: 'orders-db-dr' }]);
      expect(result.calls.RequestApproval).toHaveLength(0);
      expect(result.calls.AcquireLock![0]).toMatchObject({
        ConditionExpression: 'attribute_not_exists(lockId)',
        Item: {
          lockId: { S: 'failover#orders' },
          executionId: { S: expect.stringContaining(':test-execution') },
        },
      });
      expect(result.calls.SwitchDns![0]).toMatchObject({
        HostedZoneId: 'Z0123456789ABC',
        ChangeBatch: {
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: 'orders.db.example.com',
                Type: 'CNAME',
                Ttl: 60,
                ResourceRecords: [{ Value: 'orders-db-dr.abc.eu-central-1.rds.amazonaws.com' }],
              },
            },
          ],
        },
      });
      expect(result.calls.GetDnsChange).toEqual([{ Id: '/change/C1' }]);
      expect(result.calls.ReleaseLock).toHaveLength(1);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(0);
      expect(result.calls.RecordFailover![0]).toMatchObject({
        verifiedWriteAt: '2026-11-23T10:00:42.000Z',
        rpoSeconds: 2,
        fence: 'fenced',
        startedAt: expect.any(String),
      });
      expect(result.output).toMatchObject({
        result: 'completed',
        database: 'orders',
        to: { region: 'eu-central-1', identifier: 'orders-db-dr' },
        record: { rtoSeconds: 42, rpoSeconds: 2 },
      });
      const order = [
        'AcquireLock',
        'Preflight',
        'FenceOldPrimary',
        'PromoteReadReplica',
        'SwitchDns',
        'VerifyWrite',
        'RecordFailover',
        'ReleaseLock',
      ];
      expect(result.path.filter((s) => order.includes(s))).toEqual(order);
    });

    it('notifies at the start and at the end', async () => {
      const result = await runWorkflow('failover', asl, planned, handlers());

      expect(result.calls.NotifyStarted![0]).toMatchObject({
        Message: { type: 'failover.started', database: 'orders' },
      });
      expect(result.calls.NotifyCompleted![0]).toMatchObject({
        Message: { type: 'failover.completed', record: { rtoSeconds: 42 } },
      });
    });

    it('switches an Aurora global database over (planned: no data loss)', async () => {
      const result = await runWorkflow('failover', asl, { ...planned, database: 'billing' }, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.SwitchoverGlobalCluster).toEqual([
        {
          GlobalClusterIdentifier: 'billing-global',
          TargetDbClusterIdentifier: 'arn:aws:rds:eu-central-1:111111111111:cluster:billing-secondary',
        },
      ]);
      expect(result.calls.FailoverGlobalCluster).toHaveLength(0);
      expect(result.calls.PromoteReadReplica).toHaveLength(0);
    });

    it('fails an Aurora global database over with AllowDataLoss when unplanned', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, database: 'billing', mode: 'unplanned' },
        handlers(),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.FailoverGlobalCluster).toEqual([
        {
          GlobalClusterIdentifier: 'billing-global',
          TargetDbClusterIdentifier: 'arn:aws:rds:eu-central-1:111111111111:cluster:billing-secondary',
          AllowDataLoss: true,
        },
      ]);
      expect(result.calls.SwitchoverGlobalCluster).toHaveLength(0);
    });

    it('polls until the promoted database is writable', async () => {
      let checks = 0;
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          CheckWritable: () => {
            checks++;
            return checks < 3
              ? { writable: false, status: 'modifying', endpoint: 'e' }
              : { writable: true, status: 'available', endpoint: 'e' };
          },
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.CheckWritable).toHaveLength(3);
      expect(result.path.filter((s) => s === 'WaitForPromotion')).toHaveLength(3);
    });

    it('goes on when the old primary is unreachable (fence reports it, does not fail)', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned' },
        handlers({ FenceOldPrimary: () => ({ status: 'unreachable', detail: 'eu-west-1 did not answer' }) }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.PromoteReadReplica).toHaveLength(1);
      expect(result.calls.RecordFailover![0]).toMatchObject({ fence: 'unreachable' });
    });

    it('skips DNS when the database has no record configured', async () => {
      const result = await runWorkflow('failover', asl, { ...planned, database: 'reports' }, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.SwitchDns).toHaveLength(0);
      expect(result.calls.VerifyWrite).toHaveLength(1);
    });

    it('does not let a failed notification or catalog write block a failover', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          NotifyStarted: failWith('SNS.InternalErrorException'),
          NotifyCompleted: failWith('SNS.InternalErrorException'),
          RecordFailover: failWith('RepositoryError', 'bucket unreachable'),
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.output.record).toMatchObject({ recorded: false, error: { Error: 'RepositoryError' } });
    });
  });

  describe('refusals end with no promote or failover call at all', () => {
    it.each([
      ['ReplicationLagTooHigh', { ...healthy, replicaLagSeconds: 120 }],
      ['ReplicationLagTooHigh', { ...healthy, replicaLagSeconds: null }],
      ['EngineVersionMismatch', { ...healthy, target: { ...healthy.target, engineVersion: '15.8' } }],
      ['TargetUnavailable', { ...healthy, target: { ...healthy.target, status: 'storage-full' } }],
      ['AlreadyPrimary', { ...healthy, target: { ...healthy.target, role: 'writer' as const } }],
      [
        'TargetNotFound',
        {
          ...healthy,
          target: { exists: false, status: null, engineVersion: null, role: null, endpoint: null },
        },
      ],
    ] satisfies [string, PreflightFacts][])('%s', async (refusal, facts) => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ Preflight: preflightWith(facts) }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe(refusal);
      expect(result.cause).toMatch(/^preflight refused: /);
      expect(promoteCalls(result.calls)).toBe(0);
      expect(result.calls.FenceOldPrimary).toHaveLength(0);
      expect(result.calls.SwitchDns).toHaveLength(0);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
      expect(result.calls.NotifyFailed![0]).toMatchObject({
        Message: { type: 'failover.failed', promoted: false, error: { Error: refusal } },
      });
    });

    it('refuses a concurrent run: the lock is held, nothing else happens, the holder keeps its lock', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          AcquireLock: failWith('DynamoDB.ConditionalCheckFailedException', 'The conditional request failed'),
        }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('FailoverInProgress');
      expect(result.calls.Preflight).toHaveLength(0);
      expect(promoteCalls(result.calls)).toBe(0);
      for (const release of [
        'ReleaseLock',
        'ReleaseLockAfterFailure',
        'ReleaseLockAfterPartial',
        'ReleaseLockDryRun',
      ]) {
        expect(result.calls[release]).toHaveLength(0);
      }
      expect(result.calls.NotifyLockRefused).toHaveLength(1);
    });

    it('refuses input that names a bad field, before anything is changed', async () => {
      const result = await runWorkflow('failover', asl, { ...planned, mode: 'sideways' }, handlers());

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('InvalidFailoverInput');
      expect(result.cause).toContain('field mode');
      expect(promoteCalls(result.calls)).toBe(0);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
    });

    it('refuses an unknown database', async () => {
      const result = await runWorkflow('failover', asl, { ...planned, database: 'nope' }, handlers());

      expect(result.error).toBe('UnknownDatabase');
      expect(promoteCalls(result.calls)).toBe(0);
    });
  });

  describe('force', () => {
    it('skips the lag check', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned', force: true },
        handlers({ Preflight: preflightWith({ ...healthy, replicaLagSeconds: 900 }) }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.PromoteReadReplica).toHaveLength(1);
    });

    it.each([
      [
        'EngineVersionMismatch',
        { ...healthy, replicaLagSeconds: 900, target: { ...healthy.target, engineVersion: '15.8' } },
      ],
      [
        'TargetUnavailable',
        { ...healthy, replicaLagSeconds: 900, target: { ...healthy.target, status: 'rebooting' } },
      ],
      ['AlreadyPrimary', { ...healthy, target: { ...healthy.target, role: 'writer' as const } }],
    ] satisfies [string, PreflightFacts][])(
      'skips nothing else: %s still refuses',
      async (refusal, facts) => {
        const result = await runWorkflow(
          'failover',
          asl,
          { ...planned, force: true },
          handlers({ Preflight: preflightWith(facts) }),
        );

        expect(result.error).toBe(refusal);
        expect(promoteCalls(result.calls)).toBe(0);
      },
    );
  });

  describe('dry run', () => {
    it('stops after preflight and reports every check', async () => {
      const result = await runWorkflow('failover', asl, { ...planned, dryRun: true }, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.output).toMatchObject({
        result: 'dry-run',
        database: 'orders',
        passed: true,
        rpoSeconds: 2,
      });
      expect(result.output.checks.map((c: { name: string }) => c.name)).toEqual([
        'target-exists',
        'target-available',
        'not-already-primary',
        'engine-version',
        'replica-lag',
      ]);
      expect(result.calls.FenceOldPrimary).toHaveLength(0);
      expect(promoteCalls(result.calls)).toBe(0);
      expect(result.calls.RequestApproval).toHaveLength(0);
      expect(result.calls.ReleaseLockDryRun).toHaveLength(1);
    });

    it('reports a refusal as a failed execution naming it', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, dryRun: true },
        handlers({ Preflight: preflightWith({ ...healthy, replicaLagSeconds: 300 }) }),
      );

      expect(result.error).toBe('ReplicationLagTooHigh');
      expect(result.calls.ReleaseLockDryRun).toHaveLength(0);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
    });
  });

  describe('approval gate (alarm-started, automatic failover off)', () => {
    const alarmed = {
      ...planned,
      mode: 'unplanned',
      trigger: 'alarm',
      requestedBy: 'orders-replica-lag-critical',
    };

    it('announces the gate, stores the task token in its lock item, waits, then fails over', async () => {
      const result = await runWorkflow('failover', asl, alarmed, handlers());

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.NotifyApprovalNeeded![0]).toMatchObject({
        Message: {
          type: 'failover.approval-needed',
          database: 'orders',
          timeoutSeconds: 3600,
          approve: 'lifeboat approve --env drill --database orders',
          abort: 'lifeboat abort --env drill --database orders --reason WHY',
        },
      });
      expect(result.calls.RequestApproval![0]).toEqual({
        TableName: 'lifeboat-drill-locks',
        Key: { lockId: { S: 'failover#orders' } },
        UpdateExpression: 'SET approvalToken = :token, approvalRequestedAt = :at',
        ConditionExpression: 'executionId = :me',
        ExpressionAttributeValues: {
          ':token': { S: 'local-task-token-test-execution' },
          ':at': { S: expect.any(String) },
          ':me': { S: expect.stringContaining(':test-execution') },
        },
      });
      const path = result.path;
      expect(path.indexOf('NotifyApprovalNeeded')).toBeLessThan(path.indexOf('RequestApproval'));
      expect(path.indexOf('RequestApproval')).toBeLessThan(path.indexOf('FenceOldPrimary'));
    });

    it.each([
      [
        'FailoverAborted',
        failWith('FailoverAborted', 'aborted by bob: primary recovered'),
        'FailoverAborted',
      ],
      ['timed out', failWith('States.Timeout'), 'ApprovalTimedOut'],
    ])('%s: no fence, no promote, lock released', async (_label, gate, error) => {
      const result = await runWorkflow('failover', asl, alarmed, handlers({ RequestApproval: gate }));

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe(error);
      expect(result.calls.FenceOldPrimary).toHaveLength(0);
      expect(promoteCalls(result.calls)).toBe(0);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
    });

    it('is skipped for a manual start', async () => {
      const result = await runWorkflow('failover', asl, { ...alarmed, trigger: 'manual' }, handlers());

      expect(result.calls.RequestApproval).toHaveLength(0);
      expect(result.status).toBe('SUCCEEDED');
    });

    it('is skipped when the environment opts into automatic failover', async () => {
      const result = await runWorkflow('failover', automaticAsl, alarmed, handlers());

      expect(result.calls.RequestApproval).toHaveLength(0);
      expect(promoteCalls(result.calls)).toBe(1);
    });
  });

  describe('failures', () => {
    it('a failed promote call ends as a failure, not promoted, lock released', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          PromoteReadReplica: failWith('Rds.InvalidDbInstanceStateException', 'instance is not a replica'),
        }),
      );

      expect(result.error).toBe('Rds.InvalidDbInstanceStateException');
      expect(result.calls.SwitchDns).toHaveLength(0);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
      expect(result.calls.NotifyFailed![0]).toMatchObject({ Message: { promoted: false } });
    });

    it('a fence error (not unreachable: an error) stops before promotion', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ FenceOldPrimary: failWith('AccessDenied', 'not allowed to modify orders-db') }),
      );

      expect(result.error).toBe('AccessDenied');
      expect(promoteCalls(result.calls)).toBe(0);
    });
  });

  describe('after promotion: partial failures name the next step and never roll back', () => {
    it('DNS switch fails', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ SwitchDns: failWith('Route53.InvalidChangeBatchException', 'record set is an alias') }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('FailoverPartiallyCompleted');
      expect(result.cause).toContain('orders-db-dr is promoted and writable, but switching DNS failed');
      expect(result.cause).toContain(
        'Next step: UPSERT the CNAME orders.db.example.com in hosted zone Z0123456789ABC to orders-db-dr.abc.eu-central-1.rds.amazonaws.com by hand',
      );
      expect(result.calls.PromoteReadReplica).toHaveLength(1);
      expect(result.calls.VerifyWrite).toHaveLength(0);
      expect(result.calls.ReleaseLockAfterPartial).toHaveLength(1);
      expect(result.calls.NotifyPartial![0]).toMatchObject({
        Message: { type: 'failover.partial', promoted: true, stage: 'dns', nextStep: result.cause },
      });
    });

    it('DNS change never gets in sync', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ GetDnsChange: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } }) }),
      );

      expect(result.error).toBe('FailoverPartiallyCompleted');
      expect(result.calls.GetDnsChange).toHaveLength(30);
      expect(result.cause).toContain('aws route53 get-change --id /change/C1');
    });

    it('promoted database never becomes writable', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ CheckWritable: () => ({ writable: false, status: 'modifying', endpoint: 'e' }) }),
      );

      expect(result.error).toBe('FailoverPartiallyCompleted');
      expect(result.calls.CheckWritable).toHaveLength(60);
      expect(result.cause).toContain('not writable after 60 checks (last status modifying)');
      expect(result.calls.SwitchDns).toHaveLength(0);
    });

    it('test write on the new primary fails (after retries)', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          VerifyWrite: () => Promise.reject(namedError('WriteVerificationFailed', 'read-only transaction')),
        }),
      );

      expect(result.error).toBe('FailoverPartiallyCompleted');
      expect(result.calls.VerifyWrite).toHaveLength(4);
      expect(result.cause).toContain(
        'a test write on it failed (WriteVerificationFailed: read-only transaction)',
      );
    });
  });
});
