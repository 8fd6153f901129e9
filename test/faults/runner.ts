import { readFileSync } from 'node:fs';
import { StateMachine } from 'aws-local-stepfunctions';
import { type AslDefinition, executionContext, type WorkflowName } from '../../state-machines/render.ts';
import { appliesCall, type FaultSchedule, faultError, faultFor, integrationOf } from './faults.ts';
import type { FakeAws } from './world.ts';

/**
 * Runs a workflow's rendered ASL against the fake AWS with a fault schedule. Service integrations
 * (RDS, Route 53, SNS, DynamoDB) are answered by the world from the Task's Resource; Lambda tasks
 * by the local functions a suite passes (the core logic of each handler, bound to the world).
 *
 * The ASL is prepared once per workflow: each Wait state becomes a Task bound to the world's
 * clock, so that waiting moves simulated time by exactly the seconds the definition asks for (one
 * state either way, so transition counts are those of the real definition). A Retry moves the
 * clock by the interval its retrier would wait in AWS (IntervalSeconds × BackoffRate^n, capped by
 * MaxDelaySeconds), so that a retried deletion meets a world that has moved on, as it would.
 */

interface Retrier {
  readonly ErrorEquals: string[];
  readonly IntervalSeconds?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
}

/** Seconds AWS would wait before retry number `n` (0-based) of an error, by the first matching retrier. */
export function retryDelay(retriers: readonly Retrier[] | undefined, error: string, n: number): number {
  const r = retriers?.find((x) => x.ErrorEquals.includes(error) || x.ErrorEquals.includes('States.ALL'));
  if (!r) return 0;
  const delay = (r.IntervalSeconds ?? 1) * (r.BackoffRate ?? 2) ** n;
  return Math.min(delay, r.MaxDelaySeconds ?? Number.POSITIVE_INFINITY);
}

export type LambdaHandler = (input: never) => unknown;

/**
 * The workflow's rendered ASL as pinned in test/fixtures/asl (test/state-machines/asl-pinned.test.ts
 * keeps it equal to what the constructs render): no CDK synthesis in the fault suites.
 */
export function pinnedAsl(workflow: WorkflowName): AslDefinition {
  return JSON.parse(
    readFileSync(new URL(`../fixtures/asl/${workflow}.json`, import.meta.url), 'utf8'),
  ) as AslDefinition;
}

export interface PreparedWorkflow {
  readonly workflow: WorkflowName;
  readonly asl: AslDefinition;
  readonly machine: StateMachine;
  readonly resources: Readonly<Record<string, string>>;
  readonly waits: Readonly<Record<string, { seconds?: number; secondsPath?: string }>>;
}

export function prepare(workflow: WorkflowName, asl: AslDefinition): PreparedWorkflow {
  const states: Record<string, Record<string, unknown> & { Type: string }> = {};
  const resources: Record<string, string> = {};
  const waits: Record<string, { seconds?: number; secondsPath?: string }> = {};
  for (const [name, state] of Object.entries(asl.States)) {
    if (state.Type === 'Wait') {
      if (state.Timestamp !== undefined || state.TimestampPath !== undefined)
        throw new Error(`runner: Wait ${name} with a timestamp is not modelled`);
      waits[name] = {
        seconds: state.Seconds as number | undefined,
        secondsPath: state.SecondsPath as string | undefined,
      };
      const { Seconds: _s, SecondsPath: _p, ...rest } = state;
      states[name] = { ...rest, Type: 'Task', Resource: 'local:clock' };
      resources[name] = 'local:clock';
    } else {
      states[name] = state;
      if (state.Type === 'Task') resources[name] = state.Resource as string;
    }
  }
  const prepared: AslDefinition = { ...asl, States: states };
  const machine = new StateMachine(prepared as never, {
    validationOptions: { checkPaths: true, checkArn: false },
  });
  return { workflow, asl: prepared, machine, resources, waits };
}

export interface WorldRun {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- suites read arbitrary workflow output
  readonly output: any;
  readonly error: string | null;
  readonly cause: string | null;
  /** States entered, in order (the transitions Step Functions bills). */
  readonly path: readonly string[];
  /** Calls per task state, retries included. */
  readonly calls: Readonly<Record<string, number>>;
  /** Faults that fired (at Task states and at the SDK calls of task functions). */
  readonly injected: number;
  /** Simulated seconds the execution took. */
  readonly seconds: number;
}

function readPath(input: unknown, path: string): unknown {
  if (!path.startsWith('$.')) throw new Error(`runner: unsupported path ${path}`);
  let v: unknown = input;
  for (const part of path.slice(2).split('.')) v = (v as Record<string, unknown> | undefined)?.[part];
  return v;
}

export async function runInWorld(
  prepared: PreparedWorkflow,
  args: {
    readonly input: unknown;
    readonly world: FakeAws;
    readonly lambdas: Readonly<Record<string, LambdaHandler>>;
    readonly faults?: FaultSchedule;
    readonly executionName?: string;
    /** An execution that enters more states than this is aborted (a bounded run). @default 3000 */
    readonly maxTransitions?: number;
  },
): Promise<WorldRun> {
  const { world, lambdas } = args;
  const faults = args.faults ?? [];
  const executionName = args.executionName ?? 'fault-run';
  const calls: Record<string, number> = {};
  let injected = 0;
  const started = world.now;
  // Faults of the calls task functions make through the world's SDK face (`sdk:<Operation>`).
  world.sdkFaults = faults.filter((f) => f.task.startsWith('sdk:'));
  const sdkBefore = world.sdkInjected;
  // The call that failed last: calling the same task next is its retry.
  let lastFailure: { task: string; error: string; retries: number } | null = null;
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [name, resource] of Object.entries(prepared.resources)) {
    const integration = integrationOf(resource);
    if (integration === 'lambda' && !lambdas[name]) throw new Error(`runner: no local function for ${name}`);
    handlers[name] = async (input: unknown) => {
      let retries = 0;
      if (lastFailure?.task === name) {
        retries = lastFailure.retries + 1;
        const retriers = prepared.asl.States[name]!.Retry as Retrier[] | undefined;
        world.advance(retryDelay(retriers, lastFailure.error, lastFailure.retries));
      }
      lastFailure = null;
      if (integration === 'clock') {
        const wait = prepared.waits[name]!;
        const seconds = wait.seconds ?? Number(readPath(input, wait.secondsPath!));
        if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`runner: ${name} waits ${seconds} s`);
        world.advance(seconds);
        return input;
      }
      const attempt = calls[name] ?? 0;
      calls[name] = attempt + 1;
      const fault = faultFor(faults, name, attempt);
      if (fault) injected += 1;
      try {
        if (fault && !appliesCall(fault)) throw faultError(fault.kind, integration, name);
        const result =
          integration === 'lambda'
            ? await lambdas[name]!(structuredClone(input) as never)
            : world.sfn(resource, structuredClone(input) as Record<string, unknown>);
        if (fault) throw faultError(fault.kind, integration, name);
        return result;
      } catch (err) {
        lastFailure = { task: name, error: (err as Error).name, retries };
        throw err;
      }
    };
  }
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(prepared.asl.States))
    if ('Retry' in state) retryIntervalOverrides[name] = 0;

  const execution = prepared.machine.run(args.input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides },
    context: executionContext({ workflow: prepared.workflow, input: args.input, executionName }) as never,
  });
  const path: string[] = [];
  const max = args.maxTransitions ?? 3000;
  let aborted = false;
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type !== 'StateEntered') continue;
      path.push(event.state.name);
      if (path.length > max && !aborted) {
        aborted = true;
        execution.abort();
      }
    }
  })();
  const base = () => ({ path, calls, injected: injected + world.sdkInjected - sdkBefore });
  try {
    const output = await execution.result;
    await logs;
    return { ...base(), status: 'SUCCEEDED', output, error: null, cause: null, seconds: world.now - started };
  } catch (err) {
    await logs.catch(() => undefined);
    if (aborted)
      return {
        ...base(),
        status: 'ABORTED',
        output: null,
        error: 'Aborted',
        cause: `more than ${max} transitions`,
        seconds: world.now - started,
      };
    const inner = (err as { cause?: Error }).cause ?? (err as Error);
    return {
      ...base(),
      status: 'FAILED',
      output: null,
      error: inner.name,
      cause: inner.message,
      seconds: world.now - started,
    };
  }
}
