import { Fail, JsonPath } from 'aws-cdk-lib/aws-stepfunctions';
import { notification, notifyRetriedThen } from '../common.ts';
import type { FailoverContext } from './context.ts';
import { releaseLockThen } from './lock.ts';

/**
 * The two endings every later step can reach: failed (`$.error`) and partially completed
 * (`$.partial`), each releasing the lock and announcing the true state of every part first.
 */
export function endings(ctx: FailoverContext) {
  const { scope, props, env, topic, database, lockKey, commands, state } = ctx;
  const failed = new Fail(scope, 'FailoverFailed', {
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  const failureChain = releaseLockThen(
    scope,
    'ReleaseLockAfterFailure',
    props,
    lockKey,
    notifyRetriedThen(
      scope,
      'NotifyFailed',
      topic,
      notification(env, 'failover.failed', 'critical', {
        database,
        error: JsonPath.objectAt('$.error'),
        promotion: JsonPath.stringAt('$.promote.status'),
        state,
        commands,
      }),
      failed,
    ),
  );

  const partial = new Fail(scope, 'FailoverPartiallyCompleted', {
    error: 'FailoverPartiallyCompleted',
    causePath: '$.partial.cause',
  });
  const partialChain = releaseLockThen(
    scope,
    'ReleaseLockAfterPartial',
    props,
    lockKey,
    notifyRetriedThen(
      scope,
      'NotifyPartial',
      topic,
      notification(env, 'failover.partial', 'critical', {
        database,
        promotion: JsonPath.stringAt('$.promote.status'),
        stage: JsonPath.stringAt('$.partial.stage'),
        nextStep: JsonPath.stringAt('$.partial.cause'),
        state,
        commands,
      }),
      partial,
    ),
  );
  return { failureChain, partialChain };
}
