import {
  DescribeExecutionCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { InvalidArgument, LifeboatError } from '#core/shared/errors.ts';
import { type WorkflowName, workflowParameterName } from '../../../lib/naming.ts';

export class WorkflowNotDeployed extends LifeboatError {
  override readonly name = 'WorkflowNotDeployed';
}
export class ExecutionNotFound extends LifeboatError {
  override readonly name = 'ExecutionNotFound';
}

/** The state machine ARN the stacks wrote to SSM: operators never paste ARNs. */
export async function workflowArn(
  ssm: SSMClient,
  environment: string,
  workflow: WorkflowName,
  region: string,
): Promise<string> {
  const name = workflowParameterName(environment, workflow);
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    const arn = out.Parameter?.Value;
    if (!arn) throw new WorkflowNotDeployed(`SSM parameter ${name} in ${region} is empty`);
    return arn;
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    const e = err as { name?: string; message?: string };
    if (e.name === 'ParameterNotFound') {
      throw new WorkflowNotDeployed(
        `the ${workflow} workflow of environment "${environment}" is not deployed in ${region} (no SSM parameter ${name}); deploy it with npx cdk deploy -c env=${environment} --all`,
        { cause: err },
      );
    }
    if (e.name === 'CredentialsProviderError') {
      throw new LifeboatError(
        'no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)',
        {
          cause: err,
        },
      );
    }
    throw new LifeboatError(`reading SSM parameter ${name} in ${region} failed: ${e.name}: ${e.message}`, {
      cause: err,
    });
  }
}

/** An execution name Step Functions accepts (80 characters of [A-Za-z0-9-_]). */
export function executionName(prefix: string, now: Date = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
  return `${prefix.replace(/[^A-Za-z0-9-_]/g, '-').slice(0, 60)}-${stamp}`.slice(0, 80);
}

export async function startExecution(
  sfn: SFNClient,
  stateMachineArn: string,
  name: string,
  input: unknown,
): Promise<string> {
  try {
    const out = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }),
    );
    return out.executionArn!;
  } catch (err) {
    const e = err as { name?: string; message?: string };
    if (e.name === 'ExecutionAlreadyExists') {
      throw new LifeboatError(`an execution named ${name} already exists: it was started already`, {
        cause: err,
      });
    }
    throw new LifeboatError(`starting ${stateMachineArn} failed: ${e.name}: ${e.message}`, { cause: err });
  }
}

/** Execution ARN from an ARN or a bare execution name of the given state machine. */
export function executionArnOf(stateMachineArn: string, execution: string): string {
  if (execution.startsWith('arn:')) return execution;
  if (!/^[A-Za-z0-9-_]{1,80}$/.test(execution)) {
    throw new InvalidArgument(`--execution expects an execution name or ARN, got "${execution}"`);
  }
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${execution}`;
}

export interface Progress {
  readonly at: Date;
  readonly kind: 'entered' | 'failed' | 'succeeded' | 'waiting' | 'info';
  readonly state: string | null;
  readonly text: string;
}

/** Turns history events into lines a person can follow; null for the noise. */
export function describeEvent(event: HistoryEvent): Progress | null {
  const at = event.timestamp ?? new Date();
  switch (event.type) {
    case 'TaskStateEntered':
    case 'ChoiceStateEntered':
    case 'WaitStateEntered':
    case 'PassStateEntered':
    case 'ParallelStateEntered':
    case 'MapStateEntered': {
      const state = event.stateEnteredEventDetails?.name ?? null;
      if (event.type === 'PassStateEntered' || event.type === 'ChoiceStateEntered') return null;
      return {
        at,
        kind: event.type === 'WaitStateEntered' ? 'waiting' : 'entered',
        state,
        text: state ?? '',
      };
    }
    case 'TaskFailed':
    case 'LambdaFunctionFailed':
      return {
        at,
        kind: 'failed',
        state: null,
        text: `task failed: ${event.taskFailedEventDetails?.error ?? event.lambdaFunctionFailedEventDetails?.error ?? ''} ${event.taskFailedEventDetails?.cause ?? event.lambdaFunctionFailedEventDetails?.cause ?? ''}`.trim(),
      };
    case 'ExecutionSucceeded':
      return { at, kind: 'succeeded', state: null, text: 'execution succeeded' };
    case 'ExecutionFailed':
      return {
        at,
        kind: 'failed',
        state: null,
        text: `execution failed: ${event.executionFailedEventDetails?.error ?? ''}: ${event.executionFailedEventDetails?.cause ?? ''}`,
      };
    case 'ExecutionAborted':
      return { at, kind: 'failed', state: null, text: 'execution aborted' };
    case 'ExecutionTimedOut':
      return { at, kind: 'failed', state: null, text: 'execution timed out' };
    default:
      return null;
  }
}

export interface FollowResult {
  readonly status: ExecutionStatus;
  readonly output: unknown;
  readonly error: string | null;
  readonly cause: string | null;
  readonly startDate: Date | null;
  readonly stopDate: Date | null;
}

/**
 * Follows an execution until it stops, reporting each step as it happens. The history is read
 * incrementally (only events after the last seen id), so a long execution costs little.
 */
export async function followExecution(
  sfn: SFNClient,
  executionArn: string,
  onProgress: (p: Progress) => void,
  options: { pollMs?: number; sleep?: (ms: number) => Promise<void>; signal?: AbortSignal | undefined } = {},
): Promise<FollowResult> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  let lastId = 0;
  for (;;) {
    let token: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          nextToken: token,
          maxResults: 200,
          includeExecutionData: false,
        }),
      );
      for (const event of page.events ?? []) {
        if ((event.id ?? 0) <= lastId) continue;
        lastId = event.id ?? lastId;
        const p = describeEvent(event);
        if (p) onProgress(p);
      }
      token = page.nextToken;
    } while (token);
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (execution.status !== 'RUNNING' && execution.status !== 'PENDING_REDRIVE') {
      return {
        status: execution.status ?? 'FAILED',
        output: execution.output ? JSON.parse(execution.output) : null,
        error: execution.error ?? null,
        cause: execution.cause ?? null,
        startDate: execution.startDate ?? null,
        stopDate: execution.stopDate ?? null,
      };
    }
    if (options.signal?.aborted) {
      return {
        status: 'RUNNING',
        output: null,
        error: null,
        cause: null,
        startDate: execution.startDate ?? null,
        stopDate: null,
      };
    }
    await sleep(options.pollMs ?? 2000);
  }
}

export interface ExecutionRow {
  readonly workflow: WorkflowName;
  readonly region: string;
  readonly name: string;
  readonly status: string;
  readonly startDate: Date | null;
  readonly stopDate: Date | null;
  readonly arn: string;
}

export async function listExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  workflow: WorkflowName,
  region: string,
  options: { status?: ExecutionStatus | undefined; max?: number } = {},
): Promise<ExecutionRow[]> {
  const out = await sfn.send(
    new ListExecutionsCommand({
      stateMachineArn,
      statusFilter: options.status,
      maxResults: options.max ?? 20,
    }),
  );
  return (out.executions ?? []).map((e) => ({
    workflow,
    region,
    name: e.name ?? '',
    status: e.status ?? '',
    startDate: e.startDate ?? null,
    stopDate: e.stopDate ?? null,
    arn: e.executionArn ?? '',
  }));
}

export interface PendingApproval {
  readonly executionArn: string;
  readonly executionName: string;
  readonly database: string;
  readonly requestedAt: Date | null;
  readonly taskToken: string;
}

/**
 * Failover executions waiting at the approval gate. The gate's task writes its token into the
 * lock item; the same resolved parameters are in the execution history, which is where they are
 * read from here (no table name needed, and only executions still waiting are returned).
 */
export async function pendingApprovals(sfn: SFNClient, failoverArn: string): Promise<PendingApproval[]> {
  const running = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn: failoverArn, statusFilter: 'RUNNING', maxResults: 100 }),
  );
  const pending: PendingApproval[] = [];
  for (const execution of running.executions ?? []) {
    const events: HistoryEvent[] = [];
    let token: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn: execution.executionArn,
          nextToken: token,
          maxResults: 1000,
          includeExecutionData: true,
        }),
      );
      events.push(...(page.events ?? []));
      token = page.nextToken;
    } while (token);
    let current: PendingApproval | null = null;
    let inGate = false;
    for (const event of events) {
      if (event.type === 'TaskStateEntered')
        inGate = event.stateEnteredEventDetails?.name === 'RequestApproval';
      if (event.type === 'TaskScheduled' && inGate) {
        const params = JSON.parse(event.taskScheduledEventDetails?.parameters ?? '{}') as {
          Key?: { lockId?: { S?: string } };
          ExpressionAttributeValues?: { ':token'?: { S?: string } };
        };
        const taskToken = params.ExpressionAttributeValues?.[':token']?.S;
        const lockId = params.Key?.lockId?.S ?? '';
        if (taskToken) {
          current = {
            executionArn: execution.executionArn!,
            executionName: execution.name ?? '',
            database: lockId.replace(/^failover#/, ''),
            requestedAt: event.timestamp ?? null,
            taskToken,
          };
        }
      }
      if (event.type === 'TaskStateExited' && event.stateExitedEventDetails?.name === 'RequestApproval')
        current = null;
    }
    if (current) pending.push(current);
  }
  return pending;
}

/** Picks the one waiting approval the operator means; refuses to guess between several. */
export function choosePending(
  pending: readonly PendingApproval[],
  database: string,
  execution?: string,
): PendingApproval {
  const mine = pending.filter(
    (p) =>
      p.database === database &&
      (!execution || p.executionName === execution || p.executionArn === execution),
  );
  if (mine.length === 0) {
    const others = pending.map((p) => `${p.executionName} (${p.database})`).join(', ');
    throw new ExecutionNotFound(
      `no failover of "${database}"${execution ? ` named ${execution}` : ''} is waiting for approval${others ? `; waiting: ${others}` : ''}`,
    );
  }
  if (mine.length > 1) {
    throw new InvalidArgument(
      `several failovers of "${database}" are waiting: ${mine.map((p) => p.executionName).join(', ')}; pass --execution`,
    );
  }
  return mine[0]!;
}

export async function approve(
  sfn: SFNClient,
  pending: PendingApproval,
  by: string,
  now: Date = new Date(),
): Promise<void> {
  await sfn.send(
    new SendTaskSuccessCommand({
      taskToken: pending.taskToken,
      output: JSON.stringify({ approvedBy: by, at: now.toISOString() }),
    }),
  );
}

export async function abort(
  sfn: SFNClient,
  pending: PendingApproval,
  by: string,
  reason: string,
): Promise<void> {
  await sfn.send(
    new SendTaskFailureCommand({
      taskToken: pending.taskToken,
      error: 'FailoverAborted',
      cause: `aborted by ${by}: ${reason}`.slice(0, 32768),
    }),
  );
}
