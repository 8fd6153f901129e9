import { Duration, Stack } from 'aws-cdk-lib';
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
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  buildStateMachine,
  type IWorkflow,
  lambdaTask,
  notification,
  notifyThen,
  rdsArn,
  type WorkflowBaseProps,
} from './common.ts';
import {
  createClusterInstance,
  deleteCreated,
  pollUntilAvailable,
  restoreClusterFromSnapshot,
  restoreClusterToPointInTime,
  restoreInstanceFromSnapshot,
  restoreInstanceToPointInTime,
} from './rds-steps.ts';
import { ARCHIVE_WAIT_MAX_HOURS } from '../functions/core/dumps/cold-storage.ts';
import {
  adoptOwnResource,
  ownerTag,
  backoffSchedule,
  type PollSchedule,
  ROUTE53_REFUSED,
  ROUTE53_TRANSIENT,
  retryLambda,
  RDS_TRANSIENT,
  retryNotification,
  retryRds,
  scheduledCounter,
} from './resilience.ts';
import { WORKFLOW_TAG_VALUE } from '../functions/core/contracts/index.ts';

/** A restored instance is rarely available before 5 min; then every 1, 1.5, 2.25 … 10 min, for 4 h. */
export const RESTORE_POLL: PollSchedule = {
  first: Duration.minutes(5),
  min: Duration.minutes(1),
  max: Duration.minutes(10),
  total: Duration.hours(4),
};
/** Route 53 changes are usually INSYNC within a minute. */
export const CUTOVER_POLL: PollSchedule = {
  first: Duration.seconds(30),
  min: Duration.seconds(10),
  max: Duration.minutes(1),
  total: Duration.minutes(10),
};

export interface RestoreWorkflowProps extends WorkflowBaseProps {
  /** wf-validate-restore: validates the input, names the bad field, picks the route. */
  readonly validateFunction: IFunction;
  /** wf-resolve-restore-point: picks the restore point from the catalog; refuses an existing target. */
  readonly resolveFunction: IFunction;
  /** wf-restore-dump: restores a logical dump into a new database on the target server. */
  readonly restoreDumpFunction: IFunction;
  /** wf-archived-dump: whether the dump's artifacts can be read now; S3 restores of archived ones. */
  readonly archivedDumpFunction: IFunction;
  /** wf-verify-restore: the data checks on the restored database. */
  readonly verifyFunction: IFunction;
  /** wf-drop-restored-database: cleanup of a dump restore (drops only the database it created). */
  readonly dropDatabaseFunction: IFunction;
  /** wf-finish-restore: measures the duration and writes the catalog record. */
  readonly finishFunction: IFunction;
  /**
   * KMS keys of the snapshots a restore may use (the restored storage is encrypted with them).
   * @default - none: only unencrypted or AWS-managed-key snapshots restore
   */
  readonly snapshotKeyArns?: readonly string[];
  /** Waits between checks of the restored instance. @default RESTORE_POLL (first 5 min, at most 4 h) */
  readonly availabilityPoll?: PollSchedule;
  /** Waits between checks of the cutover's DNS change. @default CUTOVER_POLL (at most 10 min) */
  readonly cutoverPoll?: PollSchedule;
  /**
   * Hosted zones a cutover may change (IAM scope).
   * @default - every hosted zone of the account
   */
  readonly hostedZoneIds?: readonly string[];
  /**
   * @default 8 hours plus the longest wait for an archived dump (DEEP_ARCHIVE Bulk: 48 h and a margin)
   */
  readonly timeout?: Duration;
}

/** Flow 5: restore a database from a snapshot, a point in time or a dump. See docs/workflows.md. */
export class RestoreWorkflow extends Construct implements IWorkflow {
  public readonly stateMachine: IWorkflow['stateMachine'];
  public readonly logGroup: IWorkflow['logGroup'];
  public readonly arnParameter: IWorkflow['arnParameter'];
  public readonly alarms: IWorkflow['alarms'];

  constructor(scope: Construct, id: string, props: RestoreWorkflowProps) {
    super(scope, id);
    const env = props.environment;
    const topic = props.notificationTopic;
    const keyArns = props.snapshotKeyArns ?? [];
    const database = JsonPath.stringAt('$.request.database');
    const target = '$.request.target';

    // --- failure: clean up only what this execution created --------------------------------------

    const failed = new Fail(this, 'RestoreFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const notifyFailed = retryNotification(
      notifyThen(
        this,
        'NotifyRestoreFailed',
        topic,
        notification(env, 'restore.failed', 'critical', {
          database: JsonPath.stringAt('$.input.database'),
          error: JsonPath.objectAt('$.error'),
          removed: JsonPath.objectAt('$.created'),
          cleanupErrors: JsonPath.objectAt('$.cleanupErrors'),
        }),
        failed,
      ),
    );
    const dropDatabase = lambdaTask(
      this,
      'DropCreatedDatabase',
      props.dropDatabaseFunction,
      {
        database: JsonPath.stringAt('$.created.database.name'),
        target: JsonPath.objectAt(target),
        executionName: JsonPath.stringAt('$$.Execution.Name'),
      },
      { resultPath: JsonPath.DISCARD, timeout: Duration.minutes(5) },
    );
    retryLambda(dropDatabase, { errors: ['DatabaseUnreachable'] });
    dropDatabase.addCatch(notifyFailed, { resultPath: '$.cleanupErrors.database' });
    dropDatabase.next(notifyFailed);
    const hasDatabase = new Choice(this, 'HasCreatedDatabase')
      .when(Condition.isPresent('$.created.database.name'), dropDatabase)
      .otherwise(notifyFailed);
    const cleanup = deleteCreated(
      this,
      {
        hasInstance: 'HasCreatedInstance',
        deleteInstance: 'DeleteCreatedInstance',
        hasCluster: 'HasCreatedCluster',
        deleteCluster: 'DeleteCreatedCluster',
      },
      hasDatabase,
    );

    // --- validate, resolve ------------------------------------------------------------------------------

    const init = new Pass(this, 'Init', {
      parameters: {
        input: JsonPath.objectAt('$'),
        ownerTag: ownerTag(),
        created: {},
        cleanupErrors: {},
        verification: { skipped: true },
        cutover: { skipped: true },
        archive: { waited: false },
      },
    });
    const validate = lambdaTask(
      this,
      'ValidateInput',
      props.validateFunction,
      { input: JsonPath.objectAt('$.input') },
      { resultPath: '$.request', timeout: Duration.seconds(30) },
    );
    retryLambda(validate);
    validate.addCatch(cleanup, { resultPath: '$.error' });
    const resolve = lambdaTask(
      this,
      'ResolveRestorePoint',
      props.resolveFunction,
      { request: JsonPath.objectAt('$.request') },
      { resultPath: '$.restorePoint', timeout: Duration.minutes(2) },
    );
    retryLambda(resolve);
    resolve.addCatch(cleanup, { resultPath: '$.error' });

    // --- restore routes ------------------------------------------------------------------------------

    const instanceParams = {
      identifier: JsonPath.stringAt(`${target}.instanceIdentifier`),
      instanceClass: JsonPath.stringAt(`${target}.instanceClass`),
      subnetGroupName: JsonPath.stringAt(`${target}.subnetGroupName`),
      securityGroupIds: JsonPath.listAt(`${target}.securityGroupIds`),
      workflow: WORKFLOW_TAG_VALUE.restore,
      keyArns,
    };
    const fromSnapshot = restoreInstanceFromSnapshot(this, 'RestoreInstanceFromSnapshot', {
      ...instanceParams,
      snapshotIdentifier: JsonPath.stringAt('$.restorePoint.snapshotIdentifier'),
    });
    const toPointInTime = restoreInstanceToPointInTime(this, 'RestoreInstanceToPointInTime', {
      ...instanceParams,
      sourceIdentifier: JsonPath.stringAt('$.restorePoint.sourceIdentifier'),
      restoreTime: JsonPath.stringAt('$.restorePoint.restoreTime'),
    });
    const clusterFromSnapshot = restoreClusterFromSnapshot(this, 'RestoreClusterFromSnapshot', {
      clusterIdentifier: JsonPath.stringAt(`${target}.identifier`),
      snapshotIdentifier: JsonPath.stringAt('$.restorePoint.snapshotIdentifier'),
      engine: JsonPath.stringAt('$.restorePoint.engine'),
      subnetGroupName: instanceParams.subnetGroupName,
      securityGroupIds: instanceParams.securityGroupIds,
      workflow: WORKFLOW_TAG_VALUE.restore,
      keyArns,
    });
    const clusterToPointInTime = restoreClusterToPointInTime(this, 'RestoreClusterToPointInTime', {
      clusterIdentifier: JsonPath.stringAt(`${target}.identifier`),
      sourceIdentifier: JsonPath.stringAt('$.restorePoint.sourceIdentifier'),
      restoreTime: JsonPath.stringAt('$.restorePoint.restoreTime'),
      subnetGroupName: instanceParams.subnetGroupName,
      securityGroupIds: instanceParams.securityGroupIds,
      workflow: WORKFLOW_TAG_VALUE.restore,
      keyArns,
    });
    const clusterInstance = createClusterInstance(this, 'CreateClusterInstance', {
      identifier: instanceParams.identifier,
      clusterIdentifier: JsonPath.stringAt('$.created.cluster.identifier'),
      instanceClass: instanceParams.instanceClass,
      workflow: WORKFLOW_TAG_VALUE.restore,
    });
    const restoreDump = lambdaTask(
      this,
      'RestoreDump',
      props.restoreDumpFunction,
      {
        database,
        backupId: JsonPath.stringAt('$.restorePoint.backupId'),
        target: JsonPath.objectAt(target),
        executionName: JsonPath.stringAt('$$.Execution.Name'),
      },
      { resultPath: '$.dump', timeout: Duration.minutes(15) },
    );
    // Safe to run again: a retried attempt finds its own marker on the database and starts afresh.
    retryLambda(restoreDump);
    // --- available → endpoint → verify → cutover → finish ----------------------------------------------------

    const finish = lambdaTask(
      this,
      'FinishRestore',
      props.finishFunction,
      {
        executionId: JsonPath.stringAt('$$.Execution.Id'),
        startedAt: JsonPath.stringAt('$$.Execution.StartTime'),
        request: JsonPath.objectAt('$.request'),
        restorePoint: JsonPath.objectAt('$.restorePoint'),
        created: JsonPath.objectAt('$.created'),
        endpoint: JsonPath.stringAt('$.endpoint.address'),
        verification: JsonPath.objectAt('$.verification'),
        cutover: JsonPath.objectAt('$.cutover'),
      },
      { resultPath: '$.report', timeout: Duration.minutes(1) },
    );
    retryLambda(finish);
    // Restored, verified and maybe cut over: a catalog problem must not delete a database in use.
    const finishFailed = new Pass(this, 'FinishFailed', {
      parameters: { recorded: false, error: JsonPath.objectAt('$.finishError') },
      resultPath: '$.report',
    });
    finish.addCatch(finishFailed, { resultPath: '$.finishError' });
    const done = retryNotification(
      notifyThen(
        this,
        'NotifyRestored',
        topic,
        notification(env, 'restore.completed', 'info', {
          database,
          endpoint: JsonPath.stringAt('$.endpoint.address'),
          created: JsonPath.objectAt('$.created'),
          restorePoint: JsonPath.objectAt('$.restorePoint'),
          report: JsonPath.objectAt('$.report'),
          cutover: JsonPath.objectAt('$.cutover'),
        }),
        new Pass(this, 'RestoreReport', {
          parameters: {
            result: 'restored',
            database,
            endpoint: JsonPath.stringAt('$.endpoint.address'),
            created: JsonPath.objectAt('$.created'),
            restorePoint: JsonPath.objectAt('$.restorePoint'),
            verification: JsonPath.objectAt('$.verification'),
            cutover: JsonPath.objectAt('$.cutover'),
            report: JsonPath.objectAt('$.report'),
            archive: JsonPath.objectAt('$.archive'),
          },
        }).next(new Succeed(this, 'RestoreSucceeded')),
      ),
    );
    finish.next(done);
    finishFailed.next(done);

    // Cutover: UPSERT, then wait for INSYNC. Once the change may have been submitted DNS may already
    // point at the restored database, so from then on nothing is deleted: only an error that proves
    // the change was refused cleans up; any other (5xx, lost answer, timeout) keeps the database and
    // reports the cutover as UNKNOWN; a change not in sync in time is reported as PENDING.
    const zones = props.hostedZoneIds?.length ? props.hostedZoneIds : ['*'];
    const partition = Stack.of(this).partition;
    const cutover = new CallAwsService(this, 'Cutover', {
      service: 'route53',
      action: 'changeResourceRecordSets',
      parameters: {
        HostedZoneId: JsonPath.stringAt('$.request.cutover.hostedZoneId'),
        ChangeBatch: {
          Comment: JsonPath.format('lifeboat restore {}', JsonPath.stringAt('$$.Execution.Name')),
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: JsonPath.stringAt('$.request.cutover.recordName'),
                Type: 'CNAME',
                Ttl: JsonPath.numberAt('$.request.cutover.ttl'),
                ResourceRecords: [{ Value: JsonPath.stringAt('$.endpoint.address') }],
              },
            },
          ],
        },
      },
      iamResources: zones.map((z) => `arn:${partition}:route53:::hostedzone/${z}`),
      resultSelector: {
        changeId: JsonPath.stringAt('$.ChangeInfo.Id'),
        status: JsonPath.stringAt('$.ChangeInfo.Status'),
      },
      resultPath: '$.cutover',
    });
    cutover.addRetry({
      errors: [...ROUTE53_TRANSIENT],
      maxAttempts: 5,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    cutover.addCatch(cleanup, { errors: [...ROUTE53_REFUSED], resultPath: '$.error' });
    const cutoverSchedule = backoffSchedule(props.cutoverPoll ?? CUTOVER_POLL);
    const cutoverCounter = scheduledCounter(
      this,
      { init: 'InitCutoverPoll', count: 'CountCutoverPoll' },
      '$.cutoverPoll',
      cutoverSchedule,
    );
    const initCutoverPoll = cutoverCounter.init;
    const waitForCutover = new Wait(this, 'WaitForCutover', {
      time: WaitTime.secondsPath('$.cutoverPoll.wait'),
    });
    const getChange = new CallAwsService(this, 'GetCutoverChange', {
      service: 'route53',
      action: 'getChange',
      parameters: { Id: JsonPath.stringAt('$.cutover.changeId') },
      iamResources: [`arn:${partition}:route53:::change/*`],
      resultSelector: {
        changeId: JsonPath.stringAt('$.ChangeInfo.Id'),
        status: JsonPath.stringAt('$.ChangeInfo.Status'),
      },
      resultPath: '$.cutover',
    });
    getChange.addRetry({
      errors: [...ROUTE53_TRANSIENT],
      maxAttempts: 5,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    getChange.addCatch(finish, { resultPath: '$.cutoverError' });
    initCutoverPoll
      .next(waitForCutover)
      .next(getChange)
      .next(cutoverCounter.count)
      .next(
        new Choice(this, 'IsCutoverInSync')
          .when(Condition.stringEquals('$.cutover.status', 'INSYNC'), finish)
          .when(Condition.numberGreaterThanEquals('$.cutoverPoll.attempts', cutoverSchedule.length), finish)
          .otherwise(waitForCutover),
      );
    cutover.addCatch(
      new Pass(this, 'CutoverUnknown', {
        parameters: { status: 'UNKNOWN', error: JsonPath.objectAt('$.cutoverError') },
        resultPath: '$.cutover',
      }).next(finish),
      { resultPath: '$.cutoverError' },
    );
    cutover.next(initCutoverPoll);
    const hasCutover = new Choice(this, 'HasCutover')
      .when(Condition.isPresent('$.request.cutover'), cutover)
      .otherwise(finish);

    const verify = lambdaTask(
      this,
      'VerifyRestore',
      props.verifyFunction,
      {
        database,
        restorePoint: JsonPath.objectAt('$.restorePoint'),
        endpoint: JsonPath.stringAt('$.endpoint.address'),
        secretArn: JsonPath.stringAt(`${target}.secretArn`),
      },
      { resultPath: '$.verification', timeout: Duration.minutes(15) },
    );
    // A new endpoint may refuse connections for a moment: that is not a failed restore.
    retryLambda(verify, { errors: ['DatabaseUnreachable'] });
    verify.addCatch(cleanup, { resultPath: '$.error' });
    verify.next(hasCutover);
    const shouldVerify = new Choice(this, 'ShouldVerify')
      .when(Condition.booleanEquals('$.request.verify', true), verify)
      .otherwise(hasCutover);

    const describeCluster = new CallAwsService(this, 'DescribeRestoredCluster', {
      service: 'rds',
      action: 'describeDBClusters',
      parameters: { DbClusterIdentifier: JsonPath.stringAt('$.created.cluster.identifier') },
      iamResources: [rdsArn(this, 'cluster')],
      resultSelector: { address: JsonPath.stringAt('$.DbClusters[0].Endpoint') },
      resultPath: '$.endpoint',
    });
    retryRds(describeCluster);
    describeCluster.addCatch(cleanup, { resultPath: '$.error' });
    describeCluster.next(shouldVerify);
    const instanceEndpoint = new Pass(this, 'InstanceEndpoint', {
      parameters: { address: JsonPath.stringAt('$.describe.instance.Endpoint.Address') },
      resultPath: '$.endpoint',
    }).next(
      new Choice(this, 'IsCluster')
        .when(Condition.isPresent('$.created.cluster.identifier'), describeCluster)
        .otherwise(shouldVerify),
    );

    const poll = pollUntilAvailable(
      this,
      {
        init: 'InitAvailabilityPoll',
        wait: 'WaitForAvailable',
        describe: 'DescribeRestoredInstance',
        count: 'CountAvailabilityPoll',
        choice: 'IsAvailable',
        hopeless: 'RestoreNotAvailable',
        timedOut: 'RestoreTimedOut',
      },
      {
        schedule: backoffSchedule(props.availabilityPoll ?? RESTORE_POLL),
        available: instanceEndpoint,
        onFailure: cleanup,
      },
    );
    // A create retried after its answer was lost meets its own resource ("already exists"): the
    // tag it wrote proves it is this execution's, and the restore goes on with it.
    const adoptInstance = adoptOwnResource(this, 'ExistingInstance', {
      kind: 'instance',
      mode: 'continue',
      identifier: JsonPath.stringAt(`${target}.instanceIdentifier`),
      adopted: poll,
      notOurs: cleanup,
    });
    // A create that still failed after its retries with an error that does not say whether it took
    // effect (5xx, lost answer, timeout): if the resource is there with our tag, it is cleaned up.
    const checkInstance = adoptOwnResource(this, 'UnsureInstance', {
      kind: 'instance',
      mode: 'cleanup',
      identifier: JsonPath.stringAt(`${target}.instanceIdentifier`),
      notOurs: cleanup,
    });
    const checkCluster = adoptOwnResource(this, 'UnsureCluster', {
      kind: 'cluster',
      mode: 'cleanup',
      identifier: JsonPath.stringAt(`${target}.identifier`),
      notOurs: cleanup,
    });
    const adoptCluster = adoptOwnResource(this, 'ExistingCluster', {
      kind: 'cluster',
      mode: 'continue',
      identifier: JsonPath.stringAt(`${target}.identifier`),
      adopted: clusterInstance,
      notOurs: cleanup,
    });
    for (const task of [fromSnapshot, toPointInTime, clusterInstance]) {
      retryRds(task);
      task.addCatch(adoptInstance, {
        errors: ['Rds.DbInstanceAlreadyExistsException'],
        resultPath: '$.createError',
      });
      task.addCatch(checkInstance, { errors: [...RDS_TRANSIENT], resultPath: '$.createError' });
      task.addCatch(cleanup, { resultPath: '$.error' });
    }
    for (const task of [clusterFromSnapshot, clusterToPointInTime]) {
      retryRds(task);
      task.addCatch(adoptCluster, {
        errors: ['Rds.DbClusterAlreadyExistsException'],
        resultPath: '$.createError',
      });
      task.addCatch(checkCluster, { errors: [...RDS_TRANSIENT], resultPath: '$.createError' });
      task.addCatch(cleanup, { resultPath: '$.error' });
    }

    fromSnapshot.next(poll);
    toPointInTime.next(poll);
    clusterFromSnapshot.next(clusterInstance);
    clusterToPointInTime.next(clusterInstance);
    clusterInstance.next(poll);

    // A dump restore runs its own data checks (the verify-backup code) as part of the restore. The
    // database is marked created *before* the task, so that a task that dies half-way (timeout) is
    // still cleaned up; the resolve step has made sure it did not exist, and a task that finds it
    // exists after all (TargetAlreadyExists) un-marks it: a pre-existing database is never dropped.
    const trackDumpDatabase = new Pass(this, 'TrackDumpDatabase', {
      parameters: { name: JsonPath.stringAt(`${target}.databaseName`) },
      resultPath: '$.created.database',
    });
    const forgetDumpDatabase = new Pass(this, 'ForgetDumpDatabase', {
      result: Result.fromObject({}),
      resultPath: '$.created.database',
    }).next(cleanup);
    restoreDump.addCatch(forgetDumpDatabase, { errors: ['TargetAlreadyExists'], resultPath: '$.error' });

    // An archived dump (the lifecycle moves artifacts to GLACIER, then DEEP_ARCHIVE): S3 restores of
    // its artifacts at the request's tier, on-call told how long, then a long, cheap loop (a check
    // every 15 min; every minute for Expedited) bounded by the tier's published worst case plus a
    // margin (wf-archived-dump, functions/core/cold-storage.ts archiveWaitPlan). Nothing is created
    // before the artifacts are readable, so a failure here has nothing to clean up.
    const dumpRef = {
      database,
      backupId: JsonPath.stringAt('$.restorePoint.backupId'),
    };
    const checkDump = lambdaTask(
      this,
      'CheckDumpArtifacts',
      props.archivedDumpFunction,
      { action: 'check', ...dumpRef },
      { resultPath: '$.archive.storage', timeout: Duration.minutes(2) },
    );
    retryLambda(checkDump, { errors: ['RepositoryError'] });
    checkDump.addCatch(cleanup, { resultPath: '$.error' });
    const requestArchive = lambdaTask(
      this,
      'RequestArchiveRestore',
      props.archivedDumpFunction,
      {
        action: 'request',
        ...dumpRef,
        tier: JsonPath.stringAt('$.request.archive.tier'),
        days: JsonPath.numberAt('$.request.archive.days'),
      },
      { resultPath: '$.archive.request', timeout: Duration.minutes(5) },
    );
    // Asking again is harmless (a running restore answers RestoreAlreadyInProgress).
    retryLambda(requestArchive, { errors: ['RepositoryError'] });
    requestArchive.addRetry({
      errors: ['ExpeditedRetrievalUnavailable'],
      maxAttempts: 2,
      interval: Duration.seconds(30),
      backoffRate: 2,
    });
    // No Expedited capacity (it is not guaranteed): Standard rather than no restore at all; the
    // notification that follows tells the wait at that tier.
    const standardInstead = new Pass(this, 'ArchiveTierStandard', {
      parameters: {
        tier: 'Standard',
        days: JsonPath.numberAt('$.request.archive.days'),
        insteadOf: JsonPath.stringAt('$.request.archive.tier'),
      },
      resultPath: '$.request.archive',
    }).next(requestArchive);
    requestArchive.addCatch(standardInstead, {
      errors: ['ExpeditedRetrievalUnavailable'],
      resultPath: '$.archive.expeditedError',
    });
    requestArchive.addCatch(cleanup, { resultPath: '$.error' });

    const waitForArchive = new Wait(this, 'WaitForArchiveRestore', {
      time: WaitTime.secondsPath('$.archive.request.waitSeconds'),
    });
    const checkArchive = lambdaTask(
      this,
      'CheckArchiveRestore',
      props.archivedDumpFunction,
      { action: 'check', ...dumpRef },
      { resultPath: '$.archive.storage', timeout: Duration.minutes(2) },
    );
    retryLambda(checkArchive, { errors: ['RepositoryError'] });
    checkArchive.addCatch(cleanup, { resultPath: '$.error' });
    const archiveTimedOut = new Pass(this, 'ArchiveRestoreTimedOut', {
      parameters: {
        Error: 'ArchiveRestoreTimedOut',
        Cause: JsonPath.format(
          'backup {} is still archived after {} checks ({} h, S3 restore at {} tier): {} of {} artifacts readable, {} still restoring (e.g. {}). Nothing was created. The S3 restore goes on: start this restore again once the artifacts are readable (lifeboat list --env shows their tier).',
          JsonPath.stringAt('$.restorePoint.backupId'),
          JsonPath.stringAt('$.archive.poll.attempts'),
          JsonPath.stringAt('$.archive.request.boundHours'),
          JsonPath.stringAt('$.archive.request.tier'),
          JsonPath.stringAt('$.archive.storage.readableNow'),
          JsonPath.stringAt('$.archive.storage.artifacts'),
          JsonPath.stringAt('$.archive.storage.restoring'),
          JsonPath.stringAt('$.archive.storage.waitingFor[0]'),
        ),
      },
      resultPath: '$.error',
    }).next(cleanup);
    const archiveReady = new Pass(this, 'ArchiveReadable', {
      result: Result.fromBoolean(true),
      resultPath: '$.archive.waited',
    }).next(trackDumpDatabase);
    const notifyArchived = notifyThen(
      this,
      'NotifyArchiveRestore',
      topic,
      notification(env, 'restore.waiting-for-archive', 'warning', {
        database,
        backupId: JsonPath.stringAt('$.restorePoint.backupId'),
        storage: JsonPath.objectAt('$.archive.storage'),
        restore: JsonPath.objectAt('$.archive.request'),
        asked: JsonPath.objectAt('$.request.archive'),
      }),
      new Pass(this, 'InitArchivePoll', {
        result: Result.fromObject({ attempts: 0 }),
        resultPath: '$.archive.poll',
      }).next(waitForArchive),
    );
    requestArchive.next(notifyArchived);
    waitForArchive
      .next(checkArchive)
      .next(
        new Pass(this, 'CountArchivePoll', {
          parameters: { attempts: JsonPath.mathAdd(JsonPath.numberAt('$.archive.poll.attempts'), 1) },
          resultPath: '$.archive.poll',
        }),
      )
      .next(
        new Choice(this, 'IsArchiveReadable')
          .when(Condition.booleanEquals('$.archive.storage.readable', true), archiveReady)
          .when(
            Condition.numberGreaterThanEqualsJsonPath(
              '$.archive.poll.attempts',
              '$.archive.request.maxChecks',
            ),
            archiveTimedOut,
          )
          .otherwise(waitForArchive),
      );
    checkDump.next(
      new Choice(this, 'IsDumpReadable')
        .when(Condition.booleanEquals('$.archive.storage.readable', true), trackDumpDatabase)
        .otherwise(requestArchive),
    );
    restoreDump.addCatch(cleanup, { resultPath: '$.error' });
    trackDumpDatabase.next(restoreDump);
    restoreDump
      .next(
        new Pass(this, 'DumpResult', {
          parameters: {
            address: JsonPath.stringAt('$.dump.endpoint'),
          },
          resultPath: '$.endpoint',
        }),
      )
      .next(
        new Pass(this, 'DumpVerification', {
          parameters: {
            passed: JsonPath.objectAt('$.dump.passed'),
            checks: JsonPath.objectAt('$.dump.checks'),
          },
          resultPath: '$.verification',
        }),
      )
      .next(hasCutover);

    const route = '$.request.route';
    const definition = init
      .next(validate)
      .next(
        retryNotification(
          notifyThen(
            this,
            'NotifyRestoreStarted',
            topic,
            notification(env, 'restore.started', 'info', {
              database,
              request: JsonPath.objectAt('$.request'),
            }),
            resolve,
          ),
        ),
      )
      .next(
        new Choice(this, 'RestoreRoute')
          .when(Condition.stringEquals(route, 'instance-snapshot'), fromSnapshot)
          .when(Condition.stringEquals(route, 'instance-pitr'), toPointInTime)
          .when(Condition.stringEquals(route, 'cluster-snapshot'), clusterFromSnapshot)
          .when(Condition.stringEquals(route, 'cluster-pitr'), clusterToPointInTime)
          .when(Condition.stringEquals(route, 'dump'), checkDump)
          .otherwise(
            new Pass(this, 'UnknownRoute', {
              parameters: {
                Error: 'InvalidRestoreInput',
                Cause: JsonPath.format('unknown route {}', JsonPath.stringAt(route)),
              },
              resultPath: '$.error',
            }).next(cleanup),
          ),
      );

    const built = buildStateMachine(this, {
      ...props,
      name: 'restore',
      definition,
      timeout: props.timeout ?? Duration.hours(8 + ARCHIVE_WAIT_MAX_HOURS),
      comment:
        'lifeboat restore: validate, resolve, (archived dump: S3 restore, wait), restore, poll, verify, cutover, notify; cleanup of what it created',
    });
    this.stateMachine = built.stateMachine;
    this.logGroup = built.logGroup;
    this.arnParameter = built.arnParameter;
    this.alarms = built.alarms;
  }
}
