import { StateMachine } from 'aws-local-stepfunctions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractAsl } from '../../state-machines/render.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from '../cdk/support.ts';
import { actionsOf, statementsOfRole } from '../cdk/template-helpers.ts';

/**
 * The Fargate dump workflow of a large database (staging: ledger), run from its synthesized ASL
 * with both tasks overridden: a completed dump is counted (BackupSucceeded, which the backup-age
 * alarms watch); a failed one is not, and fails the execution.
 */
describe('Fargate dump workflow', () => {
  let env: SynthesizedEnvironment;
  let id: string;
  let machine: StateMachine;

  beforeAll(() => {
    env = synthesizeEnvironment('staging');
    const resources = env.primaryTemplate.toJSON().Resources as Record<
      string,
      { Type: string; Properties: { DefinitionString?: unknown } }
    >;
    const found = Object.entries(resources).filter(
      ([, r]) =>
        r.Type === 'AWS::StepFunctions::StateMachine' &&
        JSON.stringify(r.Properties).includes('ecs:runTask') &&
        JSON.stringify(r.Properties).includes('\\"Dump\\"'),
    );
    expect(found).toHaveLength(1);
    id = found[0]![0];
    const asl = extractAsl({ Resources: { [id]: found[0]![1] } });
    machine = new StateMachine(asl as never, { validationOptions: { checkPaths: true, checkArn: false } });
  });
  afterAll(() => env.dispose());

  it('counts a completed dump as BackupSucceeded of its database', async () => {
    // Arrange
    const metrics: unknown[] = [];

    // Act
    const output = await machine.run(
      {},
      {
        overrides: {
          taskResourceLocalHandlers: {
            Dump: async () => ({
              StoppedReason: 'Essential container in task exited',
              Containers: [{ ExitCode: 0 }],
            }),
            CountSuccess: async (input: unknown) => {
              metrics.push(input);
              return {};
            },
          },
        },
      },
    ).result;

    // Assess
    expect(output).toMatchObject({ stoppedReason: 'Essential container in task exited', containers: [0] });
    expect(metrics).toEqual([
      {
        Namespace: 'Lifeboat',
        MetricData: [
          {
            MetricName: 'BackupSucceeded',
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

  it('counts nothing when the dump fails, and the execution fails (the workflow-failed alarm fires)', async () => {
    // Arrange
    let counted = 0;
    const failed = Object.assign(new Error('exit code 1'), { name: 'States.TaskFailed' });

    // Act
    const result = machine.run(
      {},
      {
        overrides: {
          taskResourceLocalHandlers: {
            Dump: async () => {
              throw failed;
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
    const machineRole = (
      env.primaryTemplate.toJSON().Resources[id] as {
        Properties: { RoleArn: { 'Fn::GetAtt': [string, string] } };
      }
    ).Properties.RoleArn['Fn::GetAtt'][0];
    const put = statementsOfRole(env.primaryTemplate, machineRole).filter((s) =>
      actionsOf(s).includes('cloudwatch:putMetricData'),
    );

    expect(put).toHaveLength(1);
    expect(put[0]!.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': 'Lifeboat' } });
  });
});
