import { beforeAll, describe, expect, it } from 'vitest';
import { failbackInstanceOf } from '../../functions/core/failover/failback.ts';
import {
  EXECUTION,
  type FailbackScenario,
  type FailbackBounds,
  failbackBounds,
  failbackInvariants,
  failbackLambdas,
  failbackWorld,
  healthyFailback,
  plannedReplica,
} from './failback-world.ts';
import type { Fault } from './faults.ts';
import { type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';

/**
 * Named failback cases in the fault world: the specific faults the property suite draws at random,
 * each with what it must leave behind and say. The regressions name the defect they guard.
 */

let prepared: PreparedWorkflow;
let bounds: FailbackBounds;
beforeAll(() => {
  prepared = prepare('failback', pinnedAsl('failback'));
  bounds = failbackBounds(prepared);
});

async function play(s: FailbackScenario) {
  const world = failbackWorld(s);
  const run = await runInWorld(prepared, {
    input: { database: 'orders' },
    world,
    lambdas: failbackLambdas(world, s),
    faults: s.faults,
    executionName: EXECUTION,
  });
  const failed = world.published.filter((p) => p.message.type === 'failback.failed');
  const report = (failed.at(-1)?.message.replica ?? null) as Record<string, string> | null;
  return { world, run, report, problems: failbackInvariants(s, world, run, bounds) };
}

const fault = (task: string, kind: Fault['kind'], attempt = 0, applied = true): Fault => ({
  task,
  attempt,
  kind,
  applied,
});

describe('failback: named cases', () => {
  it.each(['instance', 'aurora'] as const)(
    '%s: a lost create answer (applied, then 500) is adopted on the retry: one replica, reprotected',
    async (target) => {
      const s = healthyFailback({ target, faults: [fault('CreateReplica', 'lost')] });
      const { world, run, problems } = await play(s);

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.calls.CreateReplica).toBe(2);
      expect(world.creations.filter((c) => c.createdBy === EXECUTION)).toHaveLength(
        target === 'instance' ? 1 : 2,
      );
      expect(world.removals).toEqual([]);
    },
  );

  it('a lost answer of the RDS create call itself (the SDK retries, RDS says it exists): adopted by its tag', async () => {
    const s = healthyFailback({
      target: 'instance',
      faults: [fault('sdk:CreateDBInstanceReadReplica', 'lost')],
    });
    const { run, problems, world } = await play(s);

    expect(problems).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    expect(world.sdkCalls['sdk:CreateDBInstanceReadReplica']).toBe(2);
  });

  it.each(['instance', 'aurora'] as const)(
    '%s: a database under the planned name made by another run is refused and left alone (notified not-ours)',
    async (target) => {
      const s = healthyFailback({ target, existing: 'same-name' });
      const { world, run, report, problems } = await play(s);

      expect(problems).toEqual([]);
      expect(run.error).toBe('ReplicaNameTaken');
      expect(world.removals).toEqual([]);
      expect(report).toMatchObject({ status: 'not-ours', identifier: plannedReplica(s) });
      expect(report!.detail).toContain('failback-earlier-run');
    },
  );

  it('a throttled replica check (twice over, at the SDK and at Lambda) is "not yet": the replica is kept', async () => {
    const s = healthyFailback({
      target: 'instance',
      faults: [
        fault('DescribeReplica', 'lambda-throttle', 0, false),
        fault('sdk:DescribeDBInstances', 'throttle', 2, false),
      ],
    });
    const { world, run, problems } = await play(s);

    expect(problems).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.injected).toBe(2);
    expect(world.removals).toEqual([]);
  });

  it('the cleanup is refused (AccessDenied on the delete): notified unknown, with the check and cleanup commands', async () => {
    const s = healthyFailback({
      target: 'instance',
      endsAs: 'incompatible-parameters',
      faults: [fault('sdk:DeleteDBInstance', 'denied', 0, false)],
    });
    const { world, run, report, problems } = await play(s);
    const name = plannedReplica(s);

    expect(problems).toEqual([]);
    expect(run.error).toBe('ReplicaFailed');
    expect(world.leftBy(EXECUTION).instances).toEqual([name]);
    expect(report).toMatchObject({
      status: 'unknown',
      identifier: name,
      check: `aws rds describe-db-instances --region eu-west-1 --db-instance-identifier ${name} --query 'DBInstances[0].[DBInstanceStatus,TagList]'`,
      cleanup: `aws rds delete-db-instance --region eu-west-1 --db-instance-identifier ${name} --skip-final-snapshot --delete-automated-backups`,
    });
  });

  it.each(['instance', 'aurora'] as const)(
    '%s: the plan refuses when the new primary already has a replica in the recovered region (nothing created)',
    async (target) => {
      const s = healthyFailback({ target, existing: 'replica' });
      const { world, run, report, problems } = await play(s);

      expect(problems).toEqual([]);
      expect(run.error).toBe('ReplicaExists');
      expect(run.cause).toMatch(
        /already has a replica in eu-west-1: arn:aws:rds:eu-west-1:111111111111:(db|cluster):orders-(db|aurora)-rp-0e0e0e/,
      );
      expect(world.creations).toEqual([]);
      expect(report).toMatchObject({ status: 'none' });
    },
  );

  it('the plan refuses when no failover happened (SourceNotPrimary): nothing created', async () => {
    const { world, run, problems } = await play(healthyFailback({ target: 'aurora', failedOver: false }));

    expect(problems).toEqual([]);
    expect(run.error).toBe('SourceNotPrimary');
    expect(world.creations).toEqual([]);
  });

  it.each(['instance', 'aurora'] as const)(
    '%s: AccessDenied on the create: nothing created, nothing deleted, notified none',
    async (target) => {
      const task = target === 'instance' ? 'sdk:CreateDBInstanceReadReplica' : 'sdk:CreateDBCluster';
      const s = healthyFailback({ target, faults: [fault(task, 'denied', 0, false)] });
      const { world, run, report, problems } = await play(s);

      expect(problems).toEqual([]);
      expect(run.error).toBe('AccessDenied');
      expect(world.creations).toEqual([]);
      expect(world.removals).toEqual([]);
      expect(report).toMatchObject({ status: 'none', identifier: plannedReplica(s) });
    },
  );

  it('AccessDenied on the Aurora instance create after its cluster was made: the cluster is removed', async () => {
    const s = healthyFailback({
      target: 'aurora',
      faults: [fault('sdk:CreateDBInstance', 'denied', 0, false)],
    });
    const { world, run, report, problems } = await play(s);
    const name = plannedReplica(s);

    expect(problems).toEqual([]);
    expect(run.error).toBe('AccessDenied');
    expect(world.removals.map((r) => r.id)).toEqual([name]);
    expect(world.globalClusters.get('orders-global')!.members).toEqual(['orders-aurora-dr']);
    expect(report).toMatchObject({ status: 'deleted', identifier: name });
  });
});

describe('failback: regressions found by the fault suite', () => {
  it.each(['instance', 'aurora'] as const)(
    '%s: a lost answer of the delete call (RDS deletes, the retry is refused: already deleting) is reported deleted (was: left-behind)',
    async (target) => {
      const s = healthyFailback({
        target,
        endsAs: 'incompatible-parameters',
        faults: [fault('sdk:DeleteDBInstance', 'lost')],
      });
      const { world, run, report, problems } = await play(s);

      expect(problems).toEqual([]);
      expect(run.error).toBe('ReplicaFailed');
      expect(world.leftBy(EXECUTION)).toEqual({ instances: [], clusters: [] });
      expect(report).toMatchObject({ status: 'deleted' });
    },
  );

  it('a create whose Lambda timed out after RDS applied it is retried and adopted (was: failed, replica orphaned, notified {})', async () => {
    const s = healthyFailback({ target: 'instance', faults: [fault('CreateReplica', 'timeout', 0, true)] });
    const { world, run, problems } = await play(s);

    expect(problems).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    expect(world.leftBy(EXECUTION).instances).toEqual([plannedReplica(s)]);
  });

  it.each(['PlanFailback', 'CreateReplica'])(
    'one Lambda throttle at %s is retried (was: the failback failed)',
    async (task) => {
      const s = healthyFailback({ target: 'aurora', faults: [fault(task, 'lambda-throttle', 0, false)] });
      const { run, problems } = await play(s);

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
    },
  );

  it('the plan refuses a second replica (was: a failback of a protected database made another one)', async () => {
    const { run, world } = await play(healthyFailback({ target: 'instance', existing: 'replica' }));

    expect(run.status).toBe('FAILED');
    expect(world.creations).toEqual([]);
  });

  it('a replica still creating when the checks run out is left and said so, with the commands (was: notified as removed)', async () => {
    const s = healthyFailback({ target: 'instance', replicaMinutes: 420 });
    const { world, run, report, problems } = await play(s);

    expect(problems).toEqual([]);
    expect(run.error).toBe('ReplicaTimedOut');
    expect(world.instanceStatus(plannedReplica(s))).toBe('creating');
    expect(report).toMatchObject({ status: 'left-behind', identifier: plannedReplica(s) });
    expect(report!.detail).toContain('not deletable while creating');
    expect(report!.cleanup).toContain('aws rds delete-db-instance --region eu-west-1');
  });

  it('a failed Aurora secondary is removed whole: detached, its instance deleted, then its cluster (was: the cluster was left)', async () => {
    const s = healthyFailback({ target: 'aurora', endsAs: 'storage-full' });
    const { world, run, report, problems } = await play(s);
    const name = plannedReplica(s);

    expect(problems).toEqual([]);
    expect(run.error).toBe('ReplicaFailed');
    expect(world.removals.map((r) => r.id).sort()).toEqual([name, failbackInstanceOf(name)].sort());
    expect(world.leftBy(EXECUTION)).toEqual({ instances: [], clusters: [] });
    expect(report).toMatchObject({ status: 'deleted' });
  });

  it('a replica check that never answers ends within the state machine timeout, notified (was: 180 checks, past the 8 h timeout)', async () => {
    const s = healthyFailback({
      target: 'instance',
      faults: [fault('DescribeReplica', 'unreachable', 0, false)],
    });
    const { run, report, problems } = await play(s);

    expect(problems).toEqual([]);
    expect(run.error).toBe('ReplicaTimedOut');
    expect(run.seconds).toBeLessThan(bounds.timeoutSeconds);
    expect(report).toMatchObject({ status: 'deleted' });
  });

  it('a Lambda throttle on the cleanup is retried (was: the replica was left, notified without a command)', async () => {
    const s = healthyFailback({
      target: 'instance',
      endsAs: 'incompatible-parameters',
      faults: [fault('DeleteCreatedReplica', 'lambda-throttle', 0, false)],
    });
    const { world, run, report, problems } = await play(s);

    expect(problems).toEqual([]);
    expect(run.error).toBe('ReplicaFailed');
    expect(world.leftBy(EXECUTION)).toEqual({ instances: [], clusters: [] });
    expect(report).toMatchObject({ status: 'deleted' });
  });
});
