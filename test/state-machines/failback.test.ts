import { beforeAll, describe, expect, it } from 'vitest';
import { FailoverTarget } from '../../functions/core/failover/failover.ts';
import { type FailbackPlan, planFailback } from '../../functions/core/failover/failback.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { failWith, type Handlers, namedError, runWorkflow } from './harness.ts';

const target = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
});

function handlers(overrides: Handlers = {}, sourceIsPrimary = true): Handlers {
  const published = () => ({ MessageId: 'm' });
  return {
    PlanFailback: (e: { input: unknown }) =>
      planFailback(e.input, [target], {
        executionName: 'fb-1',
        sourceArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
        sourceIsPrimary,
      }),
    NotifyFailbackStarted: published,
    CreateReplica: (e: { plan: FailbackPlan }) => ({ kind: 'instance', ...e.plan.replica }),
    DescribeReplica: () => ({ status: 'available', available: true, hopeless: false }),
    NotifyReprotected: published,
    DeleteCreatedReplica: () => ({}),
    NotifyFailbackFailed: published,
    ...overrides,
  };
}

describe('FailbackWorkflow', () => {
  let asl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('failback');
  });

  it('creates a replica of the new primary in the recovered region and waits for it', async () => {
    let n = 0;
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({
        DescribeReplica: () =>
          ++n < 3
            ? { status: 'creating', available: false, hopeless: false }
            : { status: 'available', available: true, hopeless: false },
      }),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.calls.CreateReplica![0]).toMatchObject({
      plan: {
        source: {
          region: 'eu-central-1',
          identifier: 'orders-db-dr',
          arn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
        },
        replica: { region: 'eu-west-1', identifier: expect.stringMatching(/^orders-db-rp-[0-9a-f]{6}$/) },
      },
    });
    expect(result.calls.DescribeReplica).toHaveLength(3);
    expect(result.output).toMatchObject({ result: 'reprotected', replica: { region: 'eu-west-1' } });
    expect(result.calls.NotifyReprotected).toHaveLength(1);
  });

  it('refuses when no failover happened (the DR side is not the primary): nothing created', async () => {
    const result = await runWorkflow('failback', asl, { database: 'orders' }, handlers({}, false));

    expect(result.error).toBe('SourceNotPrimary');
    expect(result.calls.CreateReplica).toHaveLength(0);
    expect(result.calls.DeleteCreatedReplica).toHaveLength(0);
  });

  it('a replica that fails is deleted (only the one this execution created)', async () => {
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({
        DescribeReplica: () => ({ status: 'incompatible-parameters', available: false, hopeless: true }),
      }),
    );

    expect(result.error).toBe('ReplicaFailed');
    expect(result.cause).toMatch(/^replica orders-db-rp-[0-9a-f]{6} in eu-west-1 is incompatible-parameters/);
    // The cleanup gets the plan (it removes only what carries this execution's tag) and the name.
    expect(result.calls.DeleteCreatedReplica).toEqual([
      {
        plan: expect.objectContaining({
          replica: { region: 'eu-west-1', identifier: expect.stringMatching(/^orders-db-rp-/) },
        }),
        executionName: expect.any(String),
      },
    ]);
  });

  it('a replica that never becomes available times out and is deleted', async () => {
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({ DescribeReplica: () => ({ status: 'creating', available: false, hopeless: false }) }),
    );

    expect(result.error).toBe('ReplicaTimedOut');
    // Waits of 5, 10, 20, then 30 min until 6 h have passed: 14 checks (not 180 every 2 min).
    expect(result.calls.DescribeReplica).toHaveLength(14);
    expect(result.calls.DeleteCreatedReplica).toHaveLength(1);
  });

  it('a failed create goes to the cleanup, which finds by name what the create may have made', async () => {
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({
        CreateReplica: failWith('ReplicaNameTaken'),
        DeleteCreatedReplica: () => ({ status: 'not-ours', detail: 'left alone' }),
      }),
    );

    expect(result.error).toBe('ReplicaNameTaken');
    expect(result.calls.DeleteCreatedReplica).toHaveLength(1);
    expect(result.calls.NotifyFailbackFailed).toEqual([
      expect.objectContaining({
        Message: expect.objectContaining({ replica: { status: 'not-ours', detail: 'left alone' } }),
      }),
    ]);
  });

  it('a cleanup that cannot finish is notified as unknown with the commands from the plan', async () => {
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({
        DescribeReplica: () => ({ status: 'storage-full', available: false, hopeless: true }),
        DeleteCreatedReplica: failWith('AccessDenied'),
      }),
    );

    expect(result.error).toBe('ReplicaFailed');
    expect(result.calls.NotifyFailbackFailed).toEqual([
      expect.objectContaining({
        Message: expect.objectContaining({
          replica: expect.objectContaining({
            status: 'unknown',
            check: expect.stringMatching(
              /^aws rds describe-db-instances --region eu-west-1 --db-instance-identifier orders-db-rp-/,
            ),
            cleanup: expect.stringMatching(
              /^aws rds delete-db-instance --region eu-west-1 --db-instance-identifier orders-db-rp-/,
            ),
          }),
        }),
      }),
    ]);
  });

  it('a failed replica check counts as "not yet": one transient error never deletes the replica being created', async () => {
    let n = 0;
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({
        DescribeReplica: () => {
          n++;
          if (n <= 4) throw namedError('InternalFailure', 'An internal error occurred');
          return { status: 'available', available: true, hopeless: false };
        },
      }),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.calls.DeleteCreatedReplica).toHaveLength(0);
    expect(result.path.filter((p) => p === 'CountReplicaPoll').length).toBeGreaterThanOrEqual(2);
  });

  it('notifications are retried', async () => {
    let n = 0;
    const result = await runWorkflow(
      'failback',
      asl,
      { database: 'orders' },
      handlers({
        NotifyReprotected: () => {
          if (++n < 2) throw namedError('SNS.InternalErrorException', 'try again');
          return { MessageId: 'm' };
        },
      }),
    );

    expect(result.status).toBe('SUCCEEDED');
    expect(result.calls.NotifyReprotected).toHaveLength(2);
  });
});
