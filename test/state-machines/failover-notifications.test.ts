import { beforeAll, describe, expect, it } from 'vitest';
import { eventFromSnsRecord } from '../../functions/core/notify/decode.ts';
import { FailoverTarget } from '../../functions/core/failover/failover.ts';
import { type PreflightEvent, runPreflight } from '../../functions/core/failover/preflight.ts';
import { type AslDefinition, renderAsl, TASK_STATES } from '../../state-machines/render.ts';
import { snsEvent } from '../unit/events-samples.ts';
import { failWith, type Handlers, namedError, runWorkflow } from './harness.ts';

/**
 * What on-call reads: the messages the failover workflow publishes, rendered by the notifier's
 * reader (functions/core/notify/events.ts) exactly as the topic delivers them.
 */

const target = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  dns: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com' },
  maxLagSeconds: 30,
});

function handlers(overrides: Handlers = {}): Handlers {
  const all: Handlers = {};
  for (const name of TASK_STATES.failover) all[name] = () => ({ MessageId: 'm' });
  return {
    ...all,
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
          source: { reachable: false, engineVersion: null, status: null },
          replicaLagSeconds: 240,
        },
        replicaArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
      })),
    GetLastHeartbeat: () => ({}),
    EstimateDataLoss: () => ({
      known: true,
      rpoSeconds: 42.5,
      unobservedSeconds: 70,
      transactionsAtRisk: 310,
      rowsAtRisk: 1240,
      lastReplayedHeartbeat: '2026-11-23T09:13:50.000Z',
      summary:
        'the replica is 3 heartbeat(s) and 42.5 s behind: about 310 transactions and 1240 rows at risk',
    }),
    RequestApproval: failWith('FailoverAborted', 'aborted by bob'),
    FenceOldPrimary: () => ({
      status: 'unknown',
      detail: 'eu-west-1 did not answer',
      check: 'aws rds describe-db-instances --region eu-west-1 …',
    }),
    PromoteReadReplica: () => {
      throw namedError('Rds.InvalidDbInstanceStateException', 'DB Instance is not a read replica.');
    },
    ConfirmPromotion: failWith('Rds.RdsException', 'Service Unavailable'),
    ...overrides,
  };
}

function rendered(message: unknown) {
  const read = eventFromSnsRecord(snsEvent(JSON.stringify(message)).Records[0]!);
  if (read.kind !== 'event') throw new Error(`not read as an event: ${JSON.stringify(read)}`);
  return read.event;
}

describe('failover notifications as on-call reads them', () => {
  let asl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('failover');
  });
  const alarmStarted = {
    database: 'orders',
    mode: 'unplanned',
    reason: 'primary not accepting writes',
    trigger: { source: 'alarm', alarmName: 'lifeboat-prod-orders-primary-not-writable', state: 'ALARM' },
  };

  it('the approval message shows the last heartbeat the replica replayed and the rows and seconds at risk', async () => {
    const result = await runWorkflow(
      'failover',
      asl,
      alarmStarted,
      handlers({ RecheckPreflight: () => ({}) }),
    );

    expect(result.error).toBe('FailoverAborted');
    const event = rendered((result.calls.NotifyApprovalNeeded![0] as { Message: unknown }).Message);
    expect(event.summary).toContain('lifeboat approve --env drill --database orders');
    expect(event.summary).toContain('about 310 transactions and 1240 rows at risk');
    expect(event.figures).toMatchObject({
      rowsAtRisk: 1240,
      estimatedRpoSeconds: 42.5,
      lastReplayedHeartbeat: '2026-11-23T09:13:50.000Z',
      // Lag above maxLagSeconds (30) did not refuse the alarm-started run; it is reported.
      rpoSeconds: 240,
    });
  });

  it('a partial failover whose promotion is unknown says so, with the check to run', async () => {
    const result = await runWorkflow(
      'failover',
      asl,
      { database: 'orders', mode: 'unplanned', reason: 'outage', force: true },
      handlers(),
    );

    expect(result.error).toBe('FailoverPartiallyCompleted');
    const event = rendered((result.calls.NotifyPartial![0] as { Message: unknown }).Message);
    expect(event.summary).toMatch(/^Failover of orders does not know whether the new primary was promoted/);
    expect(event.summary).not.toContain('promoted the new primary but');
    expect(event.figures).toMatchObject({
      lock: 'released',
      fence: 'unknown',
      fenceCheck: 'aws rds describe-db-instances --region eu-west-1 …',
      promotion: 'unknown',
      promotionCheck: expect.stringContaining('--db-instance-identifier orders-db-dr'),
      dns: 'not-attempted',
      writeCheck: 'not-attempted',
    });
  });

  it('a promotion requested but never confirmed writable says so (not "promoted"), with the check to run', async () => {
    const result = await runWorkflow(
      'failover',
      asl,
      { database: 'orders', mode: 'unplanned', reason: 'outage', force: true },
      handlers({
        PromoteReadReplica: () => ({ DbInstance: { DbInstanceStatus: 'modifying' } }),
        CheckWritable: (input: { attempts: number }) => ({
          writable: false,
          status: 'modifying',
          endpoint: '',
          role: 'promoting',
          attempts: input.attempts + 1,
          waitSeconds: 120,
        }),
      }),
    );

    expect(result.error).toBe('FailoverPartiallyCompleted');
    const event = rendered((result.calls.NotifyPartial![0] as { Message: unknown }).Message);
    expect(event.summary).toMatch(
      /^Failover of orders requested the promotion of the new primary, but it was not confirmed writable \(DNS not switched\): promotion of orders-db-dr was requested but it was not confirmed writable after 18 checks/,
    );
    expect(event.summary).not.toContain('promoted the new primary but');
    expect(event.figures).toMatchObject({
      promotion: 'requested-not-writable',
      promotionCheck: expect.stringContaining('--db-instance-identifier orders-db-dr'),
      dns: 'not-attempted',
      writeCheck: 'not-attempted',
    });
  });

  it('a lock left over is in the message with the command that clears it', async () => {
    const result = await runWorkflow(
      'failover',
      asl,
      { database: 'orders', mode: 'unplanned', reason: 'outage', force: true },
      handlers({
        ReleaseLockAfterPartial: failWith('DynamoDB.AmazonDynamoDBException', 'unavailable'),
        ReleaseLockAfterPartialCheck: () => ({ Item: { lockId: { S: 'failover#orders' } } }),
      }),
    );

    const event = rendered((result.calls.NotifyPartial![0] as { Message: unknown }).Message);
    expect(event.figures).toMatchObject({
      lock: 'left-over',
      clearLock: expect.stringMatching(
        /^aws dynamodb delete-item --region eu-central-1 --table-name lifeboat-drill-locks /,
      ),
    });
  });

  it('an approval-needed message that cannot be sent ends the run (the failed-execution alarm pages), nothing changed', async () => {
    const result = await runWorkflow(
      'failover',
      asl,
      alarmStarted,
      handlers({ NotifyApprovalNeeded: failWith('SNS.KMSAccessDeniedException', 'key disabled') }),
    );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ApprovalNotificationFailed');
    expect(result.cause).toContain('nobody knows this failover waits for a decision');
    expect(result.calls.NotifyApprovalNeeded).toHaveLength(5);
    expect(result.calls.RequestApproval).toHaveLength(0);
    expect(result.calls.FenceOldPrimary).toHaveLength(0);
    expect(result.calls.ReleaseLockAfterFailure).toHaveLength(1);
    const event = rendered((result.calls.NotifyFailed![0] as { Message: unknown }).Message);
    expect(event.figures).toMatchObject({
      error: 'ApprovalNotificationFailed',
      promotion: 'not-attempted',
      fence: 'not-attempted',
    });
  });
});
