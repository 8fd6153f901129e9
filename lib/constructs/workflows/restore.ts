import { Duration, Size, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { ARTIFACT_PREFIX, CATALOG_PREFIX } from '../../../functions/core/catalog/catalog.ts';
import { WF_ENV } from '../../../functions/wf-common/env.ts';
import { rdsArn } from '../../../state-machines/common.ts';
import { RestoreWorkflow } from '../../../state-machines/restore.ts';
import { hostedZoneIds, type RegionalSecret } from '../../recovery.ts';
import { bindBucket, grantRepository, type LifeboatFunction } from '../lifeboat-function.ts';
import type { ImportedNetwork } from '../logical-dump.ts';
import { imageFunction, VERIFY_IMAGE_HANDLERS, type VerifyImage } from '../verify-backup.ts';
import {
  acknowledgeSynchronous,
  grantCatalog,
  stateMachineProps,
  taskFunction,
  type WorkflowsBaseProps,
} from './common.ts';
import { acknowledgeWildcards, rdsResources } from './nag.ts';
import { grantSecrets } from './secrets.ts';
import { hardenStateMachine } from './state-machine-role.ts';
import { COMMON_ENV, WORKFLOW_TAG_VALUE } from '../../../functions/core/contracts/index.ts';

/** What the workflows of one region share: where they run, and the database secrets there. */
export interface RegionalWorkflowContext {
  readonly base: WorkflowsBaseProps;
  /** The AWS region. */
  readonly region: string;
  /** The region's `workflowNetwork`, for the functions that connect to databases. */
  readonly network?: ImportedNetwork;
  /** The configured database secrets of the region. */
  readonly secrets: readonly RegionalSecret[];
}

export interface RestoreWorkflowProps extends RegionalWorkflowContext {
  /** The verify image: RestoreDump runs pg_restore. */
  readonly image: VerifyImage;
  /** KMS keys of the snapshots restores read (the restored storage is encrypted with them). */
  readonly snapshotKeyArns?: readonly string[];
}

/** The restore workflow and its task functions; `verifyFunction` also checks restore tests. */
export interface RestoreWorkflowParts {
  readonly restore: RestoreWorkflow;
  readonly validateFunction: LifeboatFunction;
  readonly resolveFunction: LifeboatFunction;
  readonly restoreDumpFunction: LambdaFunction;
  readonly archivedDumpFunction: LifeboatFunction;
  readonly verifyFunction: LifeboatFunction;
  readonly dropDatabaseFunction: LifeboatFunction;
  readonly finishFunction: LifeboatFunction;
}

const DESCRIBE_REASON =
  'Read-only Describe of the restore target, whose identifier the operator picks at run time.';

/**
 * The restore workflow (flow 5) of one region in `scope`: validate → resolve the restore point →
 * restore (snapshot, point in time or dump) → verify → finish, each task function with exactly
 * what its handler calls. Functions that connect to databases run in the region's network and
 * read exactly the region's configured database secrets.
 */
export function restoreWorkflow(scope: Construct, props: RestoreWorkflowProps): RestoreWorkflowParts {
  const { base, network, secrets, region } = props;
  const { bucket } = base;
  // Describe the restore target (any name the operator picks) or the server a dump goes into.
  const describeTargets = new PolicyStatement({
    actions: ['rds:DescribeDBInstances', 'rds:DescribeDBClusters'],
    resources: [rdsArn(scope, 'db'), rdsArn(scope, 'cluster')],
  });
  const describeInstances = new PolicyStatement({
    actions: ['rds:DescribeDBInstances'],
    resources: [rdsArn(scope, 'db')],
  });

  const validateFunction = taskFunction(scope, 'ValidateInput', {
    entry: 'wf-validate-restore/index.ts',
    description: 'restore workflow: validates and routes the request',
    timeout: Duration.seconds(30),
    base,
  });

  const resolveFunction = taskFunction(scope, 'ResolveRestorePoint', {
    entry: 'wf-resolve-restore-point/index.ts',
    description: 'restore workflow: picks the restore point, refuses an existing target',
    network,
    base,
  });
  grantCatalog(resolveFunction, bucket, 'read');
  resolveFunction.addToRolePolicy(describeTargets);
  grantSecrets(resolveFunction.role!, secrets, region);
  acknowledgeWildcards(resolveFunction.role!, rdsResources, DESCRIBE_REASON);

  const restoreDumpFunction = imageFunction(scope, 'RestoreDump', {
    image: props.image,
    handler: VERIFY_IMAGE_HANDLERS.restoreDump,
    description: `lifeboat ${base.environment}: restore workflow: restores a logical dump into a new database and checks it`,
    memorySize: 4096,
    timeout: Duration.minutes(15),
    ephemeralStorageSize: Size.gibibytes(10),
    logRetention: base.logRetention,
    logKey: base.logKey,
    network,
    environment: { [COMMON_ENV.environment]: base.environment, [COMMON_ENV.service]: 'wf-restore-dump' },
  });
  bindBucket(restoreDumpFunction, bucket, 'read', {
    prefixes: [ARTIFACT_PREFIX, CATALOG_PREFIX],
    bucketVariable: WF_ENV.bucket,
    keyVariable: null,
  });
  grantRepository(restoreDumpFunction.role!, bucket, 'append', [CATALOG_PREFIX]);
  restoreDumpFunction.addToRolePolicy(describeInstances);
  grantSecrets(restoreDumpFunction.role!, secrets, region);
  acknowledgeSynchronous(restoreDumpFunction);
  acknowledgeWildcards(restoreDumpFunction.role!, rdsResources, DESCRIBE_REASON);
  if (!network) {
    Validations.of(restoreDumpFunction).acknowledge({
      id: 'NIST.800.53.R5-LambdaInsideVPC',
      reason: 'No databases are configured, so there is no network to place it in (workflowNetwork).',
    });
  }

  // A dump the lifecycle moved to an archive tier must be restored (a temporary copy) to be read:
  // this function reads each artifact's tier (HeadObject is s3:GetObject) and asks for the restores.
  const archivedDumpFunction = taskFunction(scope, 'ArchivedDump', {
    entry: 'wf-archived-dump/index.ts',
    description: "restore workflow: tiers of an archived dump's artifacts, S3 restores of them",
    base,
  });
  bindBucket(archivedDumpFunction, bucket, 'read', {
    prefixes: [ARTIFACT_PREFIX, CATALOG_PREFIX],
    bucketVariable: WF_ENV.bucket,
    keyVariable: null,
  });
  archivedDumpFunction.addToRolePolicy(
    new PolicyStatement({
      actions: ['s3:RestoreObject'],
      resources: [bucket.arnForObjects(`${ARTIFACT_PREFIX}*`)],
    }),
  );

  const verifyFunction = taskFunction(scope, 'VerifyRestore', {
    entry: 'wf-verify-restore/index.ts',
    description: 'data checks on a restored database',
    timeout: Duration.minutes(15),
    memorySize: 1024,
    network,
    base,
  });
  grantCatalog(verifyFunction, bucket, 'read');
  grantSecrets(verifyFunction.role!, secrets, region);

  const dropDatabaseFunction = taskFunction(scope, 'DropCreatedDatabase', {
    entry: 'wf-drop-restored-database/index.ts',
    description: 'restore workflow: drops the database a failed dump restore created',
    timeout: Duration.minutes(5),
    network,
    base,
  });
  dropDatabaseFunction.addToRolePolicy(describeInstances);
  grantSecrets(dropDatabaseFunction.role!, secrets, region);
  acknowledgeWildcards(dropDatabaseFunction.role!, rdsResources, DESCRIBE_REASON);

  const finishFunction = taskFunction(scope, 'FinishRestore', {
    entry: 'wf-finish-restore/index.ts',
    description: 'restore workflow: measures the restore and records it in the catalog',
    base,
  });
  grantCatalog(finishFunction, bucket, 'append');

  const restore = new RestoreWorkflow(scope, 'Restore', {
    ...stateMachineProps(base),
    snapshotKeyArns: props.snapshotKeyArns,
    validateFunction,
    resolveFunction,
    restoreDumpFunction,
    archivedDumpFunction,
    verifyFunction,
    dropDatabaseFunction,
    finishFunction,
    hostedZoneIds: hostedZoneIds(base.config),
  });
  hardenStateMachine(restore, {
    topic: base.notificationTopic,
    deleteOnlyTagged: WORKFLOW_TAG_VALUE.restore,
  });

  return {
    restore,
    validateFunction,
    resolveFunction,
    restoreDumpFunction,
    archivedDumpFunction,
    verifyFunction,
    dropDatabaseFunction,
    finishFunction,
  };
}
