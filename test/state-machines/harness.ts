import { pathToFileURL } from 'node:url';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type AslDefinition,
  executionContext,
  taskStateNames,
  type WorkflowName,
  waitStateNames,
} from '../../state-machines/render.ts';
import { functionOf } from '../support/environment-asl.ts';

/**
 * Runs rendered ASL with aws-local-stepfunctions. Every Task state must have a handler (a task
 * without one would call real AWS), every Wait lasts 0 ms, every Retry pauses 0 ms. Records the
 * input each task received and the states visited, in order.
 */

/** Receives the task's effective input (after Parameters); typed by each test, hence `never`. */
export type TaskHandler = (input: never) => unknown;
export type Handlers = Record<string, TaskHandler>;

export interface RunResult {
  readonly status: 'SUCCEEDED' | 'FAILED';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary workflow output
  readonly output: any;
  /** Error name of a failed execution (the Fail state's Error, or the uncaught error). */
  readonly error: string | null;
  readonly cause: string | null;
  /** Inputs each task state received, in call order (retries included). */
  readonly calls: Record<string, unknown[]>;
  /** Names of the states entered, in order. */
  readonly path: string[];
}

/** An Error whose name becomes the ASL error name, as a Lambda's errorType does in AWS. */
export function namedError(name: string, message = name): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

export function failWith(name: string, message = name): TaskHandler {
  return () => {
    throw namedError(name, message);
  };
}

const machines = new WeakMap<AslDefinition, StateMachine>();

export async function runWorkflow(
  workflow: WorkflowName,
  asl: AslDefinition,
  input: unknown,
  handlers: Handlers,
  options: { readonly executionName?: string; readonly startTime?: Date } = {},
): Promise<RunResult> {
  const tasks = taskStateNames(asl);
  const missing = tasks.filter((t) => !(t in handlers));
  if (missing.length) throw new Error(`no local handler for task state(s): ${missing.join(', ')}`);
  const unknown = Object.keys(handlers).filter((h) => !tasks.includes(h));
  if (unknown.length) throw new Error(`handlers for states that are not tasks: ${unknown.join(', ')}`);

  const calls: Record<string, unknown[]> = {};
  const wrapped: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const name of tasks) {
    calls[name] = [];
    wrapped[name] = async (taskInput: unknown) => {
      calls[name]!.push(structuredClone(taskInput));
      return handlers[name]!(taskInput as never);
    };
  }
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(asl.States))
    if ('Retry' in state) retryIntervalOverrides[name] = 0;

  let machine = machines.get(asl);
  if (!machine) {
    // Validating the definition is the costly part: once per rendered ASL.
    machine = new StateMachine(asl as never, { validationOptions: { checkPaths: true, checkArn: false } });
    machines.set(asl, machine);
  }
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: wrapped as never,
      waitTimeOverrides: Object.fromEntries(waitStateNames(asl).map((w) => [w, 0])),
      retryIntervalOverrides,
    },
    context: executionContext({
      workflow,
      input,
      executionName: options.executionName ?? 'test-execution',
      startTime: options.startTime,
    }) as never,
  });
  const path: string[] = [];
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered') path.push(event.state.name);
    }
  })();
  try {
    const output = await execution.result;
    await logs;
    return { status: 'SUCCEEDED', output, error: null, cause: null, calls, path };
  } catch (err) {
    await logs.catch(() => undefined);
    const inner = (err as { cause?: Error }).cause ?? (err as Error);
    return { status: 'FAILED', output: null, error: inner.name, cause: inner.message, calls, path };
  }
}

/** A Lambda function as shipped: the bundle Lambda loads, its handler export and environment. */
export interface BundledFunction {
  readonly logicalId: string;
  readonly module: string;
  readonly exportName: string;
  readonly environment: Readonly<Record<string, string>>;
}

function lambdaContext(fn: BundledFunction, region: string) {
  return {
    functionName: fn.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:111111111111:function:${fn.logicalId}`,
    memoryLimitInMB: '512',
    awsRequestId: `local-${Math.random().toString(16).slice(2)}`,
    logGroupName: `/aws/lambda/${fn.logicalId}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 60_000,
  };
}

/**
 * Calls a shipped bundle's handler as the Lambda runtime does: the template's environment
 * variables (plus the runtime's: region, credentials, and whatever `runtime` adds) are set for the
 * call, the input and the result pass through JSON, and a thrown error reaches Step Functions as
 * its `name` (the runtime's errorType) and message.
 */
export async function invokeBundled(
  fn: BundledFunction,
  input: unknown,
  runtime: Readonly<Record<string, string>>,
): Promise<unknown> {
  const saved = { ...process.env };
  Object.assign(process.env, runtime, fn.environment, {
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512',
  });
  try {
    const mod = (await import(pathToFileURL(fn.module).href)) as Record<string, unknown>;
    const handler = mod[fn.exportName];
    if (typeof handler !== 'function') throw new Error(`${fn.module} exports no ${fn.exportName}`);
    const result: unknown = await (handler as (e: unknown, c: unknown) => Promise<unknown>)(
      JSON.parse(JSON.stringify(input ?? null)),
      lambdaContext(fn, process.env.AWS_REGION ?? 'us-east-1'),
    );
    return result === undefined ? null : JSON.parse(JSON.stringify(result));
  } catch (err) {
    const e = err as { name?: unknown; message?: unknown };
    throw namedError(typeof e.name === 'string' ? e.name : 'Error', String(e.message ?? err));
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

/**
 * Handlers that bind every Lambda task of a deployed ASL (Resource: the function's ARN, see
 * test/support/environment-asl.ts) to its shipped bundle. Other tasks (AWS SDK and optimized
 * integrations) still need local handlers from the test. `calls` records each bundled call.
 */
export function bundledHandlers(
  asl: AslDefinition,
  functions: ReadonlyMap<string, BundledFunction>,
  runtime: Readonly<Record<string, string>>,
): Handlers {
  const handlers: Handlers = {};
  for (const [name, state] of Object.entries(asl.States)) {
    if (state.Type !== 'Task' || typeof state.Resource !== 'string') continue;
    const logicalId = functionOf(state.Resource);
    if (!logicalId) continue;
    const fn = functions.get(logicalId);
    if (!fn) throw new Error(`${name}: function ${logicalId} is not in the shipped stack`);
    handlers[name] = (input: never) => invokeBundled(fn, input, runtime);
  }
  return handlers;
}
