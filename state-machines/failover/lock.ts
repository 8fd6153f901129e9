import { Duration } from 'aws-cdk-lib';
import {
  type Chain,
  Choice,
  Condition,
  Errors,
  Fail,
  type IChainable,
  JsonPath,
  Pass,
} from 'aws-cdk-lib/aws-stepfunctions';
import {
  DynamoAttributeValue,
  DynamoDeleteItem,
  DynamoGetItem,
  DynamoPutItem,
} from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { notification, notifyRetriedThen } from '../common.ts';
import type { Connect, FailoverContext } from './context.ts';
import { type FailoverWorkflowProps, LOCK_KEY_ATTRIBUTE } from './props.ts';

/**
 * The lock: a conditional PutItem of `failover#<database>`. A refusal (another failover holds it)
 * is announced and ends the run having changed nothing; any other failure goes to `failureChain`
 * (whether the item was written is not known, and the release is conditional on this execution).
 * Connected to `next`, returns the lock's chain: once held, the start is announced, then `next`.
 */
export function acquireLock(ctx: FailoverContext, failureChain: IChainable): Connect<Chain> {
  const { scope, props, env, topic, database, lockKey } = ctx;
  const acquireLock = new DynamoPutItem(scope, 'AcquireLock', {
    table: props.lockTable,
    item: {
      ...lockKey,
      executionId: DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
      acquiredAt: DynamoAttributeValue.fromString(JsonPath.stringAt('$$.State.EnteredTime')),
      kind: DynamoAttributeValue.fromString('failover'),
    },
    // A retry after an answer lost on the way back finds its own item: still this execution's lock.
    conditionExpression: `attribute_not_exists(${LOCK_KEY_ATTRIBUTE}) OR executionId = :me`,
    expressionAttributeValues: {
      ':me': DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
    },
    resultSelector: { status: 'held', detail: 'this execution holds the lock' },
    resultPath: '$.lock',
  });
  // A refusal is final; anything else (throttling, 5xx, a lost answer) is retried, and a retry
  // after a lost answer finds this execution's own item.
  acquireLock.addRetry({ errors: ['DynamoDB.ConditionalCheckFailedException'], maxAttempts: 0 });
  acquireLock.addRetry({
    errors: [Errors.ALL],
    maxAttempts: 4,
    interval: Duration.seconds(1),
    backoffRate: 2,
  });
  const inProgress = new Fail(scope, 'FailoverInProgress', {
    error: 'FailoverInProgress',
    cause: 'another failover of this database is running (it holds the lock); this one changed nothing',
  });
  acquireLock.addCatch(
    notifyRetriedThen(
      scope,
      'NotifyLockRefused',
      topic,
      notification(env, 'failover.refused', 'warning', {
        database,
        error: { Error: 'FailoverInProgress', Cause: 'another failover of this database is running' },
        changed: 'nothing',
      }),
      inProgress,
    ),
    { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: '$.error' },
  );
  // Whether the item was written is not known: the release is conditional on this execution.
  acquireLock.addCatch(failureChain, { resultPath: '$.error' });
  return (next) =>
    acquireLock.next(
      notifyRetriedThen(
        scope,
        'NotifyStarted',
        topic,
        notification(env, 'failover.started', 'critical', {
          database,
          input: JsonPath.objectAt('$$.Execution.Input'),
          checks: JsonPath.objectAt('$.preflight.checks'),
        }),
        next,
      ),
    );
}

/**
 * Deletes the lock item if (and only if) this execution holds it, then `next`; never blocks it.
 * A release that fails is checked (a lost answer may have deleted the item) and reported in
 * `$.lock`: `left-over` (the item is there) or `unknown` (the table cannot be read), with the
 * command that clears the item.
 */
export function releaseLockThen(
  scope: Construct,
  id: string,
  props: FailoverWorkflowProps,
  key: Record<string, DynamoAttributeValue>,
  next: IChainable,
): Chain {
  const release = new DynamoDeleteItem(scope, id, {
    table: props.lockTable,
    key,
    conditionExpression: 'executionId = :me',
    expressionAttributeValues: {
      ':me': DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
    },
    resultSelector: { status: 'released', detail: 'lock item deleted' },
    resultPath: '$.lock',
  });
  release.addRetry({ errors: ['DynamoDB.ConditionalCheckFailedException'], maxAttempts: 0 });
  release.addRetry({ errors: [Errors.ALL], maxAttempts: 4, interval: Duration.seconds(1), backoffRate: 2 });
  // Not this execution's item (never acquired, or already deleted by a retry whose answer was lost).
  const notHeld = new Pass(scope, `${id}NotHeld`, {
    parameters: { status: 'not-held', detail: 'no lock item of this execution was left' },
    resultPath: '$.lock',
  }).next(next);
  const leftOver = new Pass(scope, `${id}Failed`, {
    parameters: {
      status: 'left-over',
      detail: JsonPath.format(
        'releasing the lock failed ({}: {}) and the item is still there: the next failover of this database is refused until it is deleted',
        JsonPath.stringAt('$.releaseError.Error'),
        JsonPath.stringAt('$.releaseError.Cause'),
      ),
      clear: JsonPath.stringAt('$.preflight.commands.clearLock'),
    },
    resultPath: '$.lock',
  }).next(next);
  // A delete whose answer was lost may have deleted the item before its retries failed: look.
  const gone = new Pass(scope, `${id}Gone`, {
    parameters: {
      status: 'released',
      detail: JsonPath.format(
        'the release answered {} but the lock item is gone (an attempt whose answer was lost deleted it)',
        JsonPath.stringAt('$.releaseError.Error'),
      ),
    },
    resultPath: '$.lock',
  }).next(next);
  const unknown = new Pass(scope, `${id}Unknown`, {
    parameters: {
      status: 'unknown',
      detail: JsonPath.format(
        'releasing the lock failed ({}: {}) and the lock table could not be read afterwards: the item may still be there, and then the next failover of this database is refused until it is deleted. The clear command deletes only this execution\'s item ("conditional request failed": it is gone already).',
        JsonPath.stringAt('$.releaseError.Error'),
        JsonPath.stringAt('$.releaseError.Cause'),
      ),
      clear: JsonPath.stringAt('$.preflight.commands.clearLock'),
    },
    resultPath: '$.lock',
  }).next(next);
  const check = new DynamoGetItem(scope, `${id}Check`, {
    table: props.lockTable,
    key,
    consistentRead: true,
    resultPath: '$.lockItem',
  });
  check.addRetry({ errors: [Errors.ALL], maxAttempts: 2, interval: Duration.seconds(1), backoffRate: 2 });
  check.addCatch(unknown, { resultPath: '$.lockCheckError' });
  check.next(
    new Choice(scope, `${id}StillThere`)
      .when(Condition.isPresent('$.lockItem.Item'), leftOver)
      .otherwise(gone),
  );
  release.addCatch(notHeld, {
    errors: ['DynamoDB.ConditionalCheckFailedException'],
    resultPath: '$.releaseError',
  });
  release.addCatch(check, { resultPath: '$.releaseError' });
  return release.next(next);
}
