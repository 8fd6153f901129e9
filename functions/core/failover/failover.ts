import { createHash } from 'node:crypto';
import * as z from '../shared/zod.ts';
import { LifeboatError } from '../shared/errors.ts';
import { SECRET_ARN } from '../contracts/secrets-arn.ts';

/**
 * The pure part of the failover workflow (state-machines/failover.ts): what a failover request is,
 * which database it moves where, and how alarm-started executions are named so a flapping alarm
 * yields one execution. Beside it: preflight.ts (may it go ahead), promotion.ts (after the promote
 * request), record.ts (what is recorded afterwards), failback.ts (re-protection).
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

const identifier = z
  .string()
  .check(
    z.regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, { error: 'expected an RDS instance or cluster identifier' }),
  );
const region = z
  .string()
  .check(z.regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { error: 'expected an AWS region' }));

/**
 * A Route 53 record lifeboat points at a database: the failover's DNS switch and a restore's
 * cutover (functions/core/restore/restore-plan.ts).
 */
export const Route53Record = z.strictObject({
  hostedZoneId: z.string().check(z.regex(/^Z[A-Z0-9]{1,31}$/, { error: 'expected a hosted zone id (Z...)' })),
  recordName: z.string().check(z.minLength(1)),
  ttl: z._default(z.int().check(z.gte(0), z.lte(86400)), 60),
});

/**
 * How one database fails over: the stacks derive one of these per protected database from the
 * environment configuration and hand the list to the preflight function (LIFEBOAT_FAILOVER_TARGETS).
 */
export const FailoverTarget = z.strictObject({
  database: z.string().check(z.minLength(1)),
  kind: z.enum(['instance', 'cluster']),
  /** Where the database normally runs (the region that may be lost). */
  primary: z.strictObject({ region, identifier }),
  /** The read replica (instance) or secondary cluster (Aurora global) in the DR region. */
  replica: z.strictObject({ region, identifier }),
  /** Aurora global database identifier; required for kind cluster. */
  globalClusterIdentifier: z.optional(z.string().check(z.minLength(1))),
  /** Expected engine version, used when the old primary cannot be asked for its own. */
  engineVersion: z.string().check(z.regex(/^\d+(\.\d+)*$/)),
  /** Route 53 record the applications connect through; DNS is not switched without it. */
  dns: z.optional(Route53Record),
  /** Largest replica lag (seconds) at which an unforced failover may go ahead. */
  maxLagSeconds: z._default(z.number().check(z.nonnegative()), 60),
  /**
   * Secrets Manager ARN, in the DR region (a replica of the database's secret), of credentials that
   * may write: VerifyWrite connects with it. Without it the failover ends as a partial failure at
   * the verify step.
   */
  secretArn: z.optional(z.string().check(z.regex(SECRET_ARN))),
  /** Security group of the primary region that lets nothing in; the old primary is moved into it. */
  fenceSecurityGroupId: z.optional(z.string().check(z.regex(/^sg-[0-9a-f]{8,17}$/))),
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
    .check(
      z.superRefine((targets, ctx) => {
        targets.forEach((t, i) => {
          if (t.kind === 'cluster' && !t.globalClusterIdentifier) {
            ctx.addIssue({
              code: 'custom',
              path: [i, 'globalClusterIdentifier'],
              message: 'required for kind cluster (Aurora global database)',
            });
          }
        });
      }),
    )
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
  z.pipe(
    z.enum(['manual', 'alarm']),
    z.transform((source: 'manual' | 'alarm') => ({ source })),
  ),
  z.strictObject({
    source: z.enum(['manual', 'alarm']),
    /** The alarm (or composite alarm) whose state change started the run. */
    alarmName: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
    alarmArn: z.optional(z.string().check(z.minLength(1), z.maxLength(1600))),
    /** The alarm's new state (ALARM) and the one before it. */
    state: z.optional(z.string().check(z.maxLength(50))),
    previousState: z.optional(z.string().check(z.maxLength(50))),
    /** When the alarm changed state (ISO 8601). */
    time: z.optional(z.iso.datetime({ offset: true })),
    /** CloudWatch's reason text for the state change. */
    reason: z.optional(z.string().check(z.maxLength(2000))),
  }),
]);
export type FailoverTrigger = z.output<typeof FailoverTrigger>;

/** The execution input of the failover workflow. */
export const FailoverRequest = z
  .strictObject({
    database: z.string().check(z.minLength(1, { error: 'expected the database name' })),
    mode: z.enum(['planned', 'unplanned']),
    reason: z
      .string()
      .check(z.minLength(1, { error: 'say why (it goes into every notification)' }), z.maxLength(500)),
    /**
     * Unplanned mode only: skips the replica lag check, and the engine-version comparison with the
     * configured version when the old primary cannot be asked. Nothing else.
     */
    force: z._default(z.boolean(), false),
    /** Stop after preflight and report. */
    dryRun: z._default(z.boolean(), false),
    trigger: z._default(FailoverTrigger, { source: 'manual' }),
    /** Who started it (CLI user, alarm name). */
    requestedBy: z.optional(z.string().check(z.maxLength(200))),
  })
  .check(
    z.superRefine((request, ctx) => {
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
    }),
  );
export type FailoverRequest = z.output<typeof FailoverRequest>;

/** Validates the execution input; InvalidFailoverInput names the first bad field. */
export function parseFailoverRequest(input: unknown): FailoverRequest {
  const parsed = FailoverRequest.safeParse(input);
  if (!parsed.success) throw new InvalidFailoverInput(`failover input: ${describeIssue(parsed.error)}`);
  return parsed.data;
}

export function describeIssue(error: z.core.$ZodError): string {
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
