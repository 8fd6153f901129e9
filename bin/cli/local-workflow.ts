import './promise-with-resolvers.ts';
import { StateMachine } from 'aws-local-stepfunctions';
import {
  type AslDefinition,
  executionContext,
  taskStateNames,
  type WorkflowName,
  waitStateNames,
} from '../../state-machines/render.ts';

export type LocalTask = (input: never) => unknown;

export interface LocalRun {
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output: unknown;
  readonly error: string | null;
  readonly cause: string | null;
  /** States entered, in order, with the time each was entered (ms since the start). */
  readonly path: ReadonlyArray<{ state: string; atMs: number }>;
  /** When the execution started (epoch ms): the trigger RTO is measured from. */
  readonly startedAt: number;
}

const machines = new WeakMap<AslDefinition, StateMachine>();

/**
 * Validates a workflow's ASL for local runs, once per definition: validation is the costly part
 * (seconds on a busy machine), and a drill that measures RTO does it before the clock starts.
 */
export function prepareLocalWorkflow(asl: AslDefinition): StateMachine {
  let machine = machines.get(asl);
  if (!machine) {
    machine = new StateMachine(asl as never, { validationOptions: { checkPaths: true, checkArn: false } });
    machines.set(asl, machine);
  }
  return machine;
}

/**
 * Runs a workflow's ASL (the one deployed to AWS) on this machine, with every Task state bound to
 * a local adapter. Refuses to start if any task lacks one: an unbound task would call AWS.
 */
export async function runLocalWorkflow(
  workflow: WorkflowName,
  asl: AslDefinition,
  input: unknown,
  tasks: Record<string, LocalTask>,
  options: { executionName: string; waitMs?: number },
): Promise<LocalRun> {
  const names = taskStateNames(asl);
  const missing = names.filter((t) => !(t in tasks));
  if (missing.length) throw new Error(`no local adapter for task state(s): ${missing.join(', ')}`);
  const retryIntervalOverrides: Record<string, number> = {};
  for (const [name, state] of Object.entries(asl.States))
    if ('Retry' in state) retryIntervalOverrides[name] = 0;
  const machine = prepareLocalWorkflow(asl);
  const started = performance.now();
  const startedAt = Date.now();
  const execution = machine.run(input as never, {
    overrides: {
      taskResourceLocalHandlers: Object.fromEntries(
        names.map((n) => [n, async (i: unknown) => tasks[n]!(i as never)]),
      ) as never,
      waitTimeOverrides: Object.fromEntries(waitStateNames(asl).map((w) => [w, options.waitMs ?? 100])),
      retryIntervalOverrides,
    },
    context: executionContext({ workflow, input, executionName: options.executionName }) as never,
  });
  const path: Array<{ state: string; atMs: number }> = [];
  const logs = (async () => {
    for await (const event of execution.eventLogs) {
      if (event.type === 'StateEntered')
        path.push({ state: event.state.name, atMs: performance.now() - started });
    }
  })();
  try {
    const output = await execution.result;
    await logs;
    return { status: 'SUCCEEDED', output, error: null, cause: null, path, startedAt };
  } catch (err) {
    await logs.catch(() => undefined);
    const inner = (err as { cause?: Error }).cause ?? (err as Error);
    return { status: 'FAILED', output: null, error: inner.name, cause: inner.message, path, startedAt };
  }
}
