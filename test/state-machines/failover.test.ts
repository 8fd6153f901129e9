import { beforeAll, describe, expect, it } from 'vitest';
import { FailoverTarget, type FailoverTargetInput } from '../../functions/core/failover/failover.ts';
import {
  type PreflightEvent,
  type PreflightFacts,
  runPreflight,
} from '../../functions/core/failover/preflight.ts';
import { nextPollWaitSeconds } from '../../functions/core/failover/promotion.ts';
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
    Preflight: preflightWith(),
    NotifyInputRefused: published,
    NotifyPreflightRefused: published,
    NotifyDryRun: published,
    AcquireLock: ok,
    NotifyLockRefused: published,
    NotifyStarted: published,
    GetLastHeartbeat: () => ({}),
    EstimateDataLoss: () => ({
      known: true,
      rpoSeconds: 1.5,
      rowsAtRisk: 12,
      transactionsAtRisk: 4,
      lastReplayedHeartbeat: '2026-11-23T09:59:58.000Z',
      summary: 'the replica is 1 heartbeat(s) and 1.5 s behind: about 4 transactions and 12 rows at risk',
    }),
    NotifyApprovalNeeded: published,
    RequestApproval: () => ({ approvedBy: 'alice', at: '2026-11-23T10:00:00Z' }),
    RecheckPreflight: preflightWith(),
    FenceOldPrimary: () => ({ status: 'fenced', detail: 'moved into the fence security group' }),
    WaitForReplicaCatchUp: () => ({
      caughtUp: true,
      primaryLsn: '0/3000060',
      replayLsn: '0/3000060',
      behindBytes: 0,
      waitedMs: 12,
      detail: 'caught up',
    }),
    PromoteReadReplica: () => ({ DbInstance: { DbInstanceStatus: 'modifying' } }),
    SwitchoverGlobalCluster: () => ({ GlobalCluster: { Status: 'switching-over' } }),
    FailoverGlobalCluster: () => ({ GlobalCluster: { Status: 'failing-over' } }),
    ConfirmPromotion: () => ({ status: 'unknown', detail: 'not overridden', check: 'aws rds …' }),
    CheckWritable: (input: { attempts: number }) => ({
      writable: true,
      status: 'available',
      endpoint: 'orders-db-dr.abc.eu-central-1.rds.amazonaws.com',
      role: 'writer',
      attempts: input.attempts + 1,
      waitSeconds: 30,
    }),
    SwitchDns: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } }),
    GetDnsChange: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC' } }),
    VerifyWrite: () => ({
      ok: true,
      status: 'verified',
      at: '2026-11-23T10:00:42.000Z',
      detail: 'wrote and read back 1 row',
    }),
    RecordFailover: () => ({
      recorded: true,
      rtoSeconds: 42,
      rpoSeconds: 2,
      key: 'catalog/orders/_failovers/x.json',
    }),
    ReleaseLock: ok,
    ReleaseLockCheck: () => ({ Item: { lockId: { S: 'failover#orders' } } }),
    NotifyCompleted: published,
    ReleaseLockAfterFailure: ok,
    ReleaseLockAfterFailureCheck: () => ({ Item: { lockId: { S: 'failover#orders' } } }),
    NotifyFailed: published,
    ReleaseLockAfterPartial: ok,
    ReleaseLockAfterPartialCheck: () => ({ Item: { lockId: { S: 'failover#orders' } } }),
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
        ConditionExpression: 'attribute_not_exists(lockId) OR executionId = :me',
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
        dns: { status: 'INSYNC' },
        startedAt: expect.any(String),
      });
      expect(result.output).toMatchObject({
        result: 'completed',
        database: 'orders',
        to: { region: 'eu-central-1', identifier: 'orders-db-dr' },
        record: { rtoSeconds: 42, rpoSeconds: 2 },
      });
      const order = [
        'Preflight',
        'AcquireLock',
        'FenceOldPrimary',
        'WaitForReplicaCatchUp',
        'PromoteReadReplica',
        'VerifyWrite',
        'SwitchDns',
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
          CheckWritable: (input: { attempts: number }) => {
            checks++;
            return {
              writable: checks >= 3,
              status: checks < 3 ? 'modifying' : 'available',
              endpoint: 'e',
              role: checks < 3 ? 'promoting' : 'writer',
              attempts: input.attempts + 1,
              waitSeconds: 15 * 2 ** input.attempts,
            };
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
      // Refused before the lock: nothing to release, no "started" notification.
      expect(result.calls.AcquireLock).toHaveLength(0);
      expect(result.calls.NotifyStarted).toHaveLength(0);
      expect(result.calls.NotifyPreflightRefused![0]).toMatchObject({
        Message: {
          type: 'failover.refused',
          severity: 'critical',
          changed: 'nothing',
          error: { Error: refusal },
        },
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
      // A refusal is not retried.
      expect(result.calls.AcquireLock).toHaveLength(1);
      expect(result.calls.FenceOldPrimary).toHaveLength(0);
      expect(result.calls.NotifyStarted).toHaveLength(0);
      expect(promoteCalls(result.calls)).toBe(0);
      for (const release of ['ReleaseLock', 'ReleaseLockAfterFailure', 'ReleaseLockAfterPartial']) {
        expect(result.calls[release]).toHaveLength(0);
      }
      expect(result.calls.NotifyLockRefused).toHaveLength(1);
    });

    it.each([
      ['a bad mode', { ...planned, mode: 'sideways' }, 'field mode'],
      ['no database', { mode: 'planned', reason: 'x' }, 'field database'],
      ['force in planned mode', { ...planned, force: true }, 'field force: not allowed in planned mode'],
    ])('validates input before any failover.started notification: %s', async (_label, input, message) => {
      const result = await runWorkflow('failover', asl, input, handlers());

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('InvalidFailoverInput');
      expect(result.cause).toContain(message);
      expect(promoteCalls(result.calls)).toBe(0);
      expect(result.calls.AcquireLock).toHaveLength(0);
      expect(result.calls.NotifyStarted).toHaveLength(0);
      expect(result.calls.NotifyInputRefused![0]).toMatchObject({
        Message: { type: 'failover.refused', severity: 'warning', error: { Error: 'InvalidFailoverInput' } },
      });
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
          { ...planned, mode: 'unplanned', force: true },
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
      expect(result.calls.AcquireLock).toHaveLength(0);
    });

    it('reports a refusal as a failed execution naming it', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, dryRun: true },
        handlers({ Preflight: preflightWith({ ...healthy, replicaLagSeconds: 300 }) }),
      );

      expect(result.error).toBe('ReplicationLagTooHigh');
      expect(result.calls.NotifyDryRun).toHaveLength(0);
      expect(result.calls.NotifyPreflightRefused).toHaveLength(1);
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

  describe('fence first, then the promotion: the report says what is known', () => {
    it('a promote refused outright after the fence reports the fence and "not-promoted"', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          PromoteReadReplica: failWith('Rds.AccessDeniedException', 'not authorized to promote'),
          ConfirmPromotion: (input: { promoteError: { Error: string } }) => ({
            status: input.promoteError.Error === 'Rds.AccessDeniedException' ? 'not-promoted' : 'unknown',
            detail: 'the promote request was refused and the replica is still a replica (available)',
            check: 'aws rds describe-db-instances …',
          }),
        }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('Rds.AccessDeniedException');
      expect(result.calls.ConfirmPromotion![0]).toMatchObject({
        promoteError: { Error: 'Rds.AccessDeniedException' },
      });
      expect(result.calls.SwitchDns).toHaveLength(0);
      expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
      expect(result.calls.NotifyFailed![0]).toMatchObject({
        Message: {
          promotion: 'not-promoted',
          state: {
            lock: { status: 'released' },
            fence: { status: 'fenced', detail: 'moved into the fence security group' },
            promotion: { status: 'not-promoted' },
            dns: { status: 'not-attempted' },
            writeCheck: { status: 'not-attempted' },
          },
        },
      });
    });

    it('a promote applied whose answer was lost (5xx, then "not a read replica") is reported as promoted and carries on', async () => {
      let attempt = 0;
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          PromoteReadReplica: () => {
            attempt++;
            // Applied on the first attempt, the answer lost; the retry finds no replica to promote.
            throw attempt === 1
              ? namedError('Rds.RdsException', 'Service Unavailable (503)')
              : namedError('Rds.InvalidDbInstanceStateException', 'DB Instance is not a read replica.');
          },
          ConfirmPromotion: () => ({
            status: 'promoted',
            detail: 'the promote request answered an error, but the replica is being promoted (modifying)',
            check: 'aws rds describe-db-instances …',
          }),
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(attempt).toBe(2);
      expect(result.calls.NotifyFailed).toHaveLength(0);
      expect(result.calls.CheckWritable).toHaveLength(1);
      expect(result.output.state.promotion).toMatchObject({ status: 'promoted' });
    });

    it('a promote whose outcome cannot be told is reported as unknown with the exact check, never "not promoted"', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned' },
        handlers({
          PromoteReadReplica: failWith(
            'Rds.InvalidDbInstanceStateException',
            'DB Instance is not a read replica.',
          ),
          ConfirmPromotion: failWith('Rds.RdsException', 'Service Unavailable'),
        }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('FailoverPartiallyCompleted');
      expect(result.calls.ConfirmPromotion).toHaveLength(4);
      expect(result.cause).toContain('promotion of orders-db-dr is not known to have happened or not');
      expect(result.cause).toContain(
        "aws rds describe-db-instances --region eu-central-1 --db-instance-identifier orders-db-dr --query 'DBInstances[0].[DBInstanceStatus,ReadReplicaSourceDBInstanceIdentifier]'",
      );
      expect(result.calls.NotifyFailed).toHaveLength(0);
      expect(result.calls.NotifyPartial![0]).toMatchObject({
        Message: {
          promotion: 'unknown',
          state: {
            fence: { status: 'fenced' },
            promotion: { status: 'unknown', check: expect.stringContaining('describe-db-instances') },
            dns: { status: 'not-attempted' },
          },
          commands: { promotionCheck: expect.stringContaining('orders-db-dr') },
        },
      });
    });

    it('the completed notification carries the state of lock, fence, promotion, DNS and write check', async () => {
      const result = await runWorkflow('failover', asl, planned, handlers());

      expect(result.calls.NotifyCompleted![0]).toMatchObject({
        Message: {
          state: {
            lock: { status: 'released' },
            fence: { status: 'fenced' },
            promotion: { status: 'promoted' },
            dns: { status: 'INSYNC', changeId: '/change/C1' },
            writeCheck: { status: 'verified', at: '2026-11-23T10:00:42.000Z' },
          },
        },
      });
    });
  });

  describe('a degraded primary region does not block an unplanned failover', () => {
    it.each([
      ['unknown', 'eu-west-1 did not give a usable answer (InternalFailure: 500)'],
      ['failed', 'RDS refused to fence orders-db (AccessDenied)'],
      ['gone', 'orders-db does not exist any more'],
      ['skipped', 'no fence security group configured'],
    ])('fence %s is reported and the failover goes on', async (status, detail) => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned' },
        handlers({ FenceOldPrimary: () => ({ status, detail }) }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(promoteCalls(result.calls)).toBe(1);
      expect(result.calls.WaitForReplicaCatchUp).toHaveLength(0);
      expect(result.calls.NotifyCompleted![0]).toMatchObject({
        Message: { fence: status, state: { fence: { status, detail } } },
      });
    });

    it('a fence task that itself fails is reported as fence unknown, with the check, and the failover goes on', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned' },
        handlers({ FenceOldPrimary: failWith('Sandbox.Timedout', 'Task timed out after 120 seconds') }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.output.state.fence).toMatchObject({
        status: 'unknown',
        detail: expect.stringContaining('Sandbox.Timedout'),
        check: expect.stringContaining('--db-instance-identifier orders-db'),
      });
    });
  });

  describe('planned mode loses nothing', () => {
    it.each(['unknown', 'failed', 'skipped', 'gone'])(
      'refuses to promote when the fence is %s',
      async (status) => {
        const result = await runWorkflow(
          'failover',
          asl,
          planned,
          handlers({ FenceOldPrimary: () => ({ status, detail: `fence ${status}` }) }),
        );

        expect(result.status).toBe('FAILED');
        expect(result.error).toBe('FenceNotConfirmed');
        expect(result.cause).toContain(`is not known to be fenced (fence ${status}`);
        expect(promoteCalls(result.calls)).toBe(0);
        expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
      },
    );

    it('a fence task error refuses the planned failover', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ FenceOldPrimary: failWith('AccessDenied', 'not allowed to modify orders-db') }),
      );

      expect(result.error).toBe('FenceNotConfirmed');
      expect(promoteCalls(result.calls)).toBe(0);
    });

    it("waits for the replica to replay the fenced primary's last LSN before promoting", async () => {
      const result = await runWorkflow('failover', asl, planned, handlers());

      expect(result.calls.WaitForReplicaCatchUp![0]).toMatchObject({
        action: 'catch-up',
        primaryEndpoint: null,
        replicaEndpoint: 'dr.example',
        timeoutSeconds: 90,
      });
      expect(result.path.indexOf('WaitForReplicaCatchUp')).toBeLessThan(
        result.path.indexOf('PromoteReadReplica'),
      );
      expect(result.path.indexOf('FenceOldPrimary')).toBeLessThan(
        result.path.indexOf('WaitForReplicaCatchUp'),
      );
    });

    it('refuses when the replica has not caught up within the bounded wait, reporting the fence', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          WaitForReplicaCatchUp: failWith(
            'ReplicaNotCaughtUp',
            "after 90000 ms the replica had replayed 0/3000000, 96 bytes short of the fenced primary's 0/3000060",
          ),
        }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('ReplicaNotCaughtUp');
      expect(result.cause).toContain('96 bytes short');
      expect(result.cause).toContain('The old primary orders-db stays fenced, nothing was promoted');
      expect(promoteCalls(result.calls)).toBe(0);
      expect(result.calls.NotifyFailed![0]).toMatchObject({
        Message: { promotion: 'not-attempted', state: { fence: { status: 'fenced' } } },
      });
    });

    it('an Aurora switchover (fence not needed) does not wait for a WAL position: RDS switches over without loss', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, database: 'billing' },
        handlers({ FenceOldPrimary: () => ({ status: 'not-needed', detail: 'switchover demotes it' }) }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.WaitForReplicaCatchUp).toHaveLength(0);
      expect(result.calls.SwitchoverGlobalCluster).toHaveLength(1);
    });
  });

  describe('after promotion: partial failures name the next step and never roll back', () => {
    it('writability checks that fail count as "not yet" while polling', async () => {
      let n = 0;
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          CheckWritable: (input: { attempts: number }) => {
            n++;
            if (n <= 2) throw namedError('Rds.RdsException', 'Service Unavailable');
            return {
              writable: true,
              status: 'available',
              endpoint: 'e',
              role: 'writer',
              attempts: input.attempts + 1,
              waitSeconds: 30,
            };
          },
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.path.filter((p) => p === 'CheckWritableFailed')).toHaveLength(2);
      expect(result.path.filter((p) => p === 'WaitForPromotion')).toHaveLength(3);
    });

    it('the promoted database takes a verified write before DNS sends traffic to it', async () => {
      const result = await runWorkflow('failover', asl, planned, handlers());

      expect(result.path.indexOf('VerifyWrite')).toBeLessThan(result.path.indexOf('SwitchDns'));
      expect(result.calls.VerifyWrite![0]).toMatchObject({
        action: 'verify-write',
        endpoint: 'orders-db-dr.abc.eu-central-1.rds.amazonaws.com',
      });
    });

    it('DNS switch fails', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ SwitchDns: failWith('Route53.InvalidChangeBatchException', 'record set is an alias') }),
      );

      expect(result.status).toBe('FAILED');
      expect(result.error).toBe('FailoverPartiallyCompleted');
      expect(result.cause).toContain(
        'orders-db-dr is promoted and took a verified write, but switching DNS failed',
      );
      expect(result.cause).toContain(
        'Next step: UPSERT the CNAME orders.db.example.com in hosted zone Z0123456789ABC to orders-db-dr.abc.eu-central-1.rds.amazonaws.com by hand',
      );
      expect(result.calls.PromoteReadReplica).toHaveLength(1);
      expect(result.calls.VerifyWrite).toHaveLength(1);
      // A refused change batch is not retried; a transient error would be.
      expect(result.calls.SwitchDns).toHaveLength(1);
      expect(result.calls.ReleaseLockAfterPartial).toHaveLength(1);
      expect(result.calls.NotifyPartial![0]).toMatchObject({
        Message: { type: 'failover.partial', promotion: 'promoted', stage: 'dns', nextStep: result.cause },
      });
    });

    it('DNS change never gets in sync (failed checks count as not yet)', async () => {
      let n = 0;
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          GetDnsChange: () => {
            if (++n % 2 === 0) throw namedError('Route53.ThrottlingException', 'Rate exceeded');
            return { ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } };
          },
        }),
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
        handlers({
          CheckWritable: (input: { attempts: number }) => ({
            writable: false,
            status: 'modifying',
            endpoint: 'e',
            role: 'promoting',
            attempts: input.attempts + 1,
            waitSeconds: 120,
          }),
        }),
      );

      expect(result.error).toBe('FailoverPartiallyCompleted');
      // The waits (15 s doubling to 120 s) add up to 30 minutes in 18 checks.
      expect(result.calls.CheckWritable).toHaveLength(18);
      expect(result.cause).toContain('not confirmed writable after 18 checks (last status modifying)');
      expect(result.calls.SwitchDns).toHaveLength(0);
      // Said as what it is: RDS accepted the request, nothing confirmed the database writable.
      const message = (
        result.calls.NotifyPartial![0] as {
          Message: { promotion: string; state: { promotion: Record<string, string> } };
        }
      ).Message;
      expect(message.promotion).toBe('requested-not-writable');
      expect(message.state.promotion).toEqual({
        status: 'requested-not-writable',
        detail: expect.stringMatching(
          /^promotion of orders-db-dr was requested and accepted, but it was not confirmed writable after 18 checks \(last status modifying\): it may be promoted and still finishing, or stuck\. DNS was not switched; no write was verified\.$/,
        ),
        check: expect.stringContaining('aws rds describe-db-instances'),
      });
    });

    it('test write on the new primary fails (after retries): DNS is not switched', async () => {
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
      expect(result.calls.SwitchDns).toHaveLength(0);
      expect(result.cause).toContain(
        'a test write on it failed (WriteVerificationFailed: read-only transaction); DNS was not switched',
      );
    });
  });

  describe('lock and notifications', () => {
    it('AcquireLock is retried on throttling and a lost answer finds its own lock', async () => {
      let n = 0;
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          AcquireLock: () => {
            if (++n === 1) throw namedError('DynamoDB.ProvisionedThroughputExceededException', 'throttled');
            return {};
          },
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.AcquireLock).toHaveLength(2);
    });

    it('a failed lock release is reported with the command that clears the leftover lock', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({ ReleaseLock: failWith('DynamoDB.AmazonDynamoDBException', 'Internal server error') }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.ReleaseLock).toHaveLength(5);
      const message = (result.calls.NotifyCompleted![0] as { Message: { state: { lock: unknown } } }).Message;
      expect(message.state.lock).toEqual({
        status: 'left-over',
        detail: expect.stringContaining('releasing the lock failed (DynamoDB.AmazonDynamoDBException'),
        clear: expect.stringMatching(
          /^aws dynamodb delete-item --region eu-central-1 --table-name lifeboat-drill-locks --key '\{"lockId":\{"S":"failover#orders"\}\}' --condition-expression 'executionId = :e' --expression-attribute-values '\{":e":\{"S":"arn:aws:states:[^"]+:test-execution"\}\}'$/,
        ),
      });
      expect(result.output.state.lock.status).toBe('left-over');
      expect(result.calls.ReleaseLockCheck).toHaveLength(1);
    });

    it('a release that fails after an attempt deleted the item (its answer lost) is reported released', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          ReleaseLock: failWith('DynamoDB.AmazonDynamoDBException', 'Unable to execute HTTP request'),
          ReleaseLockCheck: () => ({}),
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      const message = (result.calls.NotifyCompleted![0] as { Message: { state: { lock: unknown } } }).Message;
      expect(message.state.lock).toEqual({
        status: 'released',
        detail: expect.stringContaining('the lock item is gone'),
      });
    });

    it('a release that fails while the lock table cannot be read is unknown, with the command that clears it', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          ReleaseLock: failWith('DynamoDB.AmazonDynamoDBException', 'Unable to execute HTTP request'),
          ReleaseLockCheck: failWith('DynamoDB.AmazonDynamoDBException', 'Unable to execute HTTP request'),
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      const message = (result.calls.NotifyCompleted![0] as { Message: { state: { lock: unknown } } }).Message;
      expect(message.state.lock).toEqual({
        status: 'unknown',
        detail: expect.stringContaining('the lock table could not be read afterwards'),
        clear: expect.stringMatching(/^aws dynamodb delete-item /),
      });
    });

    it('notifications are retried', async () => {
      let n = 0;
      const result = await runWorkflow(
        'failover',
        asl,
        planned,
        handlers({
          NotifyCompleted: () => {
            if (++n < 3) throw namedError('SNS.InternalErrorException', 'try again');
            return { MessageId: 'm' };
          },
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.NotifyCompleted).toHaveLength(3);
    });
  });

  describe('cost: state transitions per typical failover', () => {
    /**
     * RDS takes `promotionSeconds` to make the replica writable and Route 53 `dnsSeconds` to be
     * INSYNC; the workflow's own waits decide how many checks that costs.
     */
    function timed(promotionSeconds: number, dnsSeconds: number): Handlers {
      let waited = 0;
      let dnsWaited = 0;
      let dnsChecks = 0;
      return handlers({
        CheckWritable: (input: { attempts: number; firstWaitSeconds: number }) => {
          waited += input.attempts === 0 ? input.firstWaitSeconds : nextPollWaitSeconds(input.attempts);
          const writable = waited >= promotionSeconds;
          return {
            writable,
            status: writable ? 'available' : 'modifying',
            endpoint: 'e',
            role: writable ? 'writer' : 'promoting',
            attempts: input.attempts + 1,
            waitSeconds: nextPollWaitSeconds(input.attempts + 1),
          };
        },
        GetDnsChange: () => {
          dnsWaited += dnsChecks++ === 0 ? 30 : 15;
          return { ChangeInfo: { Id: '/change/C1', Status: dnsWaited >= dnsSeconds ? 'INSYNC' : 'PENDING' } };
        },
      });
    }

    it.each([
      // promotion seconds, DNS seconds, transitions of the previous definition with the same
      // timings (30 s writability polls, 10 s DNS polls; measured by running it in this harness)
      [120, 20, 43],
      [300, 40, 75],
      [600, 60, 123],
    ])('promotion %i s, DNS %i s: at most 60 transitions (was %i)', async (promotionSeconds, dnsSeconds) => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned' },
        timed(promotionSeconds, dnsSeconds),
      );

      expect(result.status).toBe('SUCCEEDED');
      console.info(
        `transitions: promotion ${promotionSeconds} s, DNS ${dnsSeconds} s → ${result.path.length} (${result.calls.CheckWritable!.length} writability checks, ${result.calls.GetDnsChange!.length} DNS checks)`,
      );
      expect(result.path.length).toBeLessThanOrEqual(60);
    });

    it('an alarm-started, approved failover (estimate, approval, re-check) stays under 60 transitions', async () => {
      const result = await runWorkflow(
        'failover',
        asl,
        { ...planned, mode: 'unplanned', trigger: { source: 'alarm', alarmName: 'orders-primary-down' } },
        timed(300, 40),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RecheckPreflight).toHaveLength(1);
      console.info(`transitions: alarm-started, promotion 300 s, DNS 40 s → ${result.path.length}`);
      expect(result.path.length).toBeLessThanOrEqual(60);
    });

    it('a planned failover (catch-up wait included) stays under 60 transitions', async () => {
      const result = await runWorkflow('failover', asl, planned, timed(300, 40));

      expect(result.status).toBe('SUCCEEDED');
      console.info(`transitions: planned, promotion 300 s, DNS 40 s → ${result.path.length}`);
      expect(result.path.length).toBeLessThanOrEqual(60);
    });
  });
});
