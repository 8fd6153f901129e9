import { Duration, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Schedule,
  ScheduleExpression,
  ScheduleGroup,
  ScheduleTargetInput,
  TimeWindow,
} from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke, StepFunctionsStartExecution } from 'aws-cdk-lib/aws-scheduler-targets';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { Schedule as ScheduleConfig } from '../config/schema.ts';
import { scheduleGroupName } from '../naming.ts';
import { acknowledgeOwnPolicy, nagResource } from './lifeboat-function.ts';
import type { OperationsKey } from './operations-key.ts';

export interface BackupSchedulesProps {
  readonly environment: string;
  /** Where events Scheduler could not deliver go. */
  readonly deadLetterQueue: IQueue;
  /** The key of the dead-letter queue (the schedules' role must use it to send). */
  readonly operationsKey: OperationsKey;
}

/** What a schedule starts. */
export type ScheduleTarget =
  | { readonly kind: 'function'; readonly function: IFunction; readonly input: Record<string, unknown> }
  | {
      readonly kind: 'stateMachine';
      readonly stateMachine: IStateMachine;
      readonly input: Record<string, unknown>;
    };

/**
 * The environment's EventBridge Scheduler schedules, in one group: cron expressions read in the
 * configured time zone, flexible window off (a backup slot is a point in time, and the slot names
 * the snapshot). One role, assumed by Scheduler for this account only, starts every target.
 */
export class BackupSchedules extends Construct {
  public readonly group: ScheduleGroup;
  public readonly role: Role;
  private readonly props: BackupSchedulesProps;

  constructor(scope: Construct, id: string, props: BackupSchedulesProps) {
    super(scope, id);
    this.props = props;
    const stack = Stack.of(this);
    this.group = new ScheduleGroup(this, 'Group', {
      scheduleGroupName: scheduleGroupName(props.environment),
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `lifeboat ${props.environment}: EventBridge Scheduler starts backups`,
    });
    props.operationsKey.key.grant(this.role, 'kms:GenerateDataKey', 'kms:Decrypt');
  }

  /** Adds a schedule named `id` (unique in this construct) that starts `target` on `schedule`. */
  add(id: string, schedule: ScheduleConfig, target: ScheduleTarget, description: string): Schedule {
    const common = {
      role: this.role,
      deadLetterQueue: this.props.deadLetterQueue,
      // A backup that starts hours late is still a backup; one that never starts is reported.
      maxEventAge: Duration.hours(2),
      retryAttempts: 10,
    };
    const input = ScheduleTargetInput.fromObject(target.input);
    const created = new Schedule(this, id, {
      scheduleGroup: this.group,
      description,
      schedule: ScheduleExpression.expression(schedule.cron, TimeZone.of(schedule.timeZone)),
      timeWindow: TimeWindow.off(),
      target:
        target.kind === 'function'
          ? new LambdaInvoke(target.function, { ...common, input })
          : new StepFunctionsStartExecution(target.stateMachine, { ...common, input }),
    });
    acknowledgeOwnPolicy(this.role, 'EventBridge Scheduler of this environment');
    if (target.kind === 'function') {
      Validations.of(this.role.node.findChild('DefaultPolicy')).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(this), `${target.function.functionArn}:*`)}]`,
        reason: 'Invoking a function includes its versions and aliases (<function ARN>:*); nothing else.',
      });
    }
    return created;
  }
}
