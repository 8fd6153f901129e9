import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  Choice,
  Condition,
  Fail,
  JsonPath,
  Pass,
  Succeed,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  buildStateMachine,
  type IWorkflow,
  incrementCounter,
  initCounter,
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
  /** @default Duration.minutes(2) */
  readonly pollInterval?: Duration;
  /** @default 180 (6 h: a cross-region replica of a large database copies all of it) */
  readonly maxPollAttempts?: number;
  /** @default Duration.hours(8) */
  readonly timeout?: Duration;
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
        removed: JsonPath.objectAt('$.created'),
        cleanupErrors: JsonPath.objectAt('$.cleanupErrors'),
      }),
      failed,
    );
    const deleteReplica = lambdaTask(
      this,
      'DeleteCreatedReplica',
      props.deleteReplicaFunction,
      { replica: JsonPath.objectAt('$.created.replica') },
      { resultPath: JsonPath.DISCARD, timeout: Duration.minutes(2) },
    );
    deleteReplica.addCatch(notifyFailed, { resultPath: '$.cleanupErrors.replica' });
    deleteReplica.next(notifyFailed);
    const cleanup = new Choice(this, 'HasCreatedReplica')
      .when(Condition.isPresent('$.created.replica.identifier'), deleteReplica)
      .otherwise(notifyFailed);

    const init = new Pass(this, 'Init', {
      parameters: {
        input: JsonPath.objectAt('$'),
        created: {},
        cleanupErrors: {},
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
    plan.addCatch(cleanup, { resultPath: '$.error' });
    const create = lambdaTask(
      this,
      'CreateReplica',
      props.createReplicaFunction,
      { plan: JsonPath.objectAt('$.plan'), executionName: JsonPath.stringAt('$$.Execution.Name') },
      { resultPath: '$.created.replica', timeout: Duration.minutes(2) },
    );
    create.addCatch(cleanup, { resultPath: '$.error' });

    const wait = new Wait(this, 'WaitForReplica', {
      time: WaitTime.duration(props.pollInterval ?? Duration.minutes(2)),
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
    const countPoll = incrementCounter(this, 'CountReplicaPoll', '$.replicaPoll');
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
      .next(initCounter(this, 'InitReplicaPoll', '$.replicaPoll'))
      .next(wait)
      .next(describe)
      .next(countPoll)
      .next(
        new Choice(this, 'IsReplicaAvailable')
          .when(Condition.booleanEquals('$.replica.available', true), done)
          .when(Condition.booleanEquals('$.replica.hopeless', true), hopeless)
          .when(
            Condition.numberGreaterThanEquals('$.replicaPoll.attempts', props.maxPollAttempts ?? 180),
            timedOut,
          )
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
