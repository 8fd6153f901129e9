import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anyFailbackScenario,
  EXECUTION,
  FAILBACK_RISKY_STATES,
  FAILBACK_SDK_CALLS,
  FAILBACK_TASKS,
  type FailbackScenario,
  type FailbackBounds,
  failbackBounds,
  failbackInvariants,
  failbackLambdas,
  failbackOutcome,
  failbackWorld,
  healthyFailback,
  transientAt,
} from './failback-world.ts';
import { FAULT_KINDS, type Fault, faultScheduleArb, propertySettings } from './faults.ts';
import { type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';
import { enteredCounts, printStats, recordRun, runStats, watchStates } from './stats.ts';

/**
 * The failback workflow in the fault world (failback-world.ts has the world, the task functions
 * and the named invariants). Properties:
 * - any scenario (instance or Aurora, failed over or not, a replica or a same-named database
 *   already there, replicas that take 20 min to 7 h or fail) with up to four faults anywhere
 *   (FAULT_RUNS, 1,000 in CI);
 * - a lost create answer in every run, with up to two more faults (300 runs);
 * - one transient fault in a run that succeeds without it: it still succeeds, with the same end
 *   state — the replica being created is never thrown away (500 runs).
 * Every run checks every invariant; FAULT_STATS=1 prints the runs that entered each risky state.
 */

const { seed, numRuns } = propertySettings();
const targetedRuns = Math.min(numRuns, 300);
const transientRuns = Math.min(numRuns, 500);
const settings = (offset: number, runs: number) => ({
  seed: seed + offset,
  numRuns: runs,
  interruptAfterTimeLimit: 120_000,
  markInterruptAsFailure: true,
});

let prepared: PreparedWorkflow;
let bounds: FailbackBounds;
beforeAll(() => {
  prepared = prepare('failback', pinnedAsl('failback'));
  bounds = failbackBounds(prepared);
  watchStates('failback', FAILBACK_RISKY_STATES);
});
afterAll(printStats);

async function play(label: string, s: FailbackScenario) {
  const world = failbackWorld(s);
  const run = await runInWorld(prepared, {
    input: { database: 'orders', reason: 'fault world' },
    world,
    lambdas: failbackLambdas(world, s),
    faults: s.faults,
    executionName: EXECUTION,
  });
  recordRun(label, run);
  // Runs with a fault that fired at each task or SDK call (a fault fires when its call is made).
  const counts = (faultedRuns[label] ??= {});
  const fired = new Set(
    s.faults
      .filter(
        (f) => ((f.task.startsWith('sdk:') ? world.sdkCalls[f.task] : run.calls[f.task]) ?? 0) > f.attempt,
      )
      .map((f) => f.task),
  );
  for (const task of fired) counts[task] = (counts[task] ?? 0) + 1;
  return { world, run, problems: failbackInvariants(s, world, run, bounds) };
}

const faultedRuns: Record<string, Record<string, number>> = {};
afterAll(() => {
  if (process.env.FAULT_STATS !== '1') return;
  for (const [label, counts] of Object.entries(faultedRuns))
    console.log(`fault world ${label}: runs with a fault at ${JSON.stringify(counts)}`);
});

const ALL = [...FAILBACK_TASKS, ...FAILBACK_SDK_CALLS];

describe('failback workflow in the fault world', () => {
  it(`keeps its invariants under any faults, instance and Aurora targets (${numRuns} runs, seed ${seed + 20})`, async () => {
    const before = runStats('failback').runs;
    await fc.assert(
      fc.asyncProperty(anyFailbackScenario, async (s) => {
        const { problems } = await play('failback', s);
        expect(problems).toEqual([]);
      }),
      settings(20, numRuns),
    );
    expect(runStats('failback').runs - before).toBeGreaterThanOrEqual(numRuns);
    // The schedules reach the cleanup, including the one that cannot tell what is left.
    const counts = enteredCounts('failback', ['DeleteCreatedReplica', 'ReplicaFailed', 'ReplicaTimedOut']);
    for (const [state, n] of Object.entries(counts)) expect(n, state).toBeGreaterThan(0);
  });

  it(`a lost create answer, in every run (${targetedRuns} runs, seed ${seed + 21})`, async () => {
    const label = 'failback: lost create answer';
    const lostCreate = fc
      .record({
        target: fc.constantFrom('instance' as const, 'aurora' as const),
        replicaMinutes: fc.constantFrom(20, 120),
        endsAs: fc.constantFrom(null, null, 'incompatible-parameters' as const),
        where: fc.constantFrom('task', 'sdk'),
        timeout: fc.boolean(),
        more: faultScheduleArb(ALL, 2),
      })
      .map(({ where, timeout, more, ...over }): FailbackScenario => {
        const task =
          where === 'task'
            ? 'CreateReplica'
            : over.target === 'instance'
              ? 'sdk:CreateDBInstanceReadReplica'
              : 'sdk:CreateDBCluster';
        const lost: Fault = { task, attempt: 0, kind: timeout ? 'timeout' : 'lost', applied: true };
        return healthyFailback({ ...over, faults: [lost, ...more] });
      });
    await fc.assert(
      fc.asyncProperty(lostCreate, async (s) => {
        const { problems } = await play(label, s);
        expect(problems).toEqual([]);
      }),
      settings(21, targetedRuns),
    );
    // Most runs go on to poll the replica the lost answer created (adopted on the retry).
    expect(enteredCounts(label, ['WaitForReplica']).WaitForReplica).toBeGreaterThanOrEqual(
      0.5 * runStats(label).runs,
    );
  });

  it(`the cleanup under faults: every run's replica fails or times out (${targetedRuns} runs, seed ${seed + 23})`, async () => {
    const label = 'failback: cleanup';
    // The cleanup's own calls, from their first call on; the describes it shares with the plan
    // and the polls come after those (up to 20 calls in).
    const cleanupCalls = [
      'DeleteCreatedReplica',
      'NotifyFailbackFailed',
      'sdk:DeleteDBInstance',
      'sdk:DeleteDBCluster',
      'sdk:RemoveFromGlobalCluster',
    ];
    const cleanupFault = fc.oneof(
      fc.record({ task: fc.constantFrom(...cleanupCalls), attempt: fc.nat({ max: 2 }) }),
      fc.record({
        task: fc.constantFrom('sdk:DescribeDBInstances', 'sdk:DescribeDBClusters'),
        attempt: fc.nat({ max: 20 }),
      }),
    );
    const failing = fc
      .record({
        target: fc.constantFrom('instance' as const, 'aurora' as const),
        outcome: fc.constantFrom(
          'incompatible-parameters' as const,
          'storage-full' as const,
          'slow' as const,
        ),
        faults: fc.array(
          fc
            .tuple(cleanupFault, fc.constantFrom(...FAULT_KINDS), fc.boolean())
            .map(([at, kind, applied]) => ({ ...at, kind, applied })),
          { minLength: 1, maxLength: 3 },
        ),
      })
      .map(({ target, outcome, faults }) =>
        healthyFailback({
          target,
          faults,
          ...(outcome === 'slow' ? { replicaMinutes: 420 } : { endsAs: outcome }),
        }),
      );
    await fc.assert(
      fc.asyncProperty(failing, async (s) => {
        const { problems } = await play(label, s);
        expect(problems).toEqual([]);
      }),
      settings(23, targetedRuns),
    );
    // Nearly every run reaches the cleanup (a describe refused from the start stops the plan).
    expect(enteredCounts(label, ['DeleteCreatedReplica']).DeleteCreatedReplica).toBeGreaterThanOrEqual(
      0.9 * runStats(label).runs,
    );
    expect(enteredCounts(label, ['CleanupUnknown']).CleanupUnknown).toBeGreaterThan(0);
  });
});

describe('one transient fault never discards a good replica', () => {
  const bases: FailbackScenario[] = [
    healthyFailback({ target: 'instance' }),
    healthyFailback({ target: 'instance', replicaMinutes: 120 }),
    healthyFailback({ target: 'aurora' }),
    healthyFailback({ target: 'aurora', replicaMinutes: 120 }),
  ];
  const baselines = new Map<FailbackScenario, { outcome: unknown; calls: Record<string, number> }>();

  beforeAll(async () => {
    for (const s of bases) {
      const world = failbackWorld(s);
      const run = await runInWorld(prepared, {
        input: { database: 'orders' },
        world,
        lambdas: failbackLambdas(world, s),
        executionName: EXECUTION,
      });
      expect(run.status, JSON.stringify(s)).toBe('SUCCEEDED');
      baselines.set(s, {
        outcome: failbackOutcome(s, world, run),
        calls: { ...run.calls, ...world.sdkCalls },
      });
    }
  });

  it(`any single transient fault at any call ends as the fault-free run does (${transientRuns} runs, seed ${seed + 22})`, async () => {
    const label = 'failback: one transient fault';
    const oneFault = fc
      .constantFrom(...bases)
      .chain((s) => transientAt(baselines.get(s)!.calls).map((faults) => ({ base: s, s: { ...s, faults } })));
    await fc.assert(
      fc.asyncProperty(oneFault, async ({ base, s }) => {
        const { world, run, problems } = await play(label, s);
        expect(problems).toEqual([]);
        expect(run.injected).toBe(1);
        expect(failbackOutcome(s, world, run)).toEqual(baselines.get(base)!.outcome);
      }),
      settings(22, transientRuns),
    );
  });
});
