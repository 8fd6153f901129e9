import { InvokeCommand } from '@aws-sdk/client-lambda';
import { ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import { ARTIFACT_PREFIX, Catalog, manifestKey, segment } from '#core/catalog/catalog.ts';
import { errorMessage, InvalidArgument } from '#core/shared/errors.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { bool, parse, required, str, type Syntax } from '../../args.ts';
import { executionName, startExecution } from '../../aws/workflows.ts';
import {
  databaseOf,
  type DeployedDatabase,
  dumpTargetParameter,
  resolveEnvironment,
  snapshotTargetParameter,
} from '../../env.ts';
import { bytes, duration } from '../../format.ts';
import { backupProgressText, type PreviousBackup, previousBackup } from '../../progress.ts';
import { slotOf, snapshotBackup } from '../deployed-snapshot.ts';
import { withInterrupt } from '../shared.ts';
import {
  type DeployedClients,
  defaultDeployedClients,
  followWorkflow,
  invoke,
  invokeError,
  type InvokeOutcome,
  isRefusal,
  isStateMachine,
  LostAnswer,
  requireDumps,
  targetArn,
} from './shared.ts';

/** `lifeboat backup --env`: a dump (its function or Fargate workflow) or a snapshot, started and followed. */

/**
 * While the deployed dump runs: the bytes its multipart upload has stored so far (S3's parts of
 * the newest upload under the database's artifacts started since the call), the rate, and an ETA
 * from the previous dump in the catalog. Where the listing is refused or there is no upload yet
 * (small dumps are one PutObject), the elapsed time as before. Never fails the command.
 */
export function dumpProgress(o: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly database: string;
  readonly since: Date;
  /** Read while the dump starts: the catalog of a database with years of backups takes a while. */
  readonly previous: Promise<PreviousBackup | null>;
  readonly out: NodeJS.WritableStream;
  readonly now?: () => Date;
}): { tick: (elapsedMs: number) => Promise<void>; stop: () => void } {
  const now = o.now ?? (() => new Date());
  let busy = false;
  let told = false;
  let stopped = false;
  let refused: string | null = null;
  // A reading still under way when the dump ends prints nothing after the outcome.
  const write = (text: string) => {
    if (!stopped) o.out.write(text);
  };
  const tick = async (elapsedMs: number) => {
    if (busy) return;
    busy = true;
    try {
      const previous = await o.previous;
      if (previous && !told) {
        told = true;
        write(
          `  (ETA from the previous dump, ${previous.id}: ${bytes(previous.bytes)} in ${duration(previous.durationMs)})\n`,
        );
      }
      const stored = refused === null ? await storedSoFar(o) : null;
      if (stored) {
        const ms = Math.max(1, now().getTime() - stored.initiated.getTime());
        write(`  … dump: ${backupProgressText(stored.bytes, ms, previous)}\n`);
        return;
      }
    } catch (err) {
      refused = errorMessage(err);
      write(`  (the upload's progress cannot be read: ${refused})\n`);
    } finally {
      busy = false;
    }
    write(`  … dump still running (${duration(elapsedMs)})\n`);
  };
  return { tick, stop: () => (stopped = true) };
}

async function storedSoFar(o: {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly database: string;
  readonly since: Date;
}): Promise<{ bytes: number; initiated: Date } | null> {
  const uploads = await o.s3.send(
    new ListMultipartUploadsCommand({
      Bucket: o.bucket,
      Prefix: `${ARTIFACT_PREFIX}${segment(o.database)}/`,
    }),
  );
  // A minute before the call: the function's clock and this one differ a little.
  const newest = (uploads.Uploads ?? [])
    .filter((u) => u.Key && u.UploadId && u.Initiated && u.Initiated.getTime() >= o.since.getTime() - 60_000)
    .sort((a, b) => b.Initiated!.getTime() - a.Initiated!.getTime())[0];
  if (!newest) return null;
  let bytes = 0;
  let marker: string | undefined;
  // 10,000 parts at most (S3's limit): 10 pages of 1,000.
  for (let page = 0; page < 10; page++) {
    const parts = await o.s3.send(
      new ListPartsCommand({
        Bucket: o.bucket,
        Key: newest.Key,
        UploadId: newest.UploadId,
        PartNumberMarker: marker,
      }),
    );
    for (const p of parts.Parts ?? []) bytes += p.Size ?? 0;
    if (!parts.IsTruncated || !parts.NextPartNumberMarker) break;
    marker = parts.NextPartNumberMarker;
  }
  return { bytes, initiated: newest.Initiated! };
}

const BACKUP_USAGE =
  'lifeboat backup --env NAME --database NAME [--kind dump|snapshot] [--wait] [--slot TIME] [--json]';

export const backupEnvHelp = `Takes a backup of a database of a deployed environment now (e.g. before a risky migration),
with what the schedules use, in the primary region. Nothing is dumped from this machine.

usage: ${BACKUP_USAGE}

  --kind dump      (default) the database's deployed logical dump: its logical-dump function, or
                   the Fargate dump workflow of a large database
  --kind snapshot  an RDS/Aurora snapshot through the deployed take-snapshot function, named after
                   its slot (--slot, default: this minute); copy-snapshot copies it to the DR region
  --wait           follow the backup to its end: a dump until it is cataloged; a snapshot until it
                   is available, copied to the DR region and cataloged there, with RDS's progress.
                   Without it the backup is started (a dump as the schedule starts it) and the
                   command prints how to follow it
  --slot TIME      the snapshot's slot (UTC, to the minute): the same slot names the same snapshot,
                   so the command printed to follow a snapshot takes no second one
  --json           print the outcome as JSON

A lost answer never starts a second backup blindly: for a snapshot RDS is asked whether the
slot's snapshot exists before invoking again; for a dump the catalog says what started.

exit status: 0 the backup is complete (or started, without --wait), 1 it failed, 2 it could not be
started or its outcome is unknown`;

export const backupEnvSyntax = {
  usage: BACKUP_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    kind: { type: 'string' },
    wait: { type: 'boolean' },
    slot: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function backupEnvCommand(
  argv: string[],
  clients: DeployedClients = defaultDeployedClients,
  out: NodeJS.WritableStream = process.stdout,
  now: () => Date = () => new Date(),
): Promise<number> {
  const p = parse(BACKUP_USAGE, argv, backupEnvSyntax.options);
  const env = resolveEnvironment(required(p, 'env', BACKUP_USAGE));
  const db = databaseOf(env, required(p, 'database', BACKUP_USAGE));
  const kind = str(p, 'kind') ?? 'dump';
  if (kind !== 'dump' && kind !== 'snapshot') {
    throw new InvalidArgument(`--kind expects dump or snapshot, got "${kind}"\nusage: ${BACKUP_USAGE}`);
  }
  const json = bool(p, 'json');
  const wait = bool(p, 'wait');
  const region = env.regions.primary;
  if (kind === 'snapshot') {
    const slot = slotOf(str(p, 'slot'), now());
    const arn = await targetArn(clients.ssm(region), snapshotTargetParameter(env), env, 'take-snapshot');
    const { code } = await withInterrupt((signal) =>
      snapshotBackup({ env, db, slot, wait, json, arn, clients, out, signal, now }),
    );
    return code;
  }
  if (str(p, 'slot') !== undefined) {
    throw new InvalidArgument('--slot names a snapshot: it goes with --kind snapshot');
  }
  requireDumps(env, db);
  const arn = await targetArn(
    clients.ssm(region),
    dumpTargetParameter(env, db.name),
    env,
    `the dump of "${db.name}"`,
  );
  const listCommand = `lifeboat list --env ${env.name} --database ${db.name}`;
  if (isStateMachine(arn)) {
    if (!wait) {
      const sfn = clients.sfn(region);
      const name = executionName(`dump-${db.name}`, now());
      const executionArn = await startExecution(sfn, arn, name, {});
      if (json)
        out.write(
          `${JSON.stringify({ database: db.name, region, outcome: 'started', executionArn }, null, 2)}\n`,
        );
      else
        out.write(
          `started the Fargate dump of "${db.name}" in ${region}: ${executionArn}\n` +
            `${listCommand} shows it once cataloged; aws stepfunctions describe-execution --execution-arn ${executionArn} --region ${region} says where it is\n`,
        );
      return 0;
    }
    const result = await followWorkflow(clients, region, arn, `dump-${db.name}`, json, out);
    const ok = result.status === 'SUCCEEDED';
    if (json) out.write(`${JSON.stringify({ database: db.name, region, ...result }, null, 2)}\n`);
    else
      out.write(
        ok
          ? `backup of "${db.name}" complete (${listCommand} shows it)\n`
          : `backup of "${db.name}" ${result.status}: ${result.error ?? ''} ${result.cause ?? ''}\n`,
      );
    return ok ? 0 : 1;
  }
  const repository = new S3Repository({
    client: clients.s3(region),
    bucket: env.buckets.primary,
    prefix: '',
  });
  const invokedAt = now();
  if (!wait) {
    if (!json) out.write(`starting the dump of "${db.name}" with ${arn.split(':')[6]} in ${region}\n`);
    let requestId: string | undefined;
    try {
      const started = await clients.lambda(region).send(
        new InvokeCommand({
          FunctionName: arn,
          InvocationType: 'Event',
          Payload: new TextEncoder().encode(JSON.stringify(db.dumpEvent)),
        }),
      );
      requestId = started.$metadata.requestId;
    } catch (err) {
      if (isRefusal(err)) throw invokeError(arn, err);
      return lostDumpAnswer(err, { db, region, repository, invokedAt, json, out, listCommand, wait: false });
    }
    if (json)
      out.write(
        `${JSON.stringify({ database: db.name, region, outcome: 'started', requestId: requestId ?? null }, null, 2)}\n`,
      );
    else
      out.write(
        `started, as the schedule starts it${requestId ? ` (request ${requestId}; its catalog record names runner lambda:${requestId})` : ''}\n` +
          `${listCommand} shows it once cataloged, in-progress until then\n`,
      );
    return 0;
  }
  const previous = json ? null : previousBackup(repository, db.name);
  if (!json) out.write(`dumping "${db.name}" with ${arn.split(':')[6]} in ${region}\n`);
  let outcome: InvokeOutcome;
  const watch = !previous
    ? null
    : dumpProgress({
        s3: clients.s3(region),
        bucket: env.buckets.primary,
        database: db.name,
        since: invokedAt,
        previous,
        out,
        now,
      });
  try {
    outcome = await invoke(
      clients.lambda(region),
      arn,
      db.dumpEvent,
      watch?.tick ?? null,
      clients.tickMs ?? 30_000,
    );
  } catch (err) {
    const cause = (err as Error).cause;
    watch?.stop();
    if (!(err instanceof LostAnswer)) throw err;
    return lostDumpAnswer(cause, { db, region, repository, invokedAt, json, out, listCommand, wait: true });
  }
  watch?.stop();
  const r = (outcome.result ?? {}) as {
    manifest?: { id?: string; bytes?: number; startedAt?: string; finishedAt?: string };
  };
  // --wait follows the dump to its catalog entry: the manifest the function wrote, read back.
  const id = outcome.ok ? r.manifest?.id : undefined;
  let cataloged: boolean | null;
  let readBack: string | null = null;
  try {
    cataloged = id ? (await repository.size(manifestKey(db.name, id))) !== null : false;
  } catch (err) {
    cataloged = null;
    readBack = errorMessage(err);
  }
  const ok = outcome.ok && cataloged === true;
  if (cataloged === null) {
    // The dump says it is done; only reading its entry back failed: the outcome is not known here.
    const text = `backup ${id ?? '?'} of "${db.name}" finished, but its catalog entry could not be read back (${readBack}); ${listCommand} shows it`;
    out.write(
      json
        ? `${JSON.stringify({ database: db.name, region, ...outcome, cataloged, readBack }, null, 2)}\n`
        : `${text}\n`,
    );
    return 2;
  }
  if (json) {
    out.write(`${JSON.stringify({ database: db.name, region, ...outcome, cataloged }, null, 2)}\n`);
  } else if (ok) {
    const m = r.manifest ?? {};
    const ms = m.startedAt && m.finishedAt ? Date.parse(m.finishedAt) - Date.parse(m.startedAt) : null;
    out.write(
      `backup ${m.id ?? '?'} of "${db.name}": ${bytes(m.bytes ?? null)} in ${duration(ms)}, cataloged (${listCommand})\n`,
    );
  } else if (outcome.ok) {
    out.write(
      `backup ${id ?? '?'} of "${db.name}" FAILED: the function answered, but ${manifestKey(db.name, id ?? '?')} is not in ${env.buckets.primary}\n`,
    );
  } else {
    out.write(`backup of "${db.name}" FAILED: ${outcome.error}\n`);
  }
  return ok ? 0 : 1;
}

/**
 * The answer of the dump's invocation was lost: the dump may be running, done, or never started.
 * Invoking again could start a second dump, so the catalog is asked what started since.
 */
async function lostDumpAnswer(
  err: unknown,
  o: {
    db: DeployedDatabase;
    region: string;
    repository: S3Repository;
    invokedAt: Date;
    json: boolean;
    out: NodeJS.WritableStream;
    listCommand: string;
    wait: boolean;
  },
): Promise<number> {
  const lost = `the answer of the dump's invocation was lost (${(err as Error | undefined)?.name ?? 'Error'}: ${errorMessage(err)}); not invoked again, which could start a second dump`;
  // A minute before the call: the function's clock and this one differ a little.
  const since = new Date(o.invokedAt.getTime() - 60_000).toISOString();
  let found: Array<{ id: string; state: string; startedAt: string }> | null = null;
  let catalogError: string | null = null;
  try {
    found = (await new Catalog(o.repository).list({ database: o.db.name }))
      .filter((b) => b.kind === 'logical-dump' && b.startedAt >= since)
      .map((b) => ({ id: b.id, state: b.state, startedAt: b.startedAt }));
  } catch (catalogErr) {
    catalogError = errorMessage(catalogErr);
  }
  const known =
    found === null
      ? `the catalog could not be read (${catalogError}): whether a dump started is unknown`
      : found.length === 0
        ? `the catalog has no dump of "${o.db.name}" started since ${since}: none has started yet, or it is about to`
        : `the catalog has, since ${since}: ${found.map((b) => `${b.id} (${b.state})`).join(', ')}`;
  const completed = found?.length === 1 && found[0]!.state === 'completed';
  if (o.json) {
    o.out.write(
      `${JSON.stringify({ database: o.db.name, region: o.region, outcome: completed ? 'complete' : 'unknown', lost, found, catalogError }, null, 2)}\n`,
    );
  } else {
    o.out.write(`${lost}\n${known}\nsee where it is with ${o.listCommand}\n`);
  }
  return completed ? 0 : found?.length === 1 && found[0]!.state === 'failed' ? 1 : 2;
}
