import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import * as z from '#core/shared/zod.ts';
import { primaryUnwritableAlarmName } from '#core/failover/canary.ts';
import { ConfigError, requireEnv } from '#core/shared/errors.ts';
import {
  ALARM_DEDUPE_WINDOW_MINUTES,
  alarmExecutionName,
  InvalidFailoverInput,
} from '#core/failover/failover.ts';
import { awsClient } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { WF_ENV } from '../wf-common/env.ts';

/**
 * Starts the failover workflow from the failover trigger of a database: its composite alarm "the
 * primary has not accepted writes for N minutes" (`primaryUnwritableAlarmName`, built on the
 * primary canary's metrics), through an EventBridge rule on "CloudWatch Alarm State Change". Any
 * other alarm (a replica-lag alarm wired by mistake) is refused: lag says a failover would lose
 * data, not that one is needed. The execution name is derived from database, alarm and a time
 * window, so an alarm that flaps within the window starts one execution: Step Functions refuses
 * the same name again (ExecutionAlreadyExists), which this function treats as done.
 *
 * The rule's target input names the database:
 *   { "database": "orders", "alarmName": <$.detail.alarmName>, "state": <$.detail.state.value>, "time": <$.time> }
 */

export const AlarmStartEvent = z.object({
  database: z.string().check(z.minLength(1)),
  alarmName: z.string().check(z.minLength(1)),
  state: z.string(),
  time: z.iso.datetime({ offset: true }),
  /** @default 'unplanned': an alarm means the primary is unhealthy */
  mode: z._default(z.enum(['planned', 'unplanned']), 'unplanned'),
});
export type AlarmStartEvent = z.input<typeof AlarmStartEvent>;

export interface AlarmStartResult {
  readonly started: boolean;
  readonly executionName: string | null;
  readonly reason: string;
}

export async function startFromAlarm(
  raw: unknown,
  sfn: Pick<SFNClient, 'send'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<AlarmStartResult> {
  const parsed = AlarmStartEvent.safeParse(raw);
  if (!parsed.success)
    throw new InvalidFailoverInput(`alarm event: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const event = parsed.data;
  if (event.state !== 'ALARM')
    return { started: false, executionName: null, reason: `alarm state is ${event.state}` };
  const environment = requireEnv(WF_ENV.environment, env);
  const trigger = primaryUnwritableAlarmName(environment, event.database);
  if (event.alarmName !== trigger) {
    return {
      started: false,
      executionName: null,
      reason: `${event.alarmName} is not the failover trigger of ${event.database} (${trigger}); only the primary's health starts a failover`,
    };
  }
  const rawWindow = env[WF_ENV.alarmDedupeMinutes];
  const window = rawWindow ? Number(rawWindow) : ALARM_DEDUPE_WINDOW_MINUTES;
  if (!Number.isFinite(window) || window <= 0)
    throw new ConfigError(`${WF_ENV.alarmDedupeMinutes} must be a positive number`);
  const name = alarmExecutionName(event.database, event.alarmName, new Date(event.time), window);
  // The input is the same for every state change in the window, so a repeat is idempotent.
  const input = {
    database: event.database,
    mode: event.mode,
    reason: `the primary of ${event.database} has not accepted writes (alarm ${event.alarmName} in ALARM since ${event.time})`,
    trigger: 'alarm',
    requestedBy: event.alarmName.slice(0, 200),
  };
  try {
    await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: requireEnv(WF_ENV.failoverStateMachineArn, env),
        name,
        input: JSON.stringify(input),
      }),
    );
    // Same name and input as a running execution: Step Functions returns that one (idempotent).
    return { started: true, executionName: name, reason: 'started, or already running under this name' };
  } catch (err) {
    if ((err as { name?: string }).name === 'ExecutionAlreadyExists') {
      return {
        started: false,
        executionName: name,
        reason: 'an execution for this alarm window exists (flapping alarm)',
      };
    }
    throw err;
  }
}

export const handler = lambdaHandler(
  {
    service: 'wf-alarm-start',
    event: AlarmStartEvent,
    eventLabel: 'alarm event',
    invalidEvent: (message) => new InvalidFailoverInput(message),
  },
  async (event, { logger }) => {
    const result = await startFromAlarm(event, awsClient(SFNClient, 'standard'));
    logger.info('alarm start', { ...result });
    return result;
  },
);
