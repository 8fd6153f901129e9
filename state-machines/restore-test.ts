import { Duration } from 'aws-cdk-lib';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Choice, Condition, Fail, JsonPath, Pass, Succeed } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import {
  buildStateMachine,
  type IWorkflow,
  lambdaTask,
  notification,
  notifyThen,
  type WorkflowBaseProps,
} from './common.ts';
import {
  createClusterInstance,
  deleteCreated,
  pollUntilAvailable,
  restoreClusterFromSnapshot,
  restoreInstanceFromSnapshot,
} from './rds-steps.ts';

/** Where the temporary instance runs: a network nothing else uses. */
export interface RestoreTestIsolation {
  /** DB subnet group of isolated subnets (no route to the internet or to production). */
  readonly subnetGroupName: string;
  /** Security groups that only let the check function in. */
  readonly securityGroupIds: readonly string[];
  /** @default 'db.t4g.medium' */
  readonly instanceClass?: string;
}

export interface RestoreTestWorkflowProps extends WorkflowBaseProps {
  /** wf-plan-restore-test: newest snapshot, matching dump, temporary identifiers. */
  readonly planFunction: IFunction;
  /** wf-verify-restore: the data checks (same function as the restore workflow's). */
  readonly checkFunction: IFunction;
  /** wf-record-restore-test: writes the verification record (method snapshot-restore-test). */
  readonly recordFunction: IFunction;
  readonly isolation: RestoreTestIsolation;
  /** KMS keys of the snapshots. @default - none */
  readonly snapshotKeyArns?: readonly string[];
  /** @default Duration.minutes(1) */
  readonly pollInterval?: Duration;
  /** @default 240 */
  readonly maxPollAttempts?: number;
  /** @default Duration.hours(6) */
  readonly timeout?: Duration;
}

/**
 * Proves a snapshot restores: newest snapshot → temporary isolated instance → data checks against
 * the matching dump's statistics → delete (also on failure) → verification record with durations.
 * Input: { "database": "<name>" } (the schedule's target input).
 */
export class RestoreTestWorkflow extends Construct implements IWorkflow {
  public readonly stateMachine: IWorkflow['stateMachine'];
  public readonly logGroup: IWorkflow['logGroup'];
  public readonly arnParameter: IWorkflow['arnParameter'];
  public readonly alarms: IWorkflow['alarms'];

  constructor(scope: Construct, id: string, props: RestoreTestWorkflowProps) {
    super(scope, id);
    const env = props.environment;
    const topic = props.notificationTopic;
    const keyArns = props.snapshotKeyArns ?? [];
    const database = JsonPath.stringAt('$.input.database');

    // --- outcome, after the temporary resources are gone ----------------------------------------

    const recordPayload = {
      executionId: JsonPath.stringAt('$$.Execution.Id'),
      startedAt: JsonPath.stringAt('$$.Execution.StartTime'),
      database,
      plan: JsonPath.objectAt('$.plan'),
      timing: JsonPath.objectAt('$.timing'),
    };
    const errored = new Fail(this, 'RestoreTestFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const recordError = lambdaTask(
      this,
      'RecordFailedRestoreTest',
      props.recordFunction,
      { ...recordPayload, error: JsonPath.objectAt('$.error') },
      { resultPath: '$.record', timeout: Duration.minutes(1) },
    );
    const notifyError = notifyThen(
      this,
      'NotifyRestoreTestError',
      topic,
      notification(env, 'restore-test.failed', 'warning', {
        database,
        plan: JsonPath.objectAt('$.plan'),
        error: JsonPath.objectAt('$.error'),
        cleanupErrors: JsonPath.objectAt('$.cleanupErrors'),
      }),
      errored,
    );
    recordError.addCatch(notifyError, { resultPath: '$.recordError' });
    recordError.next(notifyError);

    const checksFailed = new Fail(this, 'ChecksFailed', {
      error: 'VerificationFailed',
      cause: 'the restored snapshot did not pass the data checks: see the verification record',
    });
    const report = new Pass(this, 'RestoreTestReport', {
      parameters: {
        result: 'verified',
        database,
        backupId: JsonPath.stringAt('$.plan.backupId'),
        checks: JsonPath.objectAt('$.checks'),
        record: JsonPath.objectAt('$.record'),
      },
    }).next(new Succeed(this, 'RestoreTestSucceeded'));
    const passedDetail = {
      database,
      backupId: JsonPath.stringAt('$.plan.backupId'),
      checks: JsonPath.objectAt('$.checks'),
      record: JsonPath.objectAt('$.record'),
      cleanupErrors: JsonPath.objectAt('$.cleanupErrors'),
    };
    const outcome = new Choice(this, 'ChecksPassed')
      .when(
        Condition.booleanEquals('$.checks.passed', true),
        notifyThen(
          this,
          'NotifyRestoreTestPassed',
          topic,
          notification(env, 'restore-test.passed', 'info', passedDetail),
          report,
        ),
      )
      .otherwise(
        notifyThen(
          this,
          'NotifyRestoreTestChecksFailed',
          topic,
          notification(env, 'restore-test.checks-failed', 'critical', passedDetail),
          checksFailed,
        ),
      );
    const record = lambdaTask(
      this,
      'RecordRestoreTest',
      props.recordFunction,
      { ...recordPayload, checks: JsonPath.objectAt('$.checks') },
      { resultPath: '$.record', timeout: Duration.minutes(1) },
    );
    const recordFailed = new Pass(this, 'RecordFailed', {
      parameters: { recorded: false, error: JsonPath.objectAt('$.recordError') },
      resultPath: '$.record',
    }).next(outcome);
    record.addCatch(recordFailed, { resultPath: '$.recordError' });
    record.next(outcome);

    // Both ways (checks ran, or something failed) pass through the same deletion.
    const cleanup = deleteCreated(
      this,
      {
        hasInstance: 'HasTestInstance',
        deleteInstance: 'DeleteTestInstance',
        hasCluster: 'HasTestCluster',
        deleteCluster: 'DeleteTestCluster',
      },
      new Choice(this, 'HadError').when(Condition.isPresent('$.error'), recordError).otherwise(record),
    );

    // --- plan, restore, poll, check --------------------------------------------------------------

    const init = new Pass(this, 'Init', {
      parameters: { input: JsonPath.objectAt('$'), created: {}, cleanupErrors: {}, plan: {}, timing: {} },
    });
    const plan = lambdaTask(
      this,
      'PlanRestoreTest',
      props.planFunction,
      { database, executionName: JsonPath.stringAt('$$.Execution.Name') },
      { resultPath: '$.plan', timeout: Duration.minutes(2) },
    );
    plan.addCatch(cleanup, { resultPath: '$.error' });

    const isolation = {
      identifier: JsonPath.stringAt('$.plan.instanceIdentifier'),
      instanceClass: props.isolation.instanceClass ?? 'db.t4g.medium',
      subnetGroupName: props.isolation.subnetGroupName,
      securityGroupIds: [...props.isolation.securityGroupIds],
      workflow: 'restore-test',
      keyArns,
    };
    const restoreInstance = restoreInstanceFromSnapshot(this, 'RestoreTestInstance', {
      ...isolation,
      snapshotIdentifier: JsonPath.stringAt('$.plan.snapshotIdentifier'),
    });
    const restoreCluster = restoreClusterFromSnapshot(this, 'RestoreTestCluster', {
      clusterIdentifier: JsonPath.stringAt('$.plan.identifier'),
      snapshotIdentifier: JsonPath.stringAt('$.plan.snapshotIdentifier'),
      engine: JsonPath.stringAt('$.plan.engine'),
      subnetGroupName: isolation.subnetGroupName,
      securityGroupIds: isolation.securityGroupIds,
      workflow: 'restore-test',
      keyArns,
    });
    const clusterInstance = createClusterInstance(this, 'CreateTestClusterInstance', {
      identifier: isolation.identifier,
      clusterIdentifier: JsonPath.stringAt('$.created.cluster.identifier'),
      instanceClass: isolation.instanceClass,
      workflow: 'restore-test',
    });
    for (const task of [restoreInstance, restoreCluster, clusterInstance]) {
      task.addRetry({
        errors: ['Rds.RdsException'],
        maxAttempts: 5,
        interval: Duration.seconds(5),
        backoffRate: 2,
      });
      task.addCatch(cleanup, { resultPath: '$.error' });
    }

    const check = lambdaTask(
      this,
      'RunDataChecks',
      props.checkFunction,
      {
        database,
        restorePoint: { kind: 'snapshot', backupId: JsonPath.stringAt('$.plan.backupId') },
        statisticsBackupId: JsonPath.objectAt('$.plan.statisticsBackupId'),
        endpoint: JsonPath.stringAt('$.describe.instance.Endpoint.Address'),
        secretArn: JsonPath.stringAt('$.plan.secretArn'),
        // Report a mismatch as a result (recorded), not as an error.
        failOnMismatch: false,
      },
      { resultPath: '$.checks', timeout: Duration.minutes(15) },
    );
    check.addCatch(cleanup, { resultPath: '$.error' });
    check.next(cleanup);
    const markRestored = new Pass(this, 'MarkRestored', {
      parameters: { restoredAt: JsonPath.stringAt('$$.State.EnteredTime') },
      resultPath: '$.timing',
    }).next(check);

    const poll = pollUntilAvailable(
      this,
      {
        init: 'InitAvailabilityPoll',
        wait: 'WaitForAvailable',
        describe: 'DescribeTestInstance',
        count: 'CountAvailabilityPoll',
        choice: 'IsAvailable',
        hopeless: 'TestInstanceNotAvailable',
        timedOut: 'TestInstanceTimedOut',
      },
      {
        interval: props.pollInterval ?? Duration.minutes(1),
        maxAttempts: props.maxPollAttempts ?? 240,
        available: markRestored,
        onFailure: cleanup,
      },
    );
    restoreInstance.next(poll);
    restoreCluster.next(clusterInstance);
    clusterInstance.next(poll);

    const definition = init
      .next(plan)
      .next(
        new Choice(this, 'RestoreTestRoute')
          .when(Condition.stringEquals('$.plan.route', 'cluster-snapshot'), restoreCluster)
          .otherwise(restoreInstance),
      );

    const built = buildStateMachine(this, {
      ...props,
      name: 'restore-test',
      definition,
      timeout: props.timeout ?? Duration.hours(6),
      comment:
        'lifeboat restore test: newest snapshot into a temporary isolated instance, data checks, delete, record',
    });
    this.stateMachine = built.stateMachine;
    this.logGroup = built.logGroup;
    this.arnParameter = built.arnParameter;
    this.alarms = built.alarms;
  }
}
