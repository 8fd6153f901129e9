import { Duration } from 'aws-cdk-lib';
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
import { rdsArn } from './common.ts';
import { RDS_TRANSIENT, retryRds, scheduledCounter } from './resilience.ts';

/**
 * RDS steps the restore and restore-test workflows share. Every create step records what it
 * created under `$.created` (instance / cluster: { identifier }) from the API's own answer, and
 * only after the call succeeded: cleanup deletes exactly those, never a pre-existing resource.
 */

/** Tags on everything a workflow creates, so a person (or IAM) can tell it apart. */
export function createdTags(workflow: string): { Key: string; Value: string }[] {
  return [
    { Key: 'lifeboat:workflow', Value: workflow },
    { Key: 'lifeboat:created-by', Value: JsonPath.stringAt('$$.Execution.Name') },
  ];
}

/** Access the restore steps need beyond the action itself (tags, encrypted snapshots). */
export function restoreStatements(scope: Construct, keyArns: readonly string[]): PolicyStatement[] {
  const statements = [
    new PolicyStatement({
      actions: ['rds:AddTagsToResource'],
      resources: [rdsArn(scope, 'db'), rdsArn(scope, 'cluster')],
    }),
  ];
  if (keyArns.length) {
    statements.push(
      new PolicyStatement({
        actions: ['kms:CreateGrant', 'kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: [...keyArns],
      }),
    );
  }
  return statements;
}

/** Resources a restore reads or creates. */
export function restoreResources(scope: Construct): string[] {
  return (['db', 'cluster', 'snapshot', 'cluster-snapshot', 'subgrp', 'og', 'pg', 'cluster-pg'] as const).map(
    (r) => rdsArn(scope, r),
  );
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
  p: InstanceParams & { snapshotIdentifier: string; workflow: string; keyArns: readonly string[] },
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
    iamResources: restoreResources(scope),
    additionalIamStatements: restoreStatements(scope, p.keyArns),
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
    workflow: string;
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
    iamResources: restoreResources(scope),
    additionalIamStatements: restoreStatements(scope, p.keyArns),
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
    workflow: string;
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
    iamResources: restoreResources(scope),
    additionalIamStatements: restoreStatements(scope, p.keyArns),
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
    workflow: string;
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
    iamResources: restoreResources(scope),
    additionalIamStatements: restoreStatements(scope, p.keyArns),
    resultSelector: { identifier: JsonPath.stringAt('$.DbCluster.DbClusterIdentifier') },
    resultPath: '$.created.cluster',
  });
}

/** The instance of a restored Aurora cluster (a restored cluster has none). */
export function createClusterInstance(
  scope: Construct,
  id: string,
  p: { identifier: string; clusterIdentifier: string; instanceClass: string; workflow: string },
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
    iamResources: restoreResources(scope),
    additionalIamStatements: restoreStatements(scope, []),
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
