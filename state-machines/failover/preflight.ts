import { Duration } from 'aws-cdk-lib';
import {
  Choice,
  Condition,
  Fail,
  type IChainable,
  JsonPath,
  Pass,
  Succeed,
} from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { lambdaTask, notification, notifyRetriedThen } from '../common.ts';
import { retryLambda } from '../resilience.ts';
import type { FailoverContext } from './context.ts';
import type { FailoverWorkflowProps } from './props.ts';

/** The preflight function's payload; `recheck` after the approval gate. */
export function preflightPayload(props: FailoverWorkflowProps, recheck: boolean) {
  return {
    input: JsonPath.objectAt('$$.Execution.Input'),
    executionId: JsonPath.stringAt('$$.Execution.Id'),
    lockTable: props.lockTable.tableName,
    recheck,
  };
}

/** `$.error` = the refusal preflight returned. */
export function refusalError(scope: Construct, id: string): Pass {
  return new Pass(scope, id, {
    parameters: {
      Error: JsonPath.stringAt('$.preflight.refusal.Error'),
      Cause: JsonPath.stringAt('$.preflight.refusal.Cause'),
    },
    resultPath: '$.error',
  });
}

/**
 * Configure, Preflight, and what follows it before the lock (nothing is changed yet): a refusal, a
 * dry run, or `next` (the lock). Returns the workflow's first state.
 */
export function preflightSection(ctx: FailoverContext, next: IChainable) {
  const { scope, props, env, topic, database } = ctx;
  const configure = new Pass(scope, 'Configure', {
    parameters: {
      config: { automaticFailover: props.automaticFailover ?? false, environment: env },
      lock: { status: 'not-acquired', detail: '' },
      fence: { status: 'not-attempted', detail: '' },
      promote: { status: 'not-attempted', detail: '' },
      dns: { status: 'not-attempted', detail: '' },
      verify: { status: 'not-attempted', detail: '' },
    },
  });

  const preflight = lambdaTask(scope, 'Preflight', props.preflightFunction, preflightPayload(props, false), {
    resultPath: '$.preflight',
    timeout: Duration.minutes(2),
  });
  // Every task function of this workflow is safe to run again (reads, an idempotent security-group
  // change, a write check that leaves nothing, a record under the execution's own key): a Lambda
  // throttle or a task timeout is retried rather than ending a failover.
  retryLambda(preflight);
  const notStartedFail = new Fail(scope, 'FailoverNotStarted', {
    errorPath: '$.error.Error',
    causePath: '$.error.Cause',
  });
  // Bad input, an unknown database, or preflight itself failing: nothing was locked or changed.
  preflight.addCatch(
    notifyRetriedThen(
      scope,
      'NotifyInputRefused',
      topic,
      notification(env, 'failover.refused', 'warning', {
        input: JsonPath.objectAt('$$.Execution.Input'),
        error: JsonPath.objectAt('$.error'),
        changed: 'nothing',
      }),
      notStartedFail,
    ),
    { resultPath: '$.error' },
  );

  const refused = refusalError(scope, 'PreflightRefused').next(
    notifyRetriedThen(
      scope,
      'NotifyPreflightRefused',
      topic,
      notification(env, 'failover.refused', 'critical', {
        database,
        error: JsonPath.objectAt('$.error'),
        checks: JsonPath.objectAt('$.preflight.checks'),
        changed: 'nothing',
      }),
      notStartedFail,
    ),
  );

  const dryRun = notifyRetriedThen(
    scope,
    'NotifyDryRun',
    topic,
    notification(env, 'failover.dry-run', 'info', {
      database,
      checks: JsonPath.objectAt('$.preflight.checks'),
      rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
    }),
    new Pass(scope, 'DryRunReport', {
      parameters: {
        result: 'dry-run',
        database,
        passed: JsonPath.objectAt('$.preflight.passed'),
        checks: JsonPath.objectAt('$.preflight.checks'),
        rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
        target: JsonPath.objectAt('$.preflight.target'),
      },
    }).next(new Succeed(scope, 'DryRunSucceeded')),
  );

  return configure
    .next(preflight)
    .next(
      new Choice(scope, 'PreflightPassed')
        .when(Condition.booleanEquals('$.preflight.passed', false), refused)
        .when(Condition.booleanEquals('$.preflight.request.dryRun', true), dryRun)
        .otherwise(next),
    );
}
