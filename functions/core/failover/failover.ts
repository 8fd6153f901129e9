import { createHash } from 'node:crypto';
import * as z from 'zod';
import { LifeboatError } from '../shared/errors.ts';
import { SECRET_ARN } from '../contracts/secrets-arn.ts';
import { CATALOG_PREFIX, FAILOVERS_FOLDER } from '../contracts/storage.ts';
import { failbackReplicaIdentifier } from '../contracts/names.ts';

/**
 * The pure part of the failover workflow (state-machines/failover.ts): what a failover request is,
 * which database it moves where, whether preflight lets it go ahead, how alarm-started executions
 * are named so a flapping alarm yields one execution, and what is recorded afterwards.
 * No AWS calls here: the wf-* handlers gather facts and call these functions.
 */

// Named errors. Their names are the ASL error names the workflow's Catch/Fail states carry.

/** The failover request is malformed; the message names the field. */
export class InvalidFailoverInput extends LifeboatError {
  override readonly name = 'InvalidFailoverInput';
}
/** Another failover of the same database holds the lock. */
export class FailoverInProgress extends LifeboatError {
  override readonly name = 'FailoverInProgress';
}
/** The database is not one the environment knows how to fail over. */
export class UnknownDatabase extends LifeboatError {
  override readonly name = 'UnknownDatabase';
}
/** Preflight refusals, one name each so Catch and the CLI can tell them apart. */
export class TargetNotFound extends LifeboatError {
  override readonly name = 'TargetNotFound';
}
export class TargetUnavailable extends LifeboatError {
  override readonly name = 'TargetUnavailable';
}
export class EngineVersionMismatch extends LifeboatError {
  override readonly name = 'EngineVersionMismatch';
}
export class AlreadyPrimary extends LifeboatError {
  override readonly name = 'AlreadyPrimary';
}
export class ReplicationLagTooHigh extends LifeboatError {
  override readonly name = 'ReplicationLagTooHigh';
}
/** A person aborted at the approval gate. */
export class FailoverAborted extends LifeboatError {
  override readonly name = 'FailoverAborted';
}
/** The new primary did not accept a test write. */
export class WriteVerificationFailed extends LifeboatError {
  override readonly name = 'WriteVerificationFailed';
}
/**
 * Planned mode only: after fencing, the replica did not replay the old primary's last WAL position
 * within the bounded wait (or either position could not be read). Promoting would lose commits.
 */
export class ReplicaNotCaughtUp extends LifeboatError {
  override readonly name = 'ReplicaNotCaughtUp';
}

export type RefusalName =
  | 'TargetNotFound'
  | 'TargetUnavailable'
  | 'EngineVersionMismatch'
  | 'AlreadyPrimary'
  | 'ReplicationLagTooHigh';

const identifier = z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, {
  error: 'expected an RDS instance or cluster identifier',
});
const region = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { error: 'expected an AWS region' });

/**
 * How one database fails over: the stacks derive one of these per protected database from the
 * environment configuration and hand the list to the preflight function (LIFEBOAT_FAILOVER_TARGETS).
 */
export const FailoverTarget = z.strictObject({
  database: z.string().min(1),
  kind: z.enum(['instance', 'cluster']),
  /** Where the database normally runs (the region that may be lost). */
  primary: z.strictObject({ region, identifier }),
  /** The read replica (instance) or secondary cluster (Aurora global) in the DR region. */
  replica: z.strictObject({ region, identifier }),
  /** Aurora global database identifier; required for kind cluster. */
  globalClusterIdentifier: z.string().min(1).optional(),
  /** Expected engine version, used when the old primary cannot be asked for its own. */
  engineVersion: z.string().regex(/^\d+(\.\d+)*$/),
  /** Route 53 record the applications connect through; DNS is not switched without it. */
  dns: z
    .strictObject({
      hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, { error: 'expected a hosted zone id (Z...)' }),
      recordName: z.string().min(1),
      ttl: z.number().int().min(0).max(86400).default(60),
    })
    .optional(),
  /** Largest replica lag (seconds) at which an unforced failover may go ahead. */
  maxLagSeconds: z.number().nonnegative().default(60),
  /**
   * Secrets Manager ARN, in the DR region (a replica of the database's secret), of credentials that
   * may write: VerifyWrite connects with it. Without it the failover ends as a partial failure at
   * the verify step.
   */
  secretArn: z.string().regex(SECRET_ARN).optional(),
  /** Security group of the primary region that lets nothing in; the old primary is moved into it. */
  fenceSecurityGroupId: z
    .string()
    .regex(/^sg-[0-9a-f]{8,17}$/)
    .optional(),
});
export type FailoverTarget = z.output<typeof FailoverTarget>;
export type FailoverTargetInput = z.input<typeof FailoverTarget>;

export function parseFailoverTargets(json: string, where = 'LIFEBOAT_FAILOVER_TARGETS'): FailoverTarget[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InvalidFailoverInput(`${where} is not JSON`);
  }
  const parsed = z
    .array(FailoverTarget)
    .superRefine((targets, ctx) => {
      targets.forEach((t, i) => {
        if (t.kind === 'cluster' && !t.globalClusterIdentifier) {
          ctx.addIssue({
            code: 'custom',
            path: [i, 'globalClusterIdentifier'],
            message: 'required for kind cluster (Aurora global database)',
          });
        }
      });
    })
    .safeParse(raw);
  if (!parsed.success) throw new InvalidFailoverInput(`${where}: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

/**
 * What started a failover. A string (`manual`, `alarm`) is accepted for the older input shape and
 * read as `{ source }`. An alarm-started run names its alarm; the other fields are what the alarm
 * state change said, carried into the notifications unchanged.
 */
export const FailoverTrigger = z.union([
  z.enum(['manual', 'alarm']).transform((source) => ({ source })),
  z.strictObject({
    source: z.enum(['manual', 'alarm']),
    /** The alarm (or composite alarm) whose state change started the run. */
    alarmName: z.string().min(1).max(255).optional(),
    alarmArn: z.string().min(1).max(1600).optional(),
    /** The alarm's new state (ALARM) and the one before it. */
    state: z.string().max(50).optional(),
    previousState: z.string().max(50).optional(),
    /** When the alarm changed state (ISO 8601). */
    time: z.iso.datetime({ offset: true }).optional(),
    /** CloudWatch's reason text for the state change. */
    reason: z.string().max(2000).optional(),
  }),
]);
export type FailoverTrigger = z.output<typeof FailoverTrigger>;

/** The execution input of the failover workflow. */
export const FailoverRequest = z
  .strictObject({
    database: z.string().min(1, { error: 'expected the database name' }),
    mode: z.enum(['planned', 'unplanned']),
    reason: z.string().min(1, { error: 'say why (it goes into every notification)' }).max(500),
    /**
     * Unplanned mode only: skips the replica lag check, and the engine-version comparison with the
     * configured version when the old primary cannot be asked. Nothing else.
     */
    force: z.boolean().default(false),
    /** Stop after preflight and report. */
    dryRun: z.boolean().default(false),
    trigger: FailoverTrigger.default({ source: 'manual' }),
    /** Who started it (CLI user, alarm name). */
    requestedBy: z.string().max(200).optional(),
  })
  .superRefine((request, ctx) => {
    if (request.mode === 'planned' && request.force) {
      ctx.addIssue({
        code: 'custom',
        path: ['force'],
        message:
          'not allowed in planned mode: a planned failover waits until nothing can be lost, so nothing may be forced past (use mode unplanned when the primary is lost)',
      });
    }
    if (request.trigger.source === 'alarm' && !('alarmName' in request.trigger)) {
      // The older string form carries no alarm name: requestedBy names it then.
      if (!request.requestedBy) {
        ctx.addIssue({
          code: 'custom',
          path: ['trigger', 'alarmName'],
          message: 'an alarm-started failover names its alarm',
        });
      }
    }
  });
export type FailoverRequest = z.output<typeof FailoverRequest>;

/** Validates the execution input; InvalidFailoverInput names the first bad field. */
export function parseFailoverRequest(input: unknown): FailoverRequest {
  const parsed = FailoverRequest.safeParse(input);
  if (!parsed.success) throw new InvalidFailoverInput(`failover input: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const field = issue.path.length ? issue.path.join('.') : '(input)';
  if (issue.code === 'unrecognized_keys') return `unknown field ${issue.keys.join(', ')}`;
  return `field ${field}: ${issue.message}`;
}

export function findTarget(targets: readonly FailoverTarget[], database: string): FailoverTarget {
  const target = targets.find((t) => t.database === database);
  if (!target) {
    const known = targets.map((t) => t.database).join(', ') || '(none)';
    throw new UnknownDatabase(`no failover target for database "${database}"; known: ${known}`);
  }
  return target;
}

/** What the preflight function observed; null where it could not be found out. */
export interface PreflightFacts {
  readonly target: {
    readonly exists: boolean;
    /** DBInstanceStatus / cluster Status, e.g. `available`. */
    readonly status: string | null;
    readonly engineVersion: string | null;
    /** replica: still replicating from the primary; writer: already accepts writes. */
    readonly role: 'replica' | 'writer' | null;
    /** Endpoint applications will use after failover. */
    readonly endpoint: string | null;
  };
  readonly source: {
    /** Whether the old primary's region answered at all. */
    readonly reachable: boolean;
    readonly engineVersion: string | null;
    readonly status: string | null;
    /** The old primary's endpoint address (planned mode reads its last WAL position there). */
    readonly endpoint?: string | null;
    /** What its region answered when it did not answer usefully. */
    readonly detail?: string;
  };
  /** Replication lag at the start, in seconds; null when no recent datapoint exists. */
  readonly replicaLagSeconds: number | null;
}

export interface PreflightCheck {
  readonly name:
    'target-exists' | 'target-available' | 'not-already-primary' | 'engine-version' | 'replica-lag';
  readonly passed: boolean;
  /** Forced past (only the lag check can be). */
  readonly skipped: boolean;
  readonly detail: string;
}

export interface PreflightReport {
  readonly passed: boolean;
  /** The first refusal, shaped like a Step Functions error so a Fail state can name it. */
  readonly refusal: { readonly Error: RefusalName; readonly Cause: string } | null;
  readonly checks: readonly PreflightCheck[];
  /** Replication lag at the start: the RPO bound of this failover (null when unknown). */
  readonly rpoSeconds: number | null;
}

/**
 * Decides whether a failover may go ahead. Every check is reported (a dry run shows them all);
 * the first failing one is the refusal. `force` (unplanned mode only) skips the replica lag check
 * and the comparison with the configured engine version when the primary cannot be asked.
 * An alarm-started unplanned failover is not refused for lag: it reports it.
 */
export function evaluatePreflight(
  target: FailoverTarget,
  facts: PreflightFacts,
  options: {
    readonly force: boolean;
    /** @default 'unplanned' */
    readonly mode?: 'planned' | 'unplanned';
    /** @default 'manual' */
    readonly trigger?: 'manual' | 'alarm';
  },
): PreflightReport {
  const checks: Array<PreflightCheck & { refusal: RefusalName }> = [];
  const add = (
    name: PreflightCheck['name'],
    refusal: RefusalName,
    passed: boolean,
    detail: string,
    skipped = false,
  ) => checks.push({ name, refusal, passed, skipped, detail });
  const replica = `${target.replica.identifier} (${target.replica.region})`;

  add(
    'target-exists',
    'TargetNotFound',
    facts.target.exists,
    facts.target.exists ? `${replica} exists` : `${replica} does not exist`,
  );
  const available = facts.target.status === 'available';
  add(
    'target-available',
    'TargetUnavailable',
    facts.target.exists && available,
    `${replica} is ${facts.target.status ?? 'unknown'}${available ? '' : ', expected available'}`,
  );
  const writer = facts.target.role === 'writer';
  add(
    'not-already-primary',
    'AlreadyPrimary',
    facts.target.exists && facts.target.role === 'replica',
    writer
      ? `${replica} already accepts writes: nothing to fail over`
      : facts.target.role === 'replica'
        ? `${replica} is a replica of ${target.primary.identifier} (${target.primary.region})`
        : `${replica}'s role is unknown`,
  );

  const actual = facts.target.engineVersion;
  if (facts.source.engineVersion !== null) {
    // The old primary answered: the live versions must match, whatever the request says.
    const expected = facts.source.engineVersion;
    add(
      'engine-version',
      'EngineVersionMismatch',
      actual !== null && sameEngineVersion(actual, expected),
      `replica runs ${actual ?? 'unknown'}, primary ${expected}`,
    );
  } else {
    // The old primary cannot be asked (an outage): the configured version is only a reminder of
    // what was deployed — minor upgrades happen without a deploy. The major version must match it;
    // a mismatch refuses unless forced (unplanned mode).
    const configured = target.engineVersion;
    const sameMajor = actual !== null && actual.split('.')[0] === configured.split('.')[0];
    const detail = `primary not asked (${facts.source.reachable ? 'no version given' : 'unreachable'}): replica runs ${actual ?? 'unknown'}, configured ${configured}`;
    if (sameMajor) {
      add(
        'engine-version',
        'EngineVersionMismatch',
        true,
        `${detail}${sameEngineVersion(actual, configured) ? '' : ' (same major version: minor versions differ)'}`,
      );
    } else if (options.force) {
      add('engine-version', 'EngineVersionMismatch', true, `${detail}: skipped by force`, true);
    } else {
      add(
        'engine-version',
        'EngineVersionMismatch',
        false,
        `${detail}; force (unplanned mode) skips this comparison with the configuration`,
      );
    }
  }

  // A lag read from two clocks (the replica's now and the primary's commit time) can come out a
  // little below zero: it is none.
  const lag = facts.replicaLagSeconds === null ? null : Math.max(0, facts.replicaLagSeconds);
  const lagOk = lag !== null && lag <= target.maxLagSeconds;
  const lagText =
    lag === null
      ? `replica lag unknown (no recent datapoint), bound ${target.maxLagSeconds} s`
      : `replica lag ${lag} s, bound ${target.maxLagSeconds} s`;
  if (options.mode === 'unplanned' && options.trigger === 'alarm') {
    // The alarm says the primary stopped accepting writes; lag then only says how much is at risk,
    // and the lag alarm's threshold would refuse exactly the runs that are needed. The person at the
    // approval gate decides on the heartbeat estimate instead.
    add(
      'replica-lag',
      'ReplicationLagTooHigh',
      true,
      `${lagText}: not a refusal for an alarm-started unplanned failover (expected loss is estimated from the heartbeat the replica replayed)`,
      !lagOk,
    );
  } else if (options.force && !lagOk) {
    add('replica-lag', 'ReplicationLagTooHigh', true, `${lagText}: skipped by force`, true);
  } else {
    add('replica-lag', 'ReplicationLagTooHigh', lagOk, lagText);
  }

  const failed = checks.find((c) => !c.passed);
  return {
    passed: failed === undefined,
    refusal: failed ? { Error: failed.refusal, Cause: `preflight refused: ${failed.detail}` } : null,
    checks: checks.map(({ refusal: _refusal, ...check }) => check),
    rpoSeconds: lag,
  };
}

/**
 * Versions match when every component the shorter one names is equal: `16` matches `16.4`,
 * `16.4` matches `16.4`, `16.4` does not match `16.3`.
 */
export function sameEngineVersion(a: string, b: string): boolean {
  const pa = a.split('.');
  const pb = b.split('.');
  const n = Math.min(pa.length, pb.length);
  for (let i = 0; i < n; i++) if (pa[i] !== pb[i]) return false;
  return true;
}

/** Seconds a window of alarm-started executions lasts: state changes inside one window share a name. */
export const ALARM_DEDUPE_WINDOW_MINUTES = 30;

/**
 * Name of an execution started by an alarm. Step Functions refuses a second execution with the
 * same name (ExecutionAlreadyExists), so a flapping alarm inside one window yields one execution.
 * Names are at most 80 characters of [A-Za-z0-9-_].
 */
export function alarmExecutionName(
  database: string,
  alarmName: string,
  at: Date,
  windowMinutes: number = ALARM_DEDUPE_WINDOW_MINUTES,
): string {
  if (!(windowMinutes > 0)) throw new InvalidFailoverInput('windowMinutes must be positive');
  const windowMs = windowMinutes * 60_000;
  const start = new Date(Math.floor(at.getTime() / windowMs) * windowMs);
  // 20261123T1000Z: minute precision is enough for windows of whole minutes.
  const stamp = `${start.toISOString().replace(/[-:]/g, '').slice(0, 13)}Z`;
  const hash = createHash('sha256').update(`${database}\n${alarmName}`).digest('hex').slice(0, 10);
  const db = database.replace(/[^A-Za-z0-9-_]/g, '-').slice(0, 40);
  return `alarm-${db}-${stamp}-${hash}`;
}

/** The catalog document a failover leaves behind: evidence of RTO and RPO. */
export const FailoverRecord = z.strictObject({
  kind: z.literal('failover'),
  database: z.string(),
  executionId: z.string(),
  mode: z.enum(['planned', 'unplanned']),
  trigger: z.enum(['manual', 'alarm']),
  /** The alarm that started an alarm-started failover. */
  alarmName: z.string().optional(),
  reason: z.string(),
  from: z.strictObject({ region: z.string(), identifier: z.string() }),
  to: z.strictObject({ region: z.string(), identifier: z.string() }),
  startedAt: z.iso.datetime(),
  verifiedWriteAt: z.iso.datetime(),
  /** When the DNS record pointed at the new primary (INSYNC); absent without a record. */
  dnsSwitchedAt: z.iso.datetime().optional(),
  /**
   * From the start of the execution until the new primary took a verified write and (with a DNS
   * record) the record pointed at it: the later of the two.
   */
  rtoSeconds: z.number().nonnegative(),
  /** Replication lag at the start; null when it was unknown (a forced failover). */
  rpoSeconds: z.number().nonnegative().nullable(),
  fence: z.string(),
  forced: z.boolean(),
});
export type FailoverRecord = z.infer<typeof FailoverRecord>;

/** Catalog key of a failover record: beside the backups, under a segment no backup id can take. */
export function failoverRecordKey(database: string, at: string, executionName: string): string {
  const stamp = new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  return `${CATALOG_PREFIX}${encodeURIComponent(database)}/${FAILOVERS_FOLDER}/${stamp}-${executionName.replace(/[^A-Za-z0-9-_]/g, '-')}.json`;
}

export function buildFailoverRecord(args: {
  readonly target: FailoverTarget;
  readonly request: FailoverRequest;
  readonly executionId: string;
  readonly startedAt: string;
  readonly verifiedWriteAt: string;
  readonly rpoSeconds: number | null;
  readonly fence: string;
  readonly dnsSwitchedAt?: string | null;
}): FailoverRecord {
  const started = Date.parse(args.startedAt);
  const verified = Date.parse(args.verifiedWriteAt);
  const switched = args.dnsSwitchedAt ? Date.parse(args.dnsSwitchedAt) : null;
  if (Number.isNaN(started) || Number.isNaN(verified) || Number.isNaN(switched)) {
    throw new InvalidFailoverInput('startedAt, verifiedWriteAt and dnsSwitchedAt must be ISO timestamps');
  }
  const done = Math.max(verified, switched ?? verified);
  return FailoverRecord.parse({
    kind: 'failover',
    database: args.request.database,
    executionId: args.executionId,
    mode: args.request.mode,
    trigger: args.request.trigger.source,
    ...('alarmName' in args.request.trigger && args.request.trigger.alarmName
      ? { alarmName: args.request.trigger.alarmName }
      : {}),
    reason: args.request.reason,
    from: { ...args.target.primary },
    to: { ...args.target.replica },
    startedAt: new Date(started).toISOString(),
    verifiedWriteAt: new Date(verified).toISOString(),
    ...(switched === null ? {} : { dnsSwitchedAt: new Date(switched).toISOString() }),
    rtoSeconds: Math.max(0, (done - started) / 1000),
    rpoSeconds: args.rpoSeconds,
    fence: args.fence,
    forced: args.request.force,
  });
}

/** The event the Preflight task receives (see state-machines/failover.ts). */
export interface PreflightEvent {
  /** The execution input, as given. */
  readonly input: unknown;
  readonly executionId: string;
  /** The lock table's name: the command that clears a leftover lock names it. */
  readonly lockTable?: string;
  /** True for the re-check after the approval gate (the facts may be an hour newer). */
  readonly recheck?: boolean;
}

/** AWS CLI commands the notifications give when something is not known or left behind. */
export interface FailoverCommands {
  /** Whether the replica was promoted. */
  readonly promotionCheck: string;
  /** The old primary's security groups (fenced or not). */
  readonly fenceCheck: string;
  /** Deletes this execution's lock item, and only it (when the workflow could not). */
  readonly clearLock: string;
}

export function failoverCommands(
  target: FailoverTarget,
  executionId: string,
  lockTable = `lifeboat-<environment>-locks`,
): FailoverCommands {
  const key = JSON.stringify({ lockId: { S: `failover#${target.database}` } });
  const values = JSON.stringify({ ':e': { S: executionId } });
  return {
    promotionCheck: promotionCheckCommand(target),
    fenceCheck: fenceCheckCommand(target),
    clearLock: `aws dynamodb delete-item --region ${target.replica.region} --table-name ${lockTable} --key '${key}' --condition-expression 'executionId = :e' --expression-attribute-values '${values}'`,
  };
}

/** What the Preflight task returns; the workflow keeps it at `$.preflight`. */
export interface PreflightOutput extends PreflightReport {
  readonly request: FailoverRequest;
  readonly target: FailoverTarget;
  /** ARN of the replica: Aurora global switchover/failover name the target cluster by ARN. */
  readonly replicaArn: string;
  readonly facts: PreflightFacts;
  readonly commands: FailoverCommands;
}

export type GatherFacts = (
  target: FailoverTarget,
) => Promise<{ readonly facts: PreflightFacts; readonly replicaArn: string }>;

/**
 * Validates the request, resolves its target and evaluates the checks. Throws
 * InvalidFailoverInput / UnknownDatabase (nothing to report); a refusal is returned, not thrown,
 * so that a dry run reports every check.
 */
export async function runPreflight(
  event: PreflightEvent,
  targets: readonly FailoverTarget[],
  gather: GatherFacts,
): Promise<PreflightOutput> {
  const request = parseFailoverRequest(event.input);
  const target = findTarget(targets, request.database);
  const gathered = await gather(target);
  // The workflow reads these paths: present (null) even when the gatherer did not say.
  const facts: PreflightFacts = {
    ...gathered.facts,
    source: { endpoint: null, detail: '', ...gathered.facts.source },
  };
  const replicaArn = gathered.replicaArn;
  return {
    ...evaluatePreflight(target, facts, {
      force: request.force,
      mode: request.mode,
      trigger: request.trigger.source,
    }),
    request,
    target,
    replicaArn,
    facts,
    commands: failoverCommands(target, event.executionId, event.lockTable),
  };
}

/** Failback was asked of a database whose DR side is not the primary (no failover happened). */
export class SourceNotPrimary extends LifeboatError {
  override readonly name = 'SourceNotPrimary';
}

/** The new primary already has a replica in the recovered region: it is protected, nothing to do. */
export class ReplicaExists extends LifeboatError {
  override readonly name = 'ReplicaExists';
}

export const FailbackRequest = z.strictObject({
  database: z.string().min(1, { error: 'expected the database name' }),
  reason: z.string().max(500).optional(),
  requestedBy: z.string().max(200).optional(),
});
export type FailbackRequest = z.output<typeof FailbackRequest>;

/** What the PlanFailback task returns; the workflow keeps it at `$.plan`. */
export interface FailbackPlan {
  readonly database: string;
  readonly kind: 'instance' | 'cluster';
  /** The new primary (the former DR replica). */
  readonly source: { readonly region: string; readonly identifier: string; readonly arn: string };
  /** The replica to create in the recovered region. */
  readonly replica: { readonly region: string; readonly identifier: string };
  readonly globalClusterIdentifier: string | null;
  readonly engineVersion: string;
  /**
   * The `aws` commands that show the replica (with its `lifeboat:created-by` tag) and remove it:
   * what a failure notification carries when the workflow cannot tell or could not clean up.
   */
  readonly commands: { readonly check: string; readonly cleanup: string };
}

/** The instance an Aurora secondary of the failback gets: named like its cluster. */
export const failbackInstanceOf = (clusterIdentifier: string): string => `${clusterIdentifier}-1`;

/** The commands that show and remove a failback replica (instance, or Aurora secondary cluster + instance). */
export function failbackCommands(
  kind: 'instance' | 'cluster',
  replica: { readonly region: string; readonly identifier: string },
  globalClusterIdentifier: string | null,
): { check: string; cleanup: string } {
  const r = `--region ${replica.region}`;
  const describeInstance = (id: string) =>
    `aws rds describe-db-instances ${r} --db-instance-identifier ${id} --query 'DBInstances[0].[DBInstanceStatus,TagList]'`;
  const deleteInstance = (id: string) =>
    `aws rds delete-db-instance ${r} --db-instance-identifier ${id} --skip-final-snapshot --delete-automated-backups`;
  if (kind === 'instance')
    return { check: describeInstance(replica.identifier), cleanup: deleteInstance(replica.identifier) };
  const instance = failbackInstanceOf(replica.identifier);
  const account = '$(aws sts get-caller-identity --query Account --output text)';
  return {
    check: `${describeInstance(instance)}; aws rds describe-db-clusters ${r} --db-cluster-identifier ${replica.identifier} --query 'DBClusters[0].[Status,TagList]'`,
    cleanup: [
      deleteInstance(instance),
      ...(globalClusterIdentifier
        ? [
            `aws rds remove-from-global-cluster ${r} --global-cluster-identifier ${globalClusterIdentifier} --db-cluster-identifier arn:aws:rds:${replica.region}:${account}:cluster:${replica.identifier}`,
          ]
        : []),
      `aws rds wait db-instance-deleted ${r} --db-instance-identifier ${instance}`,
      `aws rds delete-db-cluster ${r} --db-cluster-identifier ${replica.identifier} --skip-final-snapshot`,
    ].join(' && '),
  };
}

/**
 * Plans re-protection after a failover: a new replica in the region the database failed away
 * from, named apart from the old (fenced) primary, which may still exist there.
 */
export function planFailback(
  input: unknown,
  targets: readonly FailoverTarget[],
  facts: {
    readonly executionName: string;
    readonly sourceArn: string;
    readonly sourceIsPrimary: boolean;
    /** A replica of the new primary that already exists in the recovered region (its identifier). */
    readonly existingReplica?: string | null;
  },
): FailbackPlan {
  const parsed = FailbackRequest.safeParse(input);
  if (!parsed.success) throw new InvalidFailoverInput(`failback input: ${describeIssue(parsed.error)}`);
  const target = findTarget(targets, parsed.data.database);
  if (!facts.sourceIsPrimary) {
    throw new SourceNotPrimary(
      `${target.replica.identifier} (${target.replica.region}) is not the primary: fail over first, or there is nothing to re-protect`,
    );
  }
  if (facts.existingReplica) {
    throw new ReplicaExists(
      `${target.replica.identifier} (${target.replica.region}) already has a replica in ${target.primary.region}: ${facts.existingReplica}; nothing was created`,
    );
  }
  const replica = {
    region: target.primary.region,
    identifier: failbackReplicaIdentifier(target.primary.identifier, facts.executionName),
  };
  const globalClusterIdentifier = target.globalClusterIdentifier ?? null;
  return {
    database: target.database,
    kind: target.kind,
    source: { ...target.replica, arn: facts.sourceArn },
    replica,
    globalClusterIdentifier,
    engineVersion: target.engineVersion,
    commands: failbackCommands(target.kind, replica, globalClusterIdentifier),
  };
}

// --- after the promote request: what is known, what is not --------------------------------------

/** How the replica looked when checked (wf-check-writable). */
export type ReplicaRole = 'replica' | 'promoting' | 'writer' | 'unknown';

/**
 * Whether the promotion happened, in three words the notifications carry:
 * `promoted` (the replica is no longer one, or is becoming a writer), `not-promoted` (the request was
 * refused outright and the replica is still a replica), `unknown` (anything else — the exact check to
 * run goes with it).
 */
export type PromotionStatus = 'promoted' | 'not-promoted' | 'unknown';

/**
 * Errors that mean "refused, nothing applied" whichever attempt produced them. Anything else
 * (5xx, throttling, timeouts, and InvalidDBInstanceState — which is also what a retry of a promote
 * whose answer was lost gets: "not a read replica") may follow an attempt that was applied.
 */
const DEFINITE_REFUSAL =
  /AccessDenied|NotAuthorized|Unauthorized|InvalidParameter|ValidationException|InvalidClientTokenId|NotFound/;

/**
 * Reads a failed promote request against what the replica looks like now. Never says
 * `not-promoted` unless the error was a definite refusal and the replica is still an available
 * replica; never says `promoted` without seeing it.
 */
export function promotionAfterError(
  error: { readonly Error?: string; readonly Cause?: string } | null,
  observed: { readonly role: ReplicaRole; readonly status: string } | null,
): { readonly promotion: PromotionStatus; readonly detail: string } {
  const name = error?.Error ?? 'an error';
  if (!observed || observed.role === 'unknown') {
    return {
      promotion: 'unknown',
      detail: `the promote request failed (${name}) and the replica could not be described afterwards`,
    };
  }
  if (observed.role === 'writer' || observed.role === 'promoting') {
    return {
      promotion: 'promoted',
      detail: `the promote request answered ${name}, but the replica is ${observed.role === 'writer' ? 'already a writer' : `being promoted (${observed.status})`}: the request was applied`,
    };
  }
  if (DEFINITE_REFUSAL.test(name)) {
    return {
      promotion: 'not-promoted',
      detail: `the promote request was refused (${name}) and the replica is still a replica (${observed.status})`,
    };
  }
  return {
    promotion: 'unknown',
    detail: `the promote request failed (${name}), which may follow an applied attempt; the replica still looks like a replica (${observed.status}), which RDS may not show yet`,
  };
}

/** The AWS CLI command that tells whether the promotion of `target` happened. */
export function promotionCheckCommand(target: FailoverTarget): string {
  return target.kind === 'instance'
    ? `aws rds describe-db-instances --region ${target.replica.region} --db-instance-identifier ${target.replica.identifier} --query 'DBInstances[0].[DBInstanceStatus,ReadReplicaSourceDBInstanceIdentifier]'`
    : `aws rds describe-global-clusters --region ${target.replica.region} --global-cluster-identifier ${target.globalClusterIdentifier ?? '?'} --query 'GlobalClusters[0].[Status,GlobalClusterMembers[?IsWriter].DBClusterArn]'`;
}

/** The AWS CLI command that shows whether the old primary is fenced (its security groups). */
export function fenceCheckCommand(target: FailoverTarget): string {
  return target.kind === 'instance'
    ? `aws rds describe-db-instances --region ${target.primary.region} --db-instance-identifier ${target.primary.identifier} --query 'DBInstances[0].VpcSecurityGroups'`
    : `aws rds describe-db-clusters --region ${target.primary.region} --db-cluster-identifier ${target.primary.identifier} --query 'DBClusters[0].VpcSecurityGroups'`;
}

/**
 * Seconds to wait before the next writability check: `first`, doubling, at most `max`. A promotion
 * takes minutes; checking every 30 s costs transitions without getting there sooner.
 */
export function nextPollWaitSeconds(attempts: number, first = 15, max = 120): number {
  if (!(first > 0) || !(max >= first)) throw new InvalidFailoverInput('poll waits must be positive');
  return Math.min(max, first * 2 ** Math.max(0, Math.min(attempts, 20)));
}

/**
 * The number of checks whose waits (from nextPollWaitSeconds) add up to at least `totalSeconds`:
 * the bound of the writability poll.
 */
export function pollAttemptsFor(totalSeconds: number, first = 15, max = 120): number {
  let waited = 0;
  let n = 0;
  while (waited < totalSeconds) waited += nextPollWaitSeconds(n++, first, max);
  return n;
}

// --- planned mode: the replica replays everything the fenced primary wrote ------------------------

/** A PostgreSQL LSN (`16/B374D848`) as a number of bytes. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn.trim());
  if (!m) throw new InvalidFailoverInput(`not a WAL position: "${lsn.slice(0, 40)}"`);
  return (BigInt(`0x${m[1]}`) << 32n) + BigInt(`0x${m[2]}`);
}

export interface CatchUpResult {
  readonly caughtUp: boolean;
  /** pg_current_wal_insert_lsn() on the fenced primary. */
  readonly primaryLsn: string | null;
  /** pg_last_wal_replay_lsn() on the replica at the last check. */
  readonly replayLsn: string | null;
  /** WAL bytes the replica had not replayed at the last check (0 when caught up). */
  readonly behindBytes: number | null;
  readonly waitedMs: number;
  readonly detail: string;
}

export interface CatchUpPorts {
  /** pg_current_wal_insert_lsn() on the old primary, taken after it was fenced. */
  readonly primaryLsn: () => Promise<string>;
  /** pg_last_wal_replay_lsn() on the replica (null when it is not in recovery any more). */
  readonly replayLsn: () => Promise<string | null>;
  readonly sleep: (ms: number) => Promise<void>;
  readonly now: () => number;
}

/**
 * Waits until the replica has replayed the fenced primary's last WAL position, checking every
 * `intervalMs` for at most `timeoutMs`. Returns caughtUp false (never throws for a slow replica)
 * with how far behind it was; an error reading either position is reported the same way, since
 * then nothing proves the replica has every commit.
 */
export async function waitForCatchUp(
  ports: CatchUpPorts,
  options: { readonly timeoutMs: number; readonly intervalMs: number },
): Promise<CatchUpResult> {
  const start = ports.now();
  let primaryLsn: string;
  try {
    primaryLsn = await ports.primaryLsn();
    parseLsn(primaryLsn);
  } catch (err) {
    return {
      caughtUp: false,
      primaryLsn: null,
      replayLsn: null,
      behindBytes: null,
      waitedMs: ports.now() - start,
      detail: `the fenced primary's WAL position could not be read (${(err as Error).message}): nothing proves the replica has every commit`,
    };
  }
  const target = parseLsn(primaryLsn);
  let replayLsn: string | null = null;
  let behind: bigint | null = null;
  for (;;) {
    let lastError: string | null = null;
    try {
      replayLsn = await ports.replayLsn();
      if (replayLsn === null) {
        lastError = 'the replica is not in recovery (replays nothing)';
      } else {
        behind = target - parseLsn(replayLsn);
        if (behind <= 0n) {
          const waitedMs = ports.now() - start;
          return {
            caughtUp: true,
            primaryLsn,
            replayLsn,
            behindBytes: 0,
            waitedMs,
            detail: `the replica replayed ${replayLsn}, at or past the fenced primary's ${primaryLsn}, after ${waitedMs} ms`,
          };
        }
      }
    } catch (err) {
      lastError = (err as Error).message;
    }
    const waitedMs = ports.now() - start;
    if (waitedMs + options.intervalMs > options.timeoutMs) {
      return {
        caughtUp: false,
        primaryLsn,
        replayLsn,
        behindBytes: behind === null ? null : Number(behind),
        waitedMs,
        detail:
          lastError !== null
            ? `after ${waitedMs} ms the replica's replay position could not be read (${lastError})`
            : `after ${waitedMs} ms the replica had replayed ${replayLsn}, ${behind} bytes short of the fenced primary's ${primaryLsn}`,
      };
    }
    await ports.sleep(options.intervalMs);
  }
}
