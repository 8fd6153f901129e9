import { type CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { FailoverTarget, type FailoverTargetInput } from '../../functions/core/failover.ts';
import type { Repository } from '../../functions/core/repository/types.ts';
import { startFromAlarm } from '../../functions/wf-alarm-start/index.ts';
import { checkWritable } from '../../functions/wf-check-writable/index.ts';
import { runPreflightTask } from '../../functions/wf-failover-preflight/index.ts';
import { fence } from '../../functions/wf-fence/index.ts';
import { recordFailover } from '../../functions/wf-record-failover/index.ts';

const targetInput = {
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  maxLagSeconds: 30,
  fenceSecurityGroupId: 'sg-0fe0fe0fe0fe0fe00',
} satisfies FailoverTargetInput;
const target = FailoverTarget.parse(targetInput);

function rdsError(name: string, message = name): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

describe('wf-alarm-start', () => {
  const sfn = mockClient(SFNClient);
  const env = {
    LIFEBOAT_FAILOVER_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:111111111111:stateMachine:failover',
  };
  const event = (time: string, state = 'ALARM') => ({
    database: 'orders',
    alarmName: 'orders-lag-critical',
    state,
    time,
  });
  beforeEach(() => sfn.reset());

  it('starts an unplanned, alarm-triggered failover named after database, alarm and window', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'x' });

    const result = await startFromAlarm(event('2026-11-23T10:07:00Z'), new SFNClient({}), env);

    expect(result).toMatchObject({
      started: true,
      executionName: expect.stringMatching(/^alarm-orders-20261123T1000Z-/),
    });
    const input = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(input.stateMachineArn).toBe(env.LIFEBOAT_FAILOVER_STATE_MACHINE_ARN);
    expect(JSON.parse(input.input!)).toEqual({
      database: 'orders',
      mode: 'unplanned',
      reason: 'alarm orders-lag-critical in ALARM',
      trigger: 'alarm',
      requestedBy: 'orders-lag-critical',
    });
  });

  it('a flapping alarm asks for the same execution again, which is not an error', async () => {
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'x' })
      .rejects(rdsError('ExecutionAlreadyExists', 'Execution Already Exists'));

    const first = await startFromAlarm(event('2026-11-23T10:07:00Z'), new SFNClient({}), env);
    const second = await startFromAlarm(event('2026-11-23T10:21:00Z'), new SFNClient({}), env);

    const names = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names[0]).toBe(names[1]);
    expect(first.started).toBe(true);
    expect(second).toMatchObject({ started: false, reason: expect.stringContaining('flapping') });
  });

  it('ignores the return to OK', async () => {
    const result = await startFromAlarm(event('2026-11-23T10:07:00Z', 'OK'), new SFNClient({}), env);

    expect(result.started).toBe(false);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });
});

describe('wf-fence', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());

  it('moves the old primary into the fence security group', async () => {
    rds.on(ModifyDBInstanceCommand).resolves({});

    const result = await fence({ database: 'orders', mode: 'unplanned', target }, new RDSClient({}));

    expect(result.status).toBe('fenced');
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db',
      VpcSecurityGroupIds: ['sg-0fe0fe0fe0fe0fe00'],
      ApplyImmediately: true,
    });
  });

  it('reports an unreachable region instead of failing', async () => {
    rds.on(ModifyDBInstanceCommand).rejects(rdsError('TimeoutError', 'connect ETIMEDOUT'));

    const result = await fence({ database: 'orders', mode: 'unplanned', target }, new RDSClient({}));

    expect(result).toMatchObject({
      status: 'unreachable',
      detail: expect.stringContaining('eu-west-1 did not answer'),
    });
  });

  it('fails on a real error (the workflow stops before promoting)', async () => {
    rds.on(ModifyDBInstanceCommand).rejects(rdsError('AccessDenied', 'not authorized'));

    await expect(fence({ database: 'orders', mode: 'planned', target }, new RDSClient({}))).rejects.toThrow(
      'not authorized',
    );
  });

  it('does nothing for an Aurora switchover, or without a fence group', async () => {
    const cluster = FailoverTarget.parse({ ...targetInput, kind: 'cluster', globalClusterIdentifier: 'g' });

    expect(
      (await fence({ database: 'orders', mode: 'planned', target: cluster }, new RDSClient({}))).status,
    ).toBe('not-needed');
    const unfenced = FailoverTarget.parse({ ...targetInput, fenceSecurityGroupId: undefined });
    expect(
      (await fence({ database: 'orders', mode: 'unplanned', target: unfenced }, new RDSClient({}))).status,
    ).toBe('skipped');
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });
});

describe('wf-check-writable', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());

  it.each([
    [{ DBInstanceStatus: 'modifying', ReadReplicaSourceDBInstanceIdentifier: 'arn:src' }, false],
    [{ DBInstanceStatus: 'available', ReadReplicaSourceDBInstanceIdentifier: 'arn:src' }, false],
    [{ DBInstanceStatus: 'available' }, true],
  ])('%j → writable %s', async (instance, writable) => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ ...instance, Endpoint: { Address: 'dr.example' } }] });

    const result = await checkWritable({ database: 'orders', target }, new RDSClient({}));

    expect(result).toEqual({ writable, status: instance.DBInstanceStatus, endpoint: 'dr.example' });
  });
});

describe('wf-failover-preflight', () => {
  type Answer = (command: object) => unknown;
  /** A client per region, answering per command class (the RDS prototype is mocked above). */
  function fakeClient<T>(
    answers: Map<abstract new (...args: never[]) => object, Answer>,
    calls: object[],
  ): T {
    return {
      send: async (command: object) => {
        calls.push(command);
        const answer = answers.get(command.constructor as abstract new (...args: never[]) => object);
        if (!answer) throw new Error(`unexpected ${command.constructor.name}`);
        return answer(command);
      },
    } as T;
  }
  const now = new Date('2026-11-23T10:00:00Z');
  const env = { LIFEBOAT_FAILOVER_TARGETS: JSON.stringify([targetInput]) };
  const event = { input: { database: 'orders', mode: 'unplanned', reason: 'outage' }, executionId: 'e' };
  const replicaInstance = {
    DBInstanceStatus: 'available',
    EngineVersion: '16.4',
    ReadReplicaSourceDBInstanceIdentifier: 'arn:aws:rds:eu-west-1:111111111111:db:orders-db',
    DBInstanceArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
    Endpoint: { Address: 'orders-db-dr.example' },
  };

  function setup(answers: { replica: Answer; primary: Answer; lag: Answer }) {
    const cwCalls: object[] = [];
    const deps = {
      rds: (region: string) =>
        fakeClient<RDSClient>(
          new Map([
            [DescribeDBInstancesCommand, region === 'eu-central-1' ? answers.replica : answers.primary],
          ]),
          [],
        ),
      cloudwatch: () =>
        fakeClient<CloudWatchClient>(new Map([[GetMetricStatisticsCommand, answers.lag]]), cwCalls),
      now: () => now,
    };
    return { deps, cwCalls: cwCalls as GetMetricStatisticsCommand[] };
  }

  it('uses the newest lag datapoint and goes ahead when the old primary does not answer', async () => {
    const { deps, cwCalls } = setup({
      replica: () => ({ DBInstances: [replicaInstance] }),
      primary: () => {
        throw rdsError('TimeoutError');
      },
      lag: () => ({
        Datapoints: [
          { Timestamp: new Date('2026-11-23T09:58:00Z'), Maximum: 90 },
          { Timestamp: new Date('2026-11-23T09:59:00Z'), Maximum: 4 },
        ],
      }),
    });

    const out = await runPreflightTask(event, deps, env);

    expect(out.passed).toBe(true);
    expect(out.rpoSeconds).toBe(4);
    expect(out.facts.source).toEqual({ reachable: false, engineVersion: null, status: null });
    expect(out.replicaArn).toBe('arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr');
    expect(cwCalls[0]!.input).toMatchObject({
      Namespace: 'AWS/RDS',
      MetricName: 'ReplicaLag',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'orders-db-dr' }],
    });
  });

  it('refuses when the primary runs another version, and counts an unknown lag as too high', async () => {
    const { deps } = setup({
      replica: () => ({ DBInstances: [replicaInstance] }),
      primary: () => ({ DBInstances: [{ EngineVersion: '16.6', DBInstanceStatus: 'available' }] }),
      lag: () => ({ Datapoints: [] }),
    });

    const out = await runPreflightTask(event, deps, env);

    expect(out.passed).toBe(false);
    expect(out.refusal?.Error).toBe('EngineVersionMismatch');
    expect(out.checks.find((c) => c.name === 'replica-lag')?.passed).toBe(false);
  });

  it('reports a missing replica as TargetNotFound', async () => {
    const { deps } = setup({
      replica: () => {
        throw rdsError('DBInstanceNotFoundFault');
      },
      primary: () => ({ DBInstances: [] }),
      lag: () => ({ Datapoints: [] }),
    });

    expect((await runPreflightTask(event, deps, env)).refusal?.Error).toBe('TargetNotFound');
  });
});

describe('wf-record-failover', () => {
  it('writes the record once and returns RTO and RPO', async () => {
    const written = new Map<string, string>();
    const repository = {
      putOnce: async (key: string, body: string) => {
        written.set(key, body);
      },
    } as unknown as Repository;

    const out = await recordFailover(
      {
        executionId: 'arn:e',
        executionName: 'failover-1',
        startedAt: '2026-11-23T10:00:00.000Z',
        request: {
          database: 'orders',
          mode: 'planned',
          reason: 'drill',
          force: false,
          dryRun: false,
          trigger: 'manual',
        },
        target,
        rpoSeconds: 2,
        verifiedWriteAt: '2026-11-23T10:01:30.000Z',
        fence: 'fenced',
      },
      repository,
    );

    expect(out).toEqual({
      recorded: true,
      key: 'catalog/orders/_failovers/20261123T100130Z-failover-1.json',
      rtoSeconds: 90,
      rpoSeconds: 2,
    });
    expect(JSON.parse(written.get(out.key)!)).toMatchObject({
      kind: 'failover',
      rtoSeconds: 90,
      to: { identifier: 'orders-db-dr' },
    });
  });
});
