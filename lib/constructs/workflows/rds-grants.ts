import { ArnFormat, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { RdsResourceType } from '../../../state-machines/common.ts';
import { TAG, type WorkflowTagValue } from '../../../functions/core/contracts/index.ts';

/**
 * RDS grants of the failover and failback workflows, by what a step does ("describe these
 * targets", "promote only these", "create a replica of these") rather than by API: an RDS
 * instance and an Aurora cluster have different actions and ARNs for the same step, and a
 * global database adds the global cluster. Each statement is written only for the kinds that
 * occur among the targets, so an environment without clusters gets no cluster actions.
 */

/** ARN of an RDS resource in `region` of the stack's account (global clusters have none). */
export function rdsArnIn(scope: Construct, region: string, resource: RdsResourceType, name: string): string {
  return Stack.of(scope).formatArn({
    service: 'rds',
    region: resource === 'global-cluster' ? '' : region,
    resource,
    resourceName: name,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/** What a target is made of: an RDS instance, or an Aurora cluster (in a global database). */
export interface RdsTargetSpec {
  readonly kind: 'instance' | 'cluster';
  /** DB instance identifier (kind instance) or DB cluster identifier (kind cluster). */
  readonly identifier: string;
  /** The global database the cluster belongs to (kind cluster). */
  readonly globalClusterIdentifier?: string;
}

/** RDS resources of some databases in one region, the instance and cluster kinds kept apart. */
export class RdsTargets {
  /** DB instance ARNs of the instances. */
  public readonly instances: readonly string[];
  /** DB cluster ARNs of the clusters. */
  public readonly clusters: readonly string[];
  /** DB instance ARNs of the clusters' members (a created secondary's instance). */
  public readonly clusterMembers: readonly string[];
  /** Global cluster ARNs of the clusters' global databases. */
  public readonly globalClusters: readonly string[];

  /**
   * @param options.members the clusters' member instances are named like the cluster (a secondary
   *   the failback creates); @default - none
   */
  constructor(
    scope: Construct,
    region: string,
    targets: readonly RdsTargetSpec[],
    options: { readonly members?: boolean } = {},
  ) {
    const instances = targets.filter((t) => t.kind === 'instance');
    const clusters = targets.filter((t) => t.kind === 'cluster');
    this.instances = instances.map((t) => rdsArnIn(scope, region, 'db', t.identifier));
    this.clusters = clusters.map((t) => rdsArnIn(scope, region, 'cluster', t.identifier));
    this.clusterMembers = options.members
      ? clusters.map((t) => rdsArnIn(scope, region, 'db', t.identifier))
      : [];
    this.globalClusters = clusters.flatMap((t) =>
      t.globalClusterIdentifier ? [rdsArnIn(scope, region, 'global-cluster', t.globalClusterIdentifier)] : [],
    );
  }

  /** Every DB instance ARN: the instances, then the clusters' members. */
  get allInstances(): string[] {
    return [...this.instances, ...this.clusterMembers];
  }
}

const statement = (actions: string[], resources: readonly string[]) =>
  new PolicyStatement({ actions, resources: [...resources] });

/** Conditions on the `lifeboat:workflow` tag of the request (creates) or of the resource (deletes). */
const taggedRequest = (workflow: WorkflowTagValue) => ({
  StringEquals: { [`aws:RequestTag/${TAG.workflow}`]: workflow },
});
const taggedResource = (workflow: WorkflowTagValue) => ({
  StringEquals: { [`aws:ResourceTag/${TAG.workflow}`]: workflow },
});

/** Describe the instances, the clusters and the global clusters of `sets`, one statement per kind. */
export function describeRds(...sets: RdsTargets[]): PolicyStatement[] {
  const instances = sets.flatMap((s) => s.allInstances);
  const clusters = sets.flatMap((s) => [...s.clusters]);
  const globalClusters = sets.flatMap((s) => [...s.globalClusters]);
  return [
    ...(instances.length > 0 ? [statement(['rds:DescribeDBInstances'], instances)] : []),
    ...(clusters.length > 0 ? [statement(['rds:DescribeDBClusters'], clusters)] : []),
    ...(globalClusters.length > 0 ? [statement(['rds:DescribeGlobalClusters'], globalClusters)] : []),
  ];
}

/** Modify the instances and the clusters of `targets` (fencing moves them into a closed security group). */
export function modifyRds(targets: RdsTargets): PolicyStatement[] {
  return [
    ...(targets.instances.length > 0 ? [statement(['rds:ModifyDBInstance'], targets.instances)] : []),
    ...(targets.clusters.length > 0 ? [statement(['rds:ModifyDBCluster'], targets.clusters)] : []),
  ];
}

/**
 * Create `created` as replicas of `sources`: a cross-region read replica of an instance; a
 * secondary cluster in the sources' global databases and its instance (a half-made secondary is
 * removed by the workflow's cleanup, deleteCreatedRds). `settings` are the subnet, option
 * and parameter groups a create references. Then tagging the creates (only with the workflow's
 * tag).
 */
export function createRdsReplicas(
  created: RdsTargets,
  sources: RdsTargets,
  settings: readonly string[],
  workflow: WorkflowTagValue,
): PolicyStatement[] {
  const statements: PolicyStatement[] = [];
  if (created.instances.length > 0) {
    statements.push(
      statement(
        ['rds:CreateDBInstanceReadReplica'],
        [...created.instances, ...sources.instances, ...settings],
      ),
    );
  }
  if (created.clusters.length > 0) {
    statements.push(
      statement(['rds:CreateDBCluster'], [...created.clusters, ...sources.globalClusters, ...settings]),
      statement(['rds:CreateDBInstance'], [...created.clusterMembers, ...created.clusters, ...settings]),
    );
  }
  statements.push(
    new PolicyStatement({
      actions: ['rds:AddTagsToResource'],
      resources: [...created.allInstances, ...created.clusters],
      conditions: taggedRequest(workflow),
    }),
  );
  return statements;
}

/**
 * Delete what `workflow` created among `created` (only resources carrying its tag), and detach a
 * created secondary from the global databases of `sources` first.
 */
export function deleteCreatedRds(
  created: RdsTargets,
  sources: RdsTargets,
  workflow: WorkflowTagValue,
): PolicyStatement[] {
  return [
    new PolicyStatement({
      actions: ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
      resources: [...created.allInstances, ...created.clusters],
      conditions: taggedResource(workflow),
    }),
    ...(created.clusters.length > 0
      ? [statement(['rds:RemoveFromGlobalCluster'], [...sources.globalClusters, ...created.clusters])]
      : []),
  ];
}

/**
 * Promotion of exactly `replicas`, whatever a workflow's input holds: a Deny of promoting any other
 * read replica; for clusters the global switchover/failover of their global databases, which RDS
 * authorizes on the global cluster and on both member clusters (Service Authorization Reference:
 * resource types global-cluster and cluster, both required) — the DR secondary that is promoted
 * and the primary (`primaries`) that is demoted, in the primary region. Exactly the configured
 * members; without clusters, a Deny of any global switchover.
 */
export function promoteOnly(replicas: RdsTargets, primaries: RdsTargets): PolicyStatement[] {
  const globalActions = ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'];
  const statements = [
    new PolicyStatement({
      effect: Effect.DENY,
      actions: ['rds:PromoteReadReplica'],
      ...(replicas.instances.length > 0 ? { notResources: [...replicas.instances] } : { resources: ['*'] }),
    }),
  ];
  if (replicas.clusters.length === 0) {
    statements.push(new PolicyStatement({ effect: Effect.DENY, actions: globalActions, resources: ['*'] }));
    return statements;
  }
  const members = [...replicas.globalClusters, ...replicas.clusters, ...primaries.clusters];
  statements.push(
    new PolicyStatement({ actions: globalActions, resources: members }),
    new PolicyStatement({ effect: Effect.DENY, actions: globalActions, notResources: members }),
  );
  return statements;
}

/**
 * KMS grants for RDS creating and reading encrypted storage across regions on the caller's behalf
 * (as for a cross-region snapshot copy): RDS needs CreateGrant and DescribeKey from the caller,
 * nothing else (no Encrypt/Decrypt/GenerateDataKey), through RDS of `region` only.
 */
export function rdsKeyGrants(keys: readonly string[], region: string): PolicyStatement[] {
  return [
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
}

/** Adds `statements` to the role of `fn`. */
export function grantStatements(fn: LambdaFunction, statements: readonly PolicyStatement[]): void {
  for (const s of statements) fn.addToRolePolicy(s);
}
