import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { StateMachine } from 'aws-local-stepfunctions';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupEnvCommand, type DeployedClients, verifyEnvCommand } from '../../bin/cli/commands/deployed.ts';
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

/**
 * `lifeboat backup|verify --env staging --database ledger --wait` against this workflow: Step
 * Functions is the SDK mock, and each execution it starts is the synthesized ASL run here, so the
 * command's exit code and lines come from what the deployed definition does with the task's exit.
 */
describe('the on-demand commands follow the Fargate workflows to their end', () => {
  const sfn = mockClient(SFNClient);
  const ssm = mockClient(SSMClient);
  const ARN = {
    dump: 'arn:aws:states:eu-west-1:222222222222:stateMachine:DumpTaskledger',
    verify: 'arn:aws:states:eu-west-1:222222222222:stateMachine:VerifyTaskledger',
  };

  function clients(): DeployedClients {
    return {
      pollMs: 1,
      sfn: (region) => new SFNClient({ region }),
      ssm: (region) => new SSMClient({ region }),
      lambda: (region) => new LambdaClient({ region }),
      s3: (region) => new S3Client({ region }),
      rds: (region) => new RDSClient({ region }),
    };
  }

  function output() {
    let text = '';
    return {
      stream: {
        write: (s: string) => {
          text += s;
          return true;
        },
      } as unknown as NodeJS.WritableStream,
      text: () => text,
    };
  }

  /** Each StartExecution runs the workflow of `taskState` here; Describe and the history replay it. */
  function deploy(taskState: string, exitCode: number) {
    const { machine } = workflow(taskState);
    const runs = new Map<string, { status: string; error?: string; cause?: string; states: string[] }>();
    sfn.reset();
    ssm.reset();
    ssm
      .on(GetParameterCommand, { Name: '/lifeboat/staging/dumps/ledger' })
      .resolves({ Parameter: { Value: ARN.dump } });
    ssm
      .on(GetParameterCommand, { Name: '/lifeboat/staging/verify/ledger' })
      .resolves({ Parameter: { Value: ARN.verify } });
    sfn.on(StartExecutionCommand).callsFake(async (input: { stateMachineArn: string; name: string }) => {
      const executionArn = `${input.stateMachineArn.replace(':stateMachine:', ':execution:')}:${input.name}`;
      const states: string[] = [];
      const execution = machine.run(
        {},
        {
          overrides: {
            taskResourceLocalHandlers: {
              [taskState]: async () => stopped(exitCode),
              CountSuccess: async () => ({}),
            },
          },
        },
      );
      const logs = (async () => {
        for await (const event of execution.eventLogs)
          if (event.type === 'StateEntered') states.push(event.state.name);
      })();
      try {
        await execution.result;
        runs.set(executionArn, { status: 'SUCCEEDED', states });
      } catch (err) {
        const cause = (err as { cause?: { name?: string; message?: string } }).cause;
        runs.set(executionArn, { status: 'FAILED', error: cause?.name, cause: cause?.message, states });
      }
      await logs;
      return { executionArn };
    });
    sfn.on(DescribeExecutionCommand).callsFake((input: { executionArn: string }) => {
      const run = runs.get(input.executionArn)!;
      return { status: run.status, error: run.error, cause: run.cause };
    });
    sfn.on(GetExecutionHistoryCommand).callsFake((input: { executionArn: string }) => ({
      events: runs.get(input.executionArn)!.states.map((name, i) => ({
        id: i + 1,
        type: 'TaskStateEntered',
        timestamp: new Date(),
        stateEnteredEventDetails: { name },
      })),
    }));
  }

  it('backup --wait: exit 0 when the dump task exits 0, exit 1 with the workflow error when it exits 1', async () => {
    deploy('Dump', 0);
    const ok = output();
    expect(
      await backupEnvCommand(['--env', 'staging', '--database', 'ledger', '--wait'], clients(), ok.stream),
    ).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: ARN.dump });
    expect(ok.text()).toMatch(/▶ Dump\n.*▶ CountSuccess\n.*backup of "ledger" complete/s);

    deploy('Dump', 1);
    const failed = output();
    expect(
      await backupEnvCommand(
        ['--env', 'staging', '--database', 'ledger', '--wait'],
        clients(),
        failed.stream,
      ),
    ).toBe(1);
    expect(failed.text()).toMatch(
      /backup of "ledger" FAILED: JobFailed .*Essential container in task exited/,
    );
    expect(failed.text()).not.toMatch(/CountSuccess/);
  });

  it('verify: exit 1 when the verification task exits 1 (a check failed)', async () => {
    deploy('Verify', 1);
    const out = output();
    expect(await verifyEnvCommand(['--env', 'staging', '--database', 'ledger'], clients(), out.stream)).toBe(
      1,
    );
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: ARN.verify });
    expect(out.text()).toMatch(/verification of "ledger" FAILED: JobFailed/);
  });
});
