import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  JsonPath,
  Pass,
  Result,
  Succeed,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  buildStateMachine,
  type IWorkflow,
  lambdaTask,
  notification,
  notifyRetriedThen,
  type WorkflowBaseProps,
} from './common.ts';

export interface FailbackWorkflowProps extends WorkflowBaseProps {
  /** wf-plan-failback: the new primary, the recovered region, the new replica's name; refuses if one exists. */
  readonly planFunction: IFunction;
  /** wf-create-replica: cross-region read replica (instance) or Aurora secondary cluster + instance. */
  readonly createReplicaFunction: IFunction;
  /** wf-describe-replica: status of the new replica, in its region. */
  readonly describeReplicaFunction: IFunction;
  /** wf-delete-replica: cleanup of a replica this execution created. */
  readonly deleteReplicaFunction: IFunction;
  /**
   * Waits between the replica's status checks: the first, doubling up to `maxPollInterval`, until
   * `maxReplicaWait` has passed (then the replica has timed out). A cross-region replica of a large
   * database takes hours; checking every 2 minutes for 6 hours would be 180 checks of 4
   * transitions each.
   * @default Duration.minutes(5)
   */
  readonly firstPollInterval?: Duration;
  /** @default Duration.minutes(30) */
  readonly maxPollInterval?: Duration;
  /** @default Duration.hours(6) */
  readonly maxReplicaWait?: Duration;
  /** @default Duration.hours(8) */
  readonly timeout?: Duration;
}

/**
 * The waits between status checks: `first`, doubling up to `max`, until their sum reaches `total`.
 * The workflow gives up after as many checks as there are waits.
 */
export function replicaPollWaits(first: Duration, max: Duration, total: Duration): number[] {
  const waits: number[] = [];
  let next = first.toSeconds();
  for (let sum = 0; sum < total.toSeconds(); sum += waits.at(-1)!) {
    waits.push(next);
    next = Math.min(next * 2, max.toSeconds());
  }
  return waits;
}

/**
 * Re-protects a database after a failover: a new replica in the recovered region, replicating
 * from the new primary. Input: { "database": "<name>", "reason"?: "..." }. It does not move the
 * primary back; a planned failover (flow 6) does that once the replica has caught up.
 */
export class FailbackWorkflow extends Construct implements IWorkflow {
  public readonly stateMachine: IWorkflow['stateMachine'];
  public readonly logGroup: IWorkflow['logGroup'];
  public readonly arnParameter: IWorkflow['arnParameter'];
  public readonly alarms: IWorkflow['alarms'];

  constructor(scope: Construct, id: string, props: FailbackWorkflowProps) {
    super(scope, id);
    const env = props.environment;
    const topic = props.notificationTopic;
    const database = JsonPath.stringAt('$.input.database');

    const failed = new Fail(this, 'FailbackFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const notifyFailed = notifyRetriedThen(
      this,
      'NotifyFailbackFailed',
      topic,
      notification(env, 'failback.failed', 'critical', {
        database,
        error: JsonPath.objectAt('$.error'),
        // What the failure leaves: none / deleted / not-ours / left-behind / unknown, with the
        // commands that check and finish the cleanup (wf-delete-replica).
        replica: JsonPath.objectAt('$.cleanup'),
        cleanupErrors: JsonPath.objectAt('$.cleanupErrors'),
      }),
      failed,
    );
    const cleanupUnknown = new Pass(this, 'CleanupUnknown', {
      parameters: {
        status: 'unknown',
        kind: JsonPath.stringAt('$.plan.kind'),
        region: JsonPath.stringAt('$.plan.replica.region'),
        identifier: JsonPath.stringAt('$.plan.replica.identifier'),
        detail:
          'the cleanup did not finish: check whether the replica exists and carries this execution in its lifeboat:created-by tag; if it does, remove it',
        check: JsonPath.stringAt('$.plan.commands.check'),
        cleanup: JsonPath.stringAt('$.plan.commands.cleanup'),
      },
      resultPath: '$.cleanup',
    }).next(notifyFailed);
    // The cleanup looks the planned replica up by name: a create whose answer was lost, or that
    // stopped half way, is found too, and only what carries this execution's tag is removed.
    const deleteReplica = lambdaTask(
      this,
      'DeleteCreatedReplica',
      props.deleteReplicaFunction,
      { plan: JsonPath.objectAt('$.plan'), executionName: JsonPath.stringAt('$$.Execution.Name') },
      { resultPath: '$.cleanup', timeout: Duration.minutes(2) },
    );
    // An Aurora secondary's cluster is deleted once its instance is gone (minutes). First: a
    // retrier naming States.TaskFailed would match this error too.
    deleteReplica.addRetry({
      errors: ['ReplicaDeletionPending'],
      maxAttempts: 6,
      interval: Duration.minutes(1),
      backoffRate: 2,
    });
    // The cleanup is idempotent (it looks up before it deletes): a timed out or throttled
    // invocation is tried again.
    deleteReplica.addRetry({
      errors: ['States.Timeout', 'Lambda.TooManyRequestsException'],
      maxAttempts: 3,
      interval: Duration.seconds(10),
      backoffRate: 2,
    });
    deleteReplica.addCatch(cleanupUnknown, { resultPath: '$.cleanupErrors.replica' });
    deleteReplica.next(notifyFailed);
    const cleanup = new Choice(this, 'HasPlannedReplica')
      .when(Condition.isPresent('$.plan.replica.identifier'), deleteReplica)
      .otherwise(notifyFailed);

    const init = new Pass(this, 'Init', {
      parameters: {
        input: JsonPath.objectAt('$'),
        created: {},
        cleanupErrors: {},
        cleanup: { status: 'none', detail: 'the failback stopped before creating anything' },
        replica: { status: 'not checked yet', available: false, hopeless: false },
      },
    });
    const plan = lambdaTask(
      this,
      'PlanFailback',
      props.planFunction,
      { input: JsonPath.objectAt('$.input'), executionName: JsonPath.stringAt('$$.Execution.Name') },
      { resultPath: '$.plan', timeout: Duration.minutes(1) },
    );
    // The plan only reads: a timed out or throttled invocation is tried again.
    plan.addRetry({
      errors: ['States.Timeout', 'Lambda.TooManyRequestsException'],
      maxAttempts: 3,
      interval: Duration.seconds(10),
      backoffRate: 2,
    });
    plan.addCatch(cleanup, { resultPath: '$.error' });
    const create = lambdaTask(
      this,
      'CreateReplica',
      props.createReplicaFunction,
      { plan: JsonPath.objectAt('$.plan'), executionName: JsonPath.stringAt('$$.Execution.Name') },
      { resultPath: '$.created.replica', timeout: Duration.minutes(2) },
    );
    // The create is idempotent (a retry adopts only what carries this execution's tag): a timed
    // out or throttled invocation is tried again rather than ending the failback.
    create.addRetry({
      errors: ['States.Timeout', 'Lambda.TooManyRequestsException'],
      maxAttempts: 3,
      interval: Duration.seconds(10),
      backoffRate: 2,
    });
    create.addCatch(cleanup, { resultPath: '$.error' });

    const waits = replicaPollWaits(
      props.firstPollInterval ?? Duration.minutes(5),
      props.maxPollInterval ?? Duration.minutes(30),
      props.maxReplicaWait ?? Duration.hours(6),
    );
    const wait = new Wait(this, 'WaitForReplica', {
      time: WaitTime.secondsPath('$.replicaPoll.wait'),
    });
    const describe = lambdaTask(
      this,
      'DescribeReplica',
      props.describeReplicaFunction,
      { replica: JsonPath.objectAt('$.created.replica') },
      { resultPath: '$.replica', timeout: Duration.minutes(1) },
    );
    describe.addRetry({
      errors: ['States.TaskFailed'],
      maxAttempts: 3,
      interval: Duration.seconds(10),
      backoffRate: 2,
    });
    // Counts the check and picks the wait before the next one: after check n (attempts n-1 on the
    // way in) waits[n]; the list is waits without its first, padded so that the index is always in it.
    const pollWaits = `States.Array(${[...waits.slice(1), waits.at(-1)!, waits.at(-1)!].join(', ')})`;
    const countPoll = new Pass(this, 'CountReplicaPoll', {
      parameters: {
        attempts: JsonPath.mathAdd(JsonPath.numberAt('$.replicaPoll.attempts'), 1),
        'wait.$': `States.ArrayGetItem(${pollWaits}, $.replicaPoll.attempts)`,
      },
      resultPath: '$.replicaPoll',
    });
    // A check that fails is "not yet": one transient error never deletes a replica being created.
    describe.addCatch(countPoll, { resultPath: '$.describeError' });
    const hopeless = new Pass(this, 'ReplicaFailed', {
      parameters: {
        Error: 'ReplicaFailed',
        Cause: JsonPath.format(
          'replica {} in {} is {}: it will not become available',
          JsonPath.stringAt('$.created.replica.identifier'),
          JsonPath.stringAt('$.created.replica.region'),
          JsonPath.stringAt('$.replica.status'),
        ),
      },
      resultPath: '$.error',
    }).next(cleanup);
    const timedOut = new Pass(this, 'ReplicaTimedOut', {
      parameters: {
        Error: 'ReplicaTimedOut',
        Cause: JsonPath.format(
          'replica {} was not available after {} checks (last status {})',
          JsonPath.stringAt('$.created.replica.identifier'),
          JsonPath.stringAt('$.replicaPoll.attempts'),
          JsonPath.stringAt('$.replica.status'),
        ),
      },
      resultPath: '$.error',
    }).next(cleanup);

    const done = notifyRetriedThen(
      this,
      'NotifyReprotected',
      topic,
      notification(env, 'failback.reprotected', 'info', {
        database,
        primary: JsonPath.objectAt('$.plan.source'),
        replica: JsonPath.objectAt('$.created.replica'),
      }),
      new Pass(this, 'FailbackReport', {
        parameters: {
          result: 'reprotected',
          database,
          primary: JsonPath.objectAt('$.plan.source'),
          replica: JsonPath.objectAt('$.created.replica'),
          status: JsonPath.objectAt('$.replica'),
        },
      }).next(new Succeed(this, 'FailbackSucceeded')),
    );

    const definition = init
      .next(plan)
      .next(
        notifyRetriedThen(
          this,
          'NotifyFailbackStarted',
          topic,
          notification(env, 'failback.started', 'info', { database, plan: JsonPath.objectAt('$.plan') }),
          create,
        ),
      )
      .next(
        new Pass(this, 'InitReplicaPoll', {
          result: Result.fromObject({ attempts: 0, wait: waits[0] }),
          resultPath: '$.replicaPoll',
        }),
      )
      .next(wait)
      .next(describe)
      .next(countPoll)
      .next(
        new Choice(this, 'IsReplicaAvailable')
          .when(Condition.booleanEquals('$.replica.available', true), done)
          .when(Condition.booleanEquals('$.replica.hopeless', true), hopeless)
          .when(Condition.numberGreaterThanEquals('$.replicaPoll.attempts', waits.length), timedOut)
          .otherwise(wait),
      );

    const built = buildStateMachine(this, {
      ...props,
      name: 'failback',
      definition,
      timeout: props.timeout ?? Duration.hours(8),
      comment: 'lifeboat failback: re-protect with a new replica in the recovered region',
    });
    this.stateMachine = built.stateMachine;
    this.logGroup = built.logGroup;
    this.arnParameter = built.arnParameter;
    this.alarms = built.alarms;
  }
}
