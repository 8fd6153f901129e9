import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  type Chain,
  Choice,
  Condition,
  Errors,
  Fail,
  type IChainable,
  IntegrationPattern,
  JsonPath,
  Pass,
  Result,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import {
  CallAwsService,
  DynamoAttributeValue,
  DynamoDeleteItem,
  DynamoGetItem,
  DynamoPutItem,
  SnsPublish,
} from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { pollAttemptsFor } from '../functions/core/failover/promotion.ts';
import {
  buildStateMachine,
  type IWorkflow,
  lambdaTask,
  notification,
  notifyRetriedThen,
  rdsArn,
  type WorkflowBaseProps,
} from './common.ts';
import { retryLambda } from './resilience.ts';

/** Partition key (string) of the lock table: `failover#<database>`. */
export const LOCK_KEY_ATTRIBUTE = 'lockId';

export interface FailoverWorkflowProps extends WorkflowBaseProps {
  /**
   * Table holding one item per running failover (partition key `lockId`, string). The workflow
   * writes it with a conditional PutItem and deletes it at the end; the approval gate stores its
   * task token in it (attribute approvalToken) so `lifeboat approve` finds it by database name.
   */
  readonly lockTable: ITable;
  /** wf-failover-preflight: validates the input, resolves the target, runs the checks. */
  readonly preflightFunction: IFunction;
  /** wf-fence: moves the old primary out of reach where its region answers. */
  readonly fenceFunction: IFunction;
  /** wf-check-writable: whether the promoted database accepts writes yet, and its endpoint. */
  readonly checkWritableFunction: IFunction;
  /** wf-verify-write: writes and reads back a row on the new primary. */
  readonly verifyWriteFunction: IFunction;
  /** wf-record-failover: writes the failover record (RTO, RPO) to the catalog. */
  readonly recordFunction: IFunction;
  /**
   * Whether an alarm-started failover may go ahead without a person approving it.
   * @default false
   */
  readonly automaticFailover?: boolean;
  /**
   * How long the approval gate waits before giving up (error ApprovalTimedOut).
   * @default Duration.hours(1)
   */
  readonly approvalTimeout?: Duration;
  /**
   * Wait before the first writability check of the promoted database; each later wait doubles,
   * up to 2 minutes (a promotion takes minutes: frequent checks only cost transitions).
   * @default Duration.seconds(15)
   */
  readonly promotionPollInterval?: Duration;
  /**
   * Checks before a promotion that never becomes writable is reported (partial failure).
   * @default the number whose waits add up to 30 minutes (18 at the default interval)
   */
  readonly promotionMaxAttempts?: number;
  /**
   * Wait before the first check of the DNS change; later checks wait `dnsPollInterval`.
   * Route 53 changes are usually INSYNC within a minute.
   * @default Duration.seconds(30)
   */
  readonly dnsFirstWait?: Duration;
  /** @default Duration.seconds(15) */
  readonly dnsPollInterval?: Duration;
  /** @default 30 */
  readonly dnsMaxAttempts?: number;
  /**
   * Planned mode: how long, after fencing, to wait for the replica to replay the old primary's
   * last WAL position before refusing (ReplicaNotCaughtUp). Inside one VerifyWrite invocation,
   * so under its 2-minute timeout.
   * @default Duration.seconds(90)
   */
  readonly catchUpTimeout?: Duration;
  /**
   * Hosted zones the workflow may change (IAM scope).
   * @default - every hosted zone of the account
   */
  readonly hostedZoneIds?: readonly string[];
  /** @default Duration.hours(4) */
  readonly timeout?: Duration;
}

/**
 * Flow 6: cross-region failover of one database, deployed in the DR region. See docs/workflows.md
 * for the states, the errors and what each Catch does.
 */
export class FailoverWorkflow extends Construct implements IWorkflow {
  public readonly stateMachine: IWorkflow['stateMachine'];
  public readonly logGroup: IWorkflow['logGroup'];
  public readonly arnParameter: IWorkflow['arnParameter'];
  public readonly alarms: IWorkflow['alarms'];

  constructor(scope: Construct, id: string, props: FailoverWorkflowProps) {
    super(scope, id);
    const env = props.environment;
    const topic = props.notificationTopic;
    // Everything after Preflight reads the validated request: the raw input may lack any field.
    const database = JsonPath.stringAt('$.preflight.request.database');
    const lockKey = {
      [LOCK_KEY_ATTRIBUTE]: DynamoAttributeValue.fromString(JsonPath.format('failover#{}', database)),
    };
    const commands = JsonPath.objectAt('$.preflight.commands');
    /** The true state of each part, as the final notifications carry it. */
    const state = {
      lock: JsonPath.objectAt('$.lock'),
      fence: JsonPath.objectAt('$.fence'),
      promotion: JsonPath.objectAt('$.promote'),
      dns: JsonPath.objectAt('$.dns'),
      writeCheck: JsonPath.objectAt('$.verify'),
    };
    const promotionFirstWait = props.promotionPollInterval ?? Duration.seconds(15);
    const maxPromotionChecks =
      props.promotionMaxAttempts ?? pollAttemptsFor(30 * 60, promotionFirstWait.toSeconds());

    // --- endings -------------------------------------------------------------------------------

    const failed = new Fail(this, 'FailoverFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const failureChain = this.releaseLockThen(
      'ReleaseLockAfterFailure',
      props,
      lockKey,
      notifyRetriedThen(
        this,
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

    const partial = new Fail(this, 'FailoverPartiallyCompleted', {
      error: 'FailoverPartiallyCompleted',
      causePath: '$.partial.cause',
    });
    const partialChain = this.releaseLockThen(
      'ReleaseLockAfterPartial',
      props,
      lockKey,
      notifyRetriedThen(
        this,
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

    // --- preflight, refusals, dry run (before the lock: nothing is changed yet) --------------------

    const configure = new Pass(this, 'Configure', {
      parameters: {
        config: { automaticFailover: props.automaticFailover ?? false, environment: env },
        lock: { status: 'not-acquired', detail: '' },
        fence: { status: 'not-attempted', detail: '' },
        promote: { status: 'not-attempted', detail: '' },
        dns: { status: 'not-attempted', detail: '' },
        verify: { status: 'not-attempted', detail: '' },
      },
    });

    const preflightPayload = (recheck: boolean) => ({
      input: JsonPath.objectAt('$$.Execution.Input'),
      executionId: JsonPath.stringAt('$$.Execution.Id'),
      lockTable: props.lockTable.tableName,
      recheck,
    });
    const preflight = lambdaTask(this, 'Preflight', props.preflightFunction, preflightPayload(false), {
      resultPath: '$.preflight',
      timeout: Duration.minutes(2),
    });
    // Every task function of this workflow is safe to run again (reads, an idempotent security-group
    // change, a write check that leaves nothing, a record under the execution's own key): a Lambda
    // throttle or a task timeout is retried rather than ending a failover.
    retryLambda(preflight);
    const notStartedFail = new Fail(this, 'FailoverNotStarted', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    // Bad input, an unknown database, or preflight itself failing: nothing was locked or changed.
    preflight.addCatch(
      notifyRetriedThen(
        this,
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

    const refusalError = (id: string) =>
      new Pass(this, id, {
        parameters: {
          Error: JsonPath.stringAt('$.preflight.refusal.Error'),
          Cause: JsonPath.stringAt('$.preflight.refusal.Cause'),
        },
        resultPath: '$.error',
      });
    const refused = refusalError('PreflightRefused').next(
      notifyRetriedThen(
        this,
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
      this,
      'NotifyDryRun',
      topic,
      notification(env, 'failover.dry-run', 'info', {
        database,
        checks: JsonPath.objectAt('$.preflight.checks'),
        rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
      }),
      new Pass(this, 'DryRunReport', {
        parameters: {
          result: 'dry-run',
          database,
          passed: JsonPath.objectAt('$.preflight.passed'),
          checks: JsonPath.objectAt('$.preflight.checks'),
          rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
          target: JsonPath.objectAt('$.preflight.target'),
        },
      }).next(new Succeed(this, 'DryRunSucceeded')),
    );

    // --- lock -------------------------------------------------------------------------------------

    const acquireLock = new DynamoPutItem(this, 'AcquireLock', {
      table: props.lockTable,
      item: {
        ...lockKey,
        executionId: DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
        acquiredAt: DynamoAttributeValue.fromString(JsonPath.stringAt('$$.State.EnteredTime')),
        kind: DynamoAttributeValue.fromString('failover'),
      },
      // A retry after an answer lost on the way back finds its own item: still this execution's lock.
      conditionExpression: `attribute_not_exists(${LOCK_KEY_ATTRIBUTE}) OR executionId = :me`,
      expressionAttributeValues: {
        ':me': DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
      },
      resultSelector: { status: 'held', detail: 'this execution holds the lock' },
      resultPath: '$.lock',
    });
    // A refusal is final; anything else (throttling, 5xx, a lost answer) is retried, and a retry
    // after a lost answer finds this execution's own item.
    acquireLock.addRetry({ errors: ['DynamoDB.ConditionalCheckFailedException'], maxAttempts: 0 });
    acquireLock.addRetry({
      errors: [Errors.ALL],
      maxAttempts: 4,
      interval: Duration.seconds(1),
      backoffRate: 2,
    });
    const inProgress = new Fail(this, 'FailoverInProgress', {
      error: 'FailoverInProgress',
      cause: 'another failover of this database is running (it holds the lock); this one changed nothing',
    });
    acquireLock.addCatch(
      notifyRetriedThen(
        this,
        'NotifyLockRefused',
        topic,
        notification(env, 'failover.refused', 'warning', {
          database,
          error: { Error: 'FailoverInProgress', Cause: 'another failover of this database is running' },
          changed: 'nothing',
        }),
        inProgress,
      ),
      { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: '$.error' },
    );
    // Whether the item was written is not known: the release is conditional on this execution.
    acquireLock.addCatch(failureChain, { resultPath: '$.error' });

    // --- approval gate (alarm-started): the data at risk, a person's decision, preflight again -------

    const approvalTimeout = props.approvalTimeout ?? Duration.hours(1);
    const lastHeartbeat = new DynamoGetItem(this, 'GetLastHeartbeat', {
      table: props.lockTable,
      key: {
        [LOCK_KEY_ATTRIBUTE]: DynamoAttributeValue.fromString(JsonPath.format('heartbeat#{}', database)),
      },
      consistentRead: true,
      resultPath: '$.lastHeartbeat',
    });
    const estimate = lambdaTask(
      this,
      'EstimateDataLoss',
      props.verifyWriteFunction,
      {
        action: 'estimate-rpo',
        database,
        target: JsonPath.objectAt('$.preflight.target'),
        replicaEndpoint: JsonPath.stringAt('$.preflight.facts.target.endpoint'),
        acknowledged: JsonPath.objectAt('$.lastHeartbeat'),
      },
      { resultPath: '$.estimate', timeout: Duration.minutes(1) },
    );
    retryLambda(estimate);
    const estimateUnknown = new Pass(this, 'DataLossUnknown', {
      parameters: {
        known: false,
        rpoSeconds: null,
        rowsAtRisk: null,
        transactionsAtRisk: null,
        lastReplayedHeartbeat: null,
        summary: JsonPath.format(
          'data at risk unknown: the heartbeat could not be read ({}: {})',
          JsonPath.stringAt('$.estimateError.Error'),
          JsonPath.stringAt('$.estimateError.Cause'),
        ),
      },
      resultPath: '$.estimate',
    });
    lastHeartbeat.addCatch(estimateUnknown, { resultPath: '$.estimateError' });
    estimate.addCatch(estimateUnknown, { resultPath: '$.estimateError' });

    const requestApproval = new CallAwsService(this, 'RequestApproval', {
      service: 'dynamodb',
      action: 'updateItem',
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      parameters: {
        TableName: props.lockTable.tableName,
        Key: { [LOCK_KEY_ATTRIBUTE]: { S: JsonPath.format('failover#{}', database) } },
        UpdateExpression: 'SET approvalToken = :token, approvalRequestedAt = :at',
        ConditionExpression: 'executionId = :me',
        ExpressionAttributeValues: {
          ':token': { S: JsonPath.taskToken },
          ':at': { S: JsonPath.stringAt('$$.State.EnteredTime') },
          ':me': { S: JsonPath.stringAt('$$.Execution.Id') },
        },
      },
      iamResources: [props.lockTable.tableArn],
      taskTimeout: Timeout.duration(approvalTimeout),
      resultPath: '$.approval',
    });
    const approvalTimedOut = new Pass(this, 'ApprovalTimedOut', {
      parameters: {
        Error: 'ApprovalTimedOut',
        Cause: `nobody approved or aborted within ${approvalTimeout.toHumanString()}; nothing was changed`,
      },
      resultPath: '$.error',
    }).next(failureChain);
    // Throttling, a 5xx or a lost answer of the UpdateItem itself (nobody has decided yet): store the
    // token again. A decision (approve, FailoverAborted) or the timeout is never retried.
    requestApproval.addRetry({
      errors: [
        'DynamoDb.ProvisionedThroughputExceededException',
        'DynamoDb.RequestLimitExceededException',
        'DynamoDb.ThrottlingException',
        'DynamoDb.InternalServerErrorException',
        'DynamoDb.DynamoDbException',
      ],
      maxAttempts: 4,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    requestApproval.addCatch(approvalTimedOut, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
    requestApproval.addCatch(failureChain, { resultPath: '$.error' });

    // Nobody would know the run waits: fail it now (the failed-execution alarm pages) rather than
    // wait an hour in silence.
    const approvalNotSent = new Pass(this, 'ApprovalNotificationFailed', {
      parameters: {
        Error: 'ApprovalNotificationFailed',
        Cause: JsonPath.format(
          'the approval-needed notification could not be published ({}: {}), so nobody knows this failover waits for a decision; it stopped before changing anything. Start it again by hand once notifications work, or with the approval of the person on call.',
          JsonPath.stringAt('$.notifyError.Error'),
          JsonPath.stringAt('$.notifyError.Cause'),
        ),
      },
      resultPath: '$.error',
    }).next(failureChain);
    const notifyApprovalNeeded = new SnsPublish(this, 'NotifyApprovalNeeded', {
      topic,
      message: TaskInput.fromObject(
        notification(env, 'failover.approval-needed', 'critical', {
          database,
          input: JsonPath.objectAt('$$.Execution.Input'),
          checks: JsonPath.objectAt('$.preflight.checks'),
          rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
          estimate: JsonPath.objectAt('$.estimate'),
          timeoutSeconds: approvalTimeout.toSeconds(),
          approve: JsonPath.format(`lifeboat approve --env ${env} --database {}`, database),
          abort: JsonPath.format(`lifeboat abort --env ${env} --database {} --reason WHY`, database),
        }),
      ),
      resultPath: JsonPath.DISCARD,
    });
    notifyApprovalNeeded.addRetry({
      errors: [Errors.ALL],
      maxAttempts: 4,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    notifyApprovalNeeded.addCatch(approvalNotSent, { resultPath: '$.notifyError' });

    const recheck = lambdaTask(this, 'RecheckPreflight', props.preflightFunction, preflightPayload(true), {
      resultPath: '$.preflight',
      timeout: Duration.minutes(2),
    });
    retryLambda(recheck);
    recheck.addCatch(failureChain, { resultPath: '$.error' });

    // --- fence ---------------------------------------------------------------------------------------

    const fence = lambdaTask(
      this,
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
    const fenceErrored = new Pass(this, 'FenceOutcomeUnknown', {
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

    const fenceNotConfirmed = new Pass(this, 'FenceNotConfirmed', {
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
      this,
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
    const notCaughtUp = new Pass(this, 'ReplicaNotCaughtUp', {
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

    // --- promote ---------------------------------------------------------------------------------------

    const promoteResult = (requested: string, statusPath: string) => ({
      status: 'requested',
      detail: JsonPath.format(`${requested} accepted (RDS status {})`, JsonPath.stringAt(statusPath)),
    });
    const promoteReplica = new CallAwsService(this, 'PromoteReadReplica', {
      service: 'rds',
      action: 'promoteReadReplica',
      parameters: { DbInstanceIdentifier: JsonPath.stringAt('$.preflight.target.replica.identifier') },
      iamResources: [rdsArn(this, 'db')],
      resultSelector: promoteResult('PromoteReadReplica', '$.DbInstance.DbInstanceStatus'),
      resultPath: '$.promote',
    });
    const switchover = new CallAwsService(this, 'SwitchoverGlobalCluster', {
      service: 'rds',
      action: 'switchoverGlobalCluster',
      parameters: {
        GlobalClusterIdentifier: JsonPath.stringAt('$.preflight.target.globalClusterIdentifier'),
        TargetDbClusterIdentifier: JsonPath.stringAt('$.preflight.replicaArn'),
      },
      iamResources: [rdsArn(this, 'global-cluster'), rdsArn(this, 'cluster')],
      resultSelector: promoteResult('SwitchoverGlobalCluster', '$.GlobalCluster.Status'),
      resultPath: '$.promote',
    });
    const failoverGlobal = new CallAwsService(this, 'FailoverGlobalCluster', {
      service: 'rds',
      action: 'failoverGlobalCluster',
      parameters: {
        GlobalClusterIdentifier: JsonPath.stringAt('$.preflight.target.globalClusterIdentifier'),
        TargetDbClusterIdentifier: JsonPath.stringAt('$.preflight.replicaArn'),
        AllowDataLoss: true,
      },
      iamResources: [rdsArn(this, 'global-cluster'), rdsArn(this, 'cluster')],
      resultSelector: promoteResult('FailoverGlobalCluster', '$.GlobalCluster.Status'),
      resultPath: '$.promote',
    });

    // A failed promote request is never read as "not promoted" on its own: the replica is read
    // first (an answer lost after the request was applied looks like an error).
    const waitBeforeConfirm = new Wait(this, 'WaitBeforeConfirmingPromotion', {
      time: WaitTime.duration(promotionFirstWait),
    });
    const confirmPromotion = lambdaTask(
      this,
      'ConfirmPromotion',
      props.checkWritableFunction,
      {
        database,
        target: JsonPath.objectAt('$.preflight.target'),
        promoteError: JsonPath.objectAt('$.error'),
      },
      { resultPath: '$.promote', timeout: Duration.minutes(1) },
    );
    retryLambda(confirmPromotion);
    confirmPromotion.addRetry({
      errors: [Errors.ALL],
      maxAttempts: 3,
      interval: Duration.seconds(5),
      backoffRate: 2,
    });
    const promotionUnknown = new Pass(this, 'PromotionOutcomeUnknown', {
      parameters: {
        status: 'unknown',
        detail: JsonPath.format(
          'the promote request failed ({}: {}) and the replica could not be read afterwards ({})',
          JsonPath.stringAt('$.error.Error'),
          JsonPath.stringAt('$.error.Cause'),
          JsonPath.stringAt('$.confirmError.Error'),
        ),
        check: JsonPath.stringAt('$.preflight.commands.promotionCheck'),
      },
      resultPath: '$.promote',
    });
    confirmPromotion.addCatch(promotionUnknown, { resultPath: '$.confirmError' });
    const promotionUnknownPartial = this.partialStage('PromotionUnknown', 'promotion', [
      'promotion of {} is not known to have happened or not: {}. Next step: run {} — a replica that names no source any more was promoted (then point DNS at it and verify a write); one that still names its source was not.',
      '$.preflight.target.replica.identifier',
      '$.promote.detail',
      '$.preflight.commands.promotionCheck',
    ]).next(partialChain);
    promotionUnknown.next(promotionUnknownPartial);

    for (const task of [promoteReplica, switchover, failoverGlobal]) {
      task.addRetry({
        errors: ['Rds.RdsException'],
        maxAttempts: 3,
        interval: Duration.seconds(5),
        backoffRate: 2,
      });
      task.addCatch(waitBeforeConfirm, { resultPath: '$.error' });
    }

    // --- poll until writable (errors count as "not yet") ---------------------------------------------

    const initPromotionPoll = new Pass(this, 'InitPromotionPoll', {
      result: Result.fromObject({
        writable: false,
        status: 'requested',
        endpoint: '',
        role: 'unknown',
        attempts: 0,
        waitSeconds: promotionFirstWait.toSeconds(),
      }),
      resultPath: '$.promotion',
    });
    const waitForPromotion = new Wait(this, 'WaitForPromotion', {
      time: WaitTime.secondsPath('$.promotion.waitSeconds'),
    });
    const checkWritable = lambdaTask(
      this,
      'CheckWritable',
      props.checkWritableFunction,
      {
        database,
        target: JsonPath.objectAt('$.preflight.target'),
        attempts: JsonPath.numberAt('$.promotion.attempts'),
        firstWaitSeconds: promotionFirstWait.toSeconds(),
      },
      { resultPath: '$.promotion', timeout: Duration.minutes(1) },
    );
    retryLambda(checkWritable);
    const checkFailed = new Pass(this, 'CheckWritableFailed', {
      parameters: {
        writable: false,
        status: JsonPath.format(
          'check failed ({}: {})',
          JsonPath.stringAt('$.checkError.Error'),
          JsonPath.stringAt('$.checkError.Cause'),
        ),
        endpoint: '',
        role: 'unknown',
        attempts: JsonPath.mathAdd(JsonPath.numberAt('$.promotion.attempts'), 1),
        waitSeconds: JsonPath.numberAt('$.promotion.waitSeconds'),
      },
      resultPath: '$.promotion',
    });
    checkWritable.addCatch(checkFailed, { resultPath: '$.checkError' });
    // The request was accepted (or seen applied), the database never answered writable: it may be
    // promoted and still modifying, or stuck. Said as such, never left at "requested".
    const promotionNotWritable = new Pass(this, 'PromotionRequestedNotWritable', {
      parameters: {
        status: 'requested-not-writable',
        detail: JsonPath.format(
          'promotion of {} was requested and accepted, but it was not confirmed writable after {} checks (last status {}): it may be promoted and still finishing, or stuck. DNS was not switched; no write was verified.',
          JsonPath.stringAt('$.preflight.target.replica.identifier'),
          JsonPath.stringAt('$.promotion.attempts'),
          JsonPath.stringAt('$.promotion.status'),
        ),
        check: JsonPath.stringAt('$.preflight.commands.promotionCheck'),
      },
      resultPath: '$.promote',
    });
    const promotionNotConfirmed = promotionNotWritable.next(
      this.partialStage('PromotionNotConfirmed', 'promotion', [
        'promotion of {} was requested but it was not confirmed writable after {} checks (last status {}). Next step: run {}; once it is available and names no source, verify a write on it, then point DNS at it.',
        '$.preflight.target.replica.identifier',
        '$.promotion.attempts',
        '$.promotion.status',
        '$.preflight.commands.promotionCheck',
      ]),
    );
    promotionNotConfirmed.next(partialChain);

    // --- verify a write on the new primary, before any traffic is sent to it ----------------------------

    const verifyWrite = lambdaTask(
      this,
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
    const writeNotVerified = this.partialStage('WriteNotVerified', 'verify-write', [
      '{} is promoted but a test write on it failed ({}: {}); DNS was not switched, so no traffic goes to it. Next step: connect to {} and find out why it refuses writes (read-only setting, storage, credentials), then point DNS at it and verify a write.',
      '$.preflight.target.replica.identifier',
      '$.error.Error',
      '$.error.Cause',
      '$.promotion.endpoint',
    ]).next(partialChain);
    verifyWrite.addCatch(writeNotVerified, { resultPath: '$.error' });

    // --- DNS ------------------------------------------------------------------------------------------------

    const zones = props.hostedZoneIds?.length ? props.hostedZoneIds : ['*'];
    const switchDns = new CallAwsService(this, 'SwitchDns', {
      service: 'route53',
      action: 'changeResourceRecordSets',
      parameters: {
        HostedZoneId: JsonPath.stringAt('$.preflight.target.dns.hostedZoneId'),
        ChangeBatch: {
          Comment: JsonPath.format('lifeboat failover {}', JsonPath.stringAt('$$.Execution.Name')),
          Changes: [
            {
              Action: 'UPSERT',
              ResourceRecordSet: {
                Name: JsonPath.stringAt('$.preflight.target.dns.recordName'),
                Type: 'CNAME',
                Ttl: JsonPath.numberAt('$.preflight.target.dns.ttl'),
                ResourceRecords: [{ Value: JsonPath.stringAt('$.promotion.endpoint') }],
              },
            },
          ],
        },
      },
      iamResources: zones.map((z) => `arn:${Stack.of(this).partition}:route53:::hostedzone/${z}`),
      resultSelector: {
        changeId: JsonPath.stringAt('$.ChangeInfo.Id'),
        status: JsonPath.stringAt('$.ChangeInfo.Status'),
      },
      resultPath: '$.dns',
    });
    // UPSERT of the same record is idempotent: everything but a refusal of the change is retried.
    switchDns.addRetry({
      errors: [
        'Route53.InvalidChangeBatchException',
        'Route53.InvalidInputException',
        'Route53.NoSuchHostedZoneException',
      ],
      maxAttempts: 0,
    });
    switchDns.addRetry({
      errors: [Errors.ALL],
      maxAttempts: 5,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    const dnsFailed = this.partialStage('DnsFailed', 'dns', [
      '{} is promoted and took a verified write, but switching DNS failed ({}: {}). Next step: UPSERT the CNAME {} in hosted zone {} to {} by hand. Do not fail back: the old primary is fenced or gone.',
      '$.preflight.target.replica.identifier',
      '$.error.Error',
      '$.error.Cause',
      '$.preflight.target.dns.recordName',
      '$.preflight.target.dns.hostedZoneId',
      '$.promotion.endpoint',
    ]).next(partialChain);
    switchDns.addCatch(dnsFailed, { resultPath: '$.error' });

    const initDnsPoll = new Pass(this, 'InitDnsPoll', {
      result: Result.fromObject({
        attempts: 0,
        waitSeconds: (props.dnsFirstWait ?? Duration.seconds(30)).toSeconds(),
      }),
      resultPath: '$.dnsPoll',
    });
    const waitForDns = new Wait(this, 'WaitForDns', { time: WaitTime.secondsPath('$.dnsPoll.waitSeconds') });
    const getDnsChange = new CallAwsService(this, 'GetDnsChange', {
      service: 'route53',
      action: 'getChange',
      parameters: { Id: JsonPath.stringAt('$.dns.changeId') },
      iamResources: [`arn:${Stack.of(this).partition}:route53:::change/*`],
      resultSelector: {
        changeId: JsonPath.stringAt('$.ChangeInfo.Id'),
        status: JsonPath.stringAt('$.ChangeInfo.Status'),
      },
      resultPath: '$.dns',
    });
    const countDnsPoll = new Pass(this, 'CountDnsPoll', {
      parameters: {
        attempts: JsonPath.mathAdd(JsonPath.numberAt('$.dnsPoll.attempts'), 1),
        waitSeconds: (props.dnsPollInterval ?? Duration.seconds(15)).toSeconds(),
      },
      resultPath: '$.dnsPoll',
    });
    // A failed check is "not yet": the change was submitted, $.dns keeps its id.
    getDnsChange.addCatch(countDnsPoll, { resultPath: '$.dnsCheckError' });
    const dnsNotInSync = this.partialStage('DnsNotInSync', 'dns', [
      '{} is promoted and took a verified write; the DNS change {} was submitted but not INSYNC after {} checks. Next step: check the change with aws route53 get-change --id {}; resolvers may still serve the old endpoint until it is INSYNC and the TTL has passed.',
      '$.preflight.target.replica.identifier',
      '$.dns.changeId',
      '$.dnsPoll.attempts',
      '$.dns.changeId',
    ]).next(partialChain);

    // --- record, finish ---------------------------------------------------------------------------

    const record = lambdaTask(
      this,
      'RecordFailover',
      props.recordFunction,
      {
        executionId: JsonPath.stringAt('$$.Execution.Id'),
        executionName: JsonPath.stringAt('$$.Execution.Name'),
        startedAt: JsonPath.stringAt('$$.Execution.StartTime'),
        request: JsonPath.objectAt('$.preflight.request'),
        target: JsonPath.objectAt('$.preflight.target'),
        rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
        verifiedWriteAt: JsonPath.stringAt('$.verify.at'),
        dns: JsonPath.objectAt('$.dns'),
        recordedAt: JsonPath.stringAt('$$.State.EnteredTime'),
        fence: JsonPath.stringAt('$.fence.status'),
      },
      { resultPath: '$.record', timeout: Duration.minutes(1) },
    );
    retryLambda(record);
    // The database is failed over and verified: a catalog write problem must not turn that into a failure.
    const recordFailed = new Pass(this, 'RecordFailed', {
      parameters: { recorded: false, error: JsonPath.objectAt('$.recordError') },
      resultPath: '$.record',
    });
    record.addCatch(recordFailed, { resultPath: '$.recordError' });

    const promoted = new Pass(this, 'Promoted', {
      parameters: {
        status: 'promoted',
        detail: JsonPath.format(
          'writable ({}) after {} checks',
          JsonPath.stringAt('$.promotion.status'),
          JsonPath.stringAt('$.promotion.attempts'),
        ),
      },
      resultPath: '$.promote',
    });

    const report = new Pass(this, 'FailoverReport', {
      parameters: {
        result: 'completed',
        database,
        mode: JsonPath.stringAt('$.preflight.request.mode'),
        from: JsonPath.objectAt('$.preflight.target.primary'),
        to: JsonPath.objectAt('$.preflight.target.replica'),
        endpoint: JsonPath.stringAt('$.promotion.endpoint'),
        fence: JsonPath.objectAt('$.fence'),
        state,
        record: JsonPath.objectAt('$.record'),
      },
    }).next(new Succeed(this, 'FailoverSucceeded'));
    const finish = this.releaseLockThen(
      'ReleaseLock',
      props,
      lockKey,
      notifyRetriedThen(
        this,
        'NotifyCompleted',
        topic,
        notification(env, 'failover.completed', 'critical', {
          database,
          from: JsonPath.objectAt('$.preflight.target.primary'),
          to: JsonPath.objectAt('$.preflight.target.replica'),
          endpoint: JsonPath.stringAt('$.promotion.endpoint'),
          fence: JsonPath.stringAt('$.fence.status'),
          state,
          commands,
          record: JsonPath.objectAt('$.record'),
        }),
        report,
      ),
    );
    record.next(finish);
    recordFailed.next(finish);

    // --- wiring -------------------------------------------------------------------------------------------

    const promoteMethod = new Choice(this, 'PromoteMethod')
      .when(Condition.stringEquals('$.preflight.target.kind', 'instance'), promoteReplica)
      .when(Condition.stringEquals('$.preflight.request.mode', 'planned'), switchover)
      .otherwise(failoverGlobal);
    for (const task of [promoteReplica, switchover, failoverGlobal]) task.next(initPromotionPoll);

    waitBeforeConfirm
      .next(confirmPromotion)
      .next(
        new Choice(this, 'PromotionConfirmed')
          .when(Condition.stringEquals('$.promote.status', 'promoted'), initPromotionPoll)
          .when(Condition.stringEquals('$.promote.status', 'not-promoted'), failureChain)
          .otherwise(promotionUnknownPartial),
      );

    const planned = Condition.stringEquals('$.preflight.request.mode', 'planned');
    const fenceAccepted = new Choice(this, 'FenceAccepted')
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

    const hasDns = new Choice(this, 'HasDnsRecord')
      .when(Condition.isPresent('$.preflight.target.dns'), switchDns)
      .otherwise(record);
    initPromotionPoll
      .next(waitForPromotion)
      .next(checkWritable)
      .next(
        new Choice(this, 'IsWritable')
          .when(Condition.booleanEquals('$.promotion.writable', true), promoted)
          .when(
            Condition.numberGreaterThanEquals('$.promotion.attempts', maxPromotionChecks),
            promotionNotConfirmed,
          )
          .otherwise(waitForPromotion),
      );
    checkFailed.next(
      new Choice(this, 'KeepPollingAfterError')
        .when(
          Condition.numberGreaterThanEquals('$.promotion.attempts', maxPromotionChecks),
          promotionNotConfirmed,
        )
        .otherwise(waitForPromotion),
    );
    promoted.next(verifyWrite).next(hasDns);
    switchDns
      .next(initDnsPoll)
      .next(waitForDns)
      .next(getDnsChange)
      .next(countDnsPoll)
      .next(
        new Choice(this, 'IsDnsInSync')
          .when(Condition.stringEquals('$.dns.status', 'INSYNC'), record)
          .when(
            Condition.numberGreaterThanEquals('$.dnsPoll.attempts', props.dnsMaxAttempts ?? 30),
            dnsNotInSync,
          )
          .otherwise(waitForDns),
      );

    const approvalPath = lastHeartbeat
      .next(estimate)
      .next(notifyApprovalNeeded)
      .next(requestApproval)
      .next(recheck)
      .next(
        new Choice(this, 'RecheckPassed')
          .when(
            Condition.booleanEquals('$.preflight.passed', false),
            refusalError('RecheckRefused').next(failureChain),
          )
          .otherwise(fence),
      );
    estimateUnknown.next(notifyApprovalNeeded);

    const needsApproval = new Choice(this, 'NeedsApproval')
      .when(
        Condition.and(
          Condition.stringEquals('$.preflight.request.trigger.source', 'alarm'),
          Condition.booleanEquals('$.config.automaticFailover', false),
        ),
        approvalPath,
      )
      .otherwise(fence);

    const definition = configure.next(preflight).next(
      new Choice(this, 'PreflightPassed')
        .when(Condition.booleanEquals('$.preflight.passed', false), refused)
        .when(Condition.booleanEquals('$.preflight.request.dryRun', true), dryRun)
        .otherwise(
          acquireLock.next(
            notifyRetriedThen(
              this,
              'NotifyStarted',
              topic,
              notification(env, 'failover.started', 'critical', {
                database,
                input: JsonPath.objectAt('$$.Execution.Input'),
                checks: JsonPath.objectAt('$.preflight.checks'),
              }),
              needsApproval,
            ),
          ),
        ),
    );

    const built = buildStateMachine(this, {
      ...props,
      name: 'failover',
      definition,
      timeout: props.timeout ?? Duration.hours(4),
      comment:
        'lifeboat failover: preflight, lock, approval, re-check, fence, catch up (planned), promote, verify write, DNS, record RTO/RPO',
    });
    this.stateMachine = built.stateMachine;
    this.logGroup = built.logGroup;
    this.arnParameter = built.arnParameter;
    this.alarms = built.alarms;
  }

  /**
   * Deletes the lock item if (and only if) this execution holds it, then `next`; never blocks it.
   * A release that fails is checked (a lost answer may have deleted the item) and reported in
   * `$.lock`: `left-over` (the item is there) or `unknown` (the table cannot be read), with the
   * command that clears the item.
   */
  private releaseLockThen(
    id: string,
    props: FailoverWorkflowProps,
    key: Record<string, DynamoAttributeValue>,
    next: IChainable,
  ): Chain {
    const release = new DynamoDeleteItem(this, id, {
      table: props.lockTable,
      key,
      conditionExpression: 'executionId = :me',
      expressionAttributeValues: {
        ':me': DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
      },
      resultSelector: { status: 'released', detail: 'lock item deleted' },
      resultPath: '$.lock',
    });
    release.addRetry({ errors: ['DynamoDB.ConditionalCheckFailedException'], maxAttempts: 0 });
    release.addRetry({ errors: [Errors.ALL], maxAttempts: 4, interval: Duration.seconds(1), backoffRate: 2 });
    // Not this execution's item (never acquired, or already deleted by a retry whose answer was lost).
    const notHeld = new Pass(this, `${id}NotHeld`, {
      parameters: { status: 'not-held', detail: 'no lock item of this execution was left' },
      resultPath: '$.lock',
    }).next(next);
    const leftOver = new Pass(this, `${id}Failed`, {
      parameters: {
        status: 'left-over',
        detail: JsonPath.format(
          'releasing the lock failed ({}: {}) and the item is still there: the next failover of this database is refused until it is deleted',
          JsonPath.stringAt('$.releaseError.Error'),
          JsonPath.stringAt('$.releaseError.Cause'),
        ),
        clear: JsonPath.stringAt('$.preflight.commands.clearLock'),
      },
      resultPath: '$.lock',
    }).next(next);
    // A delete whose answer was lost may have deleted the item before its retries failed: look.
    const gone = new Pass(this, `${id}Gone`, {
      parameters: {
        status: 'released',
        detail: JsonPath.format(
          'the release answered {} but the lock item is gone (an attempt whose answer was lost deleted it)',
          JsonPath.stringAt('$.releaseError.Error'),
        ),
      },
      resultPath: '$.lock',
    }).next(next);
    const unknown = new Pass(this, `${id}Unknown`, {
      parameters: {
        status: 'unknown',
        detail: JsonPath.format(
          'releasing the lock failed ({}: {}) and the lock table could not be read afterwards: the item may still be there, and then the next failover of this database is refused until it is deleted. The clear command deletes only this execution\'s item ("conditional request failed": it is gone already).',
          JsonPath.stringAt('$.releaseError.Error'),
          JsonPath.stringAt('$.releaseError.Cause'),
        ),
        clear: JsonPath.stringAt('$.preflight.commands.clearLock'),
      },
      resultPath: '$.lock',
    }).next(next);
    const check = new DynamoGetItem(this, `${id}Check`, {
      table: props.lockTable,
      key,
      consistentRead: true,
      resultPath: '$.lockItem',
    });
    check.addRetry({ errors: [Errors.ALL], maxAttempts: 2, interval: Duration.seconds(1), backoffRate: 2 });
    check.addCatch(unknown, { resultPath: '$.lockCheckError' });
    check.next(
      new Choice(this, `${id}StillThere`)
        .when(Condition.isPresent('$.lockItem.Item'), leftOver)
        .otherwise(gone),
    );
    release.addCatch(notHeld, {
      errors: ['DynamoDB.ConditionalCheckFailedException'],
      resultPath: '$.releaseError',
    });
    release.addCatch(check, { resultPath: '$.releaseError' });
    return release.next(next);
  }

  /** Sets `$.partial` = { stage, cause } where cause names what happened and the next manual step. */
  private partialStage(id: string, stage: string, [template, ...paths]: string[]): Pass {
    return new Pass(this, id, {
      parameters: {
        stage,
        cause: JsonPath.format(template!, ...paths.map((p) => JsonPath.stringAt(p))),
      },
      resultPath: '$.partial',
    });
  }
}
