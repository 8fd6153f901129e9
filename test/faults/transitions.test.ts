import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerificationRecord } from '../../functions/core/catalog/catalog.ts';
import { EXECUTION, failbackLambdas, failbackWorld, healthyFailback } from './failback-world.ts';
import { type RestoreScenario, restoreInput, restoreLambdas, restoreWorld } from './restore-world.ts';
import { restoreTestLambdas, restoreTestWorld } from './restore-test-world.ts';
import { type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';

/**
 * State transitions (what Step Functions bills) per run, in the fault world without faults. A
 * typical restore: an instance from a snapshot, available after 20 minutes, verified, no cutover.
 * FAULT_STATS=1 prints the table docs/testing.md quotes.
 */

let restore: PreparedWorkflow;
let restoreTest: PreparedWorkflow;
let failback: PreparedWorkflow;
beforeAll(() => {
  restore = prepare('restore', pinnedAsl('restore'));
  restoreTest = prepare('restore-test', pinnedAsl('restore-test'));
  failback = prepare('failback', pinnedAsl('failback'));
});

const typical: RestoreScenario = {
  route: 'instance-snapshot',
  verify: true,
  cutover: false,
  restoreMinutes: 20,
  endsAs: null,
  dataMatches: true,
  preexisting: 'none',
  faults: [],
};

async function transitions(s: RestoreScenario) {
  const world = restoreWorld(s);
  const run = await runInWorld(restore, {
    input: restoreInput(s),
    world,
    lambdas: restoreLambdas(world, s, 'typical'),
    executionName: 'typical',
  });
  expect(run.status).toBe('SUCCEEDED');
  return { transitions: run.path.length, minutes: Math.round(run.seconds / 60) };
}

const table: string[] = [];

describe('transitions per restore', () => {
  it('a typical restore (instance from a snapshot, 20 min, verified) takes at most 60 transitions', async () => {
    const { transitions: n, minutes } = await transitions(typical);
    table.push(`restore instance-snapshot 20 min verified: ${n} transitions, done after ${minutes} min`);

    expect(n).toBeLessThanOrEqual(60);
    // The poll's overshoot (the RTO cost of fewer checks) stays within one wait of at most 10 min.
    expect(minutes).toBeLessThanOrEqual(20 + 10);
  });

  it.each([
    ['instance-snapshot', 10, false],
    ['instance-snapshot', 60, false],
    ['instance-snapshot', 240, false],
    ['cluster-snapshot', 20, false],
    ['instance-snapshot', 20, true],
  ] as const)('%s, %i min, cutover %s: bounded and logged', async (route, restoreMinutes, cutover) => {
    const { transitions: n, minutes } = await transitions({ ...typical, route, restoreMinutes, cutover });
    table.push(
      `restore ${route} ${restoreMinutes} min${cutover ? ' with cutover' : ''}: ${n} transitions, done after ${minutes} min`,
    );

    expect(n).toBeLessThanOrEqual(restoreMinutes <= 60 ? 80 : 160);
  });

  it('a typical restore test (instance, 20 min) takes at most 60 transitions', async () => {
    const s = {
      kind: 'instance' as const,
      restoreMinutes: 20,
      endsAs: null,
      dataMatches: true,
      preexisting: 'none' as const,
      faults: [],
    };
    const world = restoreTestWorld(s, 'typical');
    const records: VerificationRecord[] = [];
    const run = await runInWorld(restoreTest, {
      input: { database: 'orders' },
      world,
      lambdas: restoreTestLambdas(world, s, records),
      executionName: 'typical',
    });
    table.push(`restore-test instance 20 min: ${run.path.length} transitions`);

    expect(run.status).toBe('SUCCEEDED');
    expect(run.path.length).toBeLessThanOrEqual(60);
  });
});

describe('transitions per failback', () => {
  // A typical failback: the replica (instance, or Aurora secondary cluster + instance) is available
  // after 20 minutes to 2 hours; a cross-region copy of a large database takes up to 6.
  it.each([
    ['instance', 20, 60],
    ['instance', 60, 60],
    ['instance', 120, 60],
    ['aurora', 20, 60],
    ['aurora', 120, 60],
    ['instance', 360, 80],
  ] as const)(
    '%s replica available after %i min: at most %i transitions',
    async (target, replicaMinutes, max) => {
      const s = healthyFailback({ target, replicaMinutes });
      const world = failbackWorld(s);
      const run = await runInWorld(failback, {
        input: { database: 'orders' },
        world,
        lambdas: failbackLambdas(world, s),
        executionName: EXECUTION,
      });
      const minutes = Math.round(run.seconds / 60);
      table.push(
        `failback ${target} ${replicaMinutes} min: ${run.path.length} transitions, done after ${minutes} min`,
      );

      expect(run.status).toBe('SUCCEEDED');
      expect(run.path.length).toBeLessThanOrEqual(max);
      // The overshoot of the backoff (the cost of fewer checks) is at most one wait of 30 min.
      expect(minutes).toBeLessThanOrEqual(replicaMinutes + 31);
    },
  );
});

afterAll(() => {
  if (process.env.FAULT_STATS === '1') console.log(table.join('\n'));
});
