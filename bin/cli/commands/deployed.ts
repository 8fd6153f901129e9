import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { ListMultipartUploadsCommand, ListPartsCommand, S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ARTIFACT_PREFIX, Catalog, type CheckResult, manifestKey, segment } from '#core/catalog/catalog.ts';
import { errorMessage, InvalidArgument, LifeboatError } from '#core/shared/errors.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { ARCHIVE_USAGE, archiveHelp, archiveOptions, archivePreflight } from '../archived.ts';
import { bool, parse, required, str, type Syntax } from '../args.ts';
import { checkLine } from '../checklist.ts';
import { executionName, type FollowResult, followExecution, startExecution } from '../aws/workflows.ts';
import {
  databaseOf,
  type DeployedDatabase,
  type DeployedEnvironment,
  dumpTargetParameter,
  resolveEnvironment,
  snapshotTargetParameter,
  verifyTargetParameter,
} from '../env.ts';
import { slotOf, snapshotBackup } from './deployed-snapshot.ts';
import { bytes, duration } from '../format.ts';
import { backupProgressText, type PreviousBackup, previousBackup } from '../progress.ts';
import { type AwsClients, defaultClients } from './aws.ts';
import { withInterrupt } from './shared.ts';

/**
 * On-demand operations on a deployed environment: `lifeboat backup|verify --env E --database D`
 * start what the schedules start (the database's logical-dump function, or its Fargate workflow
 * for a `large` database; the verify-backup function or the Fargate verification workflow), found
 * by name in SSM, and follow it to its end. Nothing runs on the operator's machine.
 */

export interface DeployedClients extends AwsClients {
  lambda(region: string): LambdaClient;
  /** RDS, to follow a snapshot and its DR copy (`backup --kind snapshot --wait`). */
  rds(region: string): RDSClient;
  /** Between reads of a snapshot's progress. @default 15000 */
  readonly rdsPollMs?: number;
  /** The environment's bucket, for --request-restore of an archived dump. */
  s3(region: string): S3Client;
  /** Between progress lines while a function runs. @default 30000 */
  readonly tickMs?: number;
}

export const defaultDeployedClients: DeployedClients = {
  ...defaultClients,
  // A synchronous invocation lasts as long as the function (up to 15 minutes): no earlier timeout.
  s3: (region) => new S3Client({ region, maxAttempts: 3 }),
  rds: (region) => new RDSClient({ region, maxAttempts: 5 }),
  lambda: (region) =>
    new LambdaClient({ region, maxAttempts: 1, requestHandler: { requestTimeout: 16 * 60_000 } }),
};

export class TargetNotDeployed extends LifeboatError {
  override readonly name = 'TargetNotDeployed';
}

/** The ARN an SSM parameter of the stacks holds, or a clear error saying what to deploy. */
async function targetArn(
  ssm: SSMClient,
  name: string,
  env: DeployedEnvironment,
  what: string,
): Promise<string> {
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    if (!out.Parameter?.Value) throw new TargetNotDeployed(`SSM parameter ${name} is empty`);
    return out.Parameter.Value;
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    const e = err as { name?: string; message?: string };
    if (e.name === 'ParameterNotFound') {
      throw new TargetNotDeployed(
        `${what} of environment "${env.name}" is not deployed in ${env.regions.primary} (no SSM parameter ${name}); deploy it with npx cdk deploy -c env=${env.name} --all`,
        { cause: err },
      );
    }
    throw new LifeboatError(`reading SSM parameter ${name} failed: ${e.name}: ${e.message}`, { cause: err });
  }
}

/** The call was sent and no answer came back (network, timeout, 5xx): what it did is unknown. */
export class LostAnswer extends LifeboatError {
  override readonly name = 'LostAnswer';
}

/** Lambda said no (4xx, throttling included): the function did not run. */
function isRefusal(err: unknown): boolean {
  const e = err as { $fault?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return e.$fault === 'client' || (status !== undefined && status >= 400 && status < 500);
}

function invokeError(arn: string, err: unknown): LifeboatError {
  const e = err as { name?: string; message?: string };
  if (e.name === 'TooManyRequestsException') {
    return new LifeboatError(
      `${arn.split(':')[6]} is busy: one run at a time per database (a scheduled run is probably under way); try again when it ends`,
      { cause: err },
    );
  }
  return new LifeboatError(`invoking ${arn} failed: ${e.name}: ${e.message}`, { cause: err });
}

function isStateMachine(arn: string): boolean {
  return arn.split(':')[5] === 'stateMachine';
}

interface InvokeOutcome {
  readonly ok: boolean;
  readonly result: unknown;
  readonly error: string | null;
}

/**
 * Invokes a function synchronously and waits for its answer, printing a line every `tickMs` so a
 * person sees it is alive. A function error (the handler threw) is an outcome, not an exception.
 */
async function invoke(
  lambda: LambdaClient,
  arn: string,
  payload: unknown,
  progress: ((elapsedMs: number) => unknown) | null,
  tickMs: number,
): Promise<InvokeOutcome> {
  const started = Date.now();
  const timer = progress ? setInterval(() => progress(Date.now() - started), tickMs) : null;
  try {
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: arn,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : 'null';
    const body = JSON.parse(text) as unknown;
    if (out.FunctionError) {
      const e = body as { errorType?: string; errorMessage?: string } | null;
      return {
        ok: false,
        result: body,
        error: `${e?.errorType ?? out.FunctionError}: ${e?.errorMessage ?? text}`,
      };
    }
    return { ok: true, result: body, error: null };
  } catch (err) {
    if (isRefusal(err)) throw invokeError(arn, err);
    throw new LostAnswer(`invoking ${arn}: no answer`, { cause: err });
  } finally {
    if (timer) clearInterval(timer);
  }
}

async function followWorkflow(
  clients: DeployedClients,
  region: string,
  arn: string,
  prefix: string,
  json: boolean,
  out: NodeJS.WritableStream,
): Promise<FollowResult & { executionArn: string }> {
  const sfn = clients.sfn(region);
  const name = executionName(prefix);
  const executionArn = await startExecution(sfn, arn, name, {});
  if (!json) out.write(`started ${name} in ${region}\n  ${executionArn}\n`);
  const result = await withInterrupt((signal) =>
    followExecution(
      sfn,
      executionArn,
      json
        ? () => undefined
        : (p) =>
            out.write(`${p.at.toISOString().slice(11, 19)}  ${p.kind === 'failed' ? '✗' : '▶'} ${p.text}\n`),
      { signal, pollMs: clients.pollMs },
    ),
  );
  return { ...result, executionArn };
}

function elapsed(out: NodeJS.WritableStream, what: string) {
  return (ms: number) => out.write(`  … ${what} still running (${duration(ms)})\n`);
}

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

function requireDumps(env: DeployedEnvironment, db: DeployedDatabase): void {
  if (!db.dumps) {
    throw new InvalidArgument(
      `"${db.name}" of environment "${env.name}" takes no logical dumps (its policy has no dump schedule): it is protected by snapshots only`,
    );
  }
}

const VERIFY_USAGE = `lifeboat verify --env NAME --database NAME [ID|latest] ${ARCHIVE_USAGE} [--json]`;

export const verifyEnvHelp = `Verifies a logical dump of a deployed environment now: starts the deployed verification (the
verify-backup function, or the Fargate verification workflow of a large database, which verifies
the newest dump) in the primary region, follows it, and prints each check. The outcome is
recorded in the catalog as a scheduled verification is. For a dump in an archive tier, first
--request-restore (with your credentials, on the primary region's bucket).

usage: ${VERIFY_USAGE}

${archiveHelp}

exit status: 0 all checks passed, 1 a check failed, 2 an error prevented checking`;

export const verifyEnvSyntax = {
  usage: VERIFY_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    json: { type: 'boolean' },
    ...archiveOptions,
  },
  positionals: 1,
} satisfies Syntax;

export async function verifyEnvCommand(
  argv: string[],
  clients: DeployedClients = defaultDeployedClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(VERIFY_USAGE, argv, verifyEnvSyntax.options, 1);
  const env = resolveEnvironment(required(p, 'env', VERIFY_USAGE));
  const db = databaseOf(env, required(p, 'database', VERIFY_USAGE));
  requireDumps(env, db);
  const ref = p.positionals[0] ?? 'latest';
  if (ref !== 'latest' && !/^[0-9]{8}T[0-9]{6}Z-[0-9a-z-]{1,64}$/.test(ref)) {
    throw new InvalidArgument(
      `expected a backup id such as 20261122T020000Z-ab12cd, or latest; got "${ref}"`,
    );
  }
  const json = bool(p, 'json');
  const region = env.regions.primary;
  if (bool(p, 'request-restore') || str(p, 'tier') || str(p, 'days')) {
    const repository = new S3Repository({
      client: clients.s3(region),
      bucket: env.buckets.primary,
      prefix: '',
    });
    const archived = await archivePreflight(
      p,
      repository,
      { ref, database: db.name },
      { name: 'verify', argv },
      out,
    );
    if (archived !== null) return archived;
  }
  const arn = await targetArn(
    clients.ssm(region),
    verifyTargetParameter(env, db.name),
    env,
    `verification of "${db.name}"`,
  );
  if (isStateMachine(arn)) {
    if (ref !== 'latest') {
      throw new InvalidArgument(
        `"${db.name}" is verified as a Fargate task, which verifies the newest dump only: pass latest, or verify ${ref} locally with lifeboat verify ${ref} --repo s3://${env.buckets.primary} --database ${db.name}`,
      );
    }
    const result = await followWorkflow(clients, region, arn, `verify-${db.name}`, json, out);
    const ok = result.status === 'SUCCEEDED';
    if (json) out.write(`${JSON.stringify({ database: db.name, region, ...result }, null, 2)}\n`);
    else
      out.write(
        ok
          ? `verified: the newest dump of "${db.name}" (lifeboat list --env ${env.name} --database ${db.name})\n`
          : `verification of "${db.name}" ${result.status}: ${result.error ?? ''} ${result.cause ?? ''}\n`,
      );
    // The task exits 1 when a check failed and 2 when it could not check; both fail the workflow.
    return ok ? 0 : 1;
  }
  if (!json) out.write(`verifying ${ref} of "${db.name}" with ${arn.split(':')[6]} in ${region}\n`);
  const outcome = await invoke(
    clients.lambda(region),
    arn,
    { database: db.name, backupId: ref },
    json ? null : elapsed(out, 'verification'),
    clients.tickMs ?? 30_000,
  );
  if (json) {
    out.write(`${JSON.stringify({ database: db.name, region, ...outcome }, null, 2)}\n`);
    return outcome.ok ? ((outcome.result as { passed?: boolean }).passed ? 0 : 1) : 2;
  }
  if (!outcome.ok) {
    out.write(`could not verify ${ref} of "${db.name}": ${outcome.error}\n`);
    return 2;
  }
  const r = outcome.result as {
    backupId: string;
    passed: boolean;
    checks: CheckResult[];
    totalDurationMs: number;
  };
  for (const c of r.checks) out.write(`${checkLine(c)}\n`);
  const failed = r.checks.filter((c) => !c.passed).length;
  out.write(
    r.passed
      ? `verified: backup ${r.backupId} of "${db.name}" — all ${r.checks.length} checks passed in ${duration(r.totalDurationMs)}\n`
      : `FAILED: backup ${r.backupId} of "${db.name}" — ${failed} of ${r.checks.length} checks failed\n`,
  );
  return r.passed ? 0 : 1;
}

/** `--env` selects the deployed environment; otherwise the command works on a repository. */
export function isEnvInvocation(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--env' || a.startsWith('--env='));
}
