import { Duration } from 'aws-cdk-lib';
import {
  Choice,
  Condition,
  Errors,
  type IChainable,
  JsonPath,
  Pass,
  Result,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { lambdaTask, rdsArn } from '../common.ts';
import { retryLambda } from '../resilience.ts';
import { type Connect, type FailoverContext, partialStage } from './context.ts';

/**
 * The promotion: the request by target kind and mode, the confirmation of a request that failed
 * (its answer may have been lost), then polling until the new primary is writable (errors count as
 * "not yet"). Connected to `next`, returns the PromoteMethod choice; a writable
 * primary goes on to `next`.
 */
export function promotion(
  ctx: FailoverContext,
  failureChain: IChainable,
  partialChain: IChainable,
): Connect<Choice> {
  const { scope, props, database, promotionFirstWait, maxPromotionChecks } = ctx;
  const promoteResult = (requested: string, statusPath: string) => ({
    status: 'requested',
    detail: JsonPath.format(`${requested} accepted (RDS status {})`, JsonPath.stringAt(statusPath)),
  });
  const promoteReplica = new CallAwsService(scope, 'PromoteReadReplica', {
    service: 'rds',
    action: 'promoteReadReplica',
    parameters: { DbInstanceIdentifier: JsonPath.stringAt('$.preflight.target.replica.identifier') },
    iamResources: [rdsArn(scope, 'db')],
    resultSelector: promoteResult('PromoteReadReplica', '$.DbInstance.DbInstanceStatus'),
    resultPath: '$.promote',
  });
  const switchover = new CallAwsService(scope, 'SwitchoverGlobalCluster', {
    service: 'rds',
    action: 'switchoverGlobalCluster',
    parameters: {
      GlobalClusterIdentifier: JsonPath.stringAt('$.preflight.target.globalClusterIdentifier'),
      TargetDbClusterIdentifier: JsonPath.stringAt('$.preflight.replicaArn'),
    },
    iamResources: [rdsArn(scope, 'global-cluster'), rdsArn(scope, 'cluster')],
    resultSelector: promoteResult('SwitchoverGlobalCluster', '$.GlobalCluster.Status'),
    resultPath: '$.promote',
  });
  const failoverGlobal = new CallAwsService(scope, 'FailoverGlobalCluster', {
    service: 'rds',
    action: 'failoverGlobalCluster',
    parameters: {
      GlobalClusterIdentifier: JsonPath.stringAt('$.preflight.target.globalClusterIdentifier'),
      TargetDbClusterIdentifier: JsonPath.stringAt('$.preflight.replicaArn'),
      AllowDataLoss: true,
    },
    iamResources: [rdsArn(scope, 'global-cluster'), rdsArn(scope, 'cluster')],
    resultSelector: promoteResult('FailoverGlobalCluster', '$.GlobalCluster.Status'),
    resultPath: '$.promote',
  });

  // A failed promote request is never read as "not promoted" on its own: the replica is read
  // first (an answer lost after the request was applied looks like an error).
  const waitBeforeConfirm = new Wait(scope, 'WaitBeforeConfirmingPromotion', {
    time: WaitTime.duration(promotionFirstWait),
  });
  const confirmPromotion = lambdaTask(
    scope,
    'ConfirmPromotion',
    props.checkWritableFunction,
    {
      database,
      target: JsonPath.objectAt('$.preflight.target'),
      promoteError: JsonPath.objectAt('$.error'),
    },
    { resultPath: '$.promote', timeout: Duration.minutes(1) },
  );
  retryLambda(confirmPromotion);
  confirmPromotion.addRetry({
    errors: [Errors.ALL],
    maxAttempts: 3,
    interval: Duration.seconds(5),
    backoffRate: 2,
  });
  const promotionUnknown = new Pass(scope, 'PromotionOutcomeUnknown', {
    parameters: {
      status: 'unknown',
      detail: JsonPath.format(
        'the promote request failed ({}: {}) and the replica could not be read afterwards ({})',
        JsonPath.stringAt('$.error.Error'),
        JsonPath.stringAt('$.error.Cause'),
        JsonPath.stringAt('$.confirmError.Error'),
      ),
      check: JsonPath.stringAt('$.preflight.commands.promotionCheck'),
    },
    resultPath: '$.promote',
  });
  confirmPromotion.addCatch(promotionUnknown, { resultPath: '$.confirmError' });
  const promotionUnknownPartial = partialStage(scope, 'PromotionUnknown', 'promotion', [
    'promotion of {} is not known to have happened or not: {}. Next step: run {} — a replica that names no source any more was promoted (then point DNS at it and verify a write); one that still names its source was not.',
    '$.preflight.target.replica.identifier',
    '$.promote.detail',
    '$.preflight.commands.promotionCheck',
  ]).next(partialChain);
  promotionUnknown.next(promotionUnknownPartial);

  for (const task of [promoteReplica, switchover, failoverGlobal]) {
    task.addRetry({
      errors: ['Rds.RdsException'],
      maxAttempts: 3,
      interval: Duration.seconds(5),
      backoffRate: 2,
    });
    task.addCatch(waitBeforeConfirm, { resultPath: '$.error' });
  }

  // --- poll until writable (errors count as "not yet") ---------------------------------------------

  const initPromotionPoll = new Pass(scope, 'InitPromotionPoll', {
    result: Result.fromObject({
      writable: false,
      status: 'requested',
      endpoint: '',
      role: 'unknown',
      attempts: 0,
      waitSeconds: promotionFirstWait.toSeconds(),
    }),
    resultPath: '$.promotion',
  });
  const waitForPromotion = new Wait(scope, 'WaitForPromotion', {
    time: WaitTime.secondsPath('$.promotion.waitSeconds'),
  });
  const checkWritable = lambdaTask(
    scope,
    'CheckWritable',
    props.checkWritableFunction,
    {
      database,
      target: JsonPath.objectAt('$.preflight.target'),
      attempts: JsonPath.numberAt('$.promotion.attempts'),
      firstWaitSeconds: promotionFirstWait.toSeconds(),
    },
    { resultPath: '$.promotion', timeout: Duration.minutes(1) },
  );
  retryLambda(checkWritable);
  const checkFailed = new Pass(scope, 'CheckWritableFailed', {
    parameters: {
      writable: false,
      status: JsonPath.format(
        'check failed ({}: {})',
        JsonPath.stringAt('$.checkError.Error'),
        JsonPath.stringAt('$.checkError.Cause'),
      ),
      endpoint: '',
      role: 'unknown',
      attempts: JsonPath.mathAdd(JsonPath.numberAt('$.promotion.attempts'), 1),
      waitSeconds: JsonPath.numberAt('$.promotion.waitSeconds'),
    },
    resultPath: '$.promotion',
  });
  checkWritable.addCatch(checkFailed, { resultPath: '$.checkError' });
  // The request was accepted (or seen applied), the database never answered writable: it may be
  // promoted and still modifying, or stuck. Said as such, never left at "requested".
  const promotionNotWritable = new Pass(scope, 'PromotionRequestedNotWritable', {
    parameters: {
      status: 'requested-not-writable',
      detail: JsonPath.format(
        'promotion of {} was requested and accepted, but it was not confirmed writable after {} checks (last status {}): it may be promoted and still finishing, or stuck. DNS was not switched; no write was verified.',
        JsonPath.stringAt('$.preflight.target.replica.identifier'),
        JsonPath.stringAt('$.promotion.attempts'),
        JsonPath.stringAt('$.promotion.status'),
      ),
      check: JsonPath.stringAt('$.preflight.commands.promotionCheck'),
    },
    resultPath: '$.promote',
  });
  const promotionNotConfirmed = promotionNotWritable.next(
    partialStage(scope, 'PromotionNotConfirmed', 'promotion', [
      'promotion of {} was requested but it was not confirmed writable after {} checks (last status {}). Next step: run {}; once it is available and names no source, verify a write on it, then point DNS at it.',
      '$.preflight.target.replica.identifier',
      '$.promotion.attempts',
      '$.promotion.status',
      '$.preflight.commands.promotionCheck',
    ]),
  );
  promotionNotConfirmed.next(partialChain);

  const promoted = new Pass(scope, 'Promoted', {
    parameters: {
      status: 'promoted',
      detail: JsonPath.format(
        'writable ({}) after {} checks',
        JsonPath.stringAt('$.promotion.status'),
        JsonPath.stringAt('$.promotion.attempts'),
      ),
    },
    resultPath: '$.promote',
  });

  const promoteMethod = new Choice(scope, 'PromoteMethod')
    .when(Condition.stringEquals('$.preflight.target.kind', 'instance'), promoteReplica)
    .when(Condition.stringEquals('$.preflight.request.mode', 'planned'), switchover)
    .otherwise(failoverGlobal);
  for (const task of [promoteReplica, switchover, failoverGlobal]) task.next(initPromotionPoll);

  waitBeforeConfirm
    .next(confirmPromotion)
    .next(
      new Choice(scope, 'PromotionConfirmed')
        .when(Condition.stringEquals('$.promote.status', 'promoted'), initPromotionPoll)
        .when(Condition.stringEquals('$.promote.status', 'not-promoted'), failureChain)
        .otherwise(promotionUnknownPartial),
    );
  initPromotionPoll
    .next(waitForPromotion)
    .next(checkWritable)
    .next(
      new Choice(scope, 'IsWritable')
        .when(Condition.booleanEquals('$.promotion.writable', true), promoted)
        .when(
          Condition.numberGreaterThanEquals('$.promotion.attempts', maxPromotionChecks),
          promotionNotConfirmed,
        )
        .otherwise(waitForPromotion),
    );
  checkFailed.next(
    new Choice(scope, 'KeepPollingAfterError')
      .when(
        Condition.numberGreaterThanEquals('$.promotion.attempts', maxPromotionChecks),
        promotionNotConfirmed,
      )
      .otherwise(waitForPromotion),
  );
  return (next) => {
    promoted.next(next);
    return promoteMethod;
  };
}
