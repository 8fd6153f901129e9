import { Duration } from 'aws-cdk-lib';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { WF_ENV } from '../../../functions/wf-common/env.ts';
import { primaryUnwritableAlarmName } from '../../naming.ts';
import { LifeboatFunction } from '../lifeboat-function.ts';
import type { WorkflowsBaseProps } from './common.ts';
import type { FailoverDatabase } from './failover.ts';

export interface AlarmStartProps {
  readonly base: WorkflowsBaseProps;
  readonly databases: readonly FailoverDatabase[];
  /** The failover workflow's state machine. */
  readonly failover: IStateMachine;
  /** Where alarm events that could not start a failover go. */
  readonly deadLetterQueue: IQueue;
}

export interface AlarmStartParts {
  /** Starts a failover from a CloudWatch alarm state change (wf-alarm-start). */
  readonly alarmStartFunction: LifeboatFunction;
  /** One rule per database: its primary-unwritable alarm → ALARM starts a failover. */
  readonly alarmRules: ReadonlyMap<string, Rule>;
}

/**
 * Alarm-started failovers in `scope`: an EventBridge rule per database that hands its
 * primary-unwritable alarm (PrimaryCanary) going to ALARM to wf-alarm-start, which starts the
 * failover workflow (approval gate unless `automaticFailover`). Undeliverable events and failed
 * starts land in the dead-letter queue.
 */
export function alarmStart(scope: Construct, props: AlarmStartProps): AlarmStartParts {
  const { base, deadLetterQueue } = props;
  const { environment, config } = base;
  const alarmStartFunction = new LifeboatFunction(scope, 'AlarmStart', {
    entry: 'wf-alarm-start/index.ts',
    description: `lifeboat ${environment}: starts a failover when a primary-unwritable alarm fires`,
    timeout: Duration.seconds(30),
    memorySize: 256,
    // A handful of databases; alarms of one database share an execution name anyway.
    reservedConcurrentExecutions: 2,
    deadLetterQueue,
    retryAttempts: 2,
    maxEventAge: Duration.hours(1),
    environment: {
      [WF_ENV.failoverStateMachineArn]: props.failover.stateMachineArn,
    },
  });
  props.failover.grantStartExecution(alarmStartFunction);

  const alarmRules = new Map<string, Rule>();
  for (const db of props.databases) {
    // The primary's health seen from this region (PrimaryCanary), never replica lag: lag says a
    // failover would lose data, not that one is needed. Lag alarms page and start nothing.
    const alarmName = primaryUnwritableAlarmName(environment, db.name);
    const rule = new Rule(scope, `AlarmRule-${db.name}`, {
      description: `lifeboat ${environment}: ${alarmName} in ALARM starts a failover of ${db.name}${config.automaticFailover ? '' : ' (waits for approval)'}`,
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [alarmName], state: { value: ['ALARM'] } },
      },
    });
    rule.addTarget(
      new LambdaTarget(alarmStartFunction, {
        event: RuleTargetInput.fromObject({
          database: db.name,
          alarmName: EventField.fromPath('$.detail.alarmName'),
          state: EventField.fromPath('$.detail.state.value'),
          time: EventField.time,
        }),
        deadLetterQueue,
        retryAttempts: 10,
        maxEventAge: Duration.hours(1),
      }),
    );
    alarmRules.set(db.name, rule);
  }
  return { alarmStartFunction, alarmRules };
}
