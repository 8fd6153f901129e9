import fc from 'fast-check';
import {
  FailoverTarget,
  type FailoverTargetInput,
  ReplicaNotCaughtUp,
  WriteVerificationFailed,
} from '../../functions/core/failover/failover.ts';
import type { PreflightEvent } from '../../functions/core/failover/preflight.ts';
import { pollAttemptsFor, waitForCatchUp } from '../../functions/core/failover/promotion.ts';
import {
  estimateRpo,
  type Heartbeat,
  heartbeatFromGetItem,
  heartbeatStateKey,
  heartbeatToItem,
} from '../../functions/core/failover/heartbeat.ts';
import {
  type CheckWritableEvent,
  checkWritable,
  confirmPromotion,
} from '../../functions/wf-check-writable/index.ts';
import { WF_ENV } from '../../functions/wf-common/env.ts';
import { type PreflightDeps, runPreflightTask } from '../../functions/wf-failover-preflight/index.ts';
import { type FenceEvent, fence } from '../../functions/wf-fence/index.ts';
import { type FaultSchedule, faultScheduleArb, TRANSIENT } from './faults.ts';
import type { LambdaHandler, WorldRun } from './runner.ts';
import { FakeAws } from './world.ts';

/**
 * The failover workflow in the fault world: an RDS primary and its cross-region read replica, or
 * an Aurora global database (writer cluster in the primary region, secondary in the DR region);
 * DNS on the primary; the lock table with the canary's heartbeat; faults at any task and at any
 * SDK call the task functions make.
 *
 * The task functions are the shipped logic bound to the world: Preflight and RecheckPreflight run
 * wf-failover-preflight's gatherer and checks against the world's RDS (and a CloudWatch answering
 * the scenario's lag); FenceOldPrimary runs wf-fence against the primary region; CheckWritable and
 * ConfirmPromotion run wf-check-writable; WaitForReplicaCatchUp runs core/failover's waitForCatchUp
 * over the world's WAL positions; EstimateDataLoss core/heartbeat's estimateRpo over the stored
 * heartbeat and the one the replica replayed. Only VerifyWrite and RecordFailover are stand-ins
 * (a write succeeds exactly when the world shows the new primary writable).
 */

export const EXECUTION = 'failover-fault-run';
export const DNS_NAME = 'orders.db.example.com';
export const LOCK_TABLE = 'lifeboat-drill-locks';
const LOCK_KEY = 'failover#orders';
const PRIMARY_REGION = 'eu-west-1';
const DR_REGION = 'eu-central-1';
const FENCE_GROUP = 'sg-0fe1ce0fe1ce';
const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-failover-AbCdEf';
const BASE_TIME = Date.parse('2026-11-23T10:00:00Z');

export const INSTANCE = { primary: 'orders-db', replica: 'orders-db-dr' } as const;
export const GLOBAL = { id: 'orders-global', primary: 'orders-aurora', replica: 'orders-aurora-dr' } as const;

export interface FailoverScenario {
  /** An RDS instance with a read replica, or an Aurora global database. */
  readonly target: 'instance' | 'global';
  readonly mode: 'planned' | 'unplanned';
  readonly dryRun: boolean;
  /** An alarm-started run goes through the approval gate (automatic failover is off in the drill config). */
  readonly trigger: 'manual' | 'alarm';
  /** How the approval gate is answered: approved, aborted, or never (the task token times out). */
  readonly approval: 'approve' | 'abort' | 'none';
  /** Replica lag (what CloudWatch says, and how far behind the replica replays). */
  readonly lagSeconds: number;
  /** Whether a fence security group is configured (without one the fence is `skipped`). */
  readonly fenceGroup: boolean;
  /** `down`: the primary region answers nothing, from the start. */
  readonly primaryRegion: 'up' | 'down';
  /** `stuck`: the replica stopped replaying at the start (CloudWatch still shows the old lag). */
  readonly replication: 'streaming' | 'stuck';
  /** The canary's heartbeat: none stored, replayed by the replica, the replica behind, unreadable. */
  readonly heartbeat: 'none' | 'replayed' | 'behind' | 'unreadable';
  /** How long a promotion takes to become writable: 2 min, 20 min, or never. */
  readonly promotion: 'normal' | 'slow' | 'never';
  readonly faults: FaultSchedule;
}

/** Every Task state of the workflow. */
export const FAILOVER_TASKS = [
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
  'SwitchoverGlobalCluster',
  'FailoverGlobalCluster',
  'ConfirmPromotion',
  'CheckWritable',
  'VerifyWrite',
  'SwitchDns',
  'GetDnsChange',
  'RecordFailover',
  'ReleaseLock',
  'ReleaseLockCheck',
  'NotifyCompleted',
  'ReleaseLockAfterFailure',
  'ReleaseLockAfterFailureCheck',
  'NotifyFailed',
  'ReleaseLockAfterPartial',
  'ReleaseLockAfterPartialCheck',
  'NotifyPartial',
  'NotifyLockRefused',
  'NotifyPreflightRefused',
  'NotifyInputRefused',
  'NotifyDryRun',
] as const;

/** The SDK calls the task functions make (a fault there is met inside the function, with the SDK's retries). */
export const FAILOVER_SDK_CALLS = [
  'sdk:DescribeDBInstances',
  'sdk:DescribeDBClusters',
  'sdk:DescribeGlobalClusters',
  'sdk:ModifyDBInstance',
  'sdk:ModifyDBCluster',
] as const;

/** The states a fault-free run rarely reaches; the suites count the runs that enter each. */
export const FAILOVER_RISKY_STATES = [
  'WaitBeforeConfirmingPromotion',
  'ConfirmPromotion',
  'PromotionOutcomeUnknown',
  'PromotionUnknown',
  'PromotionNotConfirmed',
  'CheckWritableFailed',
  'FenceOutcomeUnknown',
  'FenceNotConfirmed',
  'ReplicaNotCaughtUp',
  'ApprovalTimedOut',
  'ApprovalNotificationFailed',
  'RecheckRefused',
  'WriteNotVerified',
  'DnsFailed',
  'DnsNotInSync',
  'ReleaseLockAfterFailureFailed',
  'ReleaseLockAfterPartialFailed',
  'ReleaseLockFailed',
  'ReleaseLockGone',
  'ReleaseLockAfterFailureGone',
  'ReleaseLockAfterPartialGone',
  'ReleaseLockUnknown',
  'ReleaseLockAfterFailureUnknown',
  'ReleaseLockAfterPartialUnknown',
] as const;

export const anyFailoverScenario: fc.Arbitrary<FailoverScenario> = fc.record({
  target: fc.constantFrom('instance' as const, 'global' as const),
  mode: fc.constantFrom('planned' as const, 'unplanned' as const),
  dryRun: fc.boolean(),
  trigger: fc.constantFrom('manual' as const, 'alarm' as const),
  approval: fc.constantFrom('approve' as const, 'approve' as const, 'abort' as const, 'none' as const),
  lagSeconds: fc.constantFrom(1, 5, 20, 120),
  fenceGroup: fc.boolean(),
  primaryRegion: fc.constantFrom('up' as const, 'up' as const, 'up' as const, 'down' as const),
  replication: fc.constantFrom(
    'streaming' as const,
    'streaming' as const,
    'streaming' as const,
    'stuck' as const,
  ),
  heartbeat: fc.constantFrom('none' as const, 'replayed' as const, 'behind' as const, 'unreadable' as const),
  promotion: fc.constantFrom('normal' as const, 'normal' as const, 'slow' as const, 'never' as const),
  faults: faultScheduleArb([...FAILOVER_TASKS, ...FAILOVER_SDK_CALLS], 4),
});

/** A failover that succeeds without faults: primary up, replica streaming, promotion in 2 minutes. */
export const healthyFailover = (
  over: Partial<FailoverScenario> & Pick<FailoverScenario, 'target' | 'mode'>,
): FailoverScenario => ({
  dryRun: false,
  trigger: 'manual',
  approval: 'approve',
  lagSeconds: 1,
  fenceGroup: true,
  primaryRegion: 'up',
  replication: 'streaming',
  heartbeat: 'replayed',
  promotion: 'normal',
  faults: [],
  ...over,
});

export function failoverTarget(s: Pick<FailoverScenario, 'target' | 'fenceGroup'>): FailoverTarget {
  const common = {
    database: 'orders',
    engineVersion: '16.4',
    dns: { hostedZoneId: 'Z0123456789ABC', recordName: DNS_NAME },
    maxLagSeconds: 30,
    secretArn: SECRET,
    ...(s.fenceGroup ? { fenceSecurityGroupId: FENCE_GROUP } : {}),
  };
  return FailoverTarget.parse(
    (s.target === 'instance'
      ? {
          ...common,
          kind: 'instance',
          primary: { region: PRIMARY_REGION, identifier: INSTANCE.primary },
          replica: { region: DR_REGION, identifier: INSTANCE.replica },
        }
      : {
          ...common,
          kind: 'cluster',
          globalClusterIdentifier: GLOBAL.id,
          primary: { region: PRIMARY_REGION, identifier: GLOBAL.primary },
          replica: { region: DR_REGION, identifier: GLOBAL.replica },
        }) satisfies FailoverTargetInput,
  );
}

export function failoverInput(s: FailoverScenario): Record<string, unknown> {
  const trigger =
    s.trigger === 'alarm'
      ? { source: 'alarm', alarmName: 'orders-primary-down', state: 'ALARM', previousState: 'OK' }
      : { source: 'manual' };
  return { database: 'orders', mode: s.mode, reason: 'fault world', dryRun: s.dryRun, trigger };
}

const PROMOTE_SECONDS = { normal: 120, slow: 20 * 60, never: Number.POSITIVE_INFINITY } as const;

/** The canary's last acknowledged heartbeat (stored in the lock table). */
const ACKNOWLEDGED: Heartbeat = {
  writer: 'dr-canary',
  seq: 1200,
  writtenAt: '2026-11-23T09:59:50.000Z',
  walLsn: '0/F42400',
  xactCommit: 91_000,
  rowsChanged: 420_000,
};

export function failoverWorld(s: FailoverScenario, approvalTimeoutSeconds = 3600): FakeAws {
  const world = new FakeAws({ region: DR_REGION, promoteSeconds: PROMOTE_SECONDS[s.promotion] });
  if (s.target === 'instance') {
    world.addInstance(INSTANCE.primary, { region: PRIMARY_REGION });
    world.addInstance(INSTANCE.replica, { region: DR_REGION, replicaOf: INSTANCE.primary });
    world.records.set(DNS_NAME, world.endpointOf(INSTANCE.primary));
  } else {
    world.addCluster(GLOBAL.primary, { region: PRIMARY_REGION });
    world.addCluster(GLOBAL.replica, { region: DR_REGION });
    world.addInstance(`${GLOBAL.primary}-1`, { clusterId: GLOBAL.primary });
    world.addInstance(`${GLOBAL.replica}-1`, { clusterId: GLOBAL.replica });
    world.addGlobalCluster(GLOBAL.id, GLOBAL.primary, [GLOBAL.primary, GLOBAL.replica]);
    world.records.set(DNS_NAME, world.clusterEndpointOf(GLOBAL.primary));
  }
  if (s.primaryRegion === 'down') world.unreachable.add(PRIMARY_REGION);
  if (s.heartbeat !== 'none') {
    world.tables.set(
      LOCK_TABLE,
      new Map([
        [
          heartbeatStateKey('orders'),
          heartbeatToItem('orders', ACKNOWLEDGED, new Date(BASE_TIME)) as Record<string, unknown>,
        ],
      ]),
    );
  }
  world.approval = {
    decision: s.approval,
    afterSeconds: s.approval === 'none' ? approvalTimeoutSeconds : 600,
  };
  return world;
}

// --- what the world shows ------------------------------------------------------------------------

export function promoted(world: FakeAws, s: Pick<FailoverScenario, 'target'>): boolean {
  return s.target === 'instance'
    ? world.instances.get(INSTANCE.replica)?.replicaOf === null
    : world.globalClusters.get(GLOBAL.id)?.writer === GLOBAL.replica;
}

function writable(world: FakeAws, s: Pick<FailoverScenario, 'target'>): boolean {
  return s.target === 'instance'
    ? promoted(world, s) && world.instanceStatus(INSTANCE.replica) === 'available'
    : promoted(world, s) &&
        world.globalStatus(GLOBAL.id) === 'available' &&
        world.clusterStatus(GLOBAL.replica) === 'available';
}

export function fenced(world: FakeAws, s: Pick<FailoverScenario, 'target'>): boolean {
  const groups =
    s.target === 'instance'
      ? world.instances.get(INSTANCE.primary)?.securityGroups
      : world.clusters.get(GLOBAL.primary)?.securityGroups;
  return groups?.includes(FENCE_GROUP) ?? false;
}

export function newPrimaryEndpoint(world: FakeAws, s: Pick<FailoverScenario, 'target'>): string {
  return s.target === 'instance'
    ? world.endpointOf(INSTANCE.replica)
    : world.clusterEndpointOf(GLOBAL.replica);
}

export function oldPrimaryEndpoint(world: FakeAws, s: Pick<FailoverScenario, 'target'>): string {
  return s.target === 'instance'
    ? world.endpointOf(INSTANCE.primary)
    : world.clusterEndpointOf(GLOBAL.primary);
}

/**
 * The WAL of the instance pair: the old primary writes 1,000 bytes a second until it is fenced
 * (or from the start, when its region is down, nothing); the replica replays what the primary had
 * `lagSeconds` earlier (nothing after the start when replication is stuck).
 */
export class Wal {
  fencedAt: number | null = null;
  constructor(
    private readonly world: FakeAws,
    private readonly s: FailoverScenario,
  ) {}

  primaryAt(t: number): number {
    const stop = Math.min(
      t,
      this.fencedAt ?? Number.POSITIVE_INFINITY,
      this.s.primaryRegion === 'down' ? 0 : Number.POSITIVE_INFINITY,
    );
    return 16_000_000 + 1000 * stop;
  }

  replayedAt(t: number): number {
    const seen = t - this.s.lagSeconds;
    return this.primaryAt(this.s.replication === 'stuck' ? Math.min(seen, 0) : seen);
  }

  /** WAL bytes the primary wrote that the replica had not replayed when the promotion was applied. */
  lostAtPromotion(): number | null {
    const p = this.world.promotions[0];
    return p ? this.primaryAt(p.at) - this.replayedAt(p.at) : null;
  }
}

const lsn = (n: number) =>
  `${Math.floor(n / 2 ** 32).toString(16)}/${(n % 2 ** 32).toString(16).toUpperCase()}`;

/** The task functions, bound to the world. */
export function failoverLambdas(
  world: FakeAws,
  s: FailoverScenario,
  wal: Wal,
): Record<string, LambdaHandler> {
  const target = failoverTarget(s);
  const env = { [WF_ENV.failoverTargets]: JSON.stringify([target]) };
  const dr = world.rdsClient({ region: DR_REGION, maxAttempts: 6 }) as never;
  const now = () => new Date(BASE_TIME + world.now * 1000);
  const deps: PreflightDeps = {
    rds: (region, fast) => world.rdsClient({ region, maxAttempts: fast ? 2 : 6 }) as never,
    cloudwatch: () =>
      ({
        send: async (command: { input: { MetricName?: string } }) => ({
          Datapoints: [
            {
              Timestamp: now(),
              Maximum:
                command.input.MetricName === 'AuroraGlobalDBReplicationLag'
                  ? s.lagSeconds * 1000
                  : s.lagSeconds,
            },
          ],
        }),
      }) as never,
    now,
  };
  const preflight = ((e: PreflightEvent) => runPreflightTask(e, deps, env)) as LambdaHandler;
  return {
    Preflight: preflight,
    RecheckPreflight: preflight,
    EstimateDataLoss: ((e: { acknowledged: unknown }) => {
      const acknowledged = heartbeatFromGetItem(e.acknowledged);
      let replayed: Heartbeat | null = null;
      let readError = '';
      if (acknowledged) {
        if (s.heartbeat === 'unreadable')
          readError = `; reading the replica's heartbeat failed: connect ETIMEDOUT ${newPrimaryEndpoint(world, s)}`;
        else if (s.heartbeat === 'behind')
          replayed = {
            ...acknowledged,
            seq: acknowledged.seq - 3,
            writtenAt: '2026-11-23T09:59:20.000Z',
            xactCommit: acknowledged.xactCommit - 180,
            rowsChanged: acknowledged.rowsChanged - 900,
          };
        else replayed = acknowledged;
      }
      const estimate = estimateRpo(acknowledged, replayed, now());
      return {
        ...estimate,
        summary: `${estimate.summary}${readError}`,
        lastReplayedHeartbeat: replayed?.writtenAt ?? null,
      };
    }) as LambdaHandler,
    FenceOldPrimary: (async (e: FenceEvent) => {
      try {
        return await fence(e, world.rdsClient({ region: PRIMARY_REGION, maxAttempts: 2 }) as never);
      } finally {
        if (wal.fencedAt === null && fenced(world, s)) wal.fencedAt = world.now;
      }
    }) as LambdaHandler,
    WaitForReplicaCatchUp: (async (e: { timeoutSeconds?: number }) => {
      const result = await waitForCatchUp(
        {
          primaryLsn: async () => {
            if (world.unreachable.has(PRIMARY_REGION))
              throw new Error(`connect ETIMEDOUT ${oldPrimaryEndpoint(world, s)}:5432`);
            return lsn(wal.primaryAt(world.now));
          },
          replayLsn: async () => lsn(wal.replayedAt(world.now)),
          sleep: async (ms) => world.advance(ms / 1000),
          now: () => world.now * 1000,
        },
        { timeoutMs: (e.timeoutSeconds ?? 90) * 1000, intervalMs: 1000 },
      );
      if (!result.caughtUp) throw new ReplicaNotCaughtUp(result.detail);
      return result;
    }) as LambdaHandler,
    CheckWritable: ((e: CheckWritableEvent) => checkWritable(e, dr)) as LambdaHandler,
    ConfirmPromotion: ((e: CheckWritableEvent) => confirmPromotion(e, dr)) as LambdaHandler,
    VerifyWrite: ((e: { endpoint: string }) => {
      if (!writable(world, s) || e.endpoint !== newPrimaryEndpoint(world, s))
        throw new WriteVerificationFailed(`cannot write on ${e.endpoint}`);
      return { ok: true, status: 'verified', at: now().toISOString(), detail: 'wrote and read back 1 row' };
    }) as LambdaHandler,
    RecordFailover: (() => ({ recorded: true, rtoSeconds: 42, rpoSeconds: 2, key: 'k' })) as LambdaHandler,
  };
}

// --- invariants ----------------------------------------------------------------------------------

const FINAL_TYPES = ['failover.completed', 'failover.partial', 'failover.failed'];
/** The states that report a release that failed: the item is still there, or the table cannot be read. */
const RELEASE_FAILED = ['ReleaseLock', 'ReleaseLockAfterFailure', 'ReleaseLockAfterPartial'].flatMap((r) => [
  `${r}Failed`,
  `${r}Unknown`,
]);

/** The most transitions a run may take: every state once, and each poll to its bound. */
export const FAILOVER_MAX_TRANSITIONS =
  80 + 3 * pollAttemptsFor(30 * 60, 15) + 4 * 30; /* promotion poll (3 states), DNS poll (4 states) */

interface PartState {
  readonly status?: string;
  readonly detail?: string;
  readonly check?: string;
  readonly clear?: string;
}
type ReportedState = Partial<Record<'lock' | 'fence' | 'promotion' | 'dns' | 'writeCheck', PartState>>;

/** Promotion statuses a final report may carry, and what each claims. */
const PROMOTION_SAYS_MAYBE = ['promoted', 'unknown', 'requested-not-writable'];

export function finalReports(world: FakeAws, run: WorldRun): { where: string; state: ReportedState }[] {
  const reports = world.published
    .filter((p) => FINAL_TYPES.includes(String(p.message.type)))
    .map((p) => ({ where: String(p.message.type), state: (p.message.state ?? {}) as ReportedState }));
  if (run.status === 'SUCCEEDED' && run.output?.state)
    reports.push({ where: 'output', state: run.output.state as ReportedState });
  return reports;
}

/** Every broken invariant of one run, as text (empty when the run kept them all). */
export function failoverInvariants(s: FailoverScenario, world: FakeAws, run: WorldRun, wal: Wal): string[] {
  const problems: string[] = [];
  const isPromoted = promoted(world, s);
  const isFenced = fenced(world, s);
  const dns = world.records.get(DNS_NAME);
  const lockLeft = world.tables.get(LOCK_TABLE)?.has(LOCK_KEY) ?? false;
  const newEndpoint = newPrimaryEndpoint(world, s);
  const oldEndpoint = oldPrimaryEndpoint(world, s);

  // It ends, within its own bounds.
  if (run.status === 'ABORTED') problems.push(`did not end: ${run.cause}`);
  if (run.path.length > FAILOVER_MAX_TRANSITIONS)
    problems.push(`${run.path.length} transitions, more than ${FAILOVER_MAX_TRANSITIONS}`);
  // Nothing is ever deleted.
  if (world.removals.length > 0) problems.push(`deleted ${JSON.stringify(world.removals)}`);
  // A dry run changes nothing.
  if (s.dryRun && (isPromoted || isFenced || dns !== oldEndpoint || lockLeft))
    problems.push(
      `dry run changed something: promoted ${isPromoted}, fenced ${isFenced}, dns ${dns}, lock left ${lockLeft}`,
    );
  // A success is a promoted, writable primary that DNS points at.
  if (run.status === 'SUCCEEDED' && !s.dryRun && !(isPromoted && dns === newEndpoint))
    problems.push(`succeeded with promoted ${isPromoted}, dns ${dns}`);
  if (dns === newEndpoint && !isPromoted) problems.push('DNS points at an unpromoted replica');
  // Without a person's approval nothing is changed.
  const gated = s.trigger === 'alarm' && !s.dryRun;
  if (gated && s.approval !== 'approve' && (isPromoted || isFenced || dns !== oldEndpoint))
    problems.push(
      `approval ${s.approval}, yet promoted ${isPromoted}, fenced ${isFenced}, dns ${dns === oldEndpoint ? 'unchanged' : dns}`,
    );
  if (gated && s.approval !== 'approve' && run.status === 'SUCCEEDED')
    problems.push(`approval ${s.approval}, yet the run succeeded`);
  // Planned mode never loses a committed row, and never asks Aurora for a failover with data loss.
  if (s.mode === 'planned' && s.target === 'instance' && isPromoted) {
    const lost = wal.lostAtPromotion();
    if (lost !== null && lost > 0)
      problems.push(`planned failover promoted a replica ${lost} WAL bytes behind the old primary`);
  }
  if (s.mode === 'planned' && world.promotions.some((p) => p.how === 'failing-over'))
    problems.push('planned failover asked for a global failover with data loss');
  if (s.mode === 'unplanned' && world.promotions.some((p) => p.how === 'switching-over'))
    problems.push('unplanned failover asked for a switchover (it needs the lost primary region)');

  // Every final report tells the truth about each part, with the check to run where unknown.
  for (const r of finalReports(world, run)) {
    const promotion = r.state.promotion?.status;
    if (isPromoted && !PROMOTION_SAYS_MAYBE.includes(String(promotion)))
      problems.push(`${r.where}: the promote was applied but the report says promotion ${promotion}`);
    if (promotion === 'promoted' && !isPromoted)
      problems.push(`${r.where}: promotion reported done, the world shows none`);
    if (promotion === 'requested')
      problems.push(`${r.where}: promotion left at 'requested' (not said whether it became writable)`);
    for (const part of ['promotion', 'fence'] as const) {
      const p = r.state[part];
      if (['unknown', 'requested-not-writable'].includes(String(p?.status)) && !p?.check)
        problems.push(`${r.where}: ${part} ${p?.status} without the command that checks it`);
    }
    const fence = r.state.fence?.status;
    if (fence === 'fenced' && !isFenced)
      problems.push(`${r.where}: fence reported, the old primary is not fenced`);
    if (isFenced && ['not-attempted', 'skipped', 'gone'].includes(String(fence)))
      problems.push(`${r.where}: the old primary is fenced but the report says ${fence}`);
    if (['left-over', 'unknown'].includes(String(r.state.lock?.status)) && !r.state.lock?.clear)
      problems.push(`${r.where}: lock left over without the command that clears it`);
  }
  // A lock left behind is one the workflow knows it could not release, whether or not the
  // notification saying so got through.
  if (lockLeft && !run.path.some((state) => RELEASE_FAILED.includes(state)))
    problems.push(
      `the lock is left over, but the run never entered a release-failed state (${run.path.at(-1)})`,
    );
  const final = world.published.filter((p) => FINAL_TYPES.includes(String(p.message.type))).at(-1);
  if (final) {
    const lock = (final.message.state as ReportedState | undefined)?.lock?.status;
    if (lockLeft && lock !== 'left-over' && lock !== 'unknown')
      problems.push(`${String(final.message.type)}: the lock is left over but the report says ${lock}`);
    if (!lockLeft && (lock === 'left-over' || lock === 'held'))
      problems.push(`${String(final.message.type)}: the lock was released but the report says ${lock}`);
  }
  return problems;
}

/**
 * What a run ended with, for comparing a run with one fault against the same run without: the
 * outcome, the world's parts, and the statuses each final report gave.
 */
export function failoverOutcome(s: FailoverScenario, world: FakeAws, run: WorldRun) {
  const final = world.published.filter((p) => FINAL_TYPES.includes(String(p.message.type))).at(-1);
  const state = (final?.message.state ?? {}) as ReportedState;
  return {
    status: run.status,
    error: run.error,
    promoted: promoted(world, s),
    fenced: fenced(world, s),
    dns: world.records.get(DNS_NAME),
    lockLeft: world.tables.get(LOCK_TABLE)?.has(LOCK_KEY) ?? false,
    notified: final?.message.type,
    state: Object.fromEntries(Object.entries(state).map(([part, v]) => [part, v?.status])),
  };
}

/** One transient fault (throttle, Lambda throttle, 5xx, lost answer, timeout) at any task or SDK call. */
export const oneTransientFault = (tasks: readonly string[]) =>
  fc
    .record({
      task: fc.constantFrom(...tasks),
      attempt: fc.constant(0),
      kind: fc.constantFrom(...TRANSIENT),
      applied: fc.boolean(),
    })
    .map((f) => [f]);
