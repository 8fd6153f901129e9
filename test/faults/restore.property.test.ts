import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { propertySettings } from './faults.ts';
import {
  anyRestoreScenario,
  healthyRestoreWithOneTransient,
  type RestoreScenario,
  restoreInput,
  restoreInvariants,
  restoreLambdas,
  restoreWorld,
} from './restore-world.ts';
import { type PreparedWorkflow, pinnedAsl, prepare, runInWorld, type WorldRun } from './runner.ts';
import { printStats, recordRun, runStats } from './stats.ts';

const { seed, numRuns } = propertySettings();
const EXECUTION = 'restore-fault-run';

async function play(prepared: PreparedWorkflow, s: RestoreScenario) {
  const world = restoreWorld(s);
  const run: WorldRun = await runInWorld(prepared, {
    input: restoreInput(s),
    world,
    lambdas: restoreLambdas(world, s, EXECUTION),
    faults: s.faults,
    executionName: EXECUTION,
  });
  recordRun('restore', run);
  return { world, run, verdict: restoreInvariants(s, world, run, EXECUTION) };
}

describe('restore workflow in the fault world', () => {
  let prepared: PreparedWorkflow;
  beforeAll(() => {
    prepared = prepare('restore', pinnedAsl('restore'));
  });
  afterAll(printStats);

  it(`keeps its invariants under any faults (${numRuns} runs, seed ${seed})`, async () => {
    const before = runStats('restore').runs;
    await fc.assert(
      fc.asyncProperty(anyRestoreScenario, async (s) => {
        const { verdict } = await play(prepared, s);
        expect(verdict.problems).toEqual([]);
      }),
      { seed, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
    );
    expect(runStats('restore').runs - before).toBeGreaterThanOrEqual(numRuns);
  });

  it(`a single transient error never discards a good restore (${numRuns} runs, seed ${seed + 1})`, async () => {
    await fc.assert(
      fc.asyncProperty(healthyRestoreWithOneTransient, async (s) => {
        const { run, verdict } = await play(prepared, s);
        expect(verdict.problems).toEqual([]);
        expect({ status: run.status, error: run.error, cause: run.cause }).toMatchObject({
          status: 'SUCCEEDED',
        });
      }),
      { seed: seed + 1, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
    );
  });
});
