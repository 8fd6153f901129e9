import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import {
  Choice,
  Condition,
  type IChainable,
  JsonPath,
  Pass,
  type State,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { SNAPSHOT_PREFIX, TAG, type WorkflowTagValue } from '../functions/core/contracts/index.ts';
import { rdsArn } from './common.ts';
import { RDS_TRANSIENT, retryRds, scheduledCounter } from './resilience.ts';

/**
 * RDS steps the restore and restore-test workflows share. Every create step records what it
 * created under `$.created` (instance / cluster: { identifier }) from the API's own answer, and
 * only after the call succeeded: cleanup deletes exactly those, never a pre-existing resource.
 */

/** Tags on everything a workflow creates, so a person (or IAM) can tell it apart. */
export function createdTags(workflow: WorkflowTagValue): { Key: string; Value: string }[] {
  return [
    { Key: TAG.workflow, Value: workflow },
    { Key: TAG.createdBy, Value: JsonPath.stringAt('$$.Execution.Name') },
  ];
}

/**
 * What one create step (restore or cluster instance) may do, as CallAwsService's `iamResources`
 * and `additionalIamStatements`:
 * - the action on the settings a create references (subnet, option and parameter groups) and on
 *   lifeboat's own snapshots (`lifeboat-*`) only;
 * - the action, and tagging, on an instance or cluster only when the request tags it
 *   `lifeboat:workflow=<workflow>` (every create here does: createdTags), so the workflow cannot
 *   create anything its own cleanup (deletes need the same tag) would not recognise;
 * - the snapshots' keys through RDS in this region only, grants only for AWS resources.
 */
export function createPermissions(
  scope: Construct,
  action: string,
  workflow: WorkflowTagValue,
  keyArns: readonly string[],
): { iamResources: string[]; additionalIamStatements: PolicyStatement[] } {
  const tagged = { StringEquals: { [`aws:RequestTag/${TAG.workflow}`]: workflow } };
  const created = [rdsArn(scope, 'db'), rdsArn(scope, 'cluster')];
  const statements = [
    new PolicyStatement({ actions: [`rds:${action}`], resources: created, conditions: tagged }),
    new PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: created, conditions: tagged }),
  ];
  if (keyArns.length) {
    const viaRds = { 'kms:ViaService': `rds.${Stack.of(scope).region}.amazonaws.com` };
    statements.push(
      new PolicyStatement({
        actions: ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: [...keyArns],
        conditions: { StringEquals: viaRds },
      }),
      new PolicyStatement({
        actions: ['kms:CreateGrant'],
        resources: [...keyArns],
        conditions: { StringEquals: viaRds, Bool: { 'kms:GrantIsForAWSResource': 'true' } },
      }),
    );
  }
  return { iamResources: createSettings(scope), additionalIamStatements: statements };
}

/** Settings a create references, and lifeboat's own snapshots it may restore from. */
export function createSettings(scope: Construct): string[] {
  return [
    rdsArn(scope, 'snapshot', `${SNAPSHOT_PREFIX}*`),
    rdsArn(scope, 'cluster-snapshot', `${SNAPSHOT_PREFIX}*`),
    ...(['subgrp', 'og', 'pg', 'cluster-pg'] as const).map((r) => rdsArn(scope, r)),
  ];
}

export interface InstanceParams {
  readonly identifier: string;
  readonly instanceClass: string;
  readonly subnetGroupName: string;
  readonly securityGroupIds: unknown;
}

export function restoreInstanceFromSnapshot(
  scope: Construct,
  id: string,
  p: InstanceParams & { snapshotIdentifier: string; workflow: WorkflowTagValue; keyArns: readonly string[] },
): CallAwsService {
  return new CallAwsService(scope, id, {
    service: 'rds',
    action: 'restoreDBInstanceFromDBSnapshot',
    parameters: {
      DbInstanceIdentifier: p.identifier,
      DbSnapshotIdentifier: p.snapshotIdentifier,
      DbInstanceClass: p.instanceClass,
      DbSubnetGroupName: p.subnetGroupName,
      VpcSecurityGroupIds: p.securityGroupIds,
      PubliclyAccessible: false,
      MultiAZ: false,
      DeletionProtection: false,
      Tags: createdTags(p.workflow),
    },
    ...createPermissions(scope, 'restoreDBInstanceFromDBSnapshot', p.workflow, p.keyArns),
    resultSelector: { identifier: JsonPath.stringAt('$.DbInstance.DbInstanceIdentifier') },
    resultPath: '$.created.instance',
  });
}

export function restoreInstanceToPointInTime(
  scope: Construct,
  id: string,
  p: InstanceParams & {
    sourceIdentifier: string;
    restoreTime: string;
    workflow: WorkflowTagValue;
    keyArns: readonly string[];
  },
): CallAwsService {
  return new CallAwsService(scope, id, {
    service: 'rds',
    action: 'restoreDBInstanceToPointInTime',
    parameters: {
      SourceDBInstanceIdentifier: p.sourceIdentifier,
      TargetDBInstanceIdentifier: p.identifier,
      RestoreTime: p.restoreTime,
      DbInstanceClass: p.instanceClass,
      DbSubnetGroupName: p.subnetGroupName,
      VpcSecurityGroupIds: p.securityGroupIds,
      PubliclyAccessible: false,
      MultiAZ: false,
      DeletionProtection: false,
      Tags: createdTags(p.workflow),
    },
    ...createPermissions(scope, 'restoreDBInstanceToPointInTime', p.workflow, p.keyArns),
    resultSelector: { identifier: JsonPath.stringAt('$.DbInstance.DbInstanceIdentifier') },
    resultPath: '$.created.instance',
  });
}

export function restoreClusterFromSnapshot(
  scope: Construct,
  id: string,
  p: {
    clusterIdentifier: string;
    snapshotIdentifier: string;
    engine: string;
    subnetGroupName: string;
    securityGroupIds: unknown;
    workflow: WorkflowTagValue;
    keyArns: readonly string[];
  },
): CallAwsService {
  return new CallAwsService(scope, id, {
    service: 'rds',
    action: 'restoreDBClusterFromSnapshot',
    parameters: {
      DbClusterIdentifier: p.clusterIdentifier,
      SnapshotIdentifier: p.snapshotIdentifier,
      Engine: p.engine,
      DbSubnetGroupName: p.subnetGroupName,
      VpcSecurityGroupIds: p.securityGroupIds,
      DeletionProtection: false,
      Tags: createdTags(p.workflow),
    },
    ...createPermissions(scope, 'restoreDBClusterFromSnapshot', p.workflow, p.keyArns),
    resultSelector: { identifier: JsonPath.stringAt('$.DbCluster.DbClusterIdentifier') },
    resultPath: '$.created.cluster',
  });
}

export function restoreClusterToPointInTime(
  scope: Construct,
  id: string,
  p: {
    clusterIdentifier: string;
    sourceIdentifier: string;
    restoreTime: string;
    subnetGroupName: string;
    securityGroupIds: unknown;
    workflow: WorkflowTagValue;
    keyArns: readonly string[];
  },
): CallAwsService {
  return new CallAwsService(scope, id, {
    service: 'rds',
    action: 'restoreDBClusterToPointInTime',
    parameters: {
      DbClusterIdentifier: p.clusterIdentifier,
      SourceDBClusterIdentifier: p.sourceIdentifier,
      RestoreToTime: p.restoreTime,
      DbSubnetGroupName: p.subnetGroupName,
      VpcSecurityGroupIds: p.securityGroupIds,
      DeletionProtection: false,
      Tags: createdTags(p.workflow),
    },
    ...createPermissions(scope, 'restoreDBClusterToPointInTime', p.workflow, p.keyArns),
    resultSelector: { identifier: JsonPath.stringAt('$.DbCluster.DbClusterIdentifier') },
    resultPath: '$.created.cluster',
  });
}

/** The instance of a restored Aurora cluster (a restored cluster has none). */
export function createClusterInstance(
  scope: Construct,
  id: string,
  p: { identifier: string; clusterIdentifier: string; instanceClass: string; workflow: WorkflowTagValue },
): CallAwsService {
  return new CallAwsService(scope, id, {
    service: 'rds',
    action: 'createDBInstance',
    parameters: {
      DbInstanceIdentifier: p.identifier,
      DbClusterIdentifier: p.clusterIdentifier,
      Engine: 'aurora-postgresql',
      DbInstanceClass: p.instanceClass,
      PubliclyAccessible: false,
      Tags: createdTags(p.workflow),
    },
    ...createPermissions(scope, 'createDBInstance', p.workflow, []),
    resultSelector: { identifier: JsonPath.stringAt('$.DbInstance.DbInstanceIdentifier') },
    resultPath: '$.created.instance',
  });
}

/** Statuses from which an instance never becomes available by waiting. */
export const HOPELESS_STATUSES = [
  'failed',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'storage-full',
  'inaccessible-encryption-credentials',
  'restore-error',
  'deleting',
] as const;

/**
 * Wait → DescribeDBInstances → Choice until `$.created.instance` is available. The waits follow
 * `schedule` (seconds: a long first wait, then backoff; see resilience.ts), and the poll gives up
 * after the last one. On success continues with `available`; a hopeless status or the bound sets
 * `$.error` and continues with `onFailure`. A describe that keeps failing after its retries is not
 * a verdict on the restore either, so it also ends in `onFailure` with the error.
 */
export function pollUntilAvailable(
  scope: Construct,
  names: {
    init: string;
    wait: string;
    describe: string;
    count: string;
    choice: string;
    hopeless: string;
    timedOut: string;
  },
  p: { schedule: readonly number[]; available: IChainable; onFailure: IChainable },
): State {
  const { init, count } = scheduledCounter(
    scope,
    { init: names.init, count: names.count },
    '$.availabilityPoll',
    p.schedule,
  );
  const wait = new Wait(scope, names.wait, { time: WaitTime.secondsPath('$.availabilityPoll.wait') });
  const describe = new CallAwsService(scope, names.describe, {
    service: 'rds',
    action: 'describeDBInstances',
    parameters: { DbInstanceIdentifier: JsonPath.stringAt('$.created.instance.identifier') },
    iamResources: [rdsArn(scope, 'db')],
    resultSelector: { instance: JsonPath.objectAt('$.DbInstances[0]') },
    resultPath: '$.describe',
  });
  retryRds(describe);
  describe.addCatch(p.onFailure, { resultPath: '$.error' });
  const hopeless = new Pass(scope, names.hopeless, {
    parameters: {
      Error: 'RestoreFailed',
      Cause: JsonPath.format(
        '{} is {}: it will not become available',
        JsonPath.stringAt('$.created.instance.identifier'),
        JsonPath.stringAt('$.describe.instance.DbInstanceStatus'),
      ),
    },
    resultPath: '$.error',
  });
  hopeless.next(p.onFailure);
  const timedOut = new Pass(scope, names.timedOut, {
    parameters: {
      Error: 'RestoreTimedOut',
      Cause: JsonPath.format(
        '{} was not available after {} checks (last status {})',
        JsonPath.stringAt('$.created.instance.identifier'),
        JsonPath.stringAt('$.availabilityPoll.attempts'),
        JsonPath.stringAt('$.describe.instance.DbInstanceStatus'),
      ),
    },
    resultPath: '$.error',
  });
  timedOut.next(p.onFailure);
  const status = '$.describe.instance.DbInstanceStatus';
  init
    .next(wait)
    .next(describe)
    .next(count)
    .next(
      new Choice(scope, names.choice)
        .when(Condition.stringEquals(status, 'available'), p.available)
        .when(Condition.or(...HOPELESS_STATUSES.map((s) => Condition.stringEquals(status, s))), hopeless)
        .when(Condition.numberGreaterThanEquals('$.availabilityPoll.attempts', p.schedule.length), timedOut)
        .otherwise(wait),
    );
  return init;
}

/**
 * Deletes what `$.created` names — the instance, then the cluster — and continues with `next`.
 * A resource that is already gone is fine; any other error is kept under `$.cleanupErrors` and
 * reported, never allowed to stop the rest of the cleanup.
 */
export function deleteCreated(
  scope: Construct,
  names: { hasInstance: string; deleteInstance: string; hasCluster: string; deleteCluster: string },
  next: IChainable,
): State {
  const deleteCluster = new CallAwsService(scope, names.deleteCluster, {
    service: 'rds',
    action: 'deleteDBCluster',
    parameters: {
      DbClusterIdentifier: JsonPath.stringAt('$.created.cluster.identifier'),
      SkipFinalSnapshot: true,
    },
    iamResources: [rdsArn(scope, 'cluster')],
    resultPath: JsonPath.DISCARD,
  });
  // The cluster's instance is still being deleted for a while; the cluster must wait for that.
  deleteCluster.addRetry({
    errors: ['Rds.InvalidDbClusterStateException', ...RDS_TRANSIENT],
    maxAttempts: 10,
    interval: Duration.seconds(30),
    backoffRate: 1.5,
  });
  deleteCluster.addCatch(next, { errors: ['Rds.DbClusterNotFoundException'], resultPath: JsonPath.DISCARD });
  deleteCluster.addCatch(next, { resultPath: '$.cleanupErrors.cluster' });
  deleteCluster.next(next);
  const hasCluster = new Choice(scope, names.hasCluster)
    .when(Condition.isPresent('$.created.cluster.identifier'), deleteCluster)
    .otherwise(next);

  const deleteInstance = new CallAwsService(scope, names.deleteInstance, {
    service: 'rds',
    action: 'deleteDBInstance',
    parameters: {
      DbInstanceIdentifier: JsonPath.stringAt('$.created.instance.identifier'),
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    },
    iamResources: [rdsArn(scope, 'db')],
    resultPath: JsonPath.DISCARD,
  });
  deleteInstance.addRetry({
    errors: ['Rds.InvalidDbInstanceStateException', ...RDS_TRANSIENT],
    maxAttempts: 10,
    interval: Duration.seconds(30),
    backoffRate: 1.5,
  });
  deleteInstance.addCatch(hasCluster, {
    errors: ['Rds.DbInstanceNotFoundException'],
    resultPath: JsonPath.DISCARD,
  });
  deleteInstance.addCatch(hasCluster, { resultPath: '$.cleanupErrors.instance' });
  deleteInstance.next(hasCluster);
  return new Choice(scope, names.hasInstance)
    .when(Condition.isPresent('$.created.instance.identifier'), deleteInstance)
    .otherwise(hasCluster);
}
