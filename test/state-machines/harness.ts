import { pathToFileURL } from 'node:url';
import { type LocalRun, runLocalWorkflow, type TaskOverride } from '../../state-machines/local-run.ts';
import type { AslDefinition, WorkflowName } from '../../state-machines/render.ts';
import { functionOf } from '../support/environment-asl.ts';

/**
 * Runs rendered ASL with the one local runner (state-machines/local-run.ts, the drill's too): every
 * Task state must have a handler (a task without one would call real AWS), every Wait lasts 0 ms,
 * every Retry pauses 0 ms. Records the input each task received and the states visited, in order.
 */

/** Receives the task's effective input (after Parameters); typed by each test, hence `never`. */
export type TaskHandler = TaskOverride;
export type Handlers = Record<string, TaskHandler>;

export type RunResult = LocalRun;

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

export function runWorkflow(
  workflow: WorkflowName,
  asl: AslDefinition,
  input: unknown,
  handlers: Handlers,
  options: { readonly executionName?: string; readonly startTime?: Date } = {},
): Promise<RunResult> {
  return runLocalWorkflow(workflow, asl, input, handlers, {
    executionName: options.executionName ?? 'test-execution',
    startTime: options.startTime,
  });
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
