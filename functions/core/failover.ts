import { createHash } from 'node:crypto';
import * as z from 'zod';
import { LifeboatError } from './errors.ts';

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
  secretArn: z
    .string()
    .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/)
    .optional(),
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

/** The execution input of the failover workflow. */
export const FailoverRequest = z.strictObject({
  database: z.string().min(1, { error: 'expected the database name' }),
  mode: z.enum(['planned', 'unplanned']),
  reason: z.string().min(1, { error: 'say why (it goes into every notification)' }).max(500),
  /** Skips the replica lag check, and only that. */
  force: z.boolean().default(false),
  /** Stop after preflight and report. */
  dryRun: z.boolean().default(false),
  trigger: z.enum(['manual', 'alarm']).default('manual'),
  /** Who started it (CLI user, alarm name). */
  requestedBy: z.string().max(200).optional(),
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
 * the first failing one is the refusal. `force` skips the replica lag check and nothing else.
 */
export function evaluatePreflight(
  target: FailoverTarget,
  facts: PreflightFacts,
  options: { readonly force: boolean },
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

  const expected = facts.source.engineVersion ?? target.engineVersion;
  const expectedFrom = facts.source.engineVersion === null ? 'configured' : 'primary';
  const actual = facts.target.engineVersion;
  const versionsMatch = actual !== null && sameEngineVersion(actual, expected);
  add(
    'engine-version',
    'EngineVersionMismatch',
    versionsMatch,
    `replica runs ${actual ?? 'unknown'}, ${expectedFrom} ${expected}`,
  );

  const lag = facts.replicaLagSeconds;
  const lagOk = lag !== null && lag <= target.maxLagSeconds;
  const lagText =
    lag === null
      ? `replica lag unknown (no recent datapoint), bound ${target.maxLagSeconds} s`
      : `replica lag ${lag} s, bound ${target.maxLagSeconds} s`;
  if (options.force && !lagOk) {
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
  reason: z.string(),
  from: z.strictObject({ region: z.string(), identifier: z.string() }),
  to: z.strictObject({ region: z.string(), identifier: z.string() }),
  startedAt: z.iso.datetime(),
  verifiedWriteAt: z.iso.datetime(),
  /** From the start of the execution to the verified write on the new primary. */
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
  return `catalog/${encodeURIComponent(database)}/_failovers/${stamp}-${executionName.replace(/[^A-Za-z0-9-_]/g, '-')}.json`;
}

export function buildFailoverRecord(args: {
  readonly target: FailoverTarget;
  readonly request: FailoverRequest;
  readonly executionId: string;
  readonly startedAt: string;
  readonly verifiedWriteAt: string;
  readonly rpoSeconds: number | null;
  readonly fence: string;
}): FailoverRecord {
  const started = Date.parse(args.startedAt);
  const verified = Date.parse(args.verifiedWriteAt);
  if (Number.isNaN(started) || Number.isNaN(verified)) {
    throw new InvalidFailoverInput('startedAt and verifiedWriteAt must be ISO timestamps');
  }
  return FailoverRecord.parse({
    kind: 'failover',
    database: args.request.database,
    executionId: args.executionId,
    mode: args.request.mode,
    trigger: args.request.trigger,
    reason: args.request.reason,
    from: { ...args.target.primary },
    to: { ...args.target.replica },
    startedAt: new Date(started).toISOString(),
    verifiedWriteAt: new Date(verified).toISOString(),
    rtoSeconds: Math.max(0, (verified - started) / 1000),
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
}

/** What the Preflight task returns; the workflow keeps it at `$.preflight`. */
export interface PreflightOutput extends PreflightReport {
  readonly request: FailoverRequest;
  readonly target: FailoverTarget;
  /** ARN of the replica: Aurora global switchover/failover name the target cluster by ARN. */
  readonly replicaArn: string;
  readonly facts: PreflightFacts;
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
  const { facts, replicaArn } = await gather(target);
  return {
    ...evaluatePreflight(target, facts, { force: request.force }),
    request,
    target,
    replicaArn,
    facts,
  };
}

/** Failback was asked of a database whose DR side is not the primary (no failover happened). */
export class SourceNotPrimary extends LifeboatError {
  override readonly name = 'SourceNotPrimary';
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
}

/**
 * Plans re-protection after a failover: a new replica in the region the database failed away
 * from, named apart from the old (fenced) primary, which may still exist there.
 */
export function planFailback(
  input: unknown,
  targets: readonly FailoverTarget[],
  facts: { readonly executionName: string; readonly sourceArn: string; readonly sourceIsPrimary: boolean },
): FailbackPlan {
  const parsed = FailbackRequest.safeParse(input);
  if (!parsed.success) throw new InvalidFailoverInput(`failback input: ${describeIssue(parsed.error)}`);
  const target = findTarget(targets, parsed.data.database);
  if (!facts.sourceIsPrimary) {
    throw new SourceNotPrimary(
      `${target.replica.identifier} (${target.replica.region}) is not the primary: fail over first, or there is nothing to re-protect`,
    );
  }
  const hash = createHash('sha256').update(facts.executionName).digest('hex').slice(0, 6);
  return {
    database: target.database,
    kind: target.kind,
    source: { ...target.replica, arn: facts.sourceArn },
    replica: {
      region: target.primary.region,
      identifier: `${target.primary.identifier.slice(0, 52)}-rp-${hash}`,
    },
    globalClusterIdentifier: target.globalClusterIdentifier ?? null,
    engineVersion: target.engineVersion,
  };
}
