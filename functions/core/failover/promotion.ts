import type { FailoverTarget } from './failover.ts';
import { InvalidFailoverInput } from './failover.ts';

/**
 * After the promote request: what is known when it failed, how long to poll until the new primary
 * is writable, and (planned mode) waiting until the replica replayed all the fenced primary wrote.
 */

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
