import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerificationRecord } from '../../functions/core/catalog/catalog.ts';
import { propertySettings } from './faults.ts';
import {
  anyRestoreTestScenario,
  healthyRestoreTestWithOneTransient,
  type RestoreTestScenario,
  restoreTestInvariants,
  restoreTestLambdas,
  restoreTestWorld,
} from './restore-test-world.ts';
import { type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';
import { printStats, recordRun, runStats } from './stats.ts';

const { seed, numRuns } = propertySettings();
const EXECUTION = 'restore-test-fault-run';

async function play(prepared: PreparedWorkflow, s: RestoreTestScenario) {
  const world = restoreTestWorld(s, EXECUTION);
  const records: VerificationRecord[] = [];
  const run = await runInWorld(prepared, {
    input: { database: 'orders' },
    world,
    lambdas: restoreTestLambdas(world, s, records),
    faults: s.faults,
    executionName: EXECUTION,
  });
  recordRun('restore-test', run);
  return { world, run, records, problems: restoreTestInvariants(s, world, run, EXECUTION, records) };
}

describe('restore-test workflow in the fault world', () => {
  let prepared: PreparedWorkflow;
  beforeAll(() => {
    prepared = prepare('restore-test', pinnedAsl('restore-test'));
  });
  afterAll(printStats);

  it(`keeps its invariants under any faults (${numRuns} runs, seed ${seed})`, async () => {
    const before = runStats('restore-test').runs;
    await fc.assert(
      fc.asyncProperty(anyRestoreTestScenario, async (s) => {
        const { problems } = await play(prepared, s);
        expect(problems).toEqual([]);
      }),
      { seed, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
    );
    expect(runStats('restore-test').runs - before).toBeGreaterThanOrEqual(numRuns);
  });

  it(`a single transient error never discards a good restore test (${numRuns} runs, seed ${seed + 1})`, async () => {
    await fc.assert(
      fc.asyncProperty(healthyRestoreTestWithOneTransient, async (s) => {
        const { run, world, records, problems } = await play(prepared, s);
        expect(problems).toEqual([]);
        expect({ status: run.status, error: run.error }).toEqual({ status: 'SUCCEEDED', error: null });
        expect(records.filter((r) => r.passed)).not.toHaveLength(0);
        expect(world.leftBy(EXECUTION)).toEqual({ instances: [], clusters: [] });
      }),
      { seed: seed + 1, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
    );
  });
});
