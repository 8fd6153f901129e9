import { Duration, Stack } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import {
  type Chain,
  Choice,
  Condition,
  Fail,
  type IChainable,
  IntegrationPattern,
  JsonPath,
  Pass,
  Result,
  Succeed,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import {
  CallAwsService,
  DynamoAttributeValue,
  DynamoDeleteItem,
  DynamoPutItem,
} from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  buildStateMachine,
  type IWorkflow,
  incrementCounter,
  initCounter,
  lambdaTask,
  notification,
  notifyThen,
  rdsArn,
  type WorkflowBaseProps,
} from './common.ts';

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
  /** @default Duration.seconds(30) */
  readonly promotionPollInterval?: Duration;
  /**
   * Checks before a promotion that never becomes writable is reported (partial failure).
   * @default 60 (30 minutes at the default interval)
   */
  readonly promotionMaxAttempts?: number;
  /** @default Duration.seconds(10) */
  readonly dnsPollInterval?: Duration;
  /** @default 30 */
  readonly dnsMaxAttempts?: number;
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
    const lockKey = {
      [LOCK_KEY_ATTRIBUTE]: DynamoAttributeValue.fromString(
        JsonPath.format('failover#{}', JsonPath.stringAt('$.database')),
      ),
    };
    const database = JsonPath.stringAt('$.database');

    // --- endings -------------------------------------------------------------------------------

    const failed = new Fail(this, 'FailoverFailed', {
      errorPath: '$.error.Error',
      causePath: '$.error.Cause',
    });
    const failureChain = this.releaseLockThen(
      'ReleaseLockAfterFailure',
      props,
      lockKey,
      notifyThen(
        this,
        'NotifyFailed',
        topic,
        notification(env, 'failover.failed', 'critical', {
          database,
          error: JsonPath.objectAt('$.error'),
          promoted: false,
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
      notifyThen(
        this,
        'NotifyPartial',
        topic,
        notification(env, 'failover.partial', 'critical', {
          database,
          promoted: true,
          stage: JsonPath.stringAt('$.partial.stage'),
          nextStep: JsonPath.stringAt('$.partial.cause'),
        }),
        partial,
      ),
    );

    // --- lock, preflight, dry run -----------------------------------------------------------------

    const configure = new Pass(this, 'Configure', {
      result: Result.fromObject({ automaticFailover: props.automaticFailover ?? false, environment: env }),
      resultPath: '$.config',
    });

    const acquireLock = new DynamoPutItem(this, 'AcquireLock', {
      table: props.lockTable,
      item: {
        ...lockKey,
        executionId: DynamoAttributeValue.fromString(JsonPath.stringAt('$$.Execution.Id')),
        acquiredAt: DynamoAttributeValue.fromString(JsonPath.stringAt('$$.State.EnteredTime')),
        kind: DynamoAttributeValue.fromString('failover'),
      },
      conditionExpression: `attribute_not_exists(${LOCK_KEY_ATTRIBUTE})`,
      resultPath: JsonPath.DISCARD,
    });
    const inProgress = new Fail(this, 'FailoverInProgress', {
      error: 'FailoverInProgress',
      cause: 'another failover of this database is running (it holds the lock); this one changed nothing',
    });
    acquireLock.addCatch(
      notifyThen(
        this,
        'NotifyLockRefused',
        topic,
        notification(env, 'failover.refused', 'warning', {
          database,
          error: { Error: 'FailoverInProgress', Cause: 'another failover of this database is running' },
        }),
        inProgress,
      ),
      { errors: ['DynamoDB.ConditionalCheckFailedException'], resultPath: '$.error' },
    );

    const preflight = lambdaTask(
      this,
      'Preflight',
      props.preflightFunction,
      { input: JsonPath.objectAt('$$.Execution.Input'), executionId: JsonPath.stringAt('$$.Execution.Id') },
      { resultPath: '$.preflight', timeout: Duration.minutes(2) },
    );
    preflight.addCatch(failureChain, { resultPath: '$.error' });

    const refusal = new Pass(this, 'PreflightRefused', {
      parameters: {
        Error: JsonPath.stringAt('$.preflight.refusal.Error'),
        Cause: JsonPath.stringAt('$.preflight.refusal.Cause'),
      },
      resultPath: '$.error',
    });
    refusal.next(failureChain);

    const dryRunReport = new Pass(this, 'DryRunReport', {
      parameters: {
        result: 'dry-run',
        database,
        passed: JsonPath.objectAt('$.preflight.passed'),
        checks: JsonPath.objectAt('$.preflight.checks'),
        rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
        target: JsonPath.objectAt('$.preflight.target'),
      },
    }).next(new Succeed(this, 'DryRunSucceeded'));
    const dryRun = this.releaseLockThen(
      'ReleaseLockDryRun',
      props,
      lockKey,
      notifyThen(
        this,
        'NotifyDryRun',
        topic,
        notification(env, 'failover.dry-run', 'info', {
          database,
          checks: JsonPath.objectAt('$.preflight.checks'),
          rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
        }),
        dryRunReport,
      ),
    );

    // --- approval gate -----------------------------------------------------------------------------

    const approvalTimeout = props.approvalTimeout ?? Duration.hours(1);
    // The task token goes into this execution's lock item: `lifeboat approve|abort --database`
    // reads it from there and calls SendTaskSuccess / SendTaskFailure(error FailoverAborted).
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
    requestApproval.addCatch(approvalTimedOut, { errors: ['States.Timeout'], resultPath: JsonPath.DISCARD });
    requestApproval.addCatch(failureChain, { resultPath: '$.error' });

    // --- fence, promote, poll --------------------------------------------------------------------------

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
    fence.addCatch(failureChain, { resultPath: '$.error' });

    const promoteReplica = new CallAwsService(this, 'PromoteReadReplica', {
      service: 'rds',
      action: 'promoteReadReplica',
      parameters: { DbInstanceIdentifier: JsonPath.stringAt('$.preflight.target.replica.identifier') },
      iamResources: [rdsArn(this, 'db')],
      resultSelector: {
        requested: 'PromoteReadReplica',
        status: JsonPath.stringAt('$.DbInstance.DbInstanceStatus'),
      },
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
      resultSelector: {
        requested: 'SwitchoverGlobalCluster',
        status: JsonPath.stringAt('$.GlobalCluster.Status'),
      },
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
      resultSelector: {
        requested: 'FailoverGlobalCluster',
        status: JsonPath.stringAt('$.GlobalCluster.Status'),
      },
      resultPath: '$.promote',
    });
    for (const task of [promoteReplica, switchover, failoverGlobal]) {
      task.addRetry({
        errors: ['Rds.RdsException'],
        maxAttempts: 3,
        interval: Duration.seconds(5),
        backoffRate: 2,
      });
      task.addCatch(failureChain, { resultPath: '$.error' });
    }

    const pollInterval = props.promotionPollInterval ?? Duration.seconds(30);
    const maxPromotionChecks = props.promotionMaxAttempts ?? 60;
    const initPromotionPoll = initCounter(this, 'InitPromotionPoll', '$.promotionPoll');
    const waitForPromotion = new Wait(this, 'WaitForPromotion', { time: WaitTime.duration(pollInterval) });
    const checkWritable = lambdaTask(
      this,
      'CheckWritable',
      props.checkWritableFunction,
      { database, target: JsonPath.objectAt('$.preflight.target') },
      { resultPath: '$.promotion', timeout: Duration.minutes(1) },
    );
    checkWritable.addRetry({
      errors: ['States.TaskFailed'],
      maxAttempts: 3,
      interval: Duration.seconds(10),
      backoffRate: 2,
    });
    const promotionCheckFailed = this.partialStage('PromotionCheckFailed', 'promotion', [
      'promotion of {} was requested, but checking whether it accepts writes failed ({}: {}). Next step: check {} in the RDS console of {}; once it is available and writable, point DNS at it and verify a write.',
      '$.preflight.target.replica.identifier',
      '$.error.Error',
      '$.error.Cause',
      '$.preflight.target.replica.identifier',
      '$.preflight.target.replica.region',
    ]).next(partialChain);
    checkWritable.addCatch(promotionCheckFailed, { resultPath: '$.error' });
    const countPromotionPoll = incrementCounter(this, 'CountPromotionPoll', '$.promotionPoll');
    const promotionNotConfirmed = this.partialStage('PromotionNotConfirmed', 'promotion', [
      'promotion of {} was requested but it was not writable after {} checks (last status {}). Next step: watch it in the RDS console of {}; once it is available, point DNS at it and verify a write.',
      '$.preflight.target.replica.identifier',
      '$.promotionPoll.attempts',
      '$.promotion.status',
      '$.preflight.target.replica.region',
    ]).next(partialChain);

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
    switchDns.addRetry({
      errors: ['Route53.PriorRequestNotCompleteException', 'Route53.ThrottlingException'],
      maxAttempts: 5,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    const dnsFailed = this.partialStage('DnsFailed', 'dns', [
      '{} is promoted and writable, but switching DNS failed ({}: {}). Next step: UPSERT the CNAME {} in hosted zone {} to {} by hand, then verify a write through it. Do not fail back: the old primary is fenced or gone.',
      '$.preflight.target.replica.identifier',
      '$.error.Error',
      '$.error.Cause',
      '$.preflight.target.dns.recordName',
      '$.preflight.target.dns.hostedZoneId',
      '$.promotion.endpoint',
    ]).next(partialChain);
    switchDns.addCatch(dnsFailed, { resultPath: '$.error' });

    const initDnsPoll = initCounter(this, 'InitDnsPoll', '$.dnsPoll');
    const waitForDns = new Wait(this, 'WaitForDns', {
      time: WaitTime.duration(props.dnsPollInterval ?? Duration.seconds(10)),
    });
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
    getDnsChange.addRetry({
      errors: ['Route53.ThrottlingException'],
      maxAttempts: 5,
      interval: Duration.seconds(2),
      backoffRate: 2,
    });
    getDnsChange.addCatch(dnsFailed, { resultPath: '$.error' });
    const countDnsPoll = incrementCounter(this, 'CountDnsPoll', '$.dnsPoll');
    const dnsNotInSync = this.partialStage('DnsNotInSync', 'dns', [
      '{} is promoted and the DNS change {} was submitted but not INSYNC after {} checks. Next step: check the change with aws route53 get-change --id {}; resolvers may still serve the old endpoint until it is INSYNC and the TTL has passed, then verify a write.',
      '$.preflight.target.replica.identifier',
      '$.dns.changeId',
      '$.dnsPoll.attempts',
      '$.dns.changeId',
    ]).next(partialChain);

    // --- verify, record, finish ---------------------------------------------------------------------------

    const verifyWrite = lambdaTask(
      this,
      'VerifyWrite',
      props.verifyWriteFunction,
      {
        database,
        target: JsonPath.objectAt('$.preflight.target'),
        endpoint: JsonPath.stringAt('$.promotion.endpoint'),
        executionName: JsonPath.stringAt('$$.Execution.Name'),
      },
      { resultPath: '$.verify', timeout: Duration.minutes(2) },
    );
    verifyWrite.addRetry({
      errors: ['States.TaskFailed'],
      maxAttempts: 3,
      interval: Duration.seconds(10),
      backoffRate: 2,
    });
    const writeNotVerified = this.partialStage('WriteNotVerified', 'verify-write', [
      '{} is promoted but a test write on it failed ({}: {}). Next step: connect to {} and find out why it refuses writes (read-only setting, storage, credentials) before sending traffic to it.',
      '$.preflight.target.replica.identifier',
      '$.error.Error',
      '$.error.Cause',
      '$.promotion.endpoint',
    ]).next(partialChain);
    verifyWrite.addCatch(writeNotVerified, { resultPath: '$.error' });

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
        fence: JsonPath.stringAt('$.fence.status'),
      },
      { resultPath: '$.record', timeout: Duration.minutes(1) },
    );
    // The database is failed over and verified: a catalog write problem must not turn that into a failure.
    const recordFailed = new Pass(this, 'RecordFailed', {
      parameters: { recorded: false, error: JsonPath.objectAt('$.recordError') },
      resultPath: '$.record',
    });
    record.addCatch(recordFailed, { resultPath: '$.recordError' });

    const report = new Pass(this, 'FailoverReport', {
      parameters: {
        result: 'completed',
        database,
        mode: JsonPath.stringAt('$.preflight.request.mode'),
        from: JsonPath.objectAt('$.preflight.target.primary'),
        to: JsonPath.objectAt('$.preflight.target.replica'),
        endpoint: JsonPath.stringAt('$.promotion.endpoint'),
        fence: JsonPath.objectAt('$.fence'),
        record: JsonPath.objectAt('$.record'),
      },
    }).next(new Succeed(this, 'FailoverSucceeded'));
    const finish = this.releaseLockThen(
      'ReleaseLock',
      props,
      lockKey,
      notifyThen(
        this,
        'NotifyCompleted',
        topic,
        notification(env, 'failover.completed', 'critical', {
          database,
          from: JsonPath.objectAt('$.preflight.target.primary'),
          to: JsonPath.objectAt('$.preflight.target.replica'),
          endpoint: JsonPath.stringAt('$.promotion.endpoint'),
          fence: JsonPath.stringAt('$.fence.status'),
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

    const hasDns = new Choice(this, 'HasDnsRecord')
      .when(Condition.isPresent('$.preflight.target.dns'), switchDns)
      .otherwise(verifyWrite);
    initPromotionPoll
      .next(waitForPromotion)
      .next(checkWritable)
      .next(countPromotionPoll)
      .next(
        new Choice(this, 'IsWritable')
          .when(Condition.booleanEquals('$.promotion.writable', true), hasDns)
          .when(
            Condition.numberGreaterThanEquals('$.promotionPoll.attempts', maxPromotionChecks),
            promotionNotConfirmed,
          )
          .otherwise(waitForPromotion),
      );
    switchDns
      .next(initDnsPoll)
      .next(waitForDns)
      .next(getDnsChange)
      .next(countDnsPoll)
      .next(
        new Choice(this, 'IsDnsInSync')
          .when(Condition.stringEquals('$.dns.status', 'INSYNC'), verifyWrite)
          .when(
            Condition.numberGreaterThanEquals('$.dnsPoll.attempts', props.dnsMaxAttempts ?? 30),
            dnsNotInSync,
          )
          .otherwise(waitForDns),
      );
    verifyWrite.next(record);

    const needsApproval = new Choice(this, 'NeedsApproval')
      .when(
        Condition.and(
          Condition.stringEquals('$.preflight.request.trigger', 'alarm'),
          Condition.booleanEquals('$.config.automaticFailover', false),
        ),
        notifyThen(
          this,
          'NotifyApprovalNeeded',
          topic,
          notification(env, 'failover.approval-needed', 'critical', {
            database,
            input: JsonPath.objectAt('$$.Execution.Input'),
            checks: JsonPath.objectAt('$.preflight.checks'),
            rpoSeconds: JsonPath.objectAt('$.preflight.rpoSeconds'),
            timeoutSeconds: approvalTimeout.toSeconds(),
            approve: JsonPath.format(`lifeboat approve --env ${env} --database {}`, database),
            abort: JsonPath.format(`lifeboat abort --env ${env} --database {} --reason WHY`, database),
          }),
          requestApproval,
        ),
      )
      .otherwise(fence);
    requestApproval.next(fence);
    fence.next(promoteMethod);

    const definition = configure
      .next(acquireLock)
      .next(
        notifyThen(
          this,
          'NotifyStarted',
          topic,
          notification(env, 'failover.started', 'critical', {
            database,
            input: JsonPath.objectAt('$$.Execution.Input'),
          }),
          preflight,
        ),
      )
      .next(
        new Choice(this, 'PreflightPassed')
          .when(Condition.booleanEquals('$.preflight.passed', false), refusal)
          .when(Condition.booleanEquals('$.preflight.request.dryRun', true), dryRun)
          .otherwise(needsApproval),
      );

    const built = buildStateMachine(this, {
      ...props,
      name: 'failover',
      definition,
      timeout: props.timeout ?? Duration.hours(4),
      comment:
        'lifeboat failover: lock, preflight, approval, fence, promote, DNS, verify write, record RTO/RPO',
    });
    this.stateMachine = built.stateMachine;
    this.logGroup = built.logGroup;
    this.arnParameter = built.arnParameter;
    this.alarms = built.alarms;
  }

  /** Deletes the lock item if (and only if) this execution holds it, then `next`; never blocks it. */
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
      resultPath: JsonPath.DISCARD,
    });
    release.addCatch(next, { resultPath: '$.releaseError' });
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
