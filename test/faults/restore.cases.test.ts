import { beforeAll, describe, expect, it } from 'vitest';
import type { VerificationRecord } from '../../functions/core/catalog/catalog.ts';
import { DatabaseUnreachable } from '../../functions/core/shared/errors.ts';
import type { Fault, FaultKind } from './faults.ts';
import {
  DNS_NAME,
  type RestoreScenario,
  restoreInput,
  restoreInvariants,
  restoreLambdas,
  restoreWorld,
  targetsOf,
} from './restore-world.ts';
import {
  type RestoreTestScenario,
  restoreTestInvariants,
  restoreTestLambdas,
  restoreTestWorld,
} from './restore-test-world.ts';
import { type LambdaHandler, type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';

/**
 * Each restore case the fault world was built to show, as a named test: the scenario, the run,
 * the state of the world afterwards, and the invariants of the property suites.
 */

const EXECUTION = 'restore-case';

const healthy: RestoreScenario = {
  route: 'instance-snapshot',
  verify: true,
  cutover: false,
  restoreMinutes: 20,
  endsAs: null,
  dataMatches: true,
  preexisting: 'none',
  faults: [],
};

const fault = (task: string, kind: FaultKind, attempt = 0, applied = true): Fault => ({
  task,
  kind,
  attempt,
  applied,
});

let restore: PreparedWorkflow;
let restoreTest: PreparedWorkflow;
beforeAll(() => {
  restore = prepare('restore', pinnedAsl('restore'));
  restoreTest = prepare('restore-test', pinnedAsl('restore-test'));
});

async function playRestore(
  s: RestoreScenario,
  wrap: (lambdas: Record<string, LambdaHandler>) => Record<string, LambdaHandler> = (l) => l,
) {
  const world = restoreWorld(s);
  const run = await runInWorld(restore, {
    input: restoreInput(s),
    world,
    lambdas: wrap(restoreLambdas(world, s, EXECUTION)),
    faults: s.faults,
    executionName: EXECUTION,
  });
  const failed = world.published.filter((p) => p.message.type === 'restore.failed').at(-1)?.message;
  return { world, run, failed, problems: restoreInvariants(s, world, run, EXECUTION).problems };
}

/** The instance (or cluster and its instance) of a route is there and available. */
function restored(world: ReturnType<typeof restoreWorld>, s: RestoreScenario): boolean {
  const t = targetsOf(s.route);
  return (
    world.instanceStatus(t.instance) === 'available' &&
    (t.cluster === null || world.clusterStatus(t.cluster) === 'available')
  );
}

describe('restore never removes what it did not create', () => {
  it('a database that appears after the check is not dropped, even when the error name does not match the Catch (minified)', async () => {
    const s: RestoreScenario = { ...healthy, route: 'dump', preexisting: 'race' };
    // What a bundle with renamed classes throws: the Catch on TargetAlreadyExists cannot match.
    const minified = (lambdas: Record<string, LambdaHandler>) => ({
      ...lambdas,
      RestoreDump: (async (e: never) => {
        try {
          return await lambdas.RestoreDump!(e);
        } catch (err) {
          (err as Error).name = 'Wl';
          throw err;
        }
      }) as LambdaHandler,
    });
    const { world, run, failed, problems } = await playRestore(s, minified);

    expect(problems).toEqual([]);
    expect(run.status).toBe('FAILED');
    expect(run.path).toContain('DropCreatedDatabase');
    expect(world.servers.get('reports-db')!.get('orders_restored')).toEqual({
      mark: null,
      rows: 42,
      createdBy: 'operator',
    });
    expect(world.removals).toEqual([]);
    expect(failed).toMatchObject({ cleanupErrors: { database: { Error: 'NotCreatedByThisExecution' } } });
  });

  it.each(['instance-snapshot', 'cluster-snapshot'] as const)(
    '%s: a target someone created after the check (already exists, not tagged by this execution) is never deleted',
    async (route) => {
      const { world, run, problems } = await playRestore({ ...healthy, route, preexisting: 'race' });

      expect(problems).toEqual([]);
      expect(run.error).toMatch(/^Rds\.Db(Instance|Cluster)AlreadyExistsException$/);
      expect(world.removals).toEqual([]);
    },
  );
});

describe('a single transient error never discards a good restore', () => {
  it.each(['throttle', '5xx', 'lost', 'timeout'] as const)(
    'DescribeRestoredCluster meets %s once: the restored cluster is kept and reported',
    async (kind) => {
      const s: RestoreScenario = {
        ...healthy,
        route: 'cluster-snapshot',
        faults: [fault('DescribeRestoredCluster', kind)],
      };
      const { world, run, problems } = await playRestore(s);

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.calls.DescribeRestoredCluster).toBe(2);
      expect(restored(world, s)).toBe(true);
      expect(world.removals).toEqual([]);
    },
  );

  it.each(['lambda-throttle', '5xx', 'timeout'] as const)(
    'VerifyRestore meets %s once: verified on the retry, nothing deleted',
    async (kind) => {
      const s: RestoreScenario = { ...healthy, faults: [fault('VerifyRestore', kind)] };
      const { world, run, problems } = await playRestore(s);

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.output.verification).toMatchObject({ passed: true });
      expect(world.removals).toEqual([]);
    },
  );

  it('VerifyRestore cannot connect once (a new endpoint settling): retried, not a failed restore', async () => {
    let refused = false;
    const flaky = (lambdas: Record<string, LambdaHandler>) => ({
      ...lambdas,
      VerifyRestore: ((e: never) => {
        if (!refused) {
          refused = true;
          throw new DatabaseUnreachable('connection refused');
        }
        return lambdas.VerifyRestore!(e);
      }) as LambdaHandler,
    });
    const { run, world } = await playRestore(healthy, flaky);

    expect(run.status).toBe('SUCCEEDED');
    expect(world.removals).toEqual([]);
  });

  it.each([
    ['instance-snapshot', 'RestoreInstanceFromSnapshot'],
    ['instance-pitr', 'RestoreInstanceToPointInTime'],
    ['cluster-snapshot', 'RestoreClusterFromSnapshot'],
    ['cluster-pitr', 'RestoreClusterToPointInTime'],
    ['cluster-snapshot', 'CreateClusterInstance'],
  ] as const)(
    '%s: RDS throttling as Step Functions names it (Rds.RdsException "Rate exceeded") is retried at %s',
    async (route, task) => {
      const s: RestoreScenario = { ...healthy, route, faults: [fault(task, 'throttle')] };
      const { world, run, problems } = await playRestore(s);

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.calls[task]).toBe(2);
      expect(restored(world, s)).toBe(true);
    },
  );

  it.each([
    ['instance-snapshot', 'RestoreInstanceFromSnapshot', 'ExistingInstanceAdopt'],
    ['instance-pitr', 'RestoreInstanceToPointInTime', 'ExistingInstanceAdopt'],
    ['cluster-snapshot', 'RestoreClusterFromSnapshot', 'ExistingClusterAdopt'],
    ['cluster-pitr', 'RestoreClusterToPointInTime', 'ExistingClusterAdopt'],
    ['cluster-snapshot', 'CreateClusterInstance', 'ExistingInstanceAdopt'],
  ] as const)(
    '%s: the answer of %s is lost; the retry meets the resource, its tag proves it ours, the restore goes on',
    async (route, task, adopt) => {
      const s: RestoreScenario = { ...healthy, route, faults: [fault(task, 'lost')] };
      const { world, run, problems } = await playRestore(s);

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.path).toContain(adopt);
      expect(restored(world, s)).toBe(true);
    },
  );

  it.each(['ValidateInput', 'ResolveRestorePoint', 'VerifyRestore', 'FinishRestore'])(
    'Lambda throttles the invocation of %s once (Lambda.TooManyRequestsException): retried',
    async (task) => {
      const { run, problems } = await playRestore({ ...healthy, faults: [fault(task, 'lambda-throttle')] });

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(run.calls[task]).toBe(2);
    },
  );

  it('a dump restore whose answer is lost: the retry finds its own marker, restores afresh, succeeds', async () => {
    const s: RestoreScenario = { ...healthy, route: 'dump', faults: [fault('RestoreDump', 'lost')] };
    const { world, run, problems } = await playRestore(s);

    expect(problems).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    expect(world.servers.get('reports-db')!.get('orders_restored')).toMatchObject({
      mark: `lifeboat:created-by=${EXECUTION}`,
      rows: 100,
    });
  });
});

describe('what a failure leaves is known and reported', () => {
  it('a create whose answer was lost and whose retries are then refused: the instance it made is found by its tag and deleted', async () => {
    const s: RestoreScenario = {
      ...healthy,
      faults: [
        fault('RestoreInstanceFromSnapshot', 'lost', 0),
        fault('RestoreInstanceFromSnapshot', 'denied', 1),
      ],
    };
    const { world, run, failed, problems } = await playRestore({ ...s, restoreMinutes: 0 });

    expect(problems).toEqual([]);
    expect(run.status).toBe('FAILED');
    expect(run.path).toContain('UnsureInstanceAdopt');
    expect(world.removals).toEqual([expect.objectContaining({ kind: 'instance', id: 'orders-restored' })]);
    expect(failed).toMatchObject({ removed: { instance: { identifier: 'orders-restored' } } });
  });

  it('when the ownership check itself cannot answer, the identifier is reported as unconfirmed', async () => {
    const s: RestoreScenario = {
      ...healthy,
      faults: [
        fault('RestoreInstanceFromSnapshot', 'lost', 0),
        fault('RestoreInstanceFromSnapshot', 'unreachable', 1),
        fault('UnsureInstanceDescribe', 'unreachable', 0),
      ],
    };
    const { failed, problems } = await playRestore(s);

    expect(problems).toEqual([]);
    expect(failed).toMatchObject({
      cleanupErrors: { unconfirmed: { identifier: 'orders-restored', Error: 'Rds.RdsException' } },
    });
  });

  it('a cutover that may have been applied (answer lost, then the region unreachable) keeps the restored database and reports the cutover as UNKNOWN', async () => {
    const s: RestoreScenario = {
      ...healthy,
      cutover: true,
      faults: [fault('Cutover', 'lost', 0), fault('Cutover', 'unreachable', 1)],
    };
    const { world, run, problems } = await playRestore(s);

    expect(problems).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.output.cutover).toMatchObject({
      status: 'UNKNOWN',
      error: { Error: 'Route53.Route53Exception' },
    });
    expect(world.records.get(DNS_NAME)).toBe(world.endpointOf('orders-restored'));
    expect(world.removals).toEqual([]);
    expect(world.published.at(-1)!.message).toMatchObject({
      type: 'restore.completed',
      cutover: { status: 'UNKNOWN' },
    });
  });

  it.each([
    ['NotifyRestored', healthy, 'restore.completed'],
    ['NotifyRestoreFailed', { ...healthy, dataMatches: false }, 'restore.failed'],
  ] as const)('%s throttled once: the terminal message still reaches SNS', async (task, s, type) => {
    const { world, problems } = await playRestore({ ...s, faults: [fault(task, 'throttle')] });

    expect(problems).toEqual([]);
    expect(world.published.at(-1)!.message.type).toBe(type);
  });
});

describe('restore test', () => {
  const test: RestoreTestScenario = {
    kind: 'cluster',
    restoreMinutes: 20,
    endsAs: null,
    dataMatches: true,
    preexisting: 'none',
    faults: [],
  };

  async function playTest(s: RestoreTestScenario) {
    const world = restoreTestWorld(s, EXECUTION);
    const records: VerificationRecord[] = [];
    const run = await runInWorld(restoreTest, {
      input: { database: 'orders' },
      world,
      lambdas: restoreTestLambdas(world, s, records),
      faults: s.faults,
      executionName: EXECUTION,
    });
    return { world, run, records, problems: restoreTestInvariants(s, world, run, EXECUTION, records) };
  }

  it.each([
    ['instance', 'RestoreTestInstance'],
    ['cluster', 'RestoreTestCluster'],
    ['cluster', 'CreateTestClusterInstance'],
  ] as const)(
    '%s: the answer of %s is lost; adopted by its tag, checked, deleted, recorded',
    async (kind, task) => {
      const { world, run, records, problems } = await playTest({
        ...test,
        kind,
        faults: [fault(task, 'lost')],
      });

      expect(problems).toEqual([]);
      expect(run.status).toBe('SUCCEEDED');
      expect(records).toEqual([expect.objectContaining({ passed: true, method: 'snapshot-restore-test' })]);
      expect(world.leftBy(EXECUTION)).toEqual({ instances: [], clusters: [] });
    },
  );

  it('the temporary cluster is deleted once its instance is gone (the retries wait for it)', async () => {
    const { world, run, problems } = await playTest(test);

    expect(problems).toEqual([]);
    expect(run.status).toBe('SUCCEEDED');
    expect(world.removals.map((r) => r.kind)).toEqual(['instance', 'cluster']);
  });

  it('an instance of the same name that is not ours is never deleted', async () => {
    const { world, run, problems } = await playTest({ ...test, kind: 'instance', preexisting: 'race' });

    expect(problems).toEqual([]);
    expect(run.error).toBe('Rds.DbInstanceAlreadyExistsException');
    expect(world.removals).toEqual([]);
  });
});
