import { Duration } from 'aws-cdk-lib';
import {
  type Chain,
  Choice,
  Condition,
  type IChainable,
  JitterType,
  JsonPath,
  Pass,
  type State,
  type TaskStateBase,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { rdsArn } from './common.ts';
import { TAG } from '../functions/core/contracts/index.ts';

/**
 * What every AWS call of a workflow may meet — throttling, a 5xx, an answer lost after the call
 * took effect, a timeout — handled the way Step Functions names it, so that one transient error
 * never ends a restore. (The fault world, test/faults, checks these against a stateful fake AWS.)
 */

/**
 * Transient errors of the RDS SDK integration. An SDK task produces its service's modelled errors
 * and its base exception; the RDS model has no throttling or server-error shape, so throttling,
 * 5xx and any other unmodelled failure arrive as `Rds.RdsException` (the cause tells them apart).
 * Retrying an unmodelled permanent error a few times costs little.
 */
export const RDS_TRANSIENT = ['Rds.RdsException'] as const;

/** Route 53's transient errors under Step Functions' names. */
export const ROUTE53_TRANSIENT = [
  'Route53.ThrottlingException',
  'Route53.PriorRequestNotCompleteException',
  'Route53.Route53Exception',
] as const;

/** Route 53 errors that prove a change batch was not applied. */
export const ROUTE53_REFUSED = [
  'Route53.InvalidChangeBatchException',
  'Route53.InvalidInputException',
  'Route53.NoSuchHostedZoneException',
] as const;

/** Retries an RDS call on throttling, 5xx and other unmodelled failures (about 5 min in all). */
export function retryRds(task: TaskStateBase, extraErrors: readonly string[] = []): void {
  task.addRetry({
    errors: [...extraErrors, ...RDS_TRANSIENT],
    maxAttempts: 6,
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxDelay: Duration.minutes(2),
    jitterStrategy: JitterType.FULL,
  });
}

/**
 * Retries a Lambda task when Lambda throttles the invocation (Lambda.TooManyRequestsException is
 * not among the service errors `retryOnServiceExceptions` covers) and, once, when the task times
 * out (`timeouts`: only for functions that are safe to run again). `errors`: the function's own
 * transient errors (e.g. DatabaseUnreachable while a new endpoint settles).
 */
export function retryLambda(
  task: TaskStateBase,
  options: { readonly timeouts?: boolean; readonly errors?: readonly string[] } = {},
): void {
  task.addRetry({
    errors: ['Lambda.TooManyRequestsException'],
    maxAttempts: 6,
    interval: Duration.seconds(2),
    backoffRate: 2,
    jitterStrategy: JitterType.FULL,
  });
  if (options.timeouts ?? true) task.addRetry({ errors: ['States.Timeout'], maxAttempts: 1 });
  if (options.errors?.length) {
    task.addRetry({
      errors: [...options.errors],
      maxAttempts: 3,
      interval: Duration.seconds(20),
      backoffRate: 2,
    });
  }
}

/**
 * Retries the publish at the head of a `notifyThen` chain: a terminal state's message must not be
 * lost to one throttled or failed publish (SNS deduplicates nothing; a repeat is better than
 * silence). After the retries the chain still goes on: notifying never blocks recovery.
 */
export function retryNotification(chain: Chain): Chain {
  (chain.startState as TaskStateBase).addRetry({
    errors: ['States.ALL'],
    maxAttempts: 4,
    interval: Duration.seconds(2),
    backoffRate: 2,
    jitterStrategy: JitterType.FULL,
  });
  return chain;
}

/**
 * Waits (in seconds) for a poll: `first`, then `min` growing by `factor` up to `max`, until the
 * waits add up to `total`. Long first wait, then backoff: few transitions for a typical restore,
 * a bounded overshoot for a long one.
 */
export function backoffSchedule(p: {
  readonly first: Duration;
  readonly min: Duration;
  readonly max: Duration;
  readonly total: Duration;
  readonly factor?: number;
}): number[] {
  const waits = [p.first.toSeconds()];
  let next = p.min.toSeconds();
  let sum = waits[0]!;
  while (sum < p.total.toSeconds()) {
    const w = Math.min(Math.round(next), p.max.toSeconds());
    waits.push(w);
    sum += w;
    next *= p.factor ?? 1.5;
  }
  return waits;
}

/**
 * A poll counter at `path` ({ attempts, wait }): init sets the first wait; increment counts the
 * attempt and picks the next wait from the schedule. Wait states read `<path>.wait`.
 */
export function scheduledCounter(
  scope: Construct,
  ids: { readonly init: string; readonly count: string },
  path: string,
  schedule: readonly number[],
): { init: Pass; count: Pass } {
  if (schedule.length === 0 || schedule.some((s) => !Number.isInteger(s) || s < 0))
    throw new Error(`a poll schedule is whole seconds, at least one: ${schedule.join(', ')}`);
  // After n attempts the next wait is schedule[n]; the last entry repeats (it is never waited:
  // the Choice stops at schedule.length attempts).
  const next = [...schedule.slice(1), schedule.at(-1)!];
  const init = new Pass(scope, ids.init, {
    parameters: { attempts: 0, wait: schedule[0] },
    resultPath: path,
  });
  const count = new Pass(scope, ids.count, {
    parameters: {
      attempts: JsonPath.mathAdd(JsonPath.numberAt(`${path}.attempts`), 1),
      'wait.$': `States.ArrayGetItem(States.Array(${next.join(', ')}), ${path}.attempts)`,
    },
    resultPath: path,
  });
  return { init, count };
}

/** The tag every create step writes (rds-steps.ts createdTags); Init puts this execution's at `$.ownerTag`. */
export function ownerTag(): Record<string, unknown> {
  return { Key: TAG.createdBy, Value: JsonPath.stringAt('$$.Execution.Name') };
}

/**
 * After a create step failed (its Catch put the error at `$.createError`): did it create anything?
 * A create whose answer was lost (or that timed out after taking effect) may have, and its retry
 * then meets its own resource ("already exists"). Ownership is proven by the `lifeboat:created-by`
 * tag the create wrote (the execution's name, kept at `$.ownerTag`), never inferred from the
 * error. Ours → recorded under `$.created.<kind>`, then `adopted` (mode `continue`: the restore
 * goes on with it) or `$.error` is set from `$.createError` and `notOurs` follows (mode `cleanup`:
 * the cleanup deletes it). Anyone else's or untagged → `$.error` set, `notOurs` (the cleanup
 * leaves it alone). When the check itself fails, what is not known is said:
 * `$.cleanupErrors.unconfirmed` names the identifier and the error.
 */
export function adoptOwnResource(
  scope: Construct,
  prefix: string,
  p: {
    readonly kind: 'instance' | 'cluster';
    readonly identifier: string;
    readonly mode: 'continue' | 'cleanup';
    readonly adopted?: IChainable;
    readonly notOurs: IChainable;
  },
): State {
  const instance = p.kind === 'instance';
  const refuse = new Pass(scope, `${prefix}NotOurs`, {
    parameters: {
      Error: JsonPath.stringAt('$.createError.Error'),
      Cause: JsonPath.stringAt('$.createError.Cause'),
    },
    resultPath: '$.error',
  });
  refuse.next(p.notOurs);
  const describe = new CallAwsService(scope, `${prefix}Describe`, {
    service: 'rds',
    action: instance ? 'describeDBInstances' : 'describeDBClusters',
    parameters: instance ? { DbInstanceIdentifier: p.identifier } : { DbClusterIdentifier: p.identifier },
    iamResources: [rdsArn(scope, instance ? 'db' : 'cluster')],
    resultSelector: {
      resource: JsonPath.objectAt(instance ? '$.DbInstances[0]' : '$.DbClusters[0]'),
    },
    resultPath: '$.existing',
  });
  retryRds(describe);
  const unconfirmed = new Pass(scope, `${prefix}Unconfirmed`, {
    parameters: {
      identifier: p.identifier,
      Error: JsonPath.stringAt('$.describeError.Error'),
      Cause: JsonPath.stringAt('$.describeError.Cause'),
    },
    resultPath: '$.cleanupErrors.unconfirmed',
  });
  unconfirmed.next(refuse);
  describe.addCatch(unconfirmed, { resultPath: '$.describeError' });
  const identifier = instance
    ? '$.existing.resource.DbInstanceIdentifier'
    : '$.existing.resource.DbClusterIdentifier';
  // Whole-tag comparison (key and value), so that no other tag can pass for ownership.
  const decide = new Pass(scope, `${prefix}Owner`, {
    parameters: {
      identifier: JsonPath.stringAt(identifier),
      own: JsonPath.arrayContains(
        JsonPath.listAt('$.existing.resource.TagList'),
        JsonPath.objectAt('$.ownerTag'),
      ),
    },
    resultPath: '$.existing',
  });
  const adopt = new Pass(scope, `${prefix}Adopt`, {
    parameters: { identifier: JsonPath.stringAt('$.existing.identifier') },
    resultPath: `$.created.${p.kind}`,
  });
  if (p.mode === 'continue') {
    if (!p.adopted) throw new Error(`${prefix}: mode continue needs 'adopted'`);
    adopt.next(p.adopted);
  } else {
    adopt.next(refuse);
  }
  describe.next(
    new Choice(scope, `${prefix}HasTags`)
      .when(Condition.isPresent('$.existing.resource.TagList'), decide)
      .otherwise(refuse),
  );
  decide.next(
    new Choice(scope, `${prefix}IsOurs`)
      .when(Condition.booleanEquals('$.existing.own', true), adopt)
      .otherwise(refuse),
  );
  return describe;
}

/** Where a poll's waits come from (see backoffSchedule). */
export interface PollSchedule {
  readonly first: Duration;
  readonly min: Duration;
  readonly max: Duration;
  /** The poll gives up once its waits add up to this. */
  readonly total: Duration;
}
