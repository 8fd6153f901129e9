import { errorMessage } from '../shared/errors.ts';
import { ReplicaNotCaughtUp, WriteVerificationFailed } from './failover.ts';
import { type CatchUpResult, waitForCatchUp } from './promotion.ts';
import { estimateRpo, heartbeatFromGetItem, type RpoEstimate, readHeartbeat } from './heartbeat.ts';
import { type ConnectionInfo, connect } from '../shared/pg.ts';

/**
 * The failover's questions to PostgreSQL itself (the wf-verify-write function asks them in AWS,
 * `lifeboat drill` on this machine): the fenced primary's last WAL position, the replica's replay
 * position, and the heartbeat the replica replayed.
 */

/**
 * On the fenced primary: ends every other client session (the fence keeps new ones out, but a
 * security group change does not cut connections already open), waits until they are gone, then
 * returns pg_current_wal_insert_lsn() — past the last position anything could have committed at.
 */
export async function fencedPrimaryLsn(connection: ConnectionInfo, timeoutMs = 30_000): Promise<string> {
  const client = await connect(connection);
  try {
    const ended = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity, pg_terminate_backend(pid)
        WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
    );
    const pids = ended.rows.map((r) => r.pid);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = await client.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1)',
        [pids],
      );
      if (Number(left.rows[0]?.n ?? 0) === 0) break;
      if (Date.now() > deadline) throw new Error(`${left.rows[0]?.n} sessions did not end`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The insert position, not pg_current_wal_lsn(): that one is the *write* position as shared
    // memory last recorded it, and was seen behind a commit that had already returned (0/3000000
    // against 0/3001950) — a standby at that position lacked the commit.
    const lsn = await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
    return lsn.rows[0]!.lsn;
  } finally {
    await client.end();
  }
}

/** pg_last_wal_replay_lsn() on the replica; null when it is not in recovery. */
export async function replayLsn(connection: ConnectionInfo): Promise<string | null> {
  const client = await connect(connection);
  try {
    const r = await client.query<{ lsn: string | null }>(
      'SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()::text END AS lsn',
    );
    return r.rows[0]?.lsn ?? null;
  } finally {
    await client.end();
  }
}

/** Waits for the replica to replay the fenced primary's last position; refuses otherwise. */
export async function catchUp(
  primary: () => Promise<string>,
  replica: () => Promise<string | null>,
  options: { readonly timeoutMs: number; readonly intervalMs?: number },
): Promise<CatchUpResult> {
  const result = await waitForCatchUp(
    {
      primaryLsn: primary,
      replayLsn: replica,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
    },
    { timeoutMs: options.timeoutMs, intervalMs: options.intervalMs ?? 1000 },
  );
  if (!result.caughtUp) throw new ReplicaNotCaughtUp(result.detail);
  return result;
}

/** The replica's replayed heartbeat against the canary's last acknowledged one. */
export async function estimateDataLoss(
  replica: ConnectionInfo | null,
  acknowledgedItem: unknown,
  now: Date,
): Promise<RpoEstimate & { readonly lastReplayedHeartbeat: string | null }> {
  const acknowledged = heartbeatFromGetItem(acknowledgedItem);
  let replayed = null;
  let readError = '';
  if (acknowledged && replica) {
    const client = await connect(replica);
    try {
      replayed = await readHeartbeat(client, acknowledged.writer);
    } catch (err) {
      readError = `; reading the replica's heartbeat failed: ${errorMessage(err).slice(0, 200)}`;
    } finally {
      await client.end();
    }
  }
  const estimate = estimateRpo(acknowledged, replayed, now);
  return {
    ...estimate,
    summary: `${estimate.summary}${readError}`,
    lastReplayedHeartbeat: replayed?.writtenAt ?? null,
  };
}

export interface VerifyWriteResult {
  readonly ok: true;
  /** The write check's state as the workflow reports it. */
  readonly status: 'verified';
  /** When the write was committed: the end of the RTO. */
  readonly at: string;
  readonly detail: string;
}

export async function verifyWrite(
  connection: ConnectionInfo,
  executionName: string,
  now = () => new Date(),
): Promise<VerifyWriteResult> {
  const client = await connect(connection);
  try {
    const recovery = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (recovery.rows[0]?.r)
      throw new WriteVerificationFailed(`${connection.host} is still in recovery (a standby)`);
    await client.query('BEGIN READ WRITE');
    await client.query(
      'CREATE TEMP TABLE lifeboat_write_check (execution text, at timestamptz) ON COMMIT DROP',
    );
    const row = await client.query<{ execution: string }>(
      'INSERT INTO lifeboat_write_check VALUES ($1, now()) RETURNING execution',
      [executionName],
    );
    const xid = await client.query<{ xid: string }>('SELECT txid_current()::text AS xid');
    await client.query('COMMIT');
    if (row.rows[0]?.execution !== executionName)
      throw new WriteVerificationFailed('the row written did not read back');
    return {
      ok: true,
      status: 'verified',
      at: now().toISOString(),
      detail: `committed transaction ${xid.rows[0]?.xid} on ${connection.host}`,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof WriteVerificationFailed) throw err;
    throw new WriteVerificationFailed(`write on ${connection.host} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    await client.end();
  }
}
