import type pg from 'pg';
import * as z from '../shared/zod.ts';
import { ConfigError, errorMessage, LifeboatError } from '../shared/errors.ts';
import { type Heartbeat, writeHeartbeat } from './heartbeat.ts';
import { SECRET_ARN, SECRET_ARN_EXPECTED } from '../contracts/secrets-arn.ts';

/**
 * The primary canary: the failover trigger's eyes. Every minute, from the DR region, it connects
 * to a database through its endpoint record (the name applications use), writes and reads back a
 * heartbeat (core/failover/heartbeat.ts), and says whether the primary accepted the write
 * (`PrimaryWritable` 1 or 0) and how old the last acknowledged heartbeat is (`HeartbeatAgeSeconds`).
 * The last acknowledged heartbeat is kept outside the database, in the DR region's lock table, so
 * that it can still be read, and compared with what the replica replayed, once the primary is gone.
 *
 * Only failures that mean "the primary does not take writes" count as not writable: unreachable,
 * refused, read-only, shut down, out of disk or connections, hung. A failure of the canary itself
 * (its credentials, its permissions, its own state) is thrown instead: it says nothing about the
 * primary, and a failover must never start because the canary lost its password.
 */

/**
 * Name of a database's failover trigger: the composite alarm "the primary has not accepted writes
 * for N minutes" built on the canary's metrics (lib/constructs/primary-canary.ts). The failover
 * rule matches it, and wf-alarm-start starts a failover from nothing else.
 */
export function primaryUnwritableAlarmName(environment: string, database: string): string {
  return `lifeboat-${environment}-${database}-primary-unwritable`;
}

/** The writer name of the canary's heartbeat row (`lifeboat.heartbeat.writer`). */
export const CANARY_WRITER = 'dr-canary';

/** How long one connection attempt and one statement may take before the primary counts as hung. */
export const CANARY_TIMEOUTS = { connectMs: 5_000, statementMs: 5_000 } as const;

/** The canary could not do its own job (credentials, permissions, its state): not a primary failure. */
export class CanaryFailed extends LifeboatError {
  override readonly name = 'CanaryFailed';
}

/** Where the canary of one database connects: LIFEBOAT_CANARY_TARGETS is a JSON list of these. */
export const CanaryTarget = z.strictObject({
  database: z.string().check(z.minLength(1)),
  /** The endpoint record (Route 53 name) applications connect through; the secret's host otherwise. */
  endpoint: z.optional(z.string().check(z.minLength(1))),
  /** Secrets Manager ARN, in the DR region, of credentials that may write the heartbeat. */
  secretArn: z.string().check(z.regex(SECRET_ARN, { error: SECRET_ARN_EXPECTED })),
  /** The PostgreSQL database to write the heartbeat in. @default - the secret's dbname */
  dbname: z.optional(z.string().check(z.minLength(1))),
});
export type CanaryTarget = z.infer<typeof CanaryTarget>;

export function parseCanaryTargets(json: string, where = 'LIFEBOAT_CANARY_TARGETS'): CanaryTarget[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ConfigError(`${where} is not JSON`);
  }
  const parsed = z.array(CanaryTarget).check(z.minLength(1)).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${where}: field ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

/** The canary's event (one schedule per database): `{ "database": "orders" }`. */
export const CanaryEvent = z.object({
  database: z.string().check(z.minLength(1, { error: 'expected the database name' })),
});

/** The last acknowledged heartbeat, as the canary keeps it outside the database. */
export interface HeartbeatStore {
  load(database: string): Promise<Heartbeat | null>;
  save(database: string, heartbeat: Heartbeat): Promise<void>;
}

/** Why the primary counts as not writable. */
export type UnwritableReason = 'unreachable' | 'read-only' | 'unavailable' | 'hung';

/** SQLSTATEs (and classes) that mean the server does not take writes, with what each says. */
const UNWRITABLE_SQLSTATES: ReadonlyArray<readonly [RegExp, UnwritableReason]> = [
  [/^25006$/, 'read-only'], // read_only_sql_transaction: a standby, or default_transaction_read_only
  [/^57P0[1-4]$/, 'unavailable'], // admin/crash shutdown, cannot connect now, database dropped
  [/^08/, 'unreachable'], // connection exceptions
  [/^53/, 'unavailable'], // disk full, out of memory, too many connections
  [/^58/, 'unavailable'], // system (I/O) errors
  [/^57014$/, 'hung'], // statement timeout: the primary did not commit in time
  [/^55P03$/, 'hung'], // lock not available within lock_timeout
];

const UNREACHABLE_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
];

/**
 * Whether an error seen while writing the heartbeat means the primary does not take writes
 * (and why), or null when it is the canary's own problem (credentials, permissions, a bug).
 */
export function classifyHeartbeatFailure(err: unknown): UnwritableReason | null {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  for (const [pattern, reason] of UNWRITABLE_SQLSTATES) if (pattern.test(code)) return reason;
  if (UNREACHABLE_CODES.includes(code)) return 'unreachable';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (/timeout|timed out/i.test(message)) return 'hung';
  if (
    /Connection terminated|server closed the connection|Client has encountered a connection error/i.test(
      message,
    )
  )
    return 'unreachable';
  // lifeboat's named connection errors (core/shared/pg.ts mapPgError) keep the original as cause.
  if (e?.cause && e.cause !== err) return classifyHeartbeatFailure(e.cause);
  return null;
}

/** What one canary run found. */
export interface CanaryResult {
  readonly database: string;
  /** The primary committed the heartbeat and it read back. */
  readonly writable: boolean;
  /** The heartbeat written in this run (null when the write failed). */
  readonly heartbeat: Heartbeat | null;
  /** The newest heartbeat the primary acknowledged, this run's or an earlier one (null: none yet). */
  readonly lastAcknowledged: Heartbeat | null;
  /** Seconds from the last acknowledged heartbeat to now (null: none yet). */
  readonly heartbeatAgeSeconds: number | null;
  /** Why the primary counts as not writable, with the server's or the network's words. */
  readonly failure: { readonly reason: UnwritableReason; readonly detail: string } | null;
  /** How long connecting, writing and reading back took. */
  readonly durationMs: number;
}

export interface CanaryDeps {
  /** Opens a connection through the endpoint record, with the canary's timeouts. */
  readonly connect: () => Promise<pg.ClientBase & { end(): Promise<void> }>;
  readonly store: HeartbeatStore;
  readonly now?: () => Date;
}

/**
 * One canary run for `database`: writes and reads back the heartbeat on the primary, keeps it as
 * the last acknowledged one, and reports. Throws CanaryFailed when the canary itself could not do
 * its job (its state unreadable, credentials refused, a bug): that run says nothing about the primary.
 */
export async function probePrimary(database: string, deps: CanaryDeps): Promise<CanaryResult> {
  const now = deps.now ?? (() => new Date());
  let previous: Heartbeat | null;
  try {
    previous = await deps.store.load(database);
  } catch (err) {
    throw new CanaryFailed(
      `reading the last acknowledged heartbeat of ${database} failed: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  const started = performance.now();
  let heartbeat: Heartbeat | null = null;
  let failure: CanaryResult['failure'] = null;
  let client: Awaited<ReturnType<CanaryDeps['connect']>> | undefined;
  try {
    client = await deps.connect();
    heartbeat = await writeHeartbeat(client, CANARY_WRITER);
  } catch (err) {
    const reason = classifyHeartbeatFailure(err);
    if (reason === null) {
      throw new CanaryFailed(
        `the canary of ${database} could not write its heartbeat: ${errorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
    failure = { reason, detail: errorMessage(err) };
  } finally {
    await client?.end().catch(() => undefined);
  }
  const durationMs = Math.round(performance.now() - started);
  const at = now();
  const lastAcknowledged = heartbeat ?? previous;
  const heartbeatAgeSeconds = lastAcknowledged
    ? Math.max(0, (at.getTime() - Date.parse(lastAcknowledged.writtenAt)) / 1000)
    : null;
  const result = {
    database,
    writable: heartbeat !== null,
    heartbeat,
    lastAcknowledged,
    heartbeatAgeSeconds,
    failure,
    durationMs,
  };
  if (heartbeat) {
    try {
      await deps.store.save(database, heartbeat);
    } catch (err) {
      // The primary did take the write: say so, and say that the RPO estimate lost a heartbeat.
      throw Object.assign(
        new CanaryFailed(
          `heartbeat ${heartbeat.seq} of ${database} was acknowledged but could not be kept: ${errorMessage(err)}`,
          { cause: err },
        ),
        { result },
      );
    }
  }
  return result;
}
