import type pg from 'pg';

/**
 * The primary's heartbeat: the signal an alarm-started failover listens to, and the evidence its
 * RPO estimate is built from.
 *
 * A canary in the DR region writes one row per writer (`lifeboat.heartbeat`, keyed by the canary's
 * name) through the database's endpoint record, in one READ WRITE transaction, and reads it back.
 * The row carries what the primary had committed at that moment (its WAL position and its
 * pg_stat_database counters). Streaming replication carries the row to the replica, so the row the
 * replica has *replayed* says how far the replica got, in the primary's own terms.
 *
 * The canary also keeps its last acknowledged heartbeat outside the database (it must still be
 * readable when the primary is gone). Comparing the two gives the data at risk of a failover:
 * everything the primary committed after the replayed heartbeat, of which the heartbeats bound a
 * known part (between the replayed one and the last acknowledged one) and time bounds the rest
 * (after the last acknowledged one, until the primary stopped accepting writes).
 */

/** Schema and table the heartbeat lives in, inside the protected database. */
export const HEARTBEAT_SCHEMA = 'lifeboat';
export const HEARTBEAT_TABLE = 'lifeboat.heartbeat';

/** Created on the first heartbeat when missing (needs CREATE on the database once; see docs). */
export const HEARTBEAT_DDL = [
  `CREATE SCHEMA IF NOT EXISTS ${HEARTBEAT_SCHEMA}`,
  `CREATE TABLE IF NOT EXISTS ${HEARTBEAT_TABLE} (
     writer       text        PRIMARY KEY,
     seq          bigint      NOT NULL,
     written_at   timestamptz NOT NULL,
     wal_lsn      pg_lsn      NOT NULL,
     xact_commit  bigint      NOT NULL,
     rows_changed bigint      NOT NULL
   )`,
] as const;

/** One heartbeat, as written on the primary (and later replayed on the replica). */
export interface Heartbeat {
  /** Who wrote it (the canary's name, e.g. `dr-canary`). */
  readonly writer: string;
  /** Increments with every heartbeat of this writer. */
  readonly seq: number;
  /** The primary's clock at commit time (ISO 8601). */
  readonly writtenAt: string;
  /** pg_current_wal_lsn() on the primary inside the heartbeat's transaction. */
  readonly walLsn: string;
  /** pg_stat_database.xact_commit of the database at that moment (transactions committed so far). */
  readonly xactCommit: number;
  /** pg_stat_database tup_inserted + tup_updated + tup_deleted at that moment (rows changed so far). */
  readonly rowsChanged: number;
}

/** Key of the canary's last acknowledged heartbeat in the DR region's lock table. */
export function heartbeatStateKey(database: string): string {
  return `heartbeat#${database}`;
}

interface HeartbeatRow {
  writer: string;
  seq: string;
  written_at: Date;
  wal_lsn: string;
  xact_commit: string;
  rows_changed: string;
}

function fromRow(row: HeartbeatRow): Heartbeat {
  return {
    writer: row.writer,
    seq: Number(row.seq),
    writtenAt: row.written_at.toISOString(),
    walLsn: row.wal_lsn,
    xactCommit: Number(row.xact_commit),
    rowsChanged: Number(row.rows_changed),
  };
}

const COLUMNS = 'writer, seq, written_at, wal_lsn, xact_commit, rows_changed';

/**
 * Writes the next heartbeat of `writer` on the primary and reads it back, in one transaction
 * started as an application's would (plain BEGIN, so `default_transaction_read_only` applies: a
 * standby, a primary made read-only, or a full disk refuses it as it refuses the application).
 * Creates the table when missing. Throws what the server said; the caller decides what it means.
 */
export async function writeHeartbeat(client: pg.ClientBase, writer: string): Promise<Heartbeat> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
    HEARTBEAT_TABLE,
  ]);
  if (exists.rows[0]?.t === null || exists.rows[0]?.t === undefined) {
    for (const ddl of HEARTBEAT_DDL) await client.query(ddl);
  }
  await client.query('BEGIN');
  try {
    const written = await client.query<HeartbeatRow>(
      `INSERT INTO ${HEARTBEAT_TABLE} AS h (${COLUMNS})
       SELECT $1, 1, now(), pg_current_wal_lsn(), s.xact_commit, s.tup_inserted + s.tup_updated + s.tup_deleted
         FROM pg_stat_database s WHERE s.datname = current_database()
       ON CONFLICT (writer) DO UPDATE
         SET seq = h.seq + 1, written_at = excluded.written_at, wal_lsn = excluded.wal_lsn,
             xact_commit = excluded.xact_commit, rows_changed = excluded.rows_changed
       RETURNING ${COLUMNS}`,
      [writer],
    );
    await client.query('COMMIT');
    const row = written.rows[0];
    if (!row) throw new Error('the heartbeat row was not written (no pg_stat_database row)');
    const read = await client.query<HeartbeatRow>(
      `SELECT ${COLUMNS} FROM ${HEARTBEAT_TABLE} WHERE writer = $1`,
      [writer],
    );
    const back = read.rows[0];
    if (!back || Number(back.seq) !== Number(row.seq))
      throw new Error(`heartbeat ${row.seq} of ${writer} did not read back`);
    return fromRow(back);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The heartbeat of `writer` as this server has it (on a replica: the last one it replayed). */
export async function readHeartbeat(client: pg.ClientBase, writer: string): Promise<Heartbeat | null> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
    HEARTBEAT_TABLE,
  ]);
  if (!exists.rows[0]?.t) return null;
  const read = await client.query<HeartbeatRow>(
    `SELECT ${COLUMNS} FROM ${HEARTBEAT_TABLE} WHERE writer = $1`,
    [writer],
  );
  return read.rows[0] ? fromRow(read.rows[0]) : null;
}

/** What a failover would lose, as far as the heartbeats tell. */
export interface RpoEstimate {
  /** False when either heartbeat is missing: nothing below is a bound then. */
  readonly known: boolean;
  /**
   * Seconds of the primary's commits the replica has not replayed, at least: last acknowledged
   * heartbeat − replayed heartbeat (0 when the replica has the last one). Writes after the last
   * acknowledged heartbeat are not counted: see `unobservedSeconds`.
   */
  readonly rpoSeconds: number | null;
  /** Seconds between the last acknowledged heartbeat and `now`, in which commits are unobserved. */
  readonly unobservedSeconds: number | null;
  /** Transactions the primary committed between the two heartbeats (the canary's own excluded). */
  readonly transactionsAtRisk: number | null;
  /** Rows the primary changed between the two heartbeats (the canary's own excluded). */
  readonly rowsAtRisk: number | null;
  /** One sentence for the approval message. */
  readonly summary: string;
}

/**
 * Compares the last heartbeat the canary saw acknowledged on the primary with the one the replica
 * replayed. Counters reset (a restarted primary) give no row count, never a negative one.
 */
export function estimateRpo(
  lastAcknowledged: Heartbeat | null,
  replayed: Heartbeat | null,
  now: Date,
): RpoEstimate {
  if (!lastAcknowledged || !replayed) {
    const missing = !lastAcknowledged
      ? 'no acknowledged heartbeat is recorded'
      : 'the replica has replayed no heartbeat';
    return {
      known: false,
      rpoSeconds: null,
      unobservedSeconds: lastAcknowledged ? secondsBetween(lastAcknowledged.writtenAt, now) : null,
      transactionsAtRisk: null,
      rowsAtRisk: null,
      summary: `data at risk unknown: ${missing}`,
    };
  }
  const behind = Math.max(0, lastAcknowledged.seq - replayed.seq);
  const rpoSeconds =
    behind === 0 ? 0 : Math.max(0, secondsBetween(replayed.writtenAt, new Date(lastAcknowledged.writtenAt)));
  const counterDelta = (a: number, b: number) => (a >= b ? a - b : null);
  const xacts = counterDelta(lastAcknowledged.xactCommit, replayed.xactCommit);
  const rows = counterDelta(lastAcknowledged.rowsChanged, replayed.rowsChanged);
  // Each heartbeat is itself one transaction changing one row.
  const transactionsAtRisk = xacts === null ? null : Math.max(0, xacts - behind);
  const rowsAtRisk = rows === null ? null : Math.max(0, rows - behind);
  const unobservedSeconds = secondsBetween(lastAcknowledged.writtenAt, now);
  const atRisk =
    behind === 0
      ? 'the replica has replayed the last acknowledged heartbeat'
      : `the replica is ${behind} heartbeat(s) and ${rpoSeconds.toFixed(1)} s behind` +
        (rowsAtRisk === null
          ? ''
          : `: about ${transactionsAtRisk} transactions and ${rowsAtRisk} rows at risk`);
  return {
    known: true,
    rpoSeconds,
    unobservedSeconds,
    transactionsAtRisk: behind === 0 ? 0 : transactionsAtRisk,
    rowsAtRisk: behind === 0 ? 0 : rowsAtRisk,
    summary: `${atRisk}; writes in the ${unobservedSeconds.toFixed(0)} s since the last acknowledged heartbeat (${lastAcknowledged.writtenAt}) are not observed`,
  };
}

function secondsBetween(fromIso: string, to: Date): number {
  return Math.max(0, (to.getTime() - Date.parse(fromIso)) / 1000);
}

/**
 * A heartbeat as the lock table keeps it (item `heartbeat#<db>`, attribute `heartbeat`, the
 * Heartbeat as JSON); null when absent or not a whole heartbeat.
 */
export function parseStoredHeartbeat(raw: string | undefined): Heartbeat | null {
  if (!raw) return null;
  let h: Partial<Heartbeat>;
  try {
    h = JSON.parse(raw) as Partial<Heartbeat>;
  } catch {
    return null;
  }
  if (
    typeof h.writer !== 'string' ||
    typeof h.seq !== 'number' ||
    typeof h.writtenAt !== 'string' ||
    Number.isNaN(Date.parse(h.writtenAt)) ||
    typeof h.walLsn !== 'string' ||
    typeof h.xactCommit !== 'number' ||
    typeof h.rowsChanged !== 'number'
  ) {
    return null;
  }
  return h as Heartbeat;
}

/** A DynamoDB item (attribute values) of the lock table holding a database's last acknowledged heartbeat. */
export type HeartbeatItem = Record<string, { S: string }>;

/**
 * The lock-table item of `database`'s last acknowledged heartbeat: partition key `lockId =
 * heartbeat#<database>`, attribute `heartbeat` the Heartbeat as JSON (what the failover workflow's
 * GetLastHeartbeat reads for its estimate), `writtenAt` apart for the write's condition.
 */
export function heartbeatToItem(database: string, heartbeat: Heartbeat, recordedAt: Date): HeartbeatItem {
  return {
    lockId: { S: heartbeatStateKey(database) },
    kind: { S: 'heartbeat' },
    heartbeat: { S: JSON.stringify(heartbeat) },
    writtenAt: { S: heartbeat.writtenAt },
    recordedAt: { S: recordedAt.toISOString() },
  };
}

/** The heartbeat of a lock-table item written by `heartbeatToItem`; null when it is not one. */
export function heartbeatFromItem(item: Record<string, unknown> | undefined | null): Heartbeat | null {
  return parseStoredHeartbeat((item?.heartbeat as { S?: string } | undefined)?.S);
}

/**
 * The canary's last acknowledged heartbeat as it keeps it in the DR region's lock table (item
 * `heartbeat#<database>`, attribute `heartbeat`: the Heartbeat as JSON), from a DynamoDB GetItem
 * result. Null when there is none or it cannot be read.
 */
export function heartbeatFromGetItem(getItemResult: unknown): Heartbeat | null {
  return heartbeatFromItem((getItemResult as { Item?: Record<string, unknown> } | null)?.Item);
}
