import { describe, expect, it } from 'vitest';
import { runLocalWorkflow } from '../../state-machines/local-run.ts';
import type { AslDefinition } from '../../state-machines/render.ts';

/**
 * The one local runner (`lifeboat drill`, these tests, the fault suites): what it refuses, what it
 * records, and the options the three share.
 */

function asl(): AslDefinition {
  return {
    StartAt: 'Work',
    States: {
      Work: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Retry: [{ ErrorEquals: ['Flaky'], IntervalSeconds: 3600, MaxAttempts: 2 }],
        Catch: [{ ErrorEquals: ['Broken'], ResultPath: '$.error', Next: 'Failed' }],
        ResultPath: '$.work',
        Next: 'Pause',
      },
      Pause: { Type: 'Wait', Seconds: 3600, Next: 'Loop' },
      Loop: {
        Type: 'Choice',
        Choices: [
          {
            And: [
              { Variable: '$.again', IsPresent: true },
              { Variable: '$.again', BooleanEquals: true },
            ],
            Next: 'Work',
          },
        ],
        Default: 'Done',
      },
      Done: { Type: 'Succeed' },
      Failed: { Type: 'Fail', Error: 'WorkFailed', Cause: 'the work broke' },
    },
  } as unknown as AslDefinition;
}

function named(name: string): Error {
  return Object.assign(new Error(`${name} happened`), { name });
}

describe('runLocalWorkflow', () => {
  it('refuses to start when a task has no override (it would call AWS)', async () => {
    await expect(runLocalWorkflow('failover', asl(), {}, {})).rejects.toThrow(
      'no local override for task state(s): Work',
    );
  });

  it('refuses an override for a state that is not a task', async () => {
    await expect(runLocalWorkflow('failover', asl(), {}, { Work: () => 1, Pause: () => 2 })).rejects.toThrow(
      'overrides for states that are not tasks: Pause',
    );
  });

  it('records the path, each task input, and retries without their intervals', async () => {
    // Prepare: fails once with a retried error, then succeeds.
    let attempts = 0;
    const work = () => {
      attempts += 1;
      if (attempts === 1) throw named('Flaky');
      return { attempts };
    };

    // Act
    const run = await runLocalWorkflow('failover', asl(), { n: 1 }, { Work: work }, { executionName: 'x1' });

    // Assess: the retry's hour-long interval and the hour-long Wait took no time here.
    expect(run).toMatchObject({ status: 'SUCCEEDED', error: null, output: { n: 1, work: { attempts: 2 } } });
    expect(run.path).toEqual(['Work', 'Pause', 'Loop', 'Done']);
    expect(run.entered.map((e) => e.state)).toEqual(run.path);
    expect(run.calls).toEqual({ Work: [{ n: 1 }, { n: 1 }] });
  });

  it("fails with a thrown error's name, which a Catch matches", async () => {
    const run = await runLocalWorkflow(
      'failover',
      asl(),
      {},
      { Work: () => Promise.reject(named('Broken')) },
    );

    expect(run).toMatchObject({ status: 'FAILED', error: 'WorkFailed', cause: 'the work broke' });
    expect(run.path).toEqual(['Work', 'Failed']);
  });

  it('lasts waitMs in each Wait state', async () => {
    const run = await runLocalWorkflow(
      'failover',
      asl(),
      {},
      { Work: () => ({}) },
      { waitMs: { Pause: 120 } },
    );

    const at = (state: string) => run.entered.find((e) => e.state === state)!.atMs;
    expect(run.status).toBe('SUCCEEDED');
    expect(at('Loop') - at('Pause')).toBeGreaterThanOrEqual(100);
  });

  it('aborts an execution past maxTransitions', async () => {
    const run = await runLocalWorkflow(
      'failover',
      asl(),
      { again: true },
      { Work: () => ({}) },
      { maxTransitions: 10 },
    );

    expect(run).toMatchObject({ status: 'ABORTED', error: 'Aborted', cause: 'more than 10 transitions' });
    expect(run.path.length).toBeGreaterThan(10);
  });
});
