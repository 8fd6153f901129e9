import { Duration } from 'aws-cdk-lib';
import { Choice, Condition, type IChainable, JsonPath, Pass } from 'aws-cdk-lib/aws-stepfunctions';
import type { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { lambdaTask } from '../common.ts';
import { retryLambda } from '../resilience.ts';
import type { Connect, FailoverContext } from './context.ts';

/**
 * Fence the old primary, then (planned mode) refuse unless it is known fenced, and wait for an
 * instance replica to catch up with it. Connected to the promotion, returns the fence task;
 * what is accepted goes on to the promotion.
 */
export function fenceAndCatchUp(ctx: FailoverContext, failureChain: IChainable): Connect<LambdaInvoke> {
  const { scope, props, database } = ctx;
  const fence = lambdaTask(
    scope,
    'FenceOldPrimary',
    props.fenceFunction,
    {
      database,
      mode: JsonPath.stringAt('$.preflight.request.mode'),
      target: JsonPath.objectAt('$.preflight.target'),
    },
    { resultPath: '$.fence', timeout: Duration.minutes(2) },
  );
  retryLambda(fence);
  const fenceErrored = new Pass(scope, 'FenceOutcomeUnknown', {
    parameters: {
      status: 'unknown',
      detail: JsonPath.format(
        'the fence task failed ({}: {}): the old primary may or may not be fenced',
        JsonPath.stringAt('$.fenceError.Error'),
        JsonPath.stringAt('$.fenceError.Cause'),
      ),
      check: JsonPath.stringAt('$.preflight.commands.fenceCheck'),
    },
    resultPath: '$.fence',
  });
  fence.addCatch(fenceErrored, { resultPath: '$.fenceError' });

  const fenceNotConfirmed = new Pass(scope, 'FenceNotConfirmed', {
    parameters: {
      Error: 'FenceNotConfirmed',
      Cause: JsonPath.format(
        'planned failover refused before promotion: the old primary {} is not known to be fenced (fence {}: {}). A planned failover loses nothing only when the old primary can take no more writes; fix the fence (or use mode unplanned if the primary is lost).',
        JsonPath.stringAt('$.preflight.target.primary.identifier'),
        JsonPath.stringAt('$.fence.status'),
        JsonPath.stringAt('$.fence.detail'),
      ),
    },
    resultPath: '$.error',
  }).next(failureChain);

  const catchUp = lambdaTask(
    scope,
    'WaitForReplicaCatchUp',
    props.verifyWriteFunction,
    {
      action: 'catch-up',
      database,
      target: JsonPath.objectAt('$.preflight.target'),
      primaryEndpoint: JsonPath.stringAt('$.preflight.facts.source.endpoint'),
      replicaEndpoint: JsonPath.stringAt('$.preflight.facts.target.endpoint'),
      timeoutSeconds: (props.catchUpTimeout ?? Duration.seconds(90)).toSeconds(),
    },
    { resultPath: '$.catchUp', timeout: Duration.minutes(2) },
  );
  retryLambda(catchUp);
  const notCaughtUp = new Pass(scope, 'ReplicaNotCaughtUp', {
    parameters: {
      Error: 'ReplicaNotCaughtUp',
      Cause: JsonPath.format(
        'planned failover refused before promotion: {} ({}). The old primary {} stays fenced, nothing was promoted: find out why the replica is behind, or move the old primary back to its security groups to serve again ({}).',
        JsonPath.stringAt('$.catchUpError.Error'),
        JsonPath.stringAt('$.catchUpError.Cause'),
        JsonPath.stringAt('$.preflight.target.primary.identifier'),
        JsonPath.stringAt('$.preflight.commands.fenceCheck'),
      ),
    },
    resultPath: '$.error',
  }).next(failureChain);
  catchUp.addCatch(notCaughtUp, { resultPath: '$.catchUpError' });

  return (promoteMethod) => {
    const planned = Condition.stringEquals('$.preflight.request.mode', 'planned');
    const fenceAccepted = new Choice(scope, 'FenceAccepted')
      .when(
        Condition.and(
          planned,
          Condition.not(
            Condition.or(
              Condition.stringEquals('$.fence.status', 'fenced'),
              Condition.stringEquals('$.fence.status', 'not-needed'),
            ),
          ),
        ),
        fenceNotConfirmed,
      )
      .when(Condition.and(planned, Condition.stringEquals('$.preflight.target.kind', 'instance')), catchUp)
      .otherwise(promoteMethod);
    fence.next(fenceAccepted);
    fenceErrored.next(fenceAccepted);
    catchUp.next(promoteMethod);
    return fence;
  };
}
