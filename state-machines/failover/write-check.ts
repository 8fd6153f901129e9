import { Duration } from 'aws-cdk-lib';
import { type IChainable, JsonPath } from 'aws-cdk-lib/aws-stepfunctions';
import type { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { lambdaTask } from '../common.ts';
import { retryLambda } from '../resilience.ts';
import { type Connect, type FailoverContext, partialStage } from './context.ts';

/**
 * A test write on the new primary, before any traffic is sent to it. Connected to `next`, returns the
 * VerifyWrite task: a verified write goes on to `next`, a refused one ends partially completed.
 */
export function writeCheck(ctx: FailoverContext, partialChain: IChainable): Connect<LambdaInvoke> {
  const { scope, props, database } = ctx;
  const verifyWrite = lambdaTask(
    scope,
    'VerifyWrite',
    props.verifyWriteFunction,
    {
      action: 'verify-write',
      database,
      target: JsonPath.objectAt('$.preflight.target'),
      endpoint: JsonPath.stringAt('$.promotion.endpoint'),
      executionName: JsonPath.stringAt('$$.Execution.Name'),
    },
    { resultPath: '$.verify', timeout: Duration.minutes(2) },
  );
  retryLambda(verifyWrite);
  verifyWrite.addRetry({
    errors: ['States.TaskFailed'],
    maxAttempts: 3,
    interval: Duration.seconds(10),
    backoffRate: 2,
  });
  const writeNotVerified = partialStage(scope, 'WriteNotVerified', 'verify-write', [
    '{} is promoted but a test write on it failed ({}: {}); DNS was not switched, so no traffic goes to it. Next step: connect to {} and find out why it refuses writes (read-only setting, storage, credentials), then point DNS at it and verify a write.',
    '$.preflight.target.replica.identifier',
    '$.error.Error',
    '$.error.Cause',
    '$.promotion.endpoint',
  ]).next(partialChain);
  verifyWrite.addCatch(writeNotVerified, { resultPath: '$.error' });
  return (next) => {
    verifyWrite.next(next);
    return verifyWrite;
  };
}
