import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { RDSClient } from '@aws-sdk/client-rds';
import { manifestKey } from '#core/catalog/catalog.ts';
import { errorMessage, InvalidArgument, LifeboatError } from '#core/shared/errors.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { describeSnapshot, type RdsSnapshot } from '#core/snapshots/rds.ts';
import {
  scheduleSlot,
  snapshotBackupId,
  snapshotIdentifier,
  slotTag,
} from '#core/snapshots/snapshot-naming.ts';
import type { TakeSnapshotResult } from '#core/snapshots/take-snapshot.ts';
import type { DeployedDatabase, DeployedEnvironment } from '../env.ts';
import { duration } from '../format.ts';
import type { DeployedClients } from './deployed/shared.ts';

/**
 * `lifeboat backup --env E --database D --kind snapshot`: the deployed take-snapshot function is
 * invoked with the database's scheduled event for one slot (the current minute unless --slot),
 * exactly as the schedule would. The slot names the snapshot, so invoking again for the same slot
 * finds the snapshot instead of taking a second one: an answer lost on the way back is settled by
 * asking RDS, then by invoking again, never by guessing. With --wait the snapshot is followed until
 * it is available, then its copy in the DR region (started by copy-snapshot from the snapshot
 * event's queue) until it is available and cataloged.
 */

/** Attempts at invoking take-snapshot when its answer is lost (throttled, 5xx, no answer). */
export const INVOKE_ATTEMPTS = 4;
/** Polls in a row that may fail (throttled, 5xx) before following gives up. */
export const POLL_FAILURES = 5;

export interface SnapshotOutcome {
  readonly database: string;
  readonly kind: 'snapshot';
  readonly slot: string;
  readonly snapshotIdentifier: string;
  readonly backupId: string;
  readonly copyBackupId: string;
  readonly regions: { readonly primary: string; readonly dr: string };
  /** started: taken or found, not followed; complete: available and copied and cataloged; failed. */
  readonly outcome: 'started' | 'complete' | 'failed';
  readonly created: boolean | null;
  readonly status: string | null;
  readonly copyStatus: string | null;
  readonly cataloged: boolean;
  readonly error: string | null;
  readonly notes: string[];
  readonly follow: string;
}

/** The slot of `--slot` (a time, to the minute) or of now. */
export function slotOf(value: string | undefined, now: Date): Date {
  if (value === undefined) return scheduleSlot(now.toISOString());
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z$/.test(value)) {
    throw new InvalidArgument(`--slot expects a UTC time such as 2026-12-01T22:50:00Z, got "${value}"`);
  }
  const slot = scheduleSlot(value);
  // A snapshot taken now under a later slot's name would stand in for that slot's scheduled one.
  if (slot.getTime() > now.getTime()) {
    throw new InvalidArgument(
      `--slot ${value} is in the future: a slot names a snapshot taken at that time (now: ${now.toISOString()})`,
    );
  }
  return slot;
}

interface Printer {
  line(text: string): void;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new LifeboatError('interrupted'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new LifeboatError('interrupted'));
      },
      { once: true },
    );
  });
}

/** A refusal that says the call did nothing (4xx other than throttling): invoking again would not help. */
function isRefusal(err: unknown): boolean {
  const e = err as { name?: string; $fault?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'TooManyRequestsException' || e.name === 'ThrottlingException' || status === 429)
    return false;
  return e.$fault === 'client' || (status !== undefined && status >= 400 && status < 500);
}

type Started =
  | { readonly ok: true; readonly created: boolean | null; readonly status: string }
  | { readonly ok: false; readonly error: string };

/**
 * Invokes take-snapshot for the slot until it answers. After a lost answer RDS is asked whether
 * the snapshot exists (then it is ours, taken by the lost call); if not, invoking again is safe.
 */
async function start(
  lambda: LambdaClient,
  rds: RDSClient,
  arn: string,
  event: Record<string, string>,
  db: DeployedDatabase,
  identifier: string,
  o: { readonly print: Printer; readonly notes: string[]; readonly backoffMs: number; signal?: AbortSignal },
): Promise<Started> {
  for (let attempt = 1; ; attempt++) {
    try {
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: arn,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify(event)),
        }),
      );
      const text = out.Payload ? new TextDecoder().decode(out.Payload) : 'null';
      const body = JSON.parse(text) as unknown;
      if (out.FunctionError) {
        const e = body as { errorType?: string; errorMessage?: string } | null;
        return { ok: false, error: `${e?.errorType ?? out.FunctionError}: ${e?.errorMessage ?? text}` };
      }
      const r = body as Partial<TakeSnapshotResult> | null;
      if (r?.snapshotIdentifier !== identifier) {
        return {
          ok: false,
          error: `take-snapshot answered for snapshot ${String(r?.snapshotIdentifier)}, not ${identifier}: is the deployed function of another version?`,
        };
      }
      return { ok: true, created: r.created ?? null, status: r.status ?? 'unknown' };
    } catch (err) {
      if (isRefusal(err)) {
        const e = err as { name?: string; message?: string };
        throw new LifeboatError(`invoking ${arn} was refused: ${e.name}: ${e.message}`, { cause: err });
      }
      const lost = `the answer of take-snapshot was lost (${(err as Error).name}: ${errorMessage(err)})`;
      let found: RdsSnapshot | null | undefined;
      try {
        found = await describeSnapshot(rds, db.kind, identifier);
      } catch (describeErr) {
        o.notes.push(
          `${lost}; RDS could not say whether ${identifier} exists (${errorMessage(describeErr)})`,
        );
        o.print.line(`  ${o.notes.at(-1)}`);
      }
      if (found) {
        o.notes.push(`${lost}; RDS has snapshot ${identifier} (${found.status}): it was taken`);
        o.print.line(`  ${o.notes.at(-1)}`);
        return { ok: true, created: null, status: found.status };
      }
      if (found === null) {
        o.notes.push(`${lost}; RDS has no snapshot ${identifier}: nothing was taken`);
        o.print.line(`  ${o.notes.at(-1)}`);
      }
      if (attempt >= INVOKE_ATTEMPTS) {
        return {
          ok: false,
          error: `take-snapshot did not answer ${INVOKE_ATTEMPTS} times; ${found === null ? `no snapshot ${identifier} exists` : `whether snapshot ${identifier} exists is unknown`}. Running the same command again (with its --slot) is safe: it cannot take a second snapshot`,
        };
      }
      o.print.line(
        `  invoking again for the same slot (it names the same snapshot, so this cannot take a second one)`,
      );
      await sleep(o.backoffMs * 2 ** (attempt - 1), o.signal);
    }
  }
}

/** Polls `describe` until `done` says so; a poll that fails is retried up to POLL_FAILURES times in a row. */
async function poll<T>(
  describe: () => Promise<T>,
  step: (value: T) => 'wait' | 'done' | { failed: string },
  o: { readonly pollMs: number; readonly print: Printer; readonly what: string; signal?: AbortSignal },
): Promise<{ value: T } | { failed: string }> {
  let failures = 0;
  for (;;) {
    let value: T;
    try {
      value = await describe();
      failures = 0;
    } catch (err) {
      failures++;
      if (failures >= POLL_FAILURES) {
        return {
          failed: `${o.what}: ${POLL_FAILURES} reads in a row failed, the last: ${errorMessage(err)}`,
        };
      }
      o.print.line(`  reading ${o.what} failed (${errorMessage(err)}); trying again`);
      await sleep(o.pollMs, o.signal);
      continue;
    }
    const next = step(value);
    if (next === 'done') return { value };
    if (next !== 'wait') return next;
    await sleep(o.pollMs, o.signal);
  }
}

function progressText(s: RdsSnapshot): string {
  return s.percentProgress === null || s.percentProgress === undefined
    ? s.status
    : `${s.status} ${s.percentProgress} %`;
}

export async function snapshotBackup(o: {
  readonly env: DeployedEnvironment;
  readonly db: DeployedDatabase;
  readonly slot: Date;
  readonly wait: boolean;
  readonly json: boolean;
  readonly arn: string;
  readonly clients: DeployedClients;
  readonly out: NodeJS.WritableStream;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
}): Promise<{ code: number; outcome: SnapshotOutcome }> {
  const { env, db, slot, clients } = o;
  const now = o.now ?? (() => new Date());
  const primary = env.regions.primary;
  const dr = env.regions.dr;
  const identifier = snapshotIdentifier(db.identifier, slot, db.kind);
  const notes: string[] = [];
  const print: Printer = {
    line: (text) => {
      if (!o.json) o.out.write(`${text}\n`);
    },
  };
  const stamp = () => now().toISOString().slice(11, 19);
  const follow = `lifeboat backup --env ${env.name} --database ${db.name} --kind snapshot --slot ${slotTag(slot)} --wait`;
  const result = (
    outcome: SnapshotOutcome['outcome'],
    fields: Partial<SnapshotOutcome>,
  ): { code: number; outcome: SnapshotOutcome } => {
    const value: SnapshotOutcome = {
      database: db.name,
      kind: 'snapshot',
      slot: slotTag(slot),
      snapshotIdentifier: identifier,
      backupId: snapshotBackupId(slot, primary),
      copyBackupId: snapshotBackupId(slot, dr),
      regions: { primary, dr },
      outcome,
      created: null,
      status: null,
      copyStatus: null,
      cataloged: false,
      error: null,
      notes,
      follow,
      ...fields,
    };
    if (o.json) o.out.write(`${JSON.stringify(value, null, 2)}\n`);
    return { code: outcome === 'failed' ? 1 : 0, outcome: value };
  };

  print.line(
    `snapshot ${identifier} of "${db.name}" (${db.kind} ${db.identifier}) in ${primary}, slot ${slotTag(slot)}`,
  );
  const rdsPrimary = clients.rds(primary);
  const started = await start(
    clients.lambda(primary),
    rdsPrimary,
    o.arn,
    db.snapshotEvent(slot),
    db,
    identifier,
    {
      print,
      notes,
      backoffMs: clients.pollMs ?? 2000,
      ...(o.signal ? { signal: o.signal } : {}),
    },
  );
  if (!started.ok) {
    print.line(`snapshot of "${db.name}" FAILED: ${started.error}`);
    return result('failed', { error: started.error });
  }
  const { created, status } = started;
  if (status === 'failed') {
    const error = `snapshot ${identifier} failed in RDS; its name stays taken: pass another --slot to take one now`;
    print.line(`snapshot of "${db.name}" FAILED: ${error}`);
    return result('failed', { created, status, error });
  }
  print.line(
    `${stamp()}  ${created === false ? `already there (${status}): not taken again` : `started (${status})`}`,
  );
  if (!o.wait) {
    print.line(`follow it: ${follow}`);
    return result('started', { created, status });
  }

  const pollMs = clients.rdsPollMs ?? 15_000;
  let lastText = '';
  const source = await poll(
    () => describeSnapshot(rdsPrimary, db.kind, identifier),
    (s) => {
      if (!s) return { failed: `snapshot ${identifier} no longer exists in ${primary}` };
      const text = progressText(s);
      if (text !== lastText) print.line(`${stamp()}  ▶ snapshot ${text}`);
      lastText = text;
      if (s.status === 'available') return 'done';
      if (s.status === 'creating' || s.status === 'pending' || s.status === 'backing-up') return 'wait';
      return { failed: `snapshot ${identifier} is ${s.status} in ${primary}` };
    },
    { pollMs, print, what: `snapshot ${identifier}`, ...(o.signal ? { signal: o.signal } : {}) },
  );
  if ('failed' in source) {
    print.line(`snapshot of "${db.name}" FAILED: ${source.failed}`);
    return result('failed', { created, status: lastText, error: source.failed });
  }

  const availableAt = now().getTime();
  const boundMs = env.copyMaxWaitHours * 3600_000;
  const rdsDr = clients.rds(dr);
  let lastCopy = '';
  const copy = await poll(
    () => describeSnapshot(rdsDr, db.kind, identifier),
    (c) => {
      const text = c ? progressText(c) : 'not started yet (copy-snapshot starts it from its queue)';
      if (text !== lastCopy) print.line(`${stamp()}  ▶ copy to ${dr}: ${text}`);
      lastCopy = text;
      if (c?.status === 'available') return 'done';
      if (c && !['creating', 'copying', 'pending'].includes(c.status))
        return { failed: `the copy of ${identifier} in ${dr} is ${c.status}` };
      if (now().getTime() - availableAt > boundMs)
        return {
          failed: `no copy of ${identifier} available in ${dr} within ${env.copyMaxWaitHours} h of the snapshot (see the copy dead-letter queue)`,
        };
      return 'wait';
    },
    { pollMs, print, what: `the copy of ${identifier} in ${dr}`, ...(o.signal ? { signal: o.signal } : {}) },
  );
  if ('failed' in copy) {
    print.line(`snapshot of "${db.name}" FAILED: ${copy.failed}`);
    return result('failed', { created, status: 'available', copyStatus: lastCopy, error: copy.failed });
  }

  // copy-snapshot writes the copy's manifest when it next sees the copy available.
  const repository = new S3Repository({
    client: clients.s3(primary),
    bucket: env.buckets.primary,
    prefix: '',
  });
  const key = manifestKey(db.name, snapshotBackupId(slot, dr));
  const cataloged = await poll(
    () => repository.size(key),
    (size) => {
      if (size !== null) return 'done';
      if (now().getTime() - availableAt > boundMs)
        return {
          failed: `the copy is available but not cataloged (${key}) within ${env.copyMaxWaitHours} h`,
        };
      return 'wait';
    },
    { pollMs, print, what: `the catalog entry ${key}`, ...(o.signal ? { signal: o.signal } : {}) },
  );
  if ('failed' in cataloged) {
    print.line(`snapshot of "${db.name}" FAILED: ${cataloged.failed}`);
    return result('failed', {
      created,
      status: 'available',
      copyStatus: 'available',
      error: cataloged.failed,
    });
  }
  print.line(
    `snapshot ${identifier} of "${db.name}" complete: available in ${primary}, copied to ${dr} and cataloged (${snapshotBackupId(slot, dr)}) in ${duration(now().getTime() - availableAt)} after the snapshot`,
  );
  return result('complete', { created, status: 'available', copyStatus: 'available', cataloged: true });
}
