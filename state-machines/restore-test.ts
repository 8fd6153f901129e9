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
import {
  adoptOwnResource,
  ownerTag,
  backoffSchedule,
  type PollSchedule,
  retryLambda,
  RDS_TRANSIENT,
  retryNotification,
  retryRds,
} from './resilience.ts';
import { RESTORE_POLL } from './restore.ts';
import { WORKFLOW_TAG_VALUE } from '../functions/core/contracts/index.ts';

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
  /** Waits between checks of the temporary instance. @default RESTORE_POLL (first 5 min, at most 4 h) */
  readonly availabilityPoll?: PollSchedule;
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
    const notifyError = retryNotification(
      notifyThen(
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
      ),
    );
    retryLambda(recordError);
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
        retryNotification(
          notifyThen(
            this,
            'NotifyRestoreTestPassed',
            topic,
            notification(env, 'restore-test.passed', 'info', passedDetail),
            report,
          ),
        ),
      )
      .otherwise(
        retryNotification(
          notifyThen(
            this,
            'NotifyRestoreTestChecksFailed',
            topic,
            notification(env, 'restore-test.checks-failed', 'critical', passedDetail),
            checksFailed,
          ),
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
    retryLambda(record);
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
      parameters: {
        input: JsonPath.objectAt('$'),
        ownerTag: ownerTag(),
        created: {},
        cleanupErrors: {},
        plan: {},
        timing: {},
      },
    });
    const plan = lambdaTask(
      this,
      'PlanRestoreTest',
      props.planFunction,
      { database, executionName: JsonPath.stringAt('$$.Execution.Name') },
      { resultPath: '$.plan', timeout: Duration.minutes(2) },
    );
    retryLambda(plan);
    plan.addCatch(cleanup, { resultPath: '$.error' });

    const isolation = {
      identifier: JsonPath.stringAt('$.plan.instanceIdentifier'),
      instanceClass: props.isolation.instanceClass ?? 'db.t4g.medium',
      subnetGroupName: props.isolation.subnetGroupName,
      securityGroupIds: [...props.isolation.securityGroupIds],
      workflow: WORKFLOW_TAG_VALUE.restoreTest,
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
      workflow: WORKFLOW_TAG_VALUE.restoreTest,
      keyArns,
    });
    const clusterInstance = createClusterInstance(this, 'CreateTestClusterInstance', {
      identifier: isolation.identifier,
      clusterIdentifier: JsonPath.stringAt('$.created.cluster.identifier'),
      instanceClass: isolation.instanceClass,
      workflow: WORKFLOW_TAG_VALUE.restoreTest,
    });

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
    retryLambda(check, { errors: ['DatabaseUnreachable'] });
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
        schedule: backoffSchedule(props.availabilityPoll ?? RESTORE_POLL),
        available: markRestored,
        onFailure: cleanup,
      },
    );
    // A create retried after its answer was lost meets its own resource: the tag proves it.
    const adoptInstance = adoptOwnResource(this, 'ExistingTestInstance', {
      kind: 'instance',
      mode: 'continue',
      identifier: JsonPath.stringAt('$.plan.instanceIdentifier'),
      adopted: poll,
      notOurs: cleanup,
    });
    // A create that still failed after its retries with an error that does not say whether it took
    // effect (5xx, lost answer, timeout): if the resource is there with our tag, it is cleaned up.
    const checkInstance = adoptOwnResource(this, 'TestUnsureInstance', {
      kind: 'instance',
      mode: 'cleanup',
      identifier: JsonPath.stringAt('$.plan.instanceIdentifier'),
      notOurs: cleanup,
    });
    const checkCluster = adoptOwnResource(this, 'TestUnsureCluster', {
      kind: 'cluster',
      mode: 'cleanup',
      identifier: JsonPath.stringAt('$.plan.identifier'),
      notOurs: cleanup,
    });
    const adoptCluster = adoptOwnResource(this, 'ExistingTestCluster', {
      kind: 'cluster',
      mode: 'continue',
      identifier: JsonPath.stringAt('$.plan.identifier'),
      adopted: clusterInstance,
      notOurs: cleanup,
    });
    for (const task of [restoreInstance, clusterInstance]) {
      retryRds(task);
      task.addCatch(adoptInstance, {
        errors: ['Rds.DbInstanceAlreadyExistsException'],
        resultPath: '$.createError',
      });
      task.addCatch(checkInstance, { errors: [...RDS_TRANSIENT], resultPath: '$.createError' });
      task.addCatch(cleanup, { resultPath: '$.error' });
    }
    retryRds(restoreCluster);
    restoreCluster.addCatch(adoptCluster, {
      errors: ['Rds.DbClusterAlreadyExistsException'],
      resultPath: '$.createError',
    });
    restoreCluster.addCatch(checkCluster, { errors: [...RDS_TRANSIENT], resultPath: '$.createError' });
    restoreCluster.addCatch(cleanup, { resultPath: '$.error' });
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
