import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type pg from 'pg';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type CanaryResult,
  type HeartbeatStore,
  primaryUnwritableAlarmName,
  probePrimary,
} from '../../functions/core/failover/canary.ts';
import {
  estimateRpo,
  type Heartbeat,
  heartbeatFromItem,
  heartbeatToItem,
} from '../../functions/core/failover/heartbeat.ts';
import { FailoverTarget, type FailoverTargetInput } from '../../functions/core/failover/failover.ts';
import { type PreflightEvent, runPreflight } from '../../functions/core/failover/preflight.ts';
import { recordCanaryMetrics } from '../../functions/canary/index.ts';
import { startFromAlarm } from '../../functions/wf-alarm-start/index.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { type Handlers, runWorkflow } from './harness.ts';

/**
 * The alarm path end to end, with the deployed code at each hop: the canary's core finds the
 * primary unwritable and publishes PrimaryWritable 0; the trigger's rule (N failed minutes in a
 * row and the last acknowledged heartbeat at least N minutes old) holds; wf-alarm-start turns the
 * alarm's state change into an execution; the failover ASL waits for approval, then fences,
 * promotes, switches DNS and verifies a write.
 */

const target = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  dns: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com' },
  maxLagSeconds: 30,
} satisfies FailoverTargetInput);

const MINUTES = 5;
const lastBeat: Heartbeat = {
  writer: 'dr-canary',
  seq: 41,
  writtenAt: '2026-12-01T10:00:00.000Z',
  walLsn: '0/5000000',
  xactCommit: 9000,
  rowsChanged: 42000,
};

/** A primary that is gone: every connection is refused, as the canary sees it through the endpoint. */
const refused = async (): Promise<pg.Client> => {
  throw Object.assign(new Error('connect ECONNREFUSED 10.0.1.20:5432'), { code: 'ECONNREFUSED' });
};

function handlers(published: unknown[], overrides: Handlers = {}): Handlers {
  const ok = () => ({});
  const publish = (input: { Message?: unknown }) => {
    published.push(input.Message);
    return { MessageId: `m-${published.length}` };
  };
  return {
    AcquireLock: ok,
    NotifyLockRefused: publish,
    NotifyStarted: publish,
    Preflight: (event: PreflightEvent) =>
      runPreflight(event, [target], async () => ({
        facts: {
          target: {
            exists: true,
            status: 'available',
            engineVersion: '16.4',
            role: 'replica',
            endpoint: 'dr',
          },
          // The primary's region does not answer.
          source: { reachable: false, engineVersion: null, status: null },
          replicaLagSeconds: 1,
        },
        replicaArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
      })),
    NotifyInputRefused: publish,
    NotifyPreflightRefused: publish,
    NotifyDryRun: publish,
    NotifyApprovalNeeded: publish,
    // The canary's last acknowledged heartbeat, as the lock table keeps it.
    GetLastHeartbeat: () => ({ Item: heartbeatToItem('orders', lastBeat, new Date('2026-12-01T10:00:01Z')) }),
    EstimateDataLoss: (input: { acknowledged: { Item?: Record<string, unknown> } }) => {
      const acknowledged = heartbeatFromItem(input.acknowledged.Item);
      return {
        ...estimateRpo(
          acknowledged,
          { ...lastBeat, seq: 40, writtenAt: '2026-12-01T09:59:00.000Z' },
          new Date('2026-12-01T10:05:05Z'),
        ),
        lastReplayedHeartbeat: '2026-12-01T09:59:00.000Z',
      };
    },
    RequestApproval: () => ({ approvedBy: 'alice', at: '2026-12-01T10:07:00Z' }),
    RecheckPreflight: (event: PreflightEvent) =>
      runPreflight(event, [target], async () => ({
        facts: {
          target: {
            exists: true,
            status: 'available',
            engineVersion: '16.4',
            role: 'replica',
            endpoint: 'dr',
          },
          source: { reachable: false, engineVersion: null, status: null },
          replicaLagSeconds: 1,
        },
        replicaArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
      })),
    WaitForReplicaCatchUp: () => ({ caughtUp: true, detail: 'not planned' }),
    ConfirmPromotion: () => ({ status: 'promoted', detail: 'the replica names no source', check: 'x' }),
    FenceOldPrimary: () => ({ status: 'unreachable', detail: 'eu-west-1 did not answer (TimeoutError)' }),
    PromoteReadReplica: () => ({ DbInstance: { DbInstanceStatus: 'modifying' } }),
    SwitchoverGlobalCluster: () => ({}),
    FailoverGlobalCluster: () => ({}),
    CheckWritable: (input: { attempts: number }) => ({
      writable: true,
      status: 'available',
      endpoint: 'orders-db-dr.eu-central-1.example',
      role: 'writer',
      attempts: input.attempts + 1,
      waitSeconds: 15,
    }),
    SwitchDns: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'PENDING' } }),
    GetDnsChange: () => ({ ChangeInfo: { Id: '/change/C1', Status: 'INSYNC' } }),
    VerifyWrite: () => ({ ok: true, at: '2026-12-01T10:08:00.000Z', detail: 'committed transaction 812' }),
    RecordFailover: () => ({ recorded: true, rtoSeconds: 60, rpoSeconds: 1, key: 'k' }),
    ReleaseLock: ok,
    ReleaseLockCheck: ok,
    NotifyCompleted: publish,
    ReleaseLockAfterFailure: ok,
    ReleaseLockAfterFailureCheck: ok,
    NotifyFailed: publish,
    ReleaseLockAfterPartial: ok,
    ReleaseLockAfterPartialCheck: ok,
    NotifyPartial: publish,
    ...overrides,
  };
}

describe('the alarm path: primary stops taking writes → alarm → alarm-start → approval → failover → verified write', () => {
  let asl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('failover');
  });

  it('runs end to end through the deployed canary, alarm-start and the failover ASL', async () => {
    // Prepare: the canary, once a minute, against a primary that refuses connections.
    const kept = new Map([['orders', lastBeat]]);
    const store: HeartbeatStore = {
      load: async (db) => kept.get(db) ?? null,
      save: async (db, hb) => void kept.set(db, hb),
    };
    const metrics = {
      addMetric: vi.fn<Metrics['addMetric']>(),
      addDimensions: vi.fn<Metrics['addDimensions']>(),
    };
    const runs: CanaryResult[] = [];
    for (let minute = 1; minute <= MINUTES; minute++) {
      const now = new Date(Date.parse(lastBeat.writtenAt) + minute * 60_000 + 5_000);
      const result = await probePrimary('orders', { connect: refused, store, now: () => now });
      recordCanaryMetrics(metrics, 'prod', result);
      runs.push(result);
    }

    // Assess the signal: every minute a 0, and the age of the last heartbeat the primary acknowledged.
    expect(metrics.addMetric.mock.calls.filter(([name]) => name === 'PrimaryWritable')).toEqual(
      Array.from({ length: MINUTES }, () => ['PrimaryWritable', 'Count', 0]),
    );
    expect(runs.map((r) => r.heartbeatAgeSeconds)).toEqual([65, 125, 185, 245, 305]);
    // The composite alarm's rule, as lib/constructs/primary-canary.ts configures it.
    const writeFailed = runs.slice(-MINUTES).every((r) => !r.writable);
    const heartbeatAge = runs.at(-1)!.heartbeatAgeSeconds! >= MINUTES * 60 - 30;
    expect(writeFailed && heartbeatAge).toBe(true);

    // Act: the alarm's state change, as the rule hands it to wf-alarm-start.
    const starts: { name: string; input: unknown }[] = [];
    const sfn = {
      send: async (command: StartExecutionCommand) => {
        starts.push({ name: command.input.name!, input: JSON.parse(command.input.input!) });
        return { executionArn: 'arn:aws:states:eu-central-1:111111111111:execution:failover:x' };
      },
    } as unknown as Pick<SFNClient, 'send'>;
    const alarmName = primaryUnwritableAlarmName('prod', 'orders');
    const started = await startFromAlarm(
      { database: 'orders', alarmName, state: 'ALARM', time: '2026-12-01T10:05:05Z' },
      sfn,
      {
        LIFEBOAT_ENVIRONMENT: 'prod',
        LIFEBOAT_FAILOVER_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:111111111111:stateMachine:failover',
      },
    );
    expect(started.started).toBe(true);
    expect(starts).toHaveLength(1);
    const published: unknown[] = [];
    const run = await runWorkflow('failover', asl, starts[0]!.input, handlers(published), {
      executionName: starts[0]!.name,
    });

    // Assess the failover.
    expect(`${run.status} ${run.error} ${run.cause} ${run.path.join('>')}`).toMatch(/^SUCCEEDED/);
    expect({ status: run.status }).toMatchObject({
      status: 'SUCCEEDED',
    });
    const order = [
      'Preflight',
      'NotifyApprovalNeeded',
      'RequestApproval',
      'FenceOldPrimary',
      'PromoteReadReplica',
      'CheckWritable',
      'VerifyWrite',
      'SwitchDns',
      'RecordFailover',
      'FailoverSucceeded',
    ];
    const positions = order.map((s) => run.path.indexOf(s));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(run.calls.FenceOldPrimary![0]).toMatchObject({ mode: 'unplanned' });
    const approval = published.find((m) => (m as { type?: string }).type === 'failover.approval-needed') as {
      input: { trigger: string; reason: string; requestedBy: string };
      approve: string;
    };
    expect(approval.input).toMatchObject({ trigger: 'alarm', requestedBy: alarmName });
    expect(approval.input.reason).toContain('the primary of orders has not accepted writes');
    expect(approval.approve).toBe('lifeboat approve --env drill --database orders');
    expect(run.output).toMatchObject({ result: 'completed', fence: { status: 'unreachable' } });
  });

  it('an aborted approval changes nothing: no fence, no promotion', async () => {
    const published: unknown[] = [];
    const run = await runWorkflow(
      'failover',
      asl,
      {
        database: 'orders',
        mode: 'unplanned',
        reason: 'the primary of orders has not accepted writes',
        trigger: 'alarm',
        requestedBy: primaryUnwritableAlarmName('prod', 'orders'),
      },
      handlers(published, {
        RequestApproval: () => {
          throw Object.assign(new Error('the primary is back'), { name: 'FailoverAborted' });
        },
      }),
    );
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('FailoverAborted');
    expect(run.calls.FenceOldPrimary).toEqual([]);
    expect(run.calls.PromoteReadReplica).toEqual([]);
  });
});
