import { Duration } from 'aws-cdk-lib';
import {
  Choice,
  Condition,
  Errors,
  type IChainable,
  IntegrationPattern,
  JsonPath,
  Pass,
  TaskInput,
  Timeout,
} from 'aws-cdk-lib/aws-stepfunctions';
import {
  CallAwsService,
  DynamoAttributeValue,
  DynamoGetItem,
  SnsPublish,
} from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { lambdaTask, notification } from '../common.ts';
import { retryLambda } from '../resilience.ts';
import type { Connect, FailoverContext } from './context.ts';
import { preflightPayload, refusalError } from './preflight.ts';
import { LOCK_KEY_ATTRIBUTE } from './props.ts';

/**
 * The approval gate of an alarm-started failover (unless automatic failover is configured): the
 * data at risk, a person's decision (a task token in the lock item), preflight again. Connected
 * to the fence, returns the NeedsApproval choice: a passed re-check, or no gate, goes on to it; a
 * refused re-check is the last way into the failed ending.
 */
export function approvalGate(ctx: FailoverContext, failureChain: IChainable): Connect<Choice> {
  const { scope, props, env, topic, database } = ctx;
  const approvalTimeout = props.approvalTimeout ?? Duration.hours(1);
  const lastHeartbeat = new DynamoGetItem(scope, 'GetLastHeartbeat', {
    table: props.lockTable,
    key: {
      [LOCK_KEY_ATTRIBUTE]: DynamoAttributeValue.fromString(JsonPath.format('heartbeat#{}', database)),
    },
    consistentRead: true,
    resultPath: '$.lastHeartbeat',
  });
  const estimate = lambdaTask(
    scope,
    'EstimateDataLoss',
    props.verifyWriteFunction,
    {
      action: 'estimate-rpo',
      database,
      target: JsonPath.objectAt('$.preflight.target'),
      replicaEndpoint: JsonPath.stringAt('$.preflight.facts.target.endpoint'),
      acknowledged: JsonPath.objectAt('$.lastHeartbeat'),
    },
    { resultPath: '$.estimate', timeout: Duration.minutes(1) },
  );
  retryLambda(estimate);
  const estimateUnknown = new Pass(scope, 'DataLossUnknown', {
    parameters: {
      known: false,
      rpoSeconds: null,
      rowsAtRisk: null,
      transactionsAtRisk: null,
      lastReplayedHeartbeat: null,
      summary: JsonPath.format(
        'data at risk unknown: the heartbeat could not be read ({}: {})',
        JsonPath.stringAt('$.estimateError.Error'),
        JsonPath.stringAt('$.estimateError.Cause'),
      ),
    },
    resultPath: '$.estimate',
  });
  lastHeartbeat.addCatch(estimateUnknown, { resultPath: '$.estimateError' });
  estimate.addCatch(estimateUnknown, { resultPath: '$.estimateError' });

  const requestApproval = new CallAwsService(scope, 'RequestApproval', {
    service: 'dynamodb',
    action: 'updateItem',
    integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    parameters: {
      TableName: props.lockTable.tableName,
      Key: { [LOCK_KEY_ATTRIBUTE]: { S: JsonPath.format('failover#{}', database) } },
      UpdateExpression: 'SET approvalToken = :token, approvalRequestedAt = :at',
      ConditionExpression: 'executionId = :me',
      ExpressionAttributeValues: {
        ':token': { S: JsonPath.taskToken },
        ':at': { S: JsonPath.stringAt('$$.State.EnteredTime') },
        ':me': { S: JsonPath.stringAt('$$.Execution.Id') },
      },
    },
    iamResources: [props.lockTable.tableArn],
    taskTimeout: Timeout.duration(approvalTimeout),
    resultPath: '$.approval',
  });
  const approvalTimedOut = new Pass(scope, 'ApprovalTimedOut', {
    parameters: {
      Error: 'ApprovalTimedOut',
      Cause: `nobody approved or aborted within ${approvalTimeout.toHumanString()}; nothing was changed`,
    },
    resultPath: '$.error',
  }).next(failureChain);
  // Throttling, a 5xx or a lost answer of the UpdateItem itself (nobody has decided yet): store the
  // token again. A decision (approve, FailoverAborted) or the timeout is never retried.
  requestApproval.addRetry({
    errors: [
      'DynamoDb.ProvisionedThroughputExceededException',
      'DynamoDb.RequestLimitExceededException',
      'DynamoDb.ThrottlingException',
      'DynamoDb.InternalServerErrorException',
      'DynamoDb.DynamoDbException',
    ],
    maxAttempts: 4,
    interval: Duration.seconds(2),
    backoffRate: 2,
  });
  requestApproval.addCatch(approvalTimedOut, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
  requestApproval.addCatch(failureChain, { resultPath: '$.error' });

  // Nobody would know the run waits: fail it now (the failed-execution alarm pages) rather than
  // wait an hour in silence.
  const approvalNotSent = new Pass(scope, 'ApprovalNotificationFailed', {
    parameters: {
      Error: 'ApprovalNotificationFailed',
      Cause: JsonPath.format(
        'the approval-needed notification could not be published ({}: {}), so nobody knows this failover waits for a decision; it stopped before changing anything. Start it again by hand once notifications work, or with the approval of the person on call.',
        JsonPath.stringAt('$.notifyError.Error'),
        JsonPath.stringAt('$.notifyError.Cause'),
      ),
    },
    resultPath: '$.error',
  }).next(failureChain);
  const notifyApprovalNeeded = new SnsPublish(scope, 'NotifyApprovalNeeded', {
    topic,
    message: TaskInput.fromObject(
      notification(env, 'failover.approval-needed', 'critical', {
        database,
        input: JsonPath.objectAt('$$.Execution.Input'),
        checks: JsonPath.objectAt('$.preflight.checks'),
        rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
        estimate: JsonPath.objectAt('$.estimate'),
        timeoutSeconds: approvalTimeout.toSeconds(),
        approve: JsonPath.format(`lifeboat approve --env ${env} --database {}`, database),
        abort: JsonPath.format(`lifeboat abort --env ${env} --database {} --reason WHY`, database),
      }),
    ),
    resultPath: JsonPath.DISCARD,
  });
  notifyApprovalNeeded.addRetry({
    errors: [Errors.ALL],
    maxAttempts: 4,
    interval: Duration.seconds(2),
    backoffRate: 2,
  });
  notifyApprovalNeeded.addCatch(approvalNotSent, { resultPath: '$.notifyError' });

  const recheck = lambdaTask(
    scope,
    'RecheckPreflight',
    props.preflightFunction,
    preflightPayload(props, true),
    {
      resultPath: '$.preflight',
      timeout: Duration.minutes(2),
    },
  );
  retryLambda(recheck);
  recheck.addCatch(failureChain, { resultPath: '$.error' });

  // The re-check's refusal is connected last: after the fence's and the promotion's ways into
  // the failed ending (the order of the ASL's states follows it).
  return (fence) => {
    const approvalPath = lastHeartbeat
      .next(estimate)
      .next(notifyApprovalNeeded)
      .next(requestApproval)
      .next(recheck)
      .next(
        new Choice(scope, 'RecheckPassed')
          .when(
            Condition.booleanEquals('$.preflight.passed', false),
            refusalError(scope, 'RecheckRefused').next(failureChain),
          )
          .otherwise(fence),
      );
    estimateUnknown.next(notifyApprovalNeeded);

    return new Choice(scope, 'NeedsApproval')
      .when(
        Condition.and(
          Condition.stringEquals('$.preflight.request.trigger.source', 'alarm'),
          Condition.booleanEquals('$.config.automaticFailover', false),
        ),
        approvalPath,
      )
      .otherwise(fence);
  };
}
