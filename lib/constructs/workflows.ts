import { Annotations, ArnFormat, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { EventField, Rule, RuleTargetInput } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { Effect, type IRole, type Policy, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ARTIFACT_PREFIX, CATALOG_PREFIX } from '../../functions/core/catalog.ts';
import { WF_ENV } from '../../functions/wf-common/env.ts';
import { REPLICA_ENV } from '../../functions/wf-create-replica/env.ts';
import { type IWorkflow, rdsArn, type RdsResourceType } from '../../state-machines/common.ts';
import { FailbackWorkflow } from '../../state-machines/failback.ts';
import { FailoverWorkflow, LOCK_KEY_ATTRIBUTE } from '../../state-machines/failover.ts';
import { RestoreWorkflow } from '../../state-machines/restore.ts';
import { RestoreTestWorkflow } from '../../state-machines/restore-test.ts';
import type { EnvironmentConfig, Network } from '../config/schema.ts';
import { restoreTestEvent, verifyBackupEvent } from '../events.ts';
import { lockTableName, primaryUnwritableAlarmName } from '../naming.ts';
import {
  databaseSecrets,
  failoverDatabases,
  failoverTargets,
  hostedZoneIds,
  type RegionalSecret,
  regionalSecrets,
} from '../recovery.ts';
import {
  acknowledgeOwnPolicy,
  acknowledgeWildcardResources,
  bindBucket,
  grantRepository,
  LifeboatFunction,
} from './lifeboat-function.ts';
import { type ImportedNetwork, importNetwork } from './logical-dump.ts';
import type { OperationsKey } from './operations-key.ts';
import type { BackupSchedules } from './schedules.ts';
import { encryptedQueue } from './queues.ts';
import { imageFunction, VERIFY_IMAGE_HANDLERS, type VerifyImage } from './verify-backup.ts';

/**
 * The deployed workflows (flows 3, 5, 6): the state machines of state-machines/ with their task
 * functions (functions/wf-*), one role each with exactly what its handler calls.
 *
 * Tag `lifeboat:workflow` marks what a workflow creates (state-machines/rds-steps.ts and
 * wf-create-replica tag every create): deletions are allowed only on resources carrying it.
 */
export const WORKFLOW_TAG = 'lifeboat:workflow';

export interface WorkflowsBaseProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** The backup repository of this region (catalog and dumps). */
  readonly bucket: IBucket;
  /** The topic the workflows publish their events to (lifeboat's events topic, or the alarm topic). */
  readonly notificationTopic: ITopic;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
}

/** Which region of the environment a construct is deployed in. */
export type RegionRole = 'primary' | 'dr';

/** The common shape of every workflow task function: a LifeboatFunction Step Functions invokes. */
function taskFunction(
  scope: Construct,
  id: string,
  props: {
    readonly entry: string;
    readonly description: string;
    readonly base: WorkflowsBaseProps;
    readonly timeout?: Duration;
    readonly memorySize?: number;
    readonly network?: ImportedNetwork;
    readonly environment?: Record<string, string>;
  },
): LifeboatFunction {
  const fn = new LifeboatFunction(scope, id, {
    entry: props.entry,
    description: `lifeboat ${props.base.environment}: ${props.description}`,
    timeout: props.timeout ?? Duration.minutes(2),
    memorySize: props.memorySize ?? 512,
    logRetention: props.base.logRetention,
    logKey: props.base.logKey,
    ...(props.network
      ? {
          vpc: props.network.vpc,
          vpcSubnets: props.network.subnets,
          securityGroups: [props.network.securityGroup],
        }
      : {}),
    environment: {
      LIFEBOAT_ENVIRONMENT: props.base.environment,
      POWERTOOLS_SERVICE_NAME: props.entry.split('/')[0]!,
      ...props.environment,
    },
  });
  acknowledgeSynchronous(fn);
  return fn;
}

/** NIST Lambda findings that do not apply to a function only ever invoked synchronously by a workflow. */
function acknowledgeSynchronous(fn: LambdaFunction): void {
  Validations.of(fn).acknowledge(
    {
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason:
        'Invoked synchronously by a restore/failover workflow: a concurrency cap would throttle a recovery step (Lambda.TooManyRequestsException is not retried), and a few run at a time.',
    },
    {
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'Invoked synchronously by Step Functions: a failure is the task error the workflow catches, reports and cleans up after; nothing is ever queued.',
    },
  );
}

/** The catalog (`catalog/`) of the repository: read it, or also add records. */
function grantCatalog(fn: LambdaFunction, bucket: IBucket, access: 'read' | 'append'): void {
  bindBucket(fn, bucket, access, {
    prefixes: [CATALOG_PREFIX],
    bucketVariable: WF_ENV.bucket,
    keyVariable: null,
  });
}

/**
 * secretsmanager:GetSecretValue on exactly the configured secrets of the region, and the secrets'
 * customer-managed keys through Secrets Manager only.
 */
export function grantSecrets(role: IRole, secrets: readonly RegionalSecret[], region: string): void {
  if (secrets.length === 0) return;
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['secretsmanager:GetSecretValue'],
      resources: secrets.map((s) => s.secretArn),
    }),
  );
  const keys = [...new Set(secrets.flatMap((s) => (s.kmsKeyArn ? [s.kmsKeyArn] : [])))];
  if (keys.length > 0) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: keys,
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${region}.amazonaws.com` } },
      }),
    );
  }
}

/** ARN of an RDS resource in `region` of the stack's account (global clusters have none). */
function rdsArnIn(scope: Construct, region: string, resource: RdsResourceType, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'rds',
    region: resource === 'global-cluster' ? '' : region,
    resource,
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** Acknowledges AwsSolutions-IAM5 for every wildcard resource of a role's policy that `matches`. */
function acknowledgeWildcards(role: IRole, matches: (rendered: string) => boolean, reason: string): void {
  const policy = role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
  if (policy) acknowledgeWildcardResources(policy, matches, reason);
}

/**
 * What a workflow's own role needs beyond what its construct grants, and the findings its
 * construct-written policy raises: publishing to an encrypted topic needs the topic's key; deletes
 * are denied on anything the workflow did not tag as its own.
 */
function hardenStateMachine(
  workflow: IWorkflow,
  props: { readonly topic: ITopic; readonly deleteOnlyTagged?: string },
): void {
  const stateMachine = workflow.stateMachine;
  props.topic.grantPublish(stateMachine);
  if (props.deleteOnlyTagged) {
    // The restore steps delete what `$.created` names; this makes IAM refuse any instance or
    // cluster the workflow did not create itself, whatever that path holds.
    stateMachine.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
        resources: [rdsArn(stateMachine, 'db'), rdsArn(stateMachine, 'cluster')],
        conditions: { StringNotEquals: { [`aws:ResourceTag/${WORKFLOW_TAG}`]: props.deleteOnlyTagged } },
      }),
    );
  }
  const role = stateMachine.role;
  acknowledgeOwnPolicy(role, 'a lifeboat workflow');
  const policy = role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
  if (!policy) return;
  Validations.of(policy).acknowledge(
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups ...) and X-Ray take no resource ARN.',
    },
    {
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        'CDK grants for publishing to the KMS-encrypted topic and restoring snapshots encrypted with the configured keys; limited to those keys.',
    },
  );
  acknowledgeWildcardResources(
    policy,
    (r) => r.startsWith('<') && r.endsWith(':*') && !r.includes(':rds:'),
    'Invoking a task function includes its versions and aliases (<function ARN>:*).',
  );
  acknowledgeWildcardResources(
    policy,
    (r) => r.includes(':rds:'),
    'Restores create instances and clusters the operator (or the restore-test plan) names at run time, from snapshots named lifeboat-...; deletion is denied unless the resource carries the workflow tag it was created with. Failover promotion is limited to the configured replicas by a Deny.',
  );
  acknowledgeWildcardResources(
    policy,
    (r) => r.includes(':route53:::'),
    'Route 53 change ids are generated per change; hosted zones are the configured ones (all zones only when none is configured).',
  );
}

export interface RestoreWorkflowsProps extends WorkflowsBaseProps {
  readonly region: RegionRole;
  /** The verify image: RestoreDump runs pg_restore. */
  readonly image: VerifyImage;
  /**
   * KMS keys of the snapshots restores read (the restored storage is encrypted with them).
   * @default - none
   */
  readonly snapshotKeyArns?: readonly string[];
  /**
   * Deploy the restore-test workflow too (flow 3, snapshots), into these isolated settings.
   * @default - no restore-test workflow
   */
  readonly restoreTest?: EnvironmentConfig['restoreTest'];
}

/**
 * The restore workflow of one region (flow 5), and in the primary region the restore-test
 * workflow (flow 3), with their task functions. Functions that connect to databases run in the
 * region's `workflowNetwork` and may read exactly the region's configured database secrets.
 */
export class RestoreWorkflows extends Construct {
  public readonly restore: RestoreWorkflow;
  public readonly restoreTest?: RestoreTestWorkflow;
  public readonly validateFunction: LifeboatFunction;
  public readonly resolveFunction: LifeboatFunction;
  public readonly restoreDumpFunction: LambdaFunction;
  public readonly verifyFunction: LifeboatFunction;
  public readonly dropDatabaseFunction: LifeboatFunction;
  public readonly finishFunction: LifeboatFunction;
  public readonly planRestoreTestFunction?: LifeboatFunction;
  public readonly recordRestoreTestFunction?: LifeboatFunction;

  constructor(scope: Construct, id: string, props: RestoreWorkflowsProps) {
    super(scope, id);
    const { config, bucket } = props;
    const region = props.region === 'primary' ? config.primaryRegion : config.drRegion;
    const networkConfig: Network | undefined = config.workflowNetwork?.[props.region];
    const network = networkConfig ? importNetwork(new Construct(this, 'Network'), networkConfig) : undefined;
    const secrets = regionalSecrets(config, props.region);
    // Describe the restore target (any name the operator picks) or the server a dump goes into.
    const describeTargets = new PolicyStatement({
      actions: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
      resources: [rdsArn(this, 'db'), rdsArn(this, 'cluster')],
    });
    const describeInstances = new PolicyStatement({
      actions: ['rds:DescribeDBInstances'],
      resources: [rdsArn(this, 'db')],
    });
    const describeReason =
      'Read-only Describe of the restore target, whose identifier the operator picks at run time.';

    this.validateFunction = taskFunction(this, 'ValidateInput', {
      entry: 'wf-validate-restore/index.ts',
      description: 'restore workflow: validates and routes the request',
      timeout: Duration.seconds(30),
      base: props,
    });

    this.resolveFunction = taskFunction(this, 'ResolveRestorePoint', {
      entry: 'wf-resolve-restore-point/index.ts',
      description: 'restore workflow: picks the restore point, refuses an existing target',
      network,
      base: props,
    });
    grantCatalog(this.resolveFunction, bucket, 'read');
    this.resolveFunction.addToRolePolicy(describeTargets);
    grantSecrets(this.resolveFunction.role!, secrets, region);
    acknowledgeWildcards(this.resolveFunction.role!, (r) => r.includes(':rds:'), describeReason);

    this.restoreDumpFunction = imageFunction(this, 'RestoreDump', {
      image: props.image,
      handler: VERIFY_IMAGE_HANDLERS.restoreDump,
      description: `lifeboat ${props.environment}: restore workflow: restores a logical dump into a new database and checks it`,
      memorySize: 4096,
      timeout: Duration.minutes(15),
      ephemeralStorageSize: Size.gibibytes(10),
      logRetention: props.logRetention,
      logKey: props.logKey,
      network,
      environment: { LIFEBOAT_ENVIRONMENT: props.environment, POWERTOOLS_SERVICE_NAME: 'wf-restore-dump' },
    });
    bindBucket(this.restoreDumpFunction, bucket, 'read', {
      prefixes: [ARTIFACT_PREFIX, CATALOG_PREFIX],
      bucketVariable: WF_ENV.bucket,
      keyVariable: null,
    });
    grantRepository(this.restoreDumpFunction.role!, bucket, 'append', [CATALOG_PREFIX]);
    // A dump the lifecycle moved to an archive tier must be restored (a temporary copy) to be read.
    this.restoreDumpFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:RestoreObject'],
        resources: [bucket.arnForObjects(`${ARTIFACT_PREFIX}*`)],
      }),
    );
    this.restoreDumpFunction.addToRolePolicy(describeInstances);
    grantSecrets(this.restoreDumpFunction.role!, secrets, region);
    acknowledgeSynchronous(this.restoreDumpFunction);
    acknowledgeWildcards(this.restoreDumpFunction.role!, (r) => r.includes(':rds:'), describeReason);
    if (!network) {
      Validations.of(this.restoreDumpFunction).acknowledge({
        id: 'NIST.800.53.R5-LambdaInsideVPC',
        reason: 'No databases are configured, so there is no network to place it in (workflowNetwork).',
      });
    }

    this.verifyFunction = taskFunction(this, 'VerifyRestore', {
      entry: 'wf-verify-restore/index.ts',
      description: 'data checks on a restored database',
      timeout: Duration.minutes(15),
      memorySize: 1024,
      network,
      base: props,
    });
    grantCatalog(this.verifyFunction, bucket, 'read');
    grantSecrets(this.verifyFunction.role!, secrets, region);

    this.dropDatabaseFunction = taskFunction(this, 'DropCreatedDatabase', {
      entry: 'wf-drop-restored-database/index.ts',
      description: 'restore workflow: drops the database a failed dump restore created',
      timeout: Duration.minutes(5),
      network,
      base: props,
    });
    this.dropDatabaseFunction.addToRolePolicy(describeInstances);
    grantSecrets(this.dropDatabaseFunction.role!, secrets, region);
    acknowledgeWildcards(this.dropDatabaseFunction.role!, (r) => r.includes(':rds:'), describeReason);

    this.finishFunction = taskFunction(this, 'FinishRestore', {
      entry: 'wf-finish-restore/index.ts',
      description: 'restore workflow: measures the restore and records it in the catalog',
      base: props,
    });
    grantCatalog(this.finishFunction, bucket, 'append');

    const zones = hostedZoneIds(config);
    const common = {
      environment: props.environment,
      notificationTopic: props.notificationTopic,
      // The stack's Monitoring alarms on every workflow (watchStack), in one place.
      createAlarms: false,
      logRetention: props.logRetention,
      logKey: props.logKey,
      snapshotKeyArns: props.snapshotKeyArns,
    };
    this.restore = new RestoreWorkflow(this, 'Restore', {
      ...common,
      validateFunction: this.validateFunction,
      resolveFunction: this.resolveFunction,
      restoreDumpFunction: this.restoreDumpFunction,
      verifyFunction: this.verifyFunction,
      dropDatabaseFunction: this.dropDatabaseFunction,
      finishFunction: this.finishFunction,
      hostedZoneIds: zones,
    });
    hardenStateMachine(this.restore, {
      topic: props.notificationTopic,
      deleteOnlyTagged: 'restore',
    });

    if (props.restoreTest) {
      this.planRestoreTestFunction = taskFunction(this, 'PlanRestoreTest', {
        entry: 'wf-plan-restore-test/index.ts',
        description: 'restore test: newest snapshot, matching dump, temporary names',
        base: props,
        environment: { [WF_ENV.databaseSecrets]: JSON.stringify(databaseSecrets(config, props.region)) },
      });
      grantCatalog(this.planRestoreTestFunction, bucket, 'read');
      this.recordRestoreTestFunction = taskFunction(this, 'RecordRestoreTest', {
        entry: 'wf-record-restore-test/index.ts',
        description: 'restore test: writes the verification record',
        base: props,
      });
      grantCatalog(this.recordRestoreTestFunction, bucket, 'append');
      this.restoreTest = new RestoreTestWorkflow(this, 'RestoreTest', {
        ...common,
        planFunction: this.planRestoreTestFunction,
        checkFunction: this.verifyFunction,
        recordFunction: this.recordRestoreTestFunction,
        isolation: props.restoreTest,
      });
      hardenStateMachine(this.restoreTest, {
        topic: props.notificationTopic,
        deleteOnlyTagged: 'restore-test',
      });
    }
  }
}

export interface FailoverWorkflowsProps extends WorkflowsBaseProps {
  /** Encrypts the lock table and the dead-letter queue of alarm events. */
  readonly operationsKey: OperationsKey;
  /**
   * Where alarm events that could not start a failover go (EventBridge delivery and the starter's
   * asynchronous invocation).
   * @default - a queue of this construct (the stack's Monitoring alarms on it)
   */
  readonly deadLetterQueue?: IQueue;
  /**
   * How long the approval gate of an alarm-started failover waits.
   * @default Duration.hours(1)
   */
  readonly approvalTimeout?: Duration;
}

/**
 * The DR region's failover and failback workflows (flow 6) for the databases with a `failover`
 * block: the lock table, the task functions, and an EventBridge rule per database that starts a
 * failover when its primary-unwritable alarm (PrimaryCanary) goes to ALARM (approval gate unless
 * `automaticFailover`). Nothing here refers to the primary region's stack: it must work when that
 * region is gone.
 */
export class FailoverWorkflows extends Construct {
  public readonly lockTable: Table;
  public readonly failover: FailoverWorkflow;
  public readonly failback: FailbackWorkflow;
  public readonly preflightFunction: LifeboatFunction;
  public readonly fenceFunction: LifeboatFunction;
  public readonly checkWritableFunction: LifeboatFunction;
  public readonly verifyWriteFunction: LifeboatFunction;
  public readonly recordFunction: LifeboatFunction;
  public readonly planFailbackFunction: LifeboatFunction;
  public readonly createReplicaFunction: LifeboatFunction;
  public readonly describeReplicaFunction: LifeboatFunction;
  public readonly deleteReplicaFunction: LifeboatFunction;
  /** Starts a failover from a CloudWatch alarm state change (wf-alarm-start). */
  public readonly alarmStartFunction: LifeboatFunction;
  /** One rule per database: its primary-unwritable alarm → ALARM starts a failover. */
  public readonly alarmRules: ReadonlyMap<string, Rule>;
  public readonly deadLetterQueue: IQueue;

  constructor(scope: Construct, id: string, props: FailoverWorkflowsProps) {
    super(scope, id);
    const { config, environment } = props;
    const databases = failoverDatabases(config);
    if (databases.length === 0) {
      throw new Error('FailoverWorkflows needs at least one database with a failover block');
    }
    const primary = config.primaryRegion;
    const dr = config.drRegion;
    const instances = databases.filter((db) => db.kind === 'instance');
    const clusters = databases.filter((db) => db.kind === 'cluster');
    const globalClusterArns = clusters.map((db) =>
      rdsArnIn(this, dr, 'global-cluster', db.failover.globalClusterIdentifier!),
    );
    const replicaArns = {
      instances: instances.map((db) => rdsArnIn(this, dr, 'db', db.failover.replicaIdentifier)),
      clusters: clusters.map((db) => rdsArnIn(this, dr, 'cluster', db.failover.replicaIdentifier)),
    };
    const primaryArns = {
      instances: instances.map((db) => rdsArnIn(this, primary, 'db', db.identifier)),
      clusters: clusters.map((db) => rdsArnIn(this, primary, 'cluster', db.identifier)),
    };
    const targetsJson = JSON.stringify(failoverTargets(config));
    const drNetworkConfig = config.workflowNetwork?.dr;
    const drNetwork = drNetworkConfig
      ? importNetwork(new Construct(this, 'Network'), drNetworkConfig)
      : undefined;

    this.lockTable = new Table(this, 'LockTable', {
      tableName: lockTableName(environment),
      partitionKey: { name: LOCK_KEY_ATTRIBUTE, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: props.operationsKey.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // Only the locks of running failovers: nothing to keep once the stack is gone.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(this.lockTable).acknowledge({
      id: 'NIST.800.53.R5-DynamoDBInBackupPlan',
      reason:
        'Holds only the locks (and approval tokens) of failovers in progress, which mean nothing after they end; point-in-time recovery is on.',
    });

    // --- failover task functions ----------------------------------------------------------------

    const describe = (actions: string[], resources: string[]) => new PolicyStatement({ actions, resources });

    this.preflightFunction = taskFunction(this, 'Preflight', {
      entry: 'wf-failover-preflight/index.ts',
      description: 'failover: validates the request and checks the replica, the old primary and the lag',
      base: props,
      environment: { [WF_ENV.failoverTargets]: targetsJson },
    });
    const preflightStatements: PolicyStatement[] = [];
    if (instances.length > 0) {
      preflightStatements.push(
        describe(['rds:DescribeDBInstances'], [...replicaArns.instances, ...primaryArns.instances]),
      );
    }
    if (clusters.length > 0) {
      preflightStatements.push(
        describe(['rds:DescribeDBClusters'], [...replicaArns.clusters, ...primaryArns.clusters]),
        describe(['rds:DescribeGlobalClusters'], globalClusterArns),
      );
    }
    // CloudWatch metric reads have no resource-level permissions.
    preflightStatements.push(describe(['cloudwatch:GetMetricStatistics'], ['*']));
    for (const s of preflightStatements) this.preflightFunction.addToRolePolicy(s);

    this.fenceFunction = taskFunction(this, 'Fence', {
      entry: 'wf-fence/index.ts',
      description: 'failover: fences the old primary into a closed security group',
      base: props,
    });
    const fenced = databases.filter((db) => db.failover.fenceSecurityGroupId);
    const fencedInstances = fenced.filter((db) => db.kind === 'instance');
    const fencedClusters = fenced.filter((db) => db.kind === 'cluster');
    if (fencedInstances.length > 0) {
      this.fenceFunction.addToRolePolicy(
        new PolicyStatement({
          actions: ['rds:ModifyDBInstance'],
          resources: fencedInstances.map((db) => rdsArnIn(this, primary, 'db', db.identifier)),
        }),
      );
    }
    if (fencedClusters.length > 0) {
      this.fenceFunction.addToRolePolicy(
        new PolicyStatement({
          actions: ['rds:ModifyDBCluster'],
          resources: fencedClusters.map((db) => rdsArnIn(this, primary, 'cluster', db.identifier)),
        }),
      );
    }

    this.checkWritableFunction = taskFunction(this, 'CheckWritable', {
      entry: 'wf-check-writable/index.ts',
      description: 'failover: whether the promoted replica accepts writes',
      base: props,
    });
    const replicaDescribe: PolicyStatement[] = [];
    if (instances.length > 0)
      replicaDescribe.push(describe(['rds:DescribeDBInstances'], replicaArns.instances));
    if (clusters.length > 0) {
      replicaDescribe.push(
        describe(['rds:DescribeDBClusters'], replicaArns.clusters),
        describe(['rds:DescribeGlobalClusters'], globalClusterArns),
      );
    }
    for (const s of replicaDescribe) this.checkWritableFunction.addToRolePolicy(s);

    this.verifyWriteFunction = taskFunction(this, 'VerifyWrite', {
      entry: 'wf-verify-write/index.ts',
      description: 'failover: writes and reads back a row on the new primary',
      network: drNetwork,
      base: props,
    });
    grantSecrets(
      this.verifyWriteFunction.role!,
      regionalSecrets(config, 'dr').filter((s) => databases.some((db) => db.name === s.database)),
      dr,
    );

    this.recordFunction = taskFunction(this, 'RecordFailover', {
      entry: 'wf-record-failover/index.ts',
      description: 'failover: records RTO and RPO in the catalog',
      base: props,
    });
    grantCatalog(this.recordFunction, props.bucket, 'append');

    // --- failback task functions -----------------------------------------------------------------

    this.planFailbackFunction = taskFunction(this, 'PlanFailback', {
      entry: 'wf-plan-failback/index.ts',
      description: 'failback: plans a new replica in the recovered region',
      base: props,
      environment: { [WF_ENV.failoverTargets]: targetsJson },
    });
    for (const s of replicaDescribe) this.planFailbackFunction.addToRolePolicy(s);

    // The replica a failback creates is named `<primary identifier (52)>-rp-<hash>` (planFailback)
    // in the primary region; an Aurora secondary's instance adds `-1`.
    const replicaName = (db: { identifier: string }) => `${db.identifier.slice(0, 52)}-rp-*`;
    const instanceReplicas = instances.map((db) => rdsArnIn(this, primary, 'db', replicaName(db)));
    const clusterReplicas = clusters.map((db) => rdsArnIn(this, primary, 'cluster', replicaName(db)));
    const clusterReplicaInstances = clusters.map((db) => rdsArnIn(this, primary, 'db', replicaName(db)));
    const newInstances = [...instanceReplicas, ...clusterReplicaInstances];
    const failback = config.failback;
    this.createReplicaFunction = taskFunction(this, 'CreateReplica', {
      entry: 'wf-create-replica/index.ts',
      description: 'failback: creates the new replica in the recovered region',
      base: props,
      environment: {
        ...(failback?.subnetGroupName ? { [REPLICA_ENV.subnetGroup]: failback.subnetGroupName } : {}),
        ...(failback?.kmsKeyArn ? { [REPLICA_ENV.kmsKeyArn]: failback.kmsKeyArn } : {}),
        ...(failback?.instanceClass ? { [REPLICA_ENV.instanceClass]: failback.instanceClass } : {}),
      },
    });
    const createStatements: PolicyStatement[] = [];
    // Settings a create names (or takes by default) in the recovered region: subnet group, option
    // and parameter groups. Referencing them changes nothing about them.
    const settings = (['subgrp', 'og', 'pg', 'cluster-pg'] as const).map((t) =>
      rdsArnIn(this, primary, t, '*'),
    );
    if (instances.length > 0) {
      createStatements.push(
        new PolicyStatement({
          actions: ['rds:CreateDBInstanceReadReplica'],
          resources: [...instanceReplicas, ...replicaArns.instances, ...settings],
        }),
      );
    }
    if (clusters.length > 0) {
      createStatements.push(
        new PolicyStatement({
          actions: ['rds:CreateDBCluster'],
          resources: [...clusterReplicas, ...globalClusterArns, ...settings],
        }),
        new PolicyStatement({
          actions: ['rds:CreateDBInstance'],
          resources: [...clusterReplicaInstances, ...clusterReplicas, ...settings],
        }),
        // Removing a half-made secondary the create task itself made (and tagged).
        new PolicyStatement({
          actions: ['rds:DeleteDBCluster'],
          resources: clusterReplicas,
          conditions: { StringEquals: { [`aws:ResourceTag/${WORKFLOW_TAG}`]: 'failback' } },
        }),
      );
    }
    // The creates carry tags (lifeboat:workflow=failback, lifeboat:created-by): tagging only that.
    createStatements.push(
      new PolicyStatement({
        actions: ['rds:AddTagsToResource'],
        resources: [...newInstances, ...clusterReplicas],
        conditions: { StringEquals: { [`aws:RequestTag/${WORKFLOW_TAG}`]: 'failback' } },
      }),
    );
    // RDS encrypts the new replica with the failback key, and reads the source (the promoted
    // database, encrypted with its DR storage key) across regions, on the caller's behalf: grants
    // for AWS resources through RDS only, as for a cross-region snapshot copy. RDS needs
    // CreateGrant and DescribeKey from the caller, nothing else (no Encrypt/Decrypt/GenerateDataKey).
    const keyGrants = (keys: readonly string[], region: string) => [
      new PolicyStatement({
        actions: ['kms:DescribeKey'],
        resources: [...keys],
        conditions: { StringEquals: { 'kms:ViaService': `rds.${region}.amazonaws.com` } },
      }),
      // kms:GrantIsForAWSResource exists on CreateGrant only (DescribeKey would be refused by it).
      new PolicyStatement({
        actions: ['kms:CreateGrant'],
        resources: [...keys],
        conditions: {
          StringEquals: { 'kms:ViaService': `rds.${region}.amazonaws.com` },
          Bool: { 'kms:GrantIsForAWSResource': 'true' },
        },
      }),
    ];
    if (failback?.kmsKeyArn) createStatements.push(...keyGrants([failback.kmsKeyArn], primary));
    const sourceKeys = [...new Set(databases.flatMap((db) => db.drStorageKmsKeyArn ?? []))];
    if (sourceKeys.length > 0) createStatements.push(...keyGrants(sourceKeys, dr));
    // A create whose answer was lost finds its database on the retry: reading its tags tells
    // whether this execution made it (wf-create-replica).
    createStatements.push(describe(['rds:DescribeDBInstances'], newInstances));
    if (clusters.length > 0) createStatements.push(describe(['rds:DescribeDBClusters'], clusterReplicas));
    for (const s of createStatements) this.createReplicaFunction.addToRolePolicy(s);

    this.describeReplicaFunction = taskFunction(this, 'DescribeReplica', {
      entry: 'wf-describe-replica/index.ts',
      description: 'failback: status of the new replica',
      base: props,
    });
    this.describeReplicaFunction.addToRolePolicy(describe(['rds:DescribeDBInstances'], newInstances));
    if (clusters.length > 0) {
      this.describeReplicaFunction.addToRolePolicy(describe(['rds:DescribeDBClusters'], clusterReplicas));
    }

    this.deleteReplicaFunction = taskFunction(this, 'DeleteReplica', {
      entry: 'wf-delete-replica/index.ts',
      description: 'failback: removes the replica a failed failback created',
      base: props,
    });
    this.deleteReplicaFunction.addToRolePolicy(
      new PolicyStatement({
        actions: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
        resources: [...newInstances, ...clusterReplicas],
        conditions: { StringEquals: { [`aws:ResourceTag/${WORKFLOW_TAG}`]: 'failback' } },
      }),
    );
    if (clusters.length > 0) {
      this.deleteReplicaFunction.addToRolePolicy(
        new PolicyStatement({
          actions: ['rds:RemoveFromGlobalCluster'],
          resources: [...globalClusterArns, ...clusterReplicas],
        }),
      );
    }
    for (const fn of [this.createReplicaFunction, this.describeReplicaFunction, this.deleteReplicaFunction]) {
      acknowledgeWildcards(
        fn.role!,
        (r) => r.includes(':rds:'),
        "The failback replica is named <primary identifier>-rp-<hash of the execution> at run time; creates reference the recovered region's subnet, option and parameter groups; deletes need the failback tag.",
      );
    }

    // --- workflows ---------------------------------------------------------------------------------

    const zones = hostedZoneIds(config);
    // The stack's Monitoring alarms on every workflow (watchStack) and on the dead-letter queue.
    const createAlarms = false;
    this.failover = new FailoverWorkflow(this, 'Failover', {
      environment,
      notificationTopic: props.notificationTopic,
      createAlarms,
      logRetention: props.logRetention,
      logKey: props.logKey,
      lockTable: this.lockTable,
      preflightFunction: this.preflightFunction,
      fenceFunction: this.fenceFunction,
      checkWritableFunction: this.checkWritableFunction,
      verifyWriteFunction: this.verifyWriteFunction,
      recordFunction: this.recordFunction,
      automaticFailover: config.automaticFailover,
      approvalTimeout: props.approvalTimeout,
      hostedZoneIds: zones,
    });
    hardenStateMachine(this.failover, { topic: props.notificationTopic });
    // The lock table is encrypted with the operations key: DynamoDB uses it on the workflow's behalf.
    this.failover.stateMachine.addToRolePolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'],
        resources: [props.operationsKey.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${dr}.amazonaws.com` } },
      }),
    );
    // Promotion only of the configured replicas, whatever the preflight result holds.
    this.failover.stateMachine.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.DENY,
        actions: ['rds:PromoteReadReplica'],
        ...(replicaArns.instances.length > 0
          ? { notResources: replicaArns.instances }
          : { resources: ['*'] }),
      }),
    );
    if (clusters.length > 0) {
      // RDS authorizes a global switchover/failover on the global cluster and on its member
      // clusters (Service Authorization Reference: resource types global-cluster and cluster, both
      // required): the DR secondary that is promoted and the primary that is demoted — in the
      // primary region, which the workflow's own statement (DR region) does not cover. Exactly the
      // configured members; docs/deploy.md names the drill that proves it in a real account.
      const members = [...replicaArns.clusters, ...primaryArns.clusters];
      this.failover.stateMachine.addToRolePolicy(
        new PolicyStatement({
          actions: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
          resources: [...globalClusterArns, ...members],
        }),
      );
      this.failover.stateMachine.addToRolePolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          actions: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
          notResources: [...globalClusterArns, ...members],
        }),
      );
    } else {
      this.failover.stateMachine.addToRolePolicy(
        new PolicyStatement({
          effect: Effect.DENY,
          actions: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
          resources: ['*'],
        }),
      );
    }

    this.failback = new FailbackWorkflow(this, 'Failback', {
      environment,
      notificationTopic: props.notificationTopic,
      createAlarms,
      logRetention: props.logRetention,
      logKey: props.logKey,
      planFunction: this.planFailbackFunction,
      createReplicaFunction: this.createReplicaFunction,
      describeReplicaFunction: this.describeReplicaFunction,
      deleteReplicaFunction: this.deleteReplicaFunction,
    });
    hardenStateMachine(this.failback, { topic: props.notificationTopic });

    // --- alarm-started failovers -------------------------------------------------------------------

    let deadLetterQueue = props.deadLetterQueue;
    if (!deadLetterQueue) {
      const queue: Queue = encryptedQueue(this, 'DeadLetterQueue', { key: props.operationsKey.key });
      Validations.of(queue).acknowledge({
        id: 'AwsSolutions-SQS3',
        reason: 'This queue is itself the dead-letter queue of the alarm-started failovers.',
      });
      deadLetterQueue = queue;
    }
    this.deadLetterQueue = deadLetterQueue;
    // EventBridge delivers undeliverable events into the encrypted queue.
    props.operationsKey.allowDeliveryBy(new ServicePrincipal('events.amazonaws.com'));

    this.alarmStartFunction = new LifeboatFunction(this, 'AlarmStart', {
      entry: 'wf-alarm-start/index.ts',
      description: `lifeboat ${environment}: starts a failover when a primary-unwritable alarm fires`,
      timeout: Duration.seconds(30),
      memorySize: 256,
      // A handful of databases; alarms of one database share an execution name anyway.
      reservedConcurrentExecutions: 2,
      logRetention: props.logRetention,
      logKey: props.logKey,
      deadLetterQueue,
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      environment: {
        LIFEBOAT_ENVIRONMENT: environment,
        POWERTOOLS_SERVICE_NAME: 'wf-alarm-start',
        [WF_ENV.failoverStateMachineArn]: this.failover.stateMachine.stateMachineArn,
      },
    });
    this.failover.stateMachine.grantStartExecution(this.alarmStartFunction);

    const rules = new Map<string, Rule>();
    for (const db of databases) {
      // The primary's health seen from this region (PrimaryCanary), never replica lag: lag says a
      // failover would lose data, not that one is needed. Lag alarms page and start nothing.
      const alarmName = primaryUnwritableAlarmName(environment, db.name);
      const rule = new Rule(this, `AlarmRule-${db.name}`, {
        description: `lifeboat ${environment}: ${alarmName} in ALARM starts a failover of ${db.name}${config.automaticFailover ? '' : ' (waits for approval)'}`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          detail: { alarmName: [alarmName], state: { value: ['ALARM'] } },
        },
      });
      rule.addTarget(
        new LambdaTarget(this.alarmStartFunction, {
          event: RuleTargetInput.fromObject({
            database: db.name,
            alarmName: EventField.fromPath('$.detail.alarmName'),
            state: EventField.fromPath('$.detail.state.value'),
            time: EventField.time,
          }),
          deadLetterQueue,
          retryAttempts: 10,
          maxEventAge: Duration.hours(1),
        }),
      );
      rules.set(db.name, rule);
    }
    this.alarmRules = rules;
  }
}

export interface VerificationSchedulesProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** Proves each database's newest snapshot restores. */
  readonly restoreTest?: IStateMachine;
  /** Proves each database's newest dump restores. */
  readonly verifyBackup?: IFunction;
  /** The Fargate verification workflow of each `large` database, by name. */
  readonly verifyTasks?: ReadonlyMap<string, IStateMachine>;
}

/**
 * Each database's verification schedule (its policy's `verification`): the restore-test workflow
 * for its newest snapshot, and verify-backup for its newest dump when its policy takes dumps.
 * Dumps of `large` databases, which would not restore within Lambda's 15 minutes, are verified by
 * their Fargate verification workflow (`verifyTasks`); without one, synthesis warns.
 */
export function addVerificationSchedules(
  schedules: BackupSchedules,
  props: VerificationSchedulesProps,
): void {
  const { config, environment } = props;
  const unverified: string[] = [];
  for (const db of config.databases) {
    const policy = config.policies[db.policy]!;
    if (props.restoreTest) {
      schedules.add(
        `RestoreTest-${db.name}`,
        policy.verification,
        { kind: 'stateMachine', stateMachine: props.restoreTest, input: restoreTestEvent(db) },
        `lifeboat ${environment}: restore test of the newest snapshot of ${db.name} (policy ${db.policy})`,
      );
    }
    if (policy.dump && props.verifyBackup) {
      if (db.large) {
        const task = props.verifyTasks?.get(db.name);
        if (!task) {
          unverified.push(db.name);
          continue;
        }
        schedules.add(
          `VerifyDump-${db.name}`,
          policy.verification,
          { kind: 'stateMachine', stateMachine: task, input: {} },
          `lifeboat ${environment}: verification of the newest dump of ${db.name} as a Fargate task (policy ${db.policy})`,
        );
        continue;
      }
      schedules.add(
        `VerifyDump-${db.name}`,
        policy.verification,
        { kind: 'function', function: props.verifyBackup, input: verifyBackupEvent(db) },
        `lifeboat ${environment}: verification of the newest dump of ${db.name} (policy ${db.policy})`,
      );
    }
  }
  if (unverified.length > 0) {
    Annotations.of(schedules).addWarningV2(
      'lifeboat:largeDumpsNotVerified',
      `dumps of large databases (${unverified.join(', ')}) are not verified on a schedule: verify-backup runs in Lambda (15 minutes); their snapshots are restore-tested`,
    );
  }
}
