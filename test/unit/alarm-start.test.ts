import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { primaryUnwritableAlarmName } from '../../functions/core/failover/canary.ts';
import { startFromAlarm } from '../../functions/wf-alarm-start/index.ts';

function namedError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name });
}

describe('wf-alarm-start', () => {
  const sfn = mockClient(SFNClient);
  const env = {
    LIFEBOAT_ENVIRONMENT: 'prod',
    LIFEBOAT_FAILOVER_STATE_MACHINE_ARN: 'arn:aws:states:eu-central-1:111111111111:stateMachine:failover',
  };
  const trigger = primaryUnwritableAlarmName('prod', 'orders');
  const event = (time: string, state = 'ALARM', alarmName = trigger) => ({
    database: 'orders',
    alarmName,
    state,
    time,
  });
  beforeEach(() => sfn.reset());

  it('starts an unplanned, alarm-triggered failover named after database, alarm and window', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'x' });

    const result = await startFromAlarm(event('2026-11-23T10:07:00Z'), new SFNClient({}), env);

    expect(trigger).toBe('lifeboat-prod-orders-primary-unwritable');
    expect(result).toMatchObject({
      started: true,
      executionName: expect.stringMatching(/^alarm-orders-20261123T1000Z-/),
    });
    const input = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(input.stateMachineArn).toBe(env.LIFEBOAT_FAILOVER_STATE_MACHINE_ARN);
    expect(JSON.parse(input.input!)).toEqual({
      database: 'orders',
      mode: 'unplanned',
      reason: `the primary of orders has not accepted writes (alarm ${trigger} in ALARM since 2026-11-23T10:07:00Z)`,
      trigger: 'alarm',
      requestedBy: trigger,
    });
  });

  it('a flapping alarm asks for the same execution again, which is not an error', async () => {
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'x' })
      .rejects(namedError('ExecutionAlreadyExists', 'Execution Already Exists'));

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

  it.each(['lifeboat-prod-orders-replica-lag-critical', 'lifeboat-staging-orders-primary-unwritable'])(
    'never starts a failover from any other alarm (%s)',
    async (alarmName) => {
      const result = await startFromAlarm(
        event('2026-11-23T10:07:00Z', 'ALARM', alarmName),
        new SFNClient({}),
        env,
      );

      expect(result).toMatchObject({
        started: false,
        reason: expect.stringContaining(`not the failover trigger of orders (${trigger})`),
      });
      expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    },
  );

  it('refuses a malformed event, naming what is wrong, and needs its environment', async () => {
    await expect(startFromAlarm({ database: 'orders' }, new SFNClient({}), env)).rejects.toThrow(
      /alarm event/,
    );
    await expect(
      startFromAlarm(event('2026-11-23T10:07:00Z'), new SFNClient({}), {
        LIFEBOAT_FAILOVER_STATE_MACHINE_ARN: env.LIFEBOAT_FAILOVER_STATE_MACHINE_ARN,
      }),
    ).rejects.toThrow(/LIFEBOAT_ENVIRONMENT/);
  });
});
