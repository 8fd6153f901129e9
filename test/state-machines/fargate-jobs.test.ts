import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractAsl } from '../../state-machines/render.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from '../cdk/support.ts';
import { actionsOf, statementsOfRole } from '../cdk/template-helpers.ts';

/**
 * The Fargate workflows of a large database (staging: ledger), run from their synthesized ASL
 * with every task overridden: the dump (BackupSucceeded) and the verification of the newest dump
 * (VerificationPassed). Only a task that exits 0 is counted; the age alarms watch those metrics.
 */
let env: SynthesizedEnvironment;
beforeAll(() => {
  env = synthesizeEnvironment('staging');
});
afterAll(() => env.dispose());

type Resources = Record<
  string,
  { Type: string; Properties: { DefinitionString?: unknown; RoleArn?: unknown } }
>;

function workflow(taskState: string): { id: string; machine: StateMachine } {
  const resources = env.primaryTemplate.toJSON().Resources as Resources;
  const found = Object.entries(resources).filter(
    ([, r]) =>
      r.Type === 'AWS::StepFunctions::StateMachine' &&
      JSON.stringify(r.Properties).includes('ecs:runTask') &&
      JSON.stringify(r.Properties).includes(`\\"${taskState}\\"`),
  );
  expect(found).toHaveLength(1);
  const [id, resource] = found[0]!;
  const asl = extractAsl({ Resources: { [id]: resource } });
  return {
    id,
    machine: new StateMachine(asl as never, { validationOptions: { checkPaths: true, checkArn: false } }),
  };
}

const stopped = (exitCode: number) => ({
  StoppedReason: 'Essential container in task exited',
  Containers: [{ ExitCode: exitCode }],
});

describe.each([
  ['Dump', 'BackupSucceeded'],
  ['Verify', 'VerificationPassed'],
])('Fargate workflow with task %s', (taskState, metricName) => {
  let id: string;
  let machine: StateMachine;
  beforeAll(() => {
    ({ id, machine } = workflow(taskState));
  });

  it(`counts a task that exits 0 as ${metricName} of its database`, async () => {
    // Arrange
    const metrics: unknown[] = [];

    // Act
    await machine.run(
      {},
      {
        overrides: {
          taskResourceLocalHandlers: {
            [taskState]: async () => stopped(0),
            CountSuccess: async (input: unknown) => {
              metrics.push(input);
              return {};
            },
          },
        },
      },
    ).result;

    // Assess
    expect(metrics).toEqual([
      {
        Namespace: 'Lifeboat',
        MetricData: [
          {
            MetricName: metricName,
            Value: 1,
            Unit: 'Count',
            Dimensions: [
              { Name: 'Environment', Value: 'staging' },
              { Name: 'Database', Value: 'ledger' },
            ],
          },
        ],
      },
    ]);
  });

  it('fails without counting when the task exits non-zero (e.g. a failed check)', async () => {
    // Arrange
    let counted = 0;

    // Act
    const result = machine.run(
      {},
      {
        overrides: {
          taskResourceLocalHandlers: {
            [taskState]: async () => stopped(1),
            CountSuccess: async () => {
              counted++;
              return {};
            },
          },
        },
      },
    ).result;

    // Assess
    await expect(result).rejects.toMatchObject({ name: 'ExecutionError' });
    await result.catch((err: { cause?: { name?: string; message?: string } }) => {
      expect(err.cause?.name).toBe('JobFailed');
      expect(err.cause?.message).toContain('Essential container in task exited');
    });
    expect(counted).toBe(0);
  });

  it('fails without counting when the task itself fails', async () => {
    // Arrange
    let counted = 0;

    // Act
    const result = machine.run(
      {},
      {
        overrides: {
          taskResourceLocalHandlers: {
            [taskState]: async () => {
              throw Object.assign(new Error('task stopped'), { name: 'States.TaskFailed' });
            },
            CountSuccess: async () => {
              counted++;
              return {};
            },
          },
        },
      },
    ).result;

    // Assess
    await expect(result).rejects.toThrow();
    expect(counted).toBe(0);
  });

  it('may put metrics only into the Lifeboat namespace', () => {
    const resources = env.primaryTemplate.toJSON().Resources as Record<
      string,
      { Properties: { RoleArn: { 'Fn::GetAtt': [string, string] } } }
    >;
    const role = resources[id]!.Properties.RoleArn['Fn::GetAtt'][0];
    const put = statementsOfRole(env.primaryTemplate, role).filter((s) =>
      actionsOf(s).includes('cloudwatch:putMetricData'),
    );

    expect(put).toHaveLength(1);
    expect(put[0]!.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Lifeboat' } });
  });
});
