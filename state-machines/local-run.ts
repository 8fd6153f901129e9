import './promise-with-resolvers.ts';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type AslDefinition,
  executionContext,
  taskStateNames,
  type WorkflowName,
  waitStateNames,
} from './render.ts';

/**
 * Runs a workflow's ASL (the one deployed to AWS) on this machine with aws-local-stepfunctions:
 * the one local runner of `lifeboat drill`, the workflow tests (test/state-machines) and the fault
 * suites (test/faults). Every Task state is bound to a local override; a run refuses to start when
 * one lacks an override (an unbound task would call AWS) or when an override names a state that is
 * not a task (a typo would leave the real one unbound). Retries pause 0 ms; Wait states last
 * `waitMs`. The run keeps the states entered, in order, with their times, and the input each task
 * received.
 */

/** Receives the task's effective input (after Parameters); a thrown Error's `name` is the ASL error. */
export type TaskOverride = (input: never) => unknown;
export type TaskOverrides = Readonly<Record<string, TaskOverride>>;

export interface LocalRunOptions {
  /** `$$.Execution.Name`. @default 'local-execution' */
  readonly executionName?: string | undefined;
  /** `$$.Execution.StartTime`. @default now */
  readonly startTime?: Date | undefined;
  /** How long each Wait state lasts here, in ms: one figure for all, or per state (others 0). @default 0 */
  readonly waitMs?: number | Readonly<Record<string, number>> | undefined;
  /** An execution that enters more states than this is aborted (status ABORTED): a bounded run. */
  readonly maxTransitions?: number | undefined;
}

export interface LocalRun {
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED';
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- callers read arbitrary workflow output
  readonly output: any;
  /** Error name of a failed execution (the Fail state's Error, or the uncaught error). */
  readonly error: string | null;
  readonly cause: string | null;
  /** Names of the states entered, in order (the transitions Step Functions bills). */
  readonly path: string[];
  /** The same, with the time each was entered (ms since the start). */
  readonly entered: ReadonlyArray<{ readonly state: string; readonly atMs: number }>;
  /** Inputs each task state received, in call order (retries included). */
  readonly calls: Record<string, unknown[]>;
  /** When the execution started (epoch ms). */
  readonly startedAt: number;
}

const machines = new WeakMap<AslDefinition, StateMachine>();

/**
 * Validates a definition for local runs, once per definition object: validation is the costly
 * part (seconds on a busy machine), so a drill that measures RTO does it before the clock starts.
 */
export function prepareLocalWorkflow(asl: AslDefinition): StateMachine {
  let machine = machines.get(asl);
  if (!machine) {
    machine = new StateMachine(asl as never, { validationOptions: { checkPaths: true, checkArn: false } });
    machines.set(asl, machine);
  }
  return machine;
}

/** Refuses a set of overrides that leaves a task unbound or names a state that is not a task. */
export function checkOverrides(asl: AslDefinition, tasks: TaskOverrides): string[] {
  const names = taskStateNames(asl);
  const missing = names.filter((t) => !(t in tasks));
  if (missing.length) throw new Error(`no local override for task state(s): ${missing.join(', ')}`);
  const unknown = Object.keys(tasks).filter((t) => !names.includes(t));
  if (unknown.length) throw new Error(`overrides for states that are not tasks: ${unknown.join(', ')}`);
  return names;
}

function waitOverrides(asl: AslDefinition, waitMs: LocalRunOptions['waitMs']): Record<string, number> {
  return Object.fromEntries(
    waitStateNames(asl).map((w) => [w, typeof waitMs === 'number' ? waitMs : (waitMs?.[w] ?? 0)]),
  );
}

export async function runLocalWorkflow(
  workflow: WorkflowName,
  asl: AslDefinition,
  input: unknown,
  tasks: TaskOverrides,
  options: LocalRunOptions = {},
): Promise<LocalRun> {
  const names = checkOverrides(asl, tasks);
  const calls: Record<string, unknown[]> = {};
  const handlers: Record<string, (taskInput: unknown) => Promise<unknown>> = {};
  for (const name of names) {
    calls[name] = [];
    handlers[name] = async (taskInput: unknown) => {
      calls[name]!.push(structuredClone(taskInput));
      return tasks[name]!(taskInput as never);
    };
  }
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(asl.States))
    if ('Retry' in state) retryIntervalOverrides[name] = 0;

  const machine = prepareLocalWorkflow(asl);
  const started = performance.now();
  const startedAt = Date.now();
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: handlers as never,
      waitTimeOverrides: waitOverrides(asl, options.waitMs),
      retryIntervalOverrides,
    },
    context: executionContext({
      workflow,
      input,
      executionName: options.executionName ?? 'local-execution',
      startTime: options.startTime,
    }) as never,
  });
  const path: string[] = [];
  const entered: Array<{ state: string; atMs: number }> = [];
  const max = options.maxTransitions ?? Number.POSITIVE_INFINITY;
  let aborted = false;
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type !== 'StateEntered') continue;
      path.push(event.state.name);
      entered.push({ state: event.state.name, atMs: performance.now() - started });
      if (path.length > max && !aborted) {
        aborted = true;
        execution.abort();
      }
    }
  })();
  const run = { path, entered, calls, startedAt };
  try {
    const output = await execution.result;
    await logs;
    return { ...run, status: 'SUCCEEDED', output, error: null, cause: null };
  } catch (err) {
    await logs.catch(() => undefined);
    if (aborted)
      return {
        ...run,
        status: 'ABORTED',
        output: null,
        error: 'Aborted',
        cause: `more than ${max} transitions`,
      };
    const inner = (err as { cause?: Error }).cause ?? (err as Error);
    return { ...run, status: 'FAILED', output: null, error: inner.name, cause: inner.message };
  }
}
