import type { FailoverRequest, FailoverTarget, RefusalName } from './failover.ts';
import { findTarget, parseFailoverRequest } from './failover.ts';
import { fenceCheckCommand, promotionCheckCommand } from './promotion.ts';

/**
 * Preflight of a failover: the facts the Preflight task gathers, the checks that decide whether the
 * failover may go ahead, and the commands an operator needs when it may not.
 */

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
