import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import {
  type Chain,
  DefinitionBody,
  type IChainable,
  JsonPath,
  LogLevel,
  Pass,
  Result,
  StateMachine,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, SnsPublish } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { type WorkflowName, workflowParameterName } from '../lib/naming.ts';

/** Props every workflow construct shares. */
export interface WorkflowBaseProps {
  /** lifeboat environment (dev, prod ...): part of the SSM parameter name and of every notification. */
  readonly environment: string;
  /** Topic the workflow publishes its events to (the notifier turns them into Slack messages). */
  readonly notificationTopic: ITopic;
  /**
   * How long the workflow's execution log is kept.
   * @default RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * Key the log group is encrypted with (its key policy must let CloudWatch Logs use it).
   * @default - CloudWatch Logs' own encryption
   */
  readonly logKey?: IKey;
  /**
   * Create alarms on failed, timed-out and aborted executions. Off when the monitoring construct
   * builds its own from `stateMachine.metricFailed()` and friends.
   * @default true
   */
  readonly createAlarms?: boolean;
}

/** What every workflow construct exposes. */
export interface IWorkflow {
  readonly stateMachine: StateMachine;
  readonly logGroup: LogGroup;
  /** SSM parameter `/lifeboat/<env>/workflows/<name>` holding the state machine ARN. */
  readonly arnParameter: StringParameter;
  /** Failed, timed-out and aborted executions (empty when createAlarms is false). */
  readonly alarms: readonly Alarm[];
}

// Names under which the CLI finds each workflow (`/lifeboat/<env>/workflows/<name>`): lib/naming.ts,
// which the CLI reads without loading the CDK.
export { type WorkflowName, workflowParameterName };

/**
 * Builds the state machine with its log group, tracing, ARN parameter and alarms.
 *
 * Execution data IS logged (includeExecutionData: true): no secret ever travels through workflow
 * input, output or task results (database credentials are referenced by Secrets Manager ARN and read
 * inside the tasks), and without the data an on-call person cannot tell why a restore or failover
 * failed. The one sensitive value is the approval task token of the failover gate, which lets its
 * holder approve; approving also needs states:SendTaskSuccess, which log readers do not get.
 */
export function buildStateMachine(
  scope: Construct,
  props: WorkflowBaseProps & {
    readonly name: WorkflowName;
    readonly definition: IChainable;
    readonly timeout: Duration;
    readonly comment: string;
  },
): IWorkflow {
  const logGroup = new LogGroup(scope, 'Logs', {
    retention: props.logRetention ?? RetentionDays.THREE_MONTHS,
    encryptionKey: props.logKey,
    removalPolicy: RemovalPolicy.RETAIN,
  });
  const stateMachine = new StateMachine(scope, 'StateMachine', {
    definitionBody: DefinitionBody.fromChainable(props.definition),
    comment: props.comment,
    timeout: props.timeout,
    tracingEnabled: true,
    logs: { destination: logGroup, level: LogLevel.ALL, includeExecutionData: true },
  });
  const arnParameter = new StringParameter(scope, 'ArnParameter', {
    parameterName: workflowParameterName(props.environment, props.name),
    stringValue: stateMachine.stateMachineArn,
    description: `ARN of the lifeboat ${props.name} workflow of ${props.environment}`,
  });
  const alarms: Alarm[] = [];
  if (props.createAlarms ?? true) {
    const period = Duration.minutes(5);
    for (const [id, metric, what] of [
      ['FailedAlarm', stateMachine.metricFailed({ period, statistic: 'Sum' }), 'failed'],
      ['TimedOutAlarm', stateMachine.metricTimedOut({ period, statistic: 'Sum' }), 'timed out'],
      ['AbortedAlarm', stateMachine.metricAborted({ period, statistic: 'Sum' }), 'aborted'],
    ] as const) {
      alarms.push(
        new Alarm(scope, id, {
          metric,
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: TreatMissingData.NOT_BREACHING,
          alarmDescription: `A lifeboat ${props.name} execution ${what} in ${props.environment}`,
        }),
      );
    }
  }
  return { stateMachine, logGroup, arnParameter, alarms };
}

/**
 * A Lambda task whose state input is exactly the function's event and whose result is exactly what
 * the function returns (payloadResponseOnly): the contract a local override (tests, `lifeboat
 * drill`) implements too. Transient Lambda service errors are retried.
 */
export function lambdaTask(
  scope: Construct,
  id: string,
  fn: IFunction,
  payload: Record<string, unknown>,
  options: { readonly resultPath: string | null; readonly timeout?: Duration; readonly comment?: string },
): LambdaInvoke {
  return new LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payloadResponseOnly: true,
    payload: TaskInput.fromObject(payload),
    resultPath: options.resultPath === null ? JsonPath.DISCARD : options.resultPath,
    taskTimeout: options.timeout ? Timeout.duration(options.timeout) : undefined,
    comment: options.comment,
    retryOnServiceExceptions: true,
  });
}

/** The event every workflow publishes; the notifier renders it. */
export function notification(
  environment: string,
  type: string,
  severity: 'info' | 'warning' | 'critical',
  detail: Record<string, unknown>,
): Record<string, unknown> {
  return {
    source: 'lifeboat',
    type,
    severity,
    environment,
    executionId: JsonPath.stringAt('$$.Execution.Id'),
    at: JsonPath.stringAt('$$.State.EnteredTime'),
    ...detail,
  };
}

/**
 * Publishes an event and goes on to `next` whatever happens: a failed notification never blocks
 * a restore or a failover.
 */
export function notifyThen(
  scope: Construct,
  id: string,
  topic: ITopic,
  message: Record<string, unknown>,
  next: IChainable,
): Chain {
  const publish = new SnsPublish(scope, id, {
    topic,
    message: TaskInput.fromObject(message),
    resultPath: JsonPath.DISCARD,
  });
  publish.addCatch(next, { resultPath: '$.notifyError' });
  return publish.next(next);
}

/**
 * Like notifyThen, but the publish is retried first (a duplicate message is harmless, a lost one
 * is not); after the retries it still goes on to `next`.
 */
export function notifyRetriedThen(
  scope: Construct,
  id: string,
  topic: ITopic,
  message: Record<string, unknown>,
  next: IChainable,
): Chain {
  const publish = new SnsPublish(scope, id, {
    topic,
    message: TaskInput.fromObject(message),
    resultPath: JsonPath.DISCARD,
  });
  publish.addRetry({ errors: ['States.ALL'], maxAttempts: 3, interval: Duration.seconds(2), backoffRate: 2 });
  publish.addCatch(next, { resultPath: '$.notifyError' });
  return publish.next(next);
}

/** A counter at `path`.attempts, set to 0. */
export function initCounter(scope: Construct, id: string, path: string): Pass {
  return new Pass(scope, id, { result: Result.fromObject({ attempts: 0 }), resultPath: path });
}

/** Increments `path`.attempts. */
export function incrementCounter(scope: Construct, id: string, path: string): Pass {
  return new Pass(scope, id, {
    parameters: { attempts: JsonPath.mathAdd(JsonPath.numberAt(`${path}.attempts`), 1) },
    resultPath: path,
  });
}

export type RdsResourceType =
  | 'db'
  | 'cluster'
  | 'snapshot'
  | 'cluster-snapshot'
  | 'global-cluster'
  | 'subgrp'
  | 'og'
  | 'pg'
  | 'cluster-pg';

/** ARN (pattern) of RDS resources of the stack's account; global clusters have no region. */
export function rdsArn(scope: Construct, resource: RdsResourceType, name = '*'): string {
  return Stack.of(scope).formatArn({
    service: 'rds',
    resource,
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    ...(resource === 'global-cluster' ? { region: '' } : {}),
  });
}
