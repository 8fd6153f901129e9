import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { InvalidArgument } from '#core/shared/errors.ts';
import { planRestore } from '#core/restore/restore-plan.ts';
import type { WorkflowName } from '../../../lib/naming.ts';
import { bool, parse, required, str, type Syntax } from '../args.ts';
import {
  abort,
  approve,
  choosePending,
  type ExecutionRow,
  executionArnOf,
  executionName,
  type FollowResult,
  followExecution,
  listExecutions,
  type Progress,
  pendingApprovals,
  startExecution,
  workflowArn,
} from '../aws/workflows.ts';
import { type DeployedEnvironment, regionRoleOption, resolveEnvironment, workflowRegion } from '../env.ts';
import { table } from '../format.ts';
import { withInterrupt } from './shared.ts';

/** AWS clients per region; tests hand in others. */
export interface AwsClients {
  sfn(region: string): SFNClient;
  ssm(region: string): SSMClient;
  /** Between history polls while following an execution. @default 2000 */
  readonly pollMs?: number;
}

export const defaultClients: AwsClients = {
  sfn: (region) => new SFNClient({ region, maxAttempts: 5 }),
  ssm: (region) => new SSMClient({ region, maxAttempts: 5 }),
};

/** Where each workflow runs: failover and failback in the DR region (they must work when the primary is gone). */
function regionOf(env: DeployedEnvironment, workflow: WorkflowName, override?: string): string {
  return workflowRegion(env, workflow, regionRoleOption(override));
}

function printProgress(p: Progress, out: NodeJS.WritableStream, hint?: (p: Progress) => string | null): void {
  const time = p.at.toISOString().slice(11, 19);
  const mark = p.kind === 'failed' ? '✗' : p.kind === 'succeeded' ? '✓' : p.kind === 'waiting' ? '…' : '▶';
  out.write(`${time}  ${mark} ${p.text}\n`);
  const extra = hint?.(p);
  if (extra) out.write(`          ${extra}\n`);
}

function finish(result: FollowResult, json: boolean, out: NodeJS.WritableStream): number {
  if (json) {
    out.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (result.status === 'SUCCEEDED') {
    const seconds =
      result.startDate && result.stopDate
        ? (result.stopDate.getTime() - result.startDate.getTime()) / 1000
        : null;
    out.write(`succeeded${seconds === null ? '' : ` in ${seconds.toFixed(0)} s`}\n`);
    if (result.output) out.write(`${JSON.stringify(result.output, null, 2)}\n`);
  } else if (result.status === 'RUNNING') {
    out.write('still running (no longer following)\n');
  } else {
    out.write(`${result.status}: ${result.error ?? ''}${result.cause ? ` — ${result.cause}` : ''}\n`);
  }
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

/**
 * Starts a deployed workflow and, unless `--no-follow`, follows it to its end: the one path every
 * workflow command (failover, restore, failback) takes after its own checks.
 */
async function startAndFollow(
  clients: AwsClients,
  envName: string,
  workflow: WorkflowName,
  region: string,
  name: string,
  input: unknown,
  flags: { json: boolean; noFollow: boolean },
  out: NodeJS.WritableStream,
  hint?: (p: Progress) => string | null,
): Promise<number> {
  const arn = await workflowArn(clients.ssm(region), envName, workflow, region);
  const sfn = clients.sfn(region);
  const executionArn = await startExecution(sfn, arn, name, input);
  if (!flags.json) out.write(`started ${name} in ${region}\n  ${executionArn}\n`);
  if (flags.noFollow) {
    if (flags.json) out.write(`${JSON.stringify({ executionArn, name, region }, null, 2)}\n`);
    return 0;
  }
  const result = await withInterrupt((signal) =>
    followExecution(sfn, executionArn, flags.json ? () => undefined : (pr) => printProgress(pr, out, hint), {
      signal,
      pollMs: clients.pollMs,
    }),
  );
  return finish(result, flags.json, out);
}

const FAILOVER_USAGE =
  'lifeboat failover --env NAME --database NAME --reason TEXT [--mode planned|unplanned] [--force] [--dry-run] [--no-follow] [--json]';

export const failoverHelp = `Starts the failover workflow in the environment's DR region and follows it step by step.

usage: ${FAILOVER_USAGE}

  --mode M      planned (default; the primary is healthy: fence it, no data loss) or unplanned
  --force       skip the replica-lag check only (every other preflight check still applies)
  --dry-run     run preflight only and report every check; changes nothing
  --no-follow   print the execution and return at once

exit status: 0 the workflow succeeded, 1 it failed or was refused, 2 it could not be started`;

export const failoverSyntax = {
  usage: FAILOVER_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    reason: { type: 'string' },
    mode: { type: 'string' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function failoverCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(failoverSyntax.usage, argv, failoverSyntax.options, failoverSyntax.positionals);
  const envName = required(p, 'env', FAILOVER_USAGE);
  const database = required(p, 'database', FAILOVER_USAGE);
  const dryRun = bool(p, 'dry-run');
  const reason = str(p, 'reason') ?? (dryRun ? 'dry run' : undefined);
  if (!reason)
    throw new InvalidArgument(
      `--reason is required: say why, it goes into the record and the notifications\nusage: ${FAILOVER_USAGE}`,
    );
  const mode = str(p, 'mode') ?? 'planned';
  if (mode !== 'planned' && mode !== 'unplanned')
    throw new InvalidArgument(`--mode expects planned or unplanned, got "${mode}"`);
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'failover');
  const name = executionName(`${dryRun ? 'dryrun' : 'failover'}-${database}`);
  const input = { database, mode, reason, force: bool(p, 'force'), dryRun, trigger: 'manual' };
  const approvalHint = (pr: Progress) =>
    pr.state === 'RequestApproval'
      ? `waiting for approval: lifeboat approve --env ${envName} --database ${database}   (or: lifeboat abort ... --reason TEXT)`
      : null;
  return startAndFollow(
    clients,
    envName,
    'failover',
    region,
    name,
    input,
    { json: bool(p, 'json'), noFollow: bool(p, 'no-follow') },
    out,
    approvalHint,
  );
}

const RESTORE_USAGE =
  'lifeboat restore --env NAME --database NAME --source snapshot|point-in-time|dump [--backup-id ID | --time ISO] --target-id ID [--target-kind instance|cluster] [--instance-class C] [--subnet-group G] [--security-group sg-...]... [--source-identifier ID] [--target-database NAME] [--target-secret-arn ARN] [--cutover-zone Z --cutover-record NAME [--cutover-ttl S]] [--no-verify] [--tier Standard|Bulk|Expedited] [--days N] [--region primary|dr] [--no-follow] [--json]';

export const restoreAwsHelp = `Starts the restore workflow of an environment (in the primary region, or --region dr when the
primary region is down) and follows it step by step. The request is checked here first with the
same rules as the workflow's first state, so a bad field is named before anything is created.

usage: ${RESTORE_USAGE}

  --source S            snapshot, point-in-time, or dump (restored into an existing server)
  --backup-id ID        restore this backup (default: the newest verified one)
  --time ISO            point in time, or the newest verified backup before it
  --target-id ID        the instance or cluster to create (for a dump: the existing instance)
  --cutover-zone/--cutover-record   switch this Route 53 record to the restored database when verified
  --no-verify           skip the data checks (not recommended)
  --tier T, --days N    a dump only: if it is archived (GLACIER, DEEP_ARCHIVE), the workflow asks S3 to
                        restore it at tier T (Standard, the default; Bulk; Expedited, GLACIER only),
                        readable for N days (default 7), tells on-call the wait, and waits for it

exit status: 0 the workflow succeeded, 1 it failed, 2 it could not be started`;

export const restoreAwsSyntax = {
  usage: RESTORE_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    source: { type: 'string' },
    'backup-id': { type: 'string' },
    time: { type: 'string' },
    'source-identifier': { type: 'string' },
    'target-id': { type: 'string' },
    'target-kind': { type: 'string' },
    'instance-class': { type: 'string' },
    'subnet-group': { type: 'string' },
    'security-group': { type: 'string', multiple: true },
    'target-database': { type: 'string' },
    'target-secret-arn': { type: 'string' },
    'cutover-zone': { type: 'string' },
    'cutover-record': { type: 'string' },
    'cutover-ttl': { type: 'string' },
    'no-verify': { type: 'boolean' },
    tier: { type: 'string' },
    days: { type: 'string' },
    region: { type: 'string' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function restoreAwsCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(restoreAwsSyntax.usage, argv, restoreAwsSyntax.options, restoreAwsSyntax.positionals);
  const envName = required(p, 'env', RESTORE_USAGE);
  const regionChoice = str(p, 'region');
  if (regionChoice !== undefined && regionChoice !== 'primary' && regionChoice !== 'dr') {
    throw new InvalidArgument(`--region expects primary or dr, got "${regionChoice}"`);
  }
  if (str(p, 'backup-id') && str(p, 'time'))
    throw new InvalidArgument('pass --backup-id or --time, not both');
  if (Boolean(str(p, 'cutover-zone')) !== Boolean(str(p, 'cutover-record'))) {
    throw new InvalidArgument('--cutover-zone and --cutover-record go together');
  }
  const ttl = str(p, 'cutover-ttl');
  const tier = str(p, 'tier');
  const days = str(p, 'days');
  if (days !== undefined && !/^\d+$/.test(days))
    throw new InvalidArgument(`--days expects a whole number of days, got "${days}"`);
  const request = {
    database: required(p, 'database', RESTORE_USAGE),
    source: required(p, 'source', RESTORE_USAGE),
    restorePoint: str(p, 'backup-id')
      ? { kind: 'backup', backupId: str(p, 'backup-id') }
      : str(p, 'time')
        ? { kind: 'time', time: str(p, 'time') }
        : { kind: 'latest-verified' },
    ...(str(p, 'source-identifier') && { sourceIdentifier: str(p, 'source-identifier') }),
    target: {
      identifier: required(p, 'target-id', RESTORE_USAGE),
      ...(str(p, 'target-kind') && { kind: str(p, 'target-kind') }),
      ...(str(p, 'instance-class') && { instanceClass: str(p, 'instance-class') }),
      ...(str(p, 'subnet-group') && { subnetGroupName: str(p, 'subnet-group') }),
      securityGroupIds: (p.values['security-group'] as string[] | undefined) ?? [],
      ...(str(p, 'target-database') && { databaseName: str(p, 'target-database') }),
      ...(str(p, 'target-secret-arn') && { secretArn: str(p, 'target-secret-arn') }),
    },
    ...(str(p, 'cutover-zone') && {
      cutover: {
        hostedZoneId: str(p, 'cutover-zone'),
        recordName: str(p, 'cutover-record'),
        ...(ttl !== undefined && { ttl: Number(ttl) }),
      },
    }),
    verify: !bool(p, 'no-verify'),
    ...((tier !== undefined || days !== undefined) && {
      archive: { ...(tier !== undefined && { tier }), ...(days !== undefined && { days: Number(days) }) },
    }),
    requestedBy: process.env.USER ?? 'cli',
  };
  try {
    planRestore(request);
  } catch (err) {
    throw new InvalidArgument(`restore request: ${(err as Error).message}`);
  }
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'restore', regionChoice);
  const name = executionName(`restore-${request.database}`);
  return startAndFollow(
    clients,
    envName,
    'restore',
    region,
    name,
    request,
    { json: bool(p, 'json'), noFollow: bool(p, 'no-follow') },
    out,
  );
}

const GATE_USAGE = (verb: string) =>
  `lifeboat ${verb} --env NAME --database NAME [--execution NAME]${verb === 'abort' ? ' --reason TEXT' : ''} [--no-follow]`;

export const approveHelp = `Approves a failover waiting at its approval gate (started by an alarm), then follows it.

usage: ${GATE_USAGE('approve')}`;

export const abortHelp = `Aborts a failover waiting at its approval gate: nothing is changed, the lock is released.

usage: ${GATE_USAGE('abort')}`;

export function gateSyntax(verb: 'approve' | 'abort') {
  return {
    usage: GATE_USAGE(verb),
    options: {
      env: { type: 'string' },
      database: { type: 'string' },
      execution: { type: 'string' },
      reason: { type: 'string' },
      'no-follow': { type: 'boolean' },
    },
    positionals: 0,
  } satisfies Syntax;
}

export async function gateCommand(
  verb: 'approve' | 'abort',
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const usage = GATE_USAGE(verb);
  const p = parse(usage, argv, gateSyntax(verb).options);
  const envName = required(p, 'env', usage);
  const database = required(p, 'database', usage);
  const reason = verb === 'abort' ? required(p, 'reason', usage) : '';
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'failover');
  const arn = await workflowArn(clients.ssm(region), envName, 'failover', region);
  const sfn = clients.sfn(region);
  const pending = choosePending(await pendingApprovals(sfn, arn), database, str(p, 'execution'));
  const by = process.env.USER ?? 'cli';
  if (verb === 'approve') await approve(sfn, pending, by);
  else await abort(sfn, pending, by, reason);
  out.write(
    `${verb === 'approve' ? 'approved' : 'aborted'} ${pending.executionName} (failover of "${database}")\n`,
  );
  if (bool(p, 'no-follow')) return 0;
  const result = await withInterrupt((signal) =>
    followExecution(sfn, pending.executionArn, (pr) => printProgress(pr, out), {
      signal,
      pollMs: clients.pollMs,
    }),
  );
  // An abort ends the execution as failed on purpose: that is what was asked for.
  if (verb === 'abort') {
    finish(result, false, out);
    return result.error === 'FailoverAborted' ? 0 : 1;
  }
  return finish(result, false, out);
}

const EXECUTIONS_USAGE =
  'lifeboat executions --env NAME [--workflow restore|restore-test|failover|failback] [--status RUNNING|SUCCEEDED|FAILED|TIMED_OUT|ABORTED] [--json]';

export const executionsHelp = `Lists recent executions of the environment's workflows, in both regions.

usage: ${EXECUTIONS_USAGE}`;

const WORKFLOWS: readonly WorkflowName[] = ['restore', 'restore-test', 'failover', 'failback'];
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export const executionsSyntax = {
  usage: EXECUTIONS_USAGE,
  options: {
    env: { type: 'string' },
    workflow: { type: 'string' },
    status: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function executionsCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(executionsSyntax.usage, argv, executionsSyntax.options, executionsSyntax.positionals);
  const envName = required(p, 'env', EXECUTIONS_USAGE);
  const workflow = str(p, 'workflow');
  if (workflow !== undefined && !WORKFLOWS.includes(workflow as WorkflowName)) {
    throw new InvalidArgument(`--workflow expects one of ${WORKFLOWS.join(', ')}, got "${workflow}"`);
  }
  const status = str(p, 'status');
  if (status !== undefined && !STATUSES.includes(status as (typeof STATUSES)[number])) {
    throw new InvalidArgument(`--status expects one of ${STATUSES.join(', ')}, got "${status}"`);
  }
  const env = resolveEnvironment(envName);
  const rows: ExecutionRow[] = [];
  const missing: string[] = [];
  for (const wf of workflow ? [workflow as WorkflowName] : WORKFLOWS) {
    // restore runs in both regions; the others where regionOf puts them.
    const regions = wf === 'restore' ? [env.regions.primary, env.regions.dr] : [regionOf(env, wf)];
    for (const region of regions) {
      try {
        const arn = await workflowArn(clients.ssm(region), envName, wf, region);
        rows.push(
          ...(await listExecutions(clients.sfn(region), arn, wf, region, { status: status as never })),
        );
      } catch (err) {
        missing.push(`${wf} in ${region}: ${(err as Error).message}`);
      }
    }
  }
  rows.sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
  if (bool(p, 'json')) {
    out.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    out.write(
      `${table(
        ['WORKFLOW', 'REGION', 'EXECUTION', 'STATUS', 'STARTED', 'STOPPED'],
        rows.map((r) => [
          r.workflow,
          r.region,
          r.name,
          r.status,
          r.startDate?.toISOString() ?? '-',
          r.stopDate?.toISOString() ?? '-',
        ]),
      )}\n`,
    );
    for (const m of missing) out.write(`note: ${m}\n`);
  }
  return missing.length > 0 && rows.length === 0 ? 2 : 0;
}

export { executionArnOf, regionOf };

const FAILBACK_USAGE = 'lifeboat failback --env NAME --database NAME --reason TEXT [--no-follow] [--json]';

export const failbackHelp = `Re-protects a database after a failover: starts the failback workflow in the environment's DR
region (where the database now runs), which creates a new replica of it in the recovered region
and waits until it is available, and follows it step by step. It does not move the primary back.

usage: ${FAILBACK_USAGE}

exit status: 0 the workflow succeeded, 1 it failed or was refused, 2 it could not be started`;

export const failbackSyntax = {
  usage: FAILBACK_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    reason: { type: 'string' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function failbackCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(FAILBACK_USAGE, argv, failbackSyntax.options);
  const envName = required(p, 'env', FAILBACK_USAGE);
  const database = required(p, 'database', FAILBACK_USAGE);
  const reason = required(p, 'reason', FAILBACK_USAGE);
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'failback');
  const name = executionName(`failback-${database}`);
  return startAndFollow(
    clients,
    envName,
    'failback',
    region,
    name,
    { database, reason },
    { json: bool(p, 'json'), noFollow: bool(p, 'no-follow') },
    out,
  );
}
