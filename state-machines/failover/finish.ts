import { Duration } from 'aws-cdk-lib';
import { JsonPath, Pass, Succeed } from 'aws-cdk-lib/aws-stepfunctions';
import type { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { lambdaTask, notification, notifyRetriedThen } from '../common.ts';
import { retryLambda } from '../resilience.ts';
import type { FailoverContext } from './context.ts';
import { releaseLockThen } from './lock.ts';

/**
 * Record the failover (RTO, RPO) in the catalog, release the lock, announce completion with the
 * state of every part, and report. Returns the RecordFailover task.
 */
export function recordAndFinish(ctx: FailoverContext): LambdaInvoke {
  const { scope, props, env, topic, database, lockKey, commands, state } = ctx;
  const record = lambdaTask(
    scope,
    'RecordFailover',
    props.recordFunction,
    {
      executionId: JsonPath.stringAt('$$.Execution.Id'),
      executionName: JsonPath.stringAt('$$.Execution.Name'),
      startedAt: JsonPath.stringAt('$$.Execution.StartTime'),
      request: JsonPath.objectAt('$.preflight.request'),
      target: JsonPath.objectAt('$.preflight.target'),
      rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
      verifiedWriteAt: JsonPath.stringAt('$.verify.at'),
      dns: JsonPath.objectAt('$.dns'),
      recordedAt: JsonPath.stringAt('$$.State.EnteredTime'),
      fence: JsonPath.stringAt('$.fence.status'),
    },
    { resultPath: '$.record', timeout: Duration.minutes(1) },
  );
  retryLambda(record);
  // The database is failed over and verified: a catalog write problem must not turn that into a failure.
  const recordFailed = new Pass(scope, 'RecordFailed', {
    parameters: { recorded: false, error: JsonPath.objectAt('$.recordError') },
    resultPath: '$.record',
  });
  record.addCatch(recordFailed, { resultPath: '$.recordError' });

  const report = new Pass(scope, 'FailoverReport', {
    parameters: {
      result: 'completed',
      database,
      mode: JsonPath.stringAt('$.preflight.request.mode'),
      from: JsonPath.objectAt('$.preflight.target.primary'),
      to: JsonPath.objectAt('$.preflight.target.replica'),
      endpoint: JsonPath.stringAt('$.promotion.endpoint'),
      fence: JsonPath.objectAt('$.fence'),
      state,
      record: JsonPath.objectAt('$.record'),
    },
  }).next(new Succeed(scope, 'FailoverSucceeded'));
  const finish = releaseLockThen(
    scope,
    'ReleaseLock',
    props,
    lockKey,
    notifyRetriedThen(
      scope,
      'NotifyCompleted',
      topic,
      notification(env, 'failover.completed', 'critical', {
        database,
        from: JsonPath.objectAt('$.preflight.target.primary'),
        to: JsonPath.objectAt('$.preflight.target.replica'),
        endpoint: JsonPath.stringAt('$.promotion.endpoint'),
        fence: JsonPath.stringAt('$.fence.status'),
        state,
        commands,
        record: JsonPath.objectAt('$.record'),
      }),
      report,
    ),
  );
  record.next(finish);
  recordFailed.next(finish);
  return record;
}
