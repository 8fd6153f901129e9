import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { failbackInstanceOf } from '../../functions/core/failover/failback.ts';
import { WF_ENV } from '../../functions/wf-common/env.ts';
import { type CreateReplicaEvent, createReplica } from '../../functions/wf-create-replica/index.ts';
import type { CreatedReplica } from '../../functions/wf-create-replica/index.ts';
import { type DeleteReplicaEvent, deleteReplica } from '../../functions/wf-delete-replica/index.ts';
import { describeReplica } from '../../functions/wf-describe-replica/index.ts';
import { type PlanFailbackEvent, planFailbackTask } from '../../functions/wf-plan-failback/index.ts';
import { TASK_STATES } from '../../state-machines/render.ts';
import { failoverTarget, GLOBAL, INSTANCE } from './failover-world.ts';
import { type FaultSchedule, faultScheduleArb, TRANSIENT } from './faults.ts';
import type { LambdaHandler, PreparedWorkflow, WorldRun } from './runner.ts';
import { FakeAws, type Tag } from './world.ts';

/**
 * The failback workflow in the fault world: after a failover, the new primary (the former DR
 * replica in eu-central-1: an RDS instance, or the writer cluster of an Aurora global database)
 * gets a new replica in the recovered region (eu-west-1), where the old, fenced primary still is.
 * The replica is `creating` for the scenario's minutes, then available (or ends in a status it
 * never leaves); an Aurora secondary's cluster takes half of that, its instance the rest.
 *
 * The task functions are the shipped ones bound to the world's SDK face: PlanFailback runs
 * wf-plan-failback, CreateReplica wf-create-replica, DescribeReplica wf-describe-replica,
 * DeleteCreatedReplica wf-delete-replica; faults hit the tasks and every RDS call they make.
 */

export const EXECUTION = 'failback-fault-run';
const PRIMARY_REGION = 'eu-west-1';
const DR_REGION = 'eu-central-1';
/** The creator of what existed before the run under a name this execution might use. */
const EARLIER = 'failback-earlier-run';
const EARLIER_TAGS: Tag[] = [
  { Key: 'lifeboat:workflow', Value: 'failback' },
  { Key: 'lifeboat:created-by', Value: EARLIER },
];

export interface FailbackScenario {
  /** An RDS instance, or an Aurora global database (secondary cluster + its instance). */
  readonly target: 'instance' | 'aurora';
  /** false: no failover happened (the DR side still replicates); the plan refuses. */
  readonly failedOver: boolean;
  /**
   * What is already in the recovered region: nothing; a replica of the new primary (the plan
   * refuses); or a database under the very name this execution would create, made by another run.
   */
  readonly existing: 'none' | 'replica' | 'same-name';
  /** Minutes until the new replica is available. */
  readonly replicaMinutes: number;
  /** A status the replica ends in instead of `available` (it never leaves it). */
  readonly endsAs: null | 'incompatible-parameters' | 'storage-full';
  readonly faults: FaultSchedule;
}

/** Every Task state of the workflow. */
export const FAILBACK_TASKS = TASK_STATES.failback;

/** The SDK calls the task functions make. */
export const FAILBACK_SDK_CALLS = [
  'sdk:DescribeDBInstances',
  'sdk:DescribeDBClusters',
  'sdk:DescribeGlobalClusters',
  'sdk:CreateDBInstanceReadReplica',
  'sdk:CreateDBCluster',
  'sdk:CreateDBInstance',
  'sdk:DeleteDBInstance',
  'sdk:DeleteDBCluster',
  'sdk:RemoveFromGlobalCluster',
] as const;

/** The states a fault-free run rarely reaches; the suite counts the runs that enter each. */
export const FAILBACK_RISKY_STATES = [
  'HasPlannedReplica',
  'DeleteCreatedReplica',
  'CleanupUnknown',
  'ReplicaFailed',
  'ReplicaTimedOut',
  'CountReplicaPoll',
  'NotifyFailbackFailed',
] as const;

export const anyFailbackScenario: fc.Arbitrary<FailbackScenario> = fc.record({
  target: fc.constantFrom('instance' as const, 'aurora' as const),
  failedOver: fc.constantFrom(true, true, true, true, false),
  existing: fc.constantFrom(
    'none' as const,
    'none' as const,
    'none' as const,
    'none' as const,
    'replica' as const,
    'same-name' as const,
  ),
  replicaMinutes: fc.constantFrom(20, 45, 120, 420),
  endsAs: fc.constantFrom(null, null, null, 'incompatible-parameters' as const, 'storage-full' as const),
  faults: faultScheduleArb([...FAILBACK_TASKS, ...FAILBACK_SDK_CALLS], 4),
});

/** A failback that succeeds without faults: failed over, nothing in the way, replica in 20 min. */
export const healthyFailback = (
  over: Partial<FailbackScenario> & Pick<FailbackScenario, 'target'>,
): FailbackScenario => ({
  failedOver: true,
  existing: 'none',
  replicaMinutes: 20,
  endsAs: null,
  faults: [],
  ...over,
});

/** The name planFailback gives this execution's replica (the Aurora secondary's cluster). */
export function plannedReplica(s: Pick<FailbackScenario, 'target'>): string {
  const hash = createHash('sha256').update(EXECUTION).digest('hex').slice(0, 6);
  return `${s.target === 'instance' ? INSTANCE.primary : GLOBAL.primary}-rp-${hash}`;
}

/** The database whose replica fails back: the DR side of the failover world's pair. */
const targetOf = (s: Pick<FailbackScenario, 'target'>) =>
  failoverTarget({ target: s.target === 'instance' ? 'instance' : 'global', fenceGroup: true });

export function failbackWorld(s: FailbackScenario): FakeAws {
  const world = new FakeAws({
    region: DR_REGION,
    restoreSeconds: s.replicaMinutes * 60,
    restoreEndsAs: s.endsAs,
  });
  const name = plannedReplica(s);
  if (s.target === 'instance') {
    world.addInstance(INSTANCE.primary, { region: PRIMARY_REGION });
    world.addInstance(INSTANCE.replica, {
      region: DR_REGION,
      ...(s.failedOver ? {} : { replicaOf: INSTANCE.primary }),
    });
    if (s.existing === 'replica')
      world.addInstance(`${INSTANCE.primary}-rp-0e0e0e`, {
        region: PRIMARY_REGION,
        replicaOf: INSTANCE.replica,
        tags: EARLIER_TAGS,
      });
    if (s.existing === 'same-name') world.addInstance(name, { region: PRIMARY_REGION, tags: EARLIER_TAGS });
  } else {
    world.addCluster(GLOBAL.primary, { region: PRIMARY_REGION });
    world.addInstance(`${GLOBAL.primary}-1`, { clusterId: GLOBAL.primary });
    world.addCluster(GLOBAL.replica, { region: DR_REGION });
    world.addInstance(`${GLOBAL.replica}-1`, { clusterId: GLOBAL.replica });
    const members: string[] = s.failedOver ? [GLOBAL.replica] : [GLOBAL.primary, GLOBAL.replica];
    if (s.existing === 'replica') {
      const old = `${GLOBAL.primary}-rp-0e0e0e`;
      world.addCluster(old, { region: PRIMARY_REGION, tags: EARLIER_TAGS });
      world.addInstance(`${old}-1`, { clusterId: old, tags: EARLIER_TAGS });
      members.push(old);
    }
    world.addGlobalCluster(GLOBAL.id, s.failedOver ? GLOBAL.replica : GLOBAL.primary, members);
    if (s.existing === 'same-name') {
      world.addCluster(name, { region: PRIMARY_REGION, tags: EARLIER_TAGS });
      world.addInstance(failbackInstanceOf(name), { clusterId: name, tags: EARLIER_TAGS });
    }
  }
  return world;
}

/** The task functions, bound to the world (each client with the SDK's 6 attempts, as rdsIn). */
export function failbackLambdas(world: FakeAws, s: FailbackScenario): Record<string, LambdaHandler> {
  const env = {
    [WF_ENV.failoverTargets]: JSON.stringify([targetOf(s)]),
  } as NodeJS.ProcessEnv;
  const rds = (region: string) => world.rdsClient({ region, maxAttempts: 6 }) as never;
  return {
    PlanFailback: ((e: PlanFailbackEvent) => planFailbackTask(e, rds, env)) as LambdaHandler,
    CreateReplica: ((e: CreateReplicaEvent) =>
      createReplica(e, rds(e.plan.replica.region), env)) as LambdaHandler,
    DescribeReplica: ((e: { replica: CreatedReplica }) =>
      describeReplica(e.replica, rds(e.replica.region))) as LambdaHandler,
    DeleteCreatedReplica: ((e: DeleteReplicaEvent) =>
      deleteReplica(e, rds(e.plan.replica.region))) as LambdaHandler,
  };
}

// --- what the world shows ------------------------------------------------------------------------

/** The databases that were there before the run and must come out of it as they went in. */
function bystanders(s: FailbackScenario): string[] {
  const name = plannedReplica(s);
  const base =
    s.target === 'instance'
      ? [INSTANCE.primary, INSTANCE.replica]
      : [GLOBAL.primary, `${GLOBAL.primary}-1`, GLOBAL.replica, `${GLOBAL.replica}-1`];
  const prefix = s.target === 'instance' ? INSTANCE.primary : GLOBAL.primary;
  if (s.existing === 'replica')
    base.push(
      ...(s.target === 'instance'
        ? [`${prefix}-rp-0e0e0e`]
        : [`${prefix}-rp-0e0e0e`, `${prefix}-rp-0e0e0e-1`]),
    );
  if (s.existing === 'same-name')
    base.push(...(s.target === 'instance' ? [name] : [name, failbackInstanceOf(name)]));
  return base;
}

/** This execution's replica is there, available and replicating from the new primary. */
export function reprotected(world: FakeAws, s: FailbackScenario): boolean {
  const name = plannedReplica(s);
  if (s.target === 'instance') {
    const r = world.instances.get(name);
    return (
      r?.createdBy === EXECUTION &&
      r.replicaOf === INSTANCE.replica &&
      world.instanceStatus(name) === 'available'
    );
  }
  const c = world.clusters.get(name);
  const i = world.instances.get(failbackInstanceOf(name));
  return (
    c?.createdBy === EXECUTION &&
    i?.createdBy === EXECUTION &&
    c.globalClusterId === GLOBAL.id &&
    world.clusterStatus(name) === 'available' &&
    world.instanceStatus(i.id) === 'available'
  );
}

// --- invariants ----------------------------------------------------------------------------------

const FINAL_TYPES = ['failback.reprotected', 'failback.failed'];

/**
 * The most transitions a run may take: the states outside the poll once each, the cleanup's
 * states, and 4 per status check (the poll's bound is the number of waits in the definition).
 */
export function failbackMaxTransitions(checks: number): number {
  return 20 + 4 * checks;
}

export interface FailbackBounds {
  /** Status checks before the replica has timed out. */
  readonly checks: number;
  /** The state machine's TimeoutSeconds. */
  readonly timeoutSeconds: number;
}

/** The bounds the definition itself sets (read from the pinned ASL, so a change moves them). */
export function failbackBounds(prepared: PreparedWorkflow): FailbackBounds {
  const choice = prepared.asl.States.IsReplicaAvailable as unknown as {
    Choices: { Variable: string; NumericGreaterThanEquals?: number }[];
  };
  const checks = choice.Choices.find(
    (c) => c.Variable === '$.replicaPoll.attempts',
  )?.NumericGreaterThanEquals;
  if (checks === undefined) throw new Error('failback ASL: IsReplicaAvailable has no bound on the checks');
  return { checks, timeoutSeconds: Number(prepared.asl.TimeoutSeconds) };
}

/** The named invariants; each run is checked against all of them. */
export const FAILBACK_INVARIANTS = [
  'never-deletes-what-it-did-not-create',
  'adopts-only-its-own',
  'success-is-a-replica',
  'every-end-notified',
  'notified-with-the-truth',
  'ends-bounded',
] as const;
export type FailbackInvariant = (typeof FAILBACK_INVARIANTS)[number];

interface CleanupReport {
  readonly status?: string;
  readonly identifier?: string;
  readonly region?: string;
  readonly detail?: string;
  readonly check?: string;
  readonly cleanup?: string;
}

/** Every broken invariant of one run, as `<invariant>: <what>` (empty when the run kept them all). */
export function failbackInvariants(
  s: FailbackScenario,
  world: FakeAws,
  run: WorldRun,
  bounds: FailbackBounds,
): string[] {
  const problems: string[] = [];
  const broke = (name: FailbackInvariant, what: string) => problems.push(`${name}: ${what}`);
  const name = plannedReplica(s);
  const left = world.leftBy(EXECUTION);
  const leftAny = [...left.instances, ...left.clusters];

  // 1. Nothing it did not create is deleted; what was there before is as it was.
  for (const r of world.removals)
    if (r.createdBy !== EXECUTION)
      broke('never-deletes-what-it-did-not-create', `deleted ${r.kind} ${r.id} of ${r.createdBy}`);
  for (const id of bystanders(s))
    if (!world.instances.has(id) && !world.clusters.has(id))
      broke('never-deletes-what-it-did-not-create', `${id} is gone`);
  if (s.target === 'aurora') {
    const g = world.globalClusters.get(GLOBAL.id)!;
    if (g.writer !== (s.failedOver ? GLOBAL.replica : GLOBAL.primary) || !g.members.includes(GLOBAL.replica))
      broke('never-deletes-what-it-did-not-create', `the global cluster changed: ${JSON.stringify(g)}`);
  }

  // 2. A lost create answer adopts only what carries this execution's tag.
  if (run.status === 'SUCCEEDED') {
    const out = run.output?.replica as { identifier?: string } | undefined;
    const created =
      world.clusters.get(out?.identifier ?? '')?.createdBy ??
      world.instances.get(out?.identifier ?? '')?.createdBy;
    if (created !== EXECUTION)
      broke('adopts-only-its-own', `succeeded with ${out?.identifier}, created by ${created}`);
  }

  // 3. A success is a replica of the new primary, available, in the recovered region.
  if (run.status === 'SUCCEEDED' && !reprotected(world, s))
    broke('success-is-a-replica', `succeeded, but ${name} is not an available replica made by this run`);
  if (run.status === 'SUCCEEDED' && (!s.failedOver || s.existing !== 'none'))
    broke('success-is-a-replica', `succeeded with failed over ${s.failedOver}, existing ${s.existing}`);

  // 4. Every end is notified (the publish is retried; only a persistent fault there stops it).
  const finals = world.published.filter((p) => FINAL_TYPES.includes(String(p.message.type)));
  const notifyTask = run.status === 'SUCCEEDED' ? 'NotifyReprotected' : 'NotifyFailbackFailed';
  const persistent = s.faults.some(
    (f) => f.task === notifyTask && (f.kind === 'denied' || f.kind === 'unreachable'),
  );
  const expected = run.status === 'SUCCEEDED' ? 'failback.reprotected' : 'failback.failed';
  if (!persistent && !finals.some((p) => p.message.type === expected))
    broke('every-end-notified', `${run.status} without a ${expected} notification`);
  if (finals.some((p) => p.message.type !== expected))
    broke(
      'every-end-notified',
      `${run.status}, yet notified ${finals.map((p) => p.message.type).join(', ')}`,
    );

  // 5. A failure notification says what is left, with the commands where it is left or unknown.
  for (const p of finals.filter((f) => f.message.type === 'failback.failed')) {
    const r = (p.message.replica ?? {}) as CleanupReport;
    const status = String(r.status);
    if (!['none', 'deleted', 'not-ours', 'left-behind', 'unknown'].includes(status))
      broke('notified-with-the-truth', `replica status ${status}`);
    if (leftAny.length > 0 && status !== 'left-behind' && status !== 'unknown')
      broke('notified-with-the-truth', `left ${leftAny.join(', ')} but notified ${status}: ${r.detail}`);
    if (['left-behind', 'unknown'].includes(status)) {
      for (const cmd of [r.check, r.cleanup])
        if (
          !cmd?.startsWith('aws rds ') ||
          !cmd.includes(name) ||
          !cmd.includes(`--region ${PRIMARY_REGION}`)
        )
          broke('notified-with-the-truth', `${status} without the command for ${name}: ${cmd}`);
    }
    if (status === 'left-behind' && leftAny.length === 0)
      broke('notified-with-the-truth', `notified left-behind, but nothing of this run is left: ${r.detail}`);
    if (status !== 'none' && r.identifier !== name)
      broke('notified-with-the-truth', `notified about ${r.identifier}, the replica is ${name}`);
  }

  // 6. It ends, within its bounds.
  if (run.status === 'ABORTED') broke('ends-bounded', `did not end: ${run.cause}`);
  const max = failbackMaxTransitions(bounds.checks);
  if (run.path.length > max) broke('ends-bounded', `${run.path.length} transitions, more than ${max}`);
  if (run.seconds > bounds.timeoutSeconds)
    broke('ends-bounded', `${run.seconds} s, more than the state machine's ${bounds.timeoutSeconds} s`);
  return problems;
}

/** What a run ended with, to compare a run with one fault against the same run without. */
export function failbackOutcome(s: FailbackScenario, world: FakeAws, run: WorldRun) {
  const final = world.published.filter((p) => FINAL_TYPES.includes(String(p.message.type))).at(-1);
  return {
    status: run.status,
    error: run.error,
    reprotected: reprotected(world, s),
    removals: world.removals.length,
    notified: final?.message.type,
  };
}

/** One transient fault at a call the fault-free run makes. */
export const transientAt = (calls: Readonly<Record<string, number>>) => {
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
    .map((fault) => [fault]);
};
