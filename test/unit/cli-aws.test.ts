import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type AwsClients,
  executionsCommand,
  failoverCommand,
  gateCommand,
  restoreAwsCommand,
} from '../../bin/cli/commands/aws.ts';

const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);
const FAILOVER_ARN = 'arn:aws:states:eu-central-1:111111111111:stateMachine:lifeboat-dev-failover';

/** Records the regions clients were made for; the mocks answer every instance. */
function clients(): AwsClients & { regions: string[] } {
  const regions: string[] = [];
  return {
    regions,
    pollMs: 1,
    sfn: (region) => {
      regions.push(`sfn:${region}`);
      return new SFNClient({ region });
    },
    ssm: (region) => {
      regions.push(`ssm:${region}`);
      return new SSMClient({ region });
    },
  };
}

function output() {
  let text = '';
  const write = (s: string) => {
    text += s;
    return true;
  };
  return { stream: { write } as unknown as NodeJS.WritableStream, text: () => text };
}

const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 10, 0, s));

describe('lifeboat failover --env', () => {
  beforeEach(() => {
    sfn.reset();
    ssm.reset();
    ssm
      .on(GetParameterCommand, { Name: '/lifeboat/dev/workflows/failover' })
      .resolves({ Parameter: { Value: FAILOVER_ARN } });
    sfn.on(StartExecutionCommand).callsFake((input) => ({
      executionArn: `${FAILOVER_ARN.replace(':stateMachine:', ':execution:')}:${input.name}`,
    }));
  });

  it('starts the workflow in the DR region with the request, follows it step by step, exits 0 on success', async () => {
    // Prepare
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({
        events: [
          { id: 1, type: 'ExecutionStarted', timestamp: at(0) },
          {
            id: 2,
            type: 'TaskStateEntered',
            timestamp: at(1),
            stateEnteredEventDetails: { name: 'Preflight' },
          },
        ],
        nextToken: 'page-2',
      })
      .resolvesOnce({
        events: [
          {
            id: 3,
            type: 'TaskStateEntered',
            timestamp: at(2),
            stateEnteredEventDetails: { name: 'PromoteReadReplica' },
          },
        ],
      })
      .resolves({ events: [{ id: 4, type: 'ExecutionSucceeded', timestamp: at(40) }] });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ status: 'RUNNING' })
      .resolves({
        status: 'SUCCEEDED',
        startDate: at(0),
        stopDate: at(40),
        output: JSON.stringify({ result: 'completed' }),
      });
    const c = clients();
    const out = output();

    // Act
    const code = await failoverCommand(
      ['--env', 'dev', '--database', 'orders', '--reason', 'region outage drill', '--mode', 'unplanned'],
      c,
      out.stream,
    );

    // Assess
    expect(code).toBe(0);
    expect(c.regions).toEqual(['ssm:eu-central-1', 'sfn:eu-central-1']);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: FAILOVER_ARN,
      name: expect.stringMatching(/^failover-orders-\d{8}T\d{6}Z$/),
    });
    const started = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(JSON.parse(started.input!)).toEqual({
      database: 'orders',
      mode: 'unplanned',
      reason: 'region outage drill',
      force: false,
      dryRun: false,
      trigger: 'manual',
    });
    expect(out.text()).toMatch(
      /10:00:01 {2}▶ Preflight\n10:00:02 {2}▶ PromoteReadReplica\n10:00:40 {2}✓ execution succeeded\nsucceeded in 40 s/,
    );
  });

  it('exits 1 and shows the cause when the workflow refuses (e.g. lag too high)', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({
      status: 'FAILED',
      error: 'ReplicationLagTooHigh',
      cause: 'replica lag 95 s exceeds 30 s; pass --force to fail over anyway',
    });
    const out = output();

    const code = await failoverCommand(
      ['--env', 'dev', '--database', 'orders', '--reason', 'test'],
      clients(),
      out.stream,
    );

    expect(code).toBe(1);
    expect(out.text()).toMatch(/FAILED: ReplicationLagTooHigh — replica lag 95 s exceeds 30 s/);
  });

  it('a dry run asks the workflow for preflight only', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: '{"result":"dry-run"}' });

    const code = await failoverCommand(
      ['--env', 'dev', '--database', 'orders', '--dry-run'],
      clients(),
      output().stream,
    );

    expect(code).toBe(0);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!);
    expect(input).toMatchObject({ dryRun: true, reason: 'dry run' });
  });

  it('says clearly when the workflow is not deployed, an environment is unknown, or an option is wrong', async () => {
    ssm.reset();
    ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not found'), { name: 'ParameterNotFound' }));
    await expect(
      failoverCommand(['--env', 'dev', '--database', 'orders', '--reason', 'x'], clients(), output().stream),
    ).rejects.toThrow(
      'the failover workflow of environment "dev" is not deployed in eu-central-1 (no SSM parameter /lifeboat/dev/workflows/failover)',
    );
    await expect(
      failoverCommand(['--env', 'nope', '--database', 'orders', '--reason', 'x'], clients(), output().stream),
    ).rejects.toThrow(/unknown environment "nope"; known environments: dev, prod, staging/);
    await expect(
      failoverCommand(
        ['--env', 'dev', '--database', 'orders', '--reason', 'x', '--mode', 'fast'],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow('--mode expects planned or unplanned, got "fast"');
    await expect(
      failoverCommand(['--env', 'dev', '--database', 'orders'], clients(), output().stream),
    ).rejects.toThrow(/--reason is required/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('lifeboat executions --env', () => {
  beforeEach(() => {
    sfn.reset();
    ssm.reset();
  });

  it('lists executions of every workflow, restore in both regions, newest first', async () => {
    ssm.on(GetParameterCommand).callsFake((input) => ({
      Parameter: { Value: `arn:aws:states:x:1:stateMachine:${input.Name.split('/').at(-1)}` },
    }));
    sfn.on(ListExecutionsCommand).callsFake((input) => ({
      executions: [
        {
          name: `${input.stateMachineArn.split(':').at(-1)}-run`,
          status: 'SUCCEEDED',
          startDate: input.stateMachineArn.endsWith('failover') ? at(30) : at(10),
          executionArn: 'arn:x',
          stateMachineArn: input.stateMachineArn,
        },
      ],
    }));
    const c = clients();
    const out = output();

    const code = await executionsCommand(['--env', 'dev'], c, out.stream);

    expect(code).toBe(0);
    expect(c.regions.filter((r) => r.startsWith('ssm:'))).toEqual([
      'ssm:eu-west-1',
      'ssm:eu-central-1',
      'ssm:eu-west-1',
      'ssm:eu-central-1',
      'ssm:eu-central-1',
    ]);
    const lines = out.text().trim().split('\n');
    expect(lines[0]).toMatch(/^WORKFLOW +REGION +EXECUTION +STATUS/);
    expect(lines[1]).toMatch(/^failover +eu-central-1 +failover-run +SUCCEEDED/);
    expect(lines).toHaveLength(6);
  });

  it('rejects an unknown workflow or status, naming what is expected', async () => {
    await expect(
      executionsCommand(['--env', 'dev', '--workflow', 'backup'], clients(), output().stream),
    ).rejects.toThrow('--workflow expects one of restore, restore-test, failover, failback, got "backup"');
    await expect(
      executionsCommand(['--env', 'dev', '--status', 'DONE'], clients(), output().stream),
    ).rejects.toThrow(/--status expects one of RUNNING/);
  });
});

describe('lifeboat restore --env', () => {
  const RESTORE_ARN = 'arn:aws:states:eu-west-1:111111111111:stateMachine:lifeboat-dev-restore';
  beforeEach(() => {
    sfn.reset();
    ssm.reset();
    ssm.on(GetParameterCommand).callsFake((input) => ({
      Parameter: { Value: input.Name === '/lifeboat/dev/workflows/restore' ? RESTORE_ARN : 'wrong' },
    }));
    sfn
      .on(StartExecutionCommand)
      .resolves({ executionArn: 'arn:aws:states:eu-west-1:111111111111:execution:x:y' });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', output: '{"durationMs":1}' });
  });

  it('builds the workflow request from options, checks it, and starts it in the chosen region', async () => {
    const c = clients();
    const code = await restoreAwsCommand(
      [
        '--env',
        'dev',
        '--database',
        'orders',
        '--source',
        'snapshot',
        '--backup-id',
        '20261122T020000Z-rds-eu-west-1',
        '--target-id',
        'orders-restored',
        '--instance-class',
        'db.r6g.large',
        '--security-group',
        'sg-0123456789abcdef0',
        '--subnet-group',
        'orders-restore-subnets',
        '--target-secret-arn',
        'arn:aws:secretsmanager:eu-central-1:111111111111:secret:lifeboat/dev/orders-AbCdEf',
        '--cutover-zone',
        'Z0123456789ABC',
        '--cutover-record',
        'orders.db.example.com',
        '--region',
        'dr',
      ],
      c,
      output().stream,
    );
    expect(code).toBe(0);
    expect(c.regions).toEqual(['ssm:eu-central-1', 'sfn:eu-central-1']);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!);
    expect(input).toMatchObject({
      database: 'orders',
      source: 'snapshot',
      restorePoint: { kind: 'backup', backupId: '20261122T020000Z-rds-eu-west-1' },
      target: {
        identifier: 'orders-restored',
        instanceClass: 'db.r6g.large',
        securityGroupIds: ['sg-0123456789abcdef0'],
      },
      cutover: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com' },
      verify: true,
    });
  });

  it('a dump restore carries the archive tier and days the workflow asks S3 for; wrong ones are named before anything starts', async () => {
    const dump = [
      '--env',
      'dev',
      '--database',
      'orders',
      '--source',
      'dump',
      '--target-id',
      'reports-db',
      '--target-database',
      'orders_restored',
      '--target-secret-arn',
      'arn:aws:secretsmanager:eu-central-1:111111111111:secret:lifeboat/dev/orders-AbCdEf',
    ];
    expect(
      await restoreAwsCommand([...dump, '--tier', 'Bulk', '--days', '3'], clients(), output().stream),
    ).toBe(0);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!);
    expect(input.archive).toEqual({ tier: 'Bulk', days: 3 });

    await expect(restoreAwsCommand([...dump, '--tier', 'Fast'], clients(), output().stream)).rejects.toThrow(
      /restore request: .*archive\.tier/,
    );
    await expect(restoreAwsCommand([...dump, '--days', '31'], clients(), output().stream)).rejects.toThrow(
      /restore request: .*archive\.days: at most 30 days/,
    );
    await expect(restoreAwsCommand([...dump, '--days', 'two'], clients(), output().stream)).rejects.toThrow(
      '--days expects a whole number of days, got "two"',
    );
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('names a bad field before starting anything', async () => {
    await expect(
      restoreAwsCommand(
        ['--env', 'dev', '--database', 'orders', '--source', 'snapshot', '--target-id', '1-bad'],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow(/restore request: .*target\.identifier/);
    await expect(
      restoreAwsCommand(
        ['--env', 'dev', '--database', 'orders', '--source', 'tape', '--target-id', 'x'],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow(/restore request: .*source/);
    await expect(
      restoreAwsCommand(
        [
          '--env',
          'dev',
          '--database',
          'orders',
          '--source',
          'snapshot',
          '--target-id',
          'x',
          '--region',
          'mars',
        ],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow('--region expects primary or dr, got "mars"');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('lifeboat approve | abort', () => {
  const exec = (name: string) => `${FAILOVER_ARN.replace(':stateMachine:', ':execution:')}:${name}`;
  /** History of an execution that reached the approval gate for `database`; `passed` if it went on. */
  const gateHistory = (database: string, token: string, passed = false): { events: HistoryEvent[] } => ({
    events: [
      { id: 1, type: 'ExecutionStarted', timestamp: at(0) },
      {
        id: 2,
        type: 'TaskStateEntered',
        timestamp: at(1),
        stateEnteredEventDetails: { name: 'RequestApproval' },
      },
      {
        id: 3,
        type: 'TaskScheduled',
        timestamp: at(1),
        taskScheduledEventDetails: {
          resource: 'updateItem.waitForTaskToken',
          resourceType: 'aws-sdk:dynamodb',
          region: 'eu-central-1',
          parameters: JSON.stringify({
            Key: { lockId: { S: `failover#${database}` } },
            ExpressionAttributeValues: { ':token': { S: token } },
          }),
        },
      },
      ...(passed
        ? [
            {
              id: 4,
              type: 'TaskStateExited' as const,
              timestamp: at(5),
              stateExitedEventDetails: { name: 'RequestApproval' },
            },
          ]
        : []),
    ],
  });

  beforeEach(() => {
    sfn.reset();
    ssm.reset();
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: FAILOVER_ARN } });
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          name: 'alarm-orders-1',
          executionArn: exec('alarm-orders-1'),
          stateMachineArn: FAILOVER_ARN,
          status: 'RUNNING',
          startDate: at(0),
        },
        {
          name: 'alarm-billing-1',
          executionArn: exec('alarm-billing-1'),
          stateMachineArn: FAILOVER_ARN,
          status: 'RUNNING',
          startDate: at(0),
        },
        {
          name: 'alarm-orders-0',
          executionArn: exec('alarm-orders-0'),
          stateMachineArn: FAILOVER_ARN,
          status: 'RUNNING',
          startDate: at(0),
        },
      ],
    });
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: exec('alarm-orders-1'), includeExecutionData: true })
      .resolves(gateHistory('orders', 'token-orders'));
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: exec('alarm-billing-1'), includeExecutionData: true })
      .resolves(gateHistory('billing', 'token-billing'));
    sfn
      .on(GetExecutionHistoryCommand, { executionArn: exec('alarm-orders-0'), includeExecutionData: true })
      .resolves(gateHistory('orders', 'token-old', true));
    sfn.on(GetExecutionHistoryCommand, { includeExecutionData: false }).resolves({ events: [] });
    sfn.on(SendTaskSuccessCommand).resolves({});
    sfn.on(SendTaskFailureCommand).resolves({});
  });

  it("approve sends the waiting execution's task token, found in its history, and follows it", async () => {
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' });
    const out = output();

    const code = await gateCommand(
      'approve',
      ['--env', 'dev', '--database', 'orders'],
      clients(),
      out.stream,
    );

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, {
      taskToken: 'token-orders',
      output: expect.stringContaining('approvedBy'),
    });
    expect(out.text()).toMatch(/^approved alarm-orders-1 \(failover of "orders"\)/);
  });

  it('abort fails the gate with FailoverAborted and the reason; that outcome exits 0', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'FAILED', error: 'FailoverAborted', cause: 'aborted by ops' });

    const code = await gateCommand(
      'abort',
      ['--env', 'dev', '--database', 'billing', '--reason', 'false alarm'],
      clients(),
      output().stream,
    );

    expect(code).toBe(0);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'token-billing',
      error: 'FailoverAborted',
      cause: expect.stringMatching(/: false alarm$/),
    });
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
  });

  it('says so when nothing of that database is waiting, and sends nothing', async () => {
    await expect(
      gateCommand('approve', ['--env', 'dev', '--database', 'reports'], clients(), output().stream),
    ).rejects.toThrow(
      'no failover of "reports" is waiting for approval; waiting: alarm-orders-1 (orders), alarm-billing-1 (billing)',
    );
    await expect(
      gateCommand('abort', ['--env', 'dev', '--database', 'orders'], clients(), output().stream),
    ).rejects.toThrow(/--reason is required/);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskSuccessCommand, 0);
    expect(sfn).toHaveReceivedCommandTimes(SendTaskFailureCommand, 0);
  });
});
