import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anyFailoverScenario,
  EXECUTION,
  FAILOVER_RISKY_STATES,
  FAILOVER_SDK_CALLS,
  FAILOVER_TASKS,
  type FailoverScenario,
  failoverInput,
  failoverInvariants,
  failoverLambdas,
  failoverOutcome,
  failoverWorld,
  healthyFailover,
  Wal,
} from './failover-world.ts';
import { TASK_STATES } from '../../state-machines/render.ts';
import { type Fault, type FaultSchedule, faultScheduleArb, propertySettings, TRANSIENT } from './faults.ts';
import { type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';
import { enteredCounts, printStats, recordRun, runStats, watchStates } from './stats.ts';

/**
 * The failover workflow in the fault world (failover-world.ts has the world, the task functions
 * and the invariants). Properties:
 * - any scenario with up to four faults anywhere (1,000 runs);
 * - targeted ones (300 runs each) that make the rare, risky paths the usual ones: a lost answer
 *   on the promote call in every run; that, and the replica unreadable afterwards; the approval
 *   gate approved, aborted or never answered; fence, catch-up and estimate answering variously;
 * - one transient fault in a run that succeeds without it: the run still succeeds, with the same
 *   end state (1,000 runs).
 * Every run checks every invariant; FAULT_STATS=1 prints the runs that entered each risky state.
 */

const { seed, numRuns } = propertySettings();
/** Targeted properties: at least 300 runs, or FAULT_RUNS when that is lower (a quick local run). */
const targetedRuns = Math.min(numRuns, 300);
const settings = (offset: number, runs: number) => ({
  seed: seed + offset,
  numRuns: runs,
  interruptAfterTimeLimit: 240_000,
  markInterruptAsFailure: true,
});

let prepared: PreparedWorkflow;
let approvalTimeoutSeconds: number;
beforeAll(() => {
  prepared = prepare('failover', pinnedAsl('failover'));
  approvalTimeoutSeconds = Number(prepared.asl.States.RequestApproval!.TimeoutSeconds);
  watchStates('failover', FAILOVER_RISKY_STATES);
});
afterAll(printStats);

async function play(label: string, s: FailoverScenario) {
  const world = failoverWorld(s, approvalTimeoutSeconds);
  const wal = new Wal(world, s);
  const run = await runInWorld(prepared, {
    input: failoverInput(s),
    world,
    lambdas: failoverLambdas(world, s, wal),
    faults: s.faults,
    executionName: EXECUTION,
  });
  recordRun(label, run);
  return { world, run, problems: failoverInvariants(s, world, run, wal) };
}

const promoteTask = (s: Pick<FailoverScenario, 'target' | 'mode'>) =>
  s.target === 'instance'
    ? 'PromoteReadReplica'
    : s.mode === 'planned'
      ? 'SwitchoverGlobalCluster'
      : 'FailoverGlobalCluster';

const lost = (task: string, attempt = 0): Fault => ({ task, attempt, kind: 'lost', applied: true });

/** A scenario that reaches the promote call, with `extra` faults on top of `base`. */
const promotingScenario = (
  extra: (s: FailoverScenario) => fc.Arbitrary<FaultSchedule>,
): fc.Arbitrary<FailoverScenario> =>
  fc
    .record({
      target: fc.constantFrom('instance' as const, 'global' as const),
      mode: fc.constantFrom('planned' as const, 'unplanned' as const),
      trigger: fc.constantFrom('manual' as const, 'alarm' as const),
      promotion: fc.constantFrom('normal' as const, 'slow' as const, 'never' as const),
      heartbeat: fc.constantFrom('replayed' as const, 'behind' as const),
    })
    .chain((base) => {
      const s = healthyFailover(base);
      return extra(s).map((faults) => ({ ...s, faults }));
    });

describe('failover workflow in the fault world', () => {
  // The schedules draw from FAILOVER_TASKS in its own order (the seeds' figures depend on it); a task
  // added to the workflow and not to that list would never see a fault.
  it('injects faults at every task state of the shipped workflow, and only there', () => {
    expect([...FAILOVER_TASKS].sort()).toEqual([...TASK_STATES.failover].sort());
  });

  it(`keeps its invariants under any faults, instance and global cluster targets (${numRuns} runs, seed ${seed})`, async () => {
    const before = runStats('failover').runs;
    await fc.assert(
      fc.asyncProperty(anyFailoverScenario, async (s) => {
        const { problems } = await play('failover', s);
        expect(problems).toEqual([]);
      }),
      settings(0, numRuns),
    );
    expect(runStats('failover').runs - before).toBeGreaterThanOrEqual(numRuns);
  });

  it(`a lost answer on the promote call, in every run (${targetedRuns} runs, seed ${seed + 2})`, async () => {
    const label = 'failover: lost promote answer';
    await fc.assert(
      fc.asyncProperty(
        promotingScenario((s) =>
          faultScheduleArb([...FAILOVER_TASKS, ...FAILOVER_SDK_CALLS], 2).map((f) => [
            lost(promoteTask(s)),
            ...f,
          ]),
        ),
        async (s) => {
          const { problems } = await play(label, s);
          expect(problems).toEqual([]);
        },
      ),
      settings(2, targetedRuns),
    );
    const runs = runStats(label).runs;
    // The bias works: most runs meet the promote's lost answer and read the replica afterwards.
    expect(enteredCounts(label, ['ConfirmPromotion']).ConfirmPromotion).toBeGreaterThanOrEqual(0.8 * runs);
  });

  it(`a lost promote answer, then the replica cannot be read (${targetedRuns} runs, seed ${seed + 3})`, async () => {
    const label = 'failover: promotion unknown';
    const unreadable = (s: FailoverScenario): fc.Arbitrary<FaultSchedule> =>
      fc
        .oneof(
          // ConfirmPromotion itself cannot run (Lambda refuses it on every retry) ...
          fc.constantFrom<Fault['kind']>('unreachable', 'denied').map((kind) => ({
            task: 'ConfirmPromotion',
            attempt: 0,
            kind,
            applied: false,
          })),
          // ... or it runs and RDS refuses to describe the replica, from the first call after
          // preflight (and the re-check) on: each preflight describes the replica and the old
          // primary, and the global cluster once.
          fc
            .constantFrom(
              ...(s.target === 'instance'
                ? ['sdk:DescribeDBInstances']
                : ['sdk:DescribeDBClusters', 'sdk:DescribeGlobalClusters']),
            )
            .map((task) => ({
              task,
              attempt: (s.trigger === 'alarm' ? 2 : 1) * (task === 'sdk:DescribeGlobalClusters' ? 1 : 2),
              kind: 'denied' as const,
              applied: false,
            })),
        )
        .map((f) => [lost(promoteTask(s)), f]);
    await fc.assert(
      fc.asyncProperty(promotingScenario(unreadable), async (s) => {
        const { problems } = await play(label, s);
        expect(problems).toEqual([]);
      }),
      settings(3, targetedRuns),
    );
    const runs = runStats(label).runs;
    expect(enteredCounts(label, ['PromotionUnknown']).PromotionUnknown).toBeGreaterThanOrEqual(0.8 * runs);
  });

  it(`after the promotion: write check, DNS, lock release and notifications fail (${targetedRuns} runs, seed ${seed + 6})`, async () => {
    const label = 'failover: after promotion';
    const late = [
      'CheckWritable',
      'VerifyWrite',
      'SwitchDns',
      'GetDnsChange',
      'RecordFailover',
      'ReleaseLock',
      'ReleaseLockAfterPartial',
      'NotifyCompleted',
      'NotifyPartial',
    ];
    await fc.assert(
      fc.asyncProperty(
        promotingScenario(() =>
          faultScheduleArb(late, 3).chain((f) =>
            // At least one persistent fault after the promotion, so that some stage gives up.
            fc
              .record({
                task: fc.constantFrom(...late),
                attempt: fc.nat({ max: 1 }),
                kind: fc.constantFrom('unreachable' as const, 'denied' as const),
                applied: fc.constant(false),
              })
              .map((persistent) => [persistent, ...f]),
          ),
        ),
        async (s) => {
          const { problems } = await play(label, s);
          expect(problems).toEqual([]);
        },
      ),
      settings(6, targetedRuns),
    );
    const counts = enteredCounts(label, ['WriteNotVerified', 'DnsFailed', 'ReleaseLockAfterPartialFailed']);
    for (const [state, n] of Object.entries(counts)) expect(n, state).toBeGreaterThan(0);
  });

  it(`the approval gate: approved, aborted, never answered (${targetedRuns} runs, seed ${seed + 4})`, async () => {
    const label = 'failover: approval gate';
    const gated = fc
      .record({
        target: fc.constantFrom('instance' as const, 'global' as const),
        approval: fc.constantFrom('approve' as const, 'abort' as const, 'none' as const),
        heartbeat: fc.constantFrom(
          'none' as const,
          'replayed' as const,
          'behind' as const,
          'unreadable' as const,
        ),
        faults: faultScheduleArb(
          [
            'NotifyApprovalNeeded',
            'RequestApproval',
            'RecheckPreflight',
            'GetLastHeartbeat',
            'EstimateDataLoss',
            'ReleaseLockAfterFailure',
            'NotifyFailed',
            'AcquireLock',
            'FenceOldPrimary',
            'PromoteReadReplica',
            'FailoverGlobalCluster',
          ],
          2,
        ),
      })
      .map((over) => healthyFailover({ ...over, mode: 'unplanned', trigger: 'alarm' }));
    await fc.assert(
      fc.asyncProperty(gated, async (s) => {
        const { run, problems } = await play(label, s);
        expect(problems).toEqual([]);
        if (s.approval !== 'approve') expect(run.status).toBe('FAILED');
      }),
      settings(4, targetedRuns),
    );
    const counts = enteredCounts(label, ['RequestApproval', 'ApprovalTimedOut']);
    expect(counts.RequestApproval).toBeGreaterThanOrEqual(0.8 * runStats(label).runs);
    expect(counts.ApprovalTimedOut).toBeGreaterThan(0);
  });

  it(`fence, catch-up and data-loss estimate answer variously (${targetedRuns} runs, seed ${seed + 5})`, async () => {
    const label = 'failover: fence and catch-up';
    const varied = fc
      .record({
        target: fc.constantFrom('instance' as const, 'instance' as const, 'global' as const),
        mode: fc.constantFrom('planned' as const, 'unplanned' as const),
        trigger: fc.constantFrom('manual' as const, 'alarm' as const),
        fenceGroup: fc.constantFrom(true, true, false),
        primaryRegion: fc.constantFrom('up' as const, 'down' as const),
        replication: fc.constantFrom('streaming' as const, 'stuck' as const),
        lagSeconds: fc.constantFrom(1, 5, 20),
        heartbeat: fc.constantFrom(
          'none' as const,
          'replayed' as const,
          'behind' as const,
          'unreadable' as const,
        ),
        // One fault at the fence (the task, or the RDS call it makes) in every run, maybe one more.
        faults: fc
          .tuple(
            faultScheduleArb(['FenceOldPrimary', 'sdk:ModifyDBInstance', 'sdk:ModifyDBCluster'], 1).filter(
              (f) => f.length === 1,
            ),
            faultScheduleArb(['WaitForReplicaCatchUp', 'EstimateDataLoss', 'GetLastHeartbeat'], 1),
          )
          .map(([a, b]) => [...a, ...b]),
      })
      .map((over) => healthyFailover(over));
    await fc.assert(
      fc.asyncProperty(varied, async (s) => {
        const { problems } = await play(label, s);
        expect(problems).toEqual([]);
      }),
      settings(5, targetedRuns),
    );
    const counts = enteredCounts(label, ['FenceOutcomeUnknown', 'FenceNotConfirmed', 'ReplicaNotCaughtUp']);
    for (const [state, n] of Object.entries(counts)) expect(n, state).toBeGreaterThan(0);
  });
});

describe('one transient fault never turns a good failover into a bad one', () => {
  const bases: FailoverScenario[] = [];
  for (const target of ['instance', 'global'] as const)
    for (const mode of ['planned', 'unplanned'] as const)
      for (const trigger of ['manual', 'alarm'] as const)
        bases.push(healthyFailover({ target, mode, trigger }));
  /** Per base scenario: its end state without faults, and how often it calls each task and SDK operation. */
  const baselines = new Map<FailoverScenario, { outcome: unknown; calls: Record<string, number> }>();

  beforeAll(async () => {
    for (const s of bases) {
      const world = failoverWorld(s, approvalTimeoutSeconds);
      const wal = new Wal(world, s);
      const run = await runInWorld(prepared, {
        input: failoverInput(s),
        world,
        lambdas: failoverLambdas(world, s, wal),
        executionName: EXECUTION,
      });
      expect(run.status, JSON.stringify(s)).toBe('SUCCEEDED');
      baselines.set(s, {
        outcome: failoverOutcome(s, world, run),
        calls: { ...run.calls, ...world.sdkCalls },
      });
    }
  });

  it(`any single transient fault at any call ends as the fault-free run does (${numRuns} runs, seed ${seed + 1})`, async () => {
    const label = 'failover: one transient fault';
    // A fault at a call the fault-free run makes, so that every run meets exactly one fault.
    const oneFault = fc.constantFrom(...bases).chain((s) => {
      const { calls } = baselines.get(s)!;
      const called = Object.keys(calls).filter((task) => calls[task]! > 0);
      return fc
        .constantFrom(...called)
        .chain((task) =>
          fc.record({
            task: fc.constant(task),
            attempt: fc.nat({ max: calls[task]! - 1 }),
            kind: fc.constantFrom(...TRANSIENT),
            applied: fc.boolean(),
          }),
        )
        .map((fault) => ({ ...s, faults: [fault] }));
    });
    await fc.assert(
      fc.asyncProperty(oneFault, async (s) => {
        const base = bases.find(
          (b) => b.target === s.target && b.mode === s.mode && b.trigger === s.trigger,
        )!;
        const { world, run, problems } = await play(label, s);
        expect(problems).toEqual([]);
        expect(run.injected).toBe(1);
        expect(failoverOutcome(s, world, run)).toEqual(baselines.get(base)!.outcome);
      }),
      settings(1, numRuns),
    );
  });
});
