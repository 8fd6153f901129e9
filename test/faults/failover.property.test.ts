import type { RDSClient } from '@aws-sdk/client-rds';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FailoverTarget,
  type FailoverTargetInput,
  type PreflightEvent,
  runPreflight,
} from '../../functions/core/failover/failover.ts';
import {
  type CheckWritableEvent,
  checkWritable,
  confirmPromotion,
} from '../../functions/wf-check-writable/index.ts';
import { type FaultSchedule, faultScheduleArb, propertySettings } from './faults.ts';
import {
  type LambdaHandler,
  type PreparedWorkflow,
  pinnedAsl,
  prepare,
  runInWorld,
  type WorldRun,
} from './runner.ts';
import { printStats, recordRun, runStats } from './stats.ts';
import { FakeAws } from './world.ts';

/**
 * The failover workflow in the fault world: an RDS primary and its cross-region read replica, DNS
 * pointing at the primary, the lock table, faults at any task. CheckWritable and ConfirmPromotion
 * run the shipped wf-check-writable logic against the world's RDS; Preflight and RecheckPreflight
 * the real preflight over facts read from the world. Invariants, in every run: it ends; it deletes
 * nothing; a dry run changes nothing; a success means the replica is promoted and DNS points at
 * it; DNS never points at an unpromoted replica; a promotion the world shows applied is never
 * reported as not promoted; the final notification carries the true lock state.
 */

const { seed, numRuns } = propertySettings();
const EXECUTION = 'failover-fault-run';
const DNS_NAME = 'orders.db.example.com';
const LOCK_TABLE = 'lifeboat-drill-locks';
const LOCK_KEY = 'failover#orders';
const PRIMARY = 'orders-db';
const REPLICA = 'orders-db-dr';

const target = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: PRIMARY },
  replica: { region: 'eu-central-1', identifier: REPLICA },
  engineVersion: '16.4',
  dns: { hostedZoneId: 'Z0123456789ABC', recordName: DNS_NAME },
  maxLagSeconds: 30,
} satisfies FailoverTargetInput);

interface FailoverScenario {
  readonly mode: 'planned' | 'unplanned';
  readonly dryRun: boolean;
  /** An alarm-started run goes through the approval gate (automatic failover is off in the drill config). */
  readonly trigger: 'manual' | 'alarm';
  readonly lagSeconds: number;
  readonly faults: FaultSchedule;
}

/** Every Task state of the workflow. */
const FAILOVER_FAULT_TASKS = [
  'Preflight',
  'AcquireLock',
  'NotifyStarted',
  'GetLastHeartbeat',
  'EstimateDataLoss',
  'NotifyApprovalNeeded',
  'RequestApproval',
  'RecheckPreflight',
  'FenceOldPrimary',
  'WaitForReplicaCatchUp',
  'PromoteReadReplica',
  'ConfirmPromotion',
  'CheckWritable',
  'VerifyWrite',
  'SwitchDns',
  'GetDnsChange',
  'RecordFailover',
  'ReleaseLock',
  'NotifyCompleted',
  'ReleaseLockAfterFailure',
  'NotifyFailed',
  'ReleaseLockAfterPartial',
  'NotifyPartial',
  'NotifyLockRefused',
  'NotifyPreflightRefused',
  'NotifyInputRefused',
  'NotifyDryRun',
] as const;

const anyFailoverScenario: fc.Arbitrary<FailoverScenario> = fc.record({
  mode: fc.constantFrom('planned' as const, 'unplanned' as const),
  dryRun: fc.boolean(),
  trigger: fc.constantFrom('manual' as const, 'alarm' as const),
  lagSeconds: fc.constantFrom(1, 5, 120),
  faults: faultScheduleArb(FAILOVER_FAULT_TASKS, 4),
});

function failoverWorld(): FakeAws {
  const world = new FakeAws();
  world.addInstance(PRIMARY);
  world.addInstance(REPLICA, { replicaOf: PRIMARY });
  world.records.set(DNS_NAME, world.endpointOf(PRIMARY));
  return world;
}

const promoted = (world: FakeAws) => world.instances.get(REPLICA)?.replicaOf === null;

function failoverLambdas(world: FakeAws, s: FailoverScenario): Record<string, LambdaHandler> {
  const rds = world.rdsClient() as unknown as RDSClient;
  const replica = () => world.instances.get(REPLICA);
  const writable = () => promoted(world) && world.instanceStatus(REPLICA) === 'available';
  // The real preflight logic over facts read from the world.
  const preflight = ((e: PreflightEvent) =>
    runPreflight(e, [target], async () => ({
      facts: {
        target: {
          exists: replica() !== undefined,
          status: world.instanceStatus(REPLICA) ?? 'missing',
          engineVersion: '16.4',
          role: replica()?.replicaOf ? 'replica' : 'writer',
          endpoint: world.endpointOf(REPLICA),
        },
        source: {
          reachable: true,
          engineVersion: '16.4',
          status: world.instanceStatus(PRIMARY) ?? 'missing',
          endpoint: world.endpointOf(PRIMARY),
        },
        replicaLagSeconds: s.lagSeconds,
      },
      replicaArn: `arn:aws:rds:eu-central-1:111111111111:db:${REPLICA}`,
    }))) as LambdaHandler;
  return {
    Preflight: preflight,
    RecheckPreflight: preflight,
    EstimateDataLoss: (() => ({
      known: false,
      summary: 'no heartbeat to compare with: the data at risk is not known',
    })) as LambdaHandler,
    FenceOldPrimary: (() => ({ status: 'fenced', detail: `writes stopped on ${PRIMARY}` })) as LambdaHandler,
    WaitForReplicaCatchUp: (() => ({
      caughtUp: true,
      primaryLsn: '0/3000060',
      replayLsn: '0/3000060',
      behindBytes: 0,
      waitedMs: 12,
      detail: 'caught up',
    })) as LambdaHandler,
    CheckWritable: ((e: CheckWritableEvent) => checkWritable(e, rds)) as LambdaHandler,
    ConfirmPromotion: ((e: CheckWritableEvent) => confirmPromotion(e, rds)) as LambdaHandler,
    VerifyWrite: (() => {
      if (!writable()) throw new Error(`cannot write on ${REPLICA}`);
      return {
        ok: true,
        status: 'verified',
        at: '2026-11-23T10:00:42.000Z',
        detail: 'wrote and read back 1 row',
      };
    }) as LambdaHandler,
    RecordFailover: (() => ({ recorded: true, rtoSeconds: 42, rpoSeconds: 2, key: 'k' })) as LambdaHandler,
  };
}

const FINAL_TYPES = ['failover.completed', 'failover.partial', 'failover.failed'];

/** Every broken invariant of one run, as text (empty when the run kept them all). */
function failoverInvariants(s: FailoverScenario, world: FakeAws, run: WorldRun): string[] {
  const problems: string[] = [];
  const isPromoted = promoted(world);
  const dns = world.records.get(DNS_NAME);
  const lockLeft = world.tables.get(LOCK_TABLE)?.has(LOCK_KEY) ?? false;
  if (run.status === 'ABORTED') problems.push(`did not end: ${run.cause}`);
  if (world.removals.length > 0) problems.push(`deleted ${JSON.stringify(world.removals)}`);
  if (s.dryRun && (isPromoted || dns !== world.endpointOf(PRIMARY) || lockLeft))
    problems.push(`dry run changed something: promoted ${isPromoted}, dns ${dns}, lock left ${lockLeft}`);
  if (run.status === 'SUCCEEDED' && !s.dryRun && !(isPromoted && dns === world.endpointOf(REPLICA)))
    problems.push(`succeeded with promoted ${isPromoted}, dns ${dns}`);
  if (dns === world.endpointOf(REPLICA) && !isPromoted) problems.push('DNS points at an unpromoted replica');

  const reports: { where: string; state: { promotion?: { status?: string }; lock?: { status?: string } } }[] =
    world.published
      .filter((p) => FINAL_TYPES.includes(String(p.message.type)))
      .map((p) => ({ where: String(p.message.type), state: p.message.state as never }));
  if (run.status === 'SUCCEEDED' && run.output?.state)
    reports.push({ where: 'output', state: run.output.state as never });
  // `requested` is the documented status of a promote request RDS accepted but no check has
  // confirmed (PromotionNotConfirmed: the replica never answered writable): true, not a denial.
  const mayBePromoted = ['promoted', 'unknown', 'requested'];
  for (const r of reports) {
    const promotion = r.state?.promotion?.status;
    if (isPromoted && !mayBePromoted.includes(String(promotion)))
      problems.push(`${r.where}: the promote was applied but the report says promotion ${promotion}`);
  }
  // A lock left behind is one the workflow knows it could not release, whether or not the
  // notification saying so got through.
  const releaseFailed = [
    'ReleaseLockFailed',
    'ReleaseLockAfterFailureFailed',
    'ReleaseLockAfterPartialFailed',
  ];
  if (lockLeft && !run.path.some((state) => releaseFailed.includes(state)))
    problems.push(
      `the lock is left over, but the run never entered a release-failed state (${run.path.at(-1)})`,
    );
  const final = world.published.filter((p) => FINAL_TYPES.includes(String(p.message.type))).at(-1);
  if (final) {
    const lock = (final.message.state as { lock?: { status?: string } } | undefined)?.lock?.status;
    if (lockLeft && lock !== 'left-over')
      problems.push(`${String(final.message.type)}: the lock is left over but the report says ${lock}`);
    if (!lockLeft && lock === 'left-over')
      problems.push(`${String(final.message.type)}: the lock was released but the report says left-over`);
    if (!lockLeft && lock === 'held')
      problems.push(`${String(final.message.type)}: the lock was released but the report says held`);
  }
  return problems;
}

describe('failover workflow in the fault world', () => {
  let prepared: PreparedWorkflow;
  beforeAll(() => {
    prepared = prepare('failover', pinnedAsl('failover'));
  });
  afterAll(printStats);

  it(`keeps its invariants under any faults (${numRuns} runs, seed ${seed})`, async () => {
    const before = runStats('failover').runs;
    await fc.assert(
      fc.asyncProperty(anyFailoverScenario, async (s) => {
        const world = failoverWorld();
        const trigger =
          s.trigger === 'alarm'
            ? { source: 'alarm', alarmName: 'orders-primary-down', state: 'ALARM', previousState: 'OK' }
            : { source: 'manual' };
        const run = await runInWorld(prepared, {
          input: { database: 'orders', mode: s.mode, reason: 'fault world', dryRun: s.dryRun, trigger },
          world,
          lambdas: failoverLambdas(world, s),
          faults: s.faults,
          executionName: EXECUTION,
        });
        recordRun('failover', run);
        expect(failoverInvariants(s, world, run)).toEqual([]);
      }),
      { seed, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
    );
    expect(runStats('failover').runs - before).toBeGreaterThanOrEqual(numRuns);
  });
});
