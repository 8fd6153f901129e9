import type { Construct } from 'constructs';
import { WF_ENV } from '../../../functions/wf-common/env.ts';
import { REPLICA_ENV } from '../../../functions/wf-create-replica/env.ts';
import { FailbackWorkflow } from '../../../state-machines/failback.ts';
import { failoverTargets } from '../../recovery.ts';
import type { LifeboatFunction } from '../lifeboat-function.ts';
import { stateMachineProps, taskFunction } from './common.ts';
import type { FailoverContext } from './failover.ts';
import { acknowledgeWildcards, rdsResources } from './nag.ts';
import {
  createRdsReplicas,
  deleteCreatedRds,
  describeRds,
  grantStatements,
  rdsArnIn,
  rdsKeyGrants,
  RdsTargets,
} from './rds-grants.ts';
import { hardenStateMachine } from './state-machine-role.ts';
import { WORKFLOW_TAG_VALUE, failbackReplicaPattern } from '../../../functions/core/contracts/index.ts';

export interface FailbackTasks {
  readonly planFunction: LifeboatFunction;
  readonly createReplicaFunction: LifeboatFunction;
  readonly describeReplicaFunction: LifeboatFunction;
  readonly deleteReplicaFunction: LifeboatFunction;
}

/**
 * The failback workflow (flow 6, re-protection): plan → create a new replica of the promoted
 * database in the recovered (primary) region → wait until available; a failed failback removes
 * only the replica it created (tagged `lifeboat:workflow=failback`). Its task functions, then its
 * state machine (`failbackStateMachine`), as for the failover.
 */
export function failbackTasks(scope: Construct, props: FailoverContext): FailbackTasks {
  const { base, databases, replicas } = props;
  const { config } = base;
  const primary = config.primaryRegion;

  const planFunction = taskFunction(scope, 'PlanFailback', {
    entry: 'wf-plan-failback/index.ts',
    description: 'failback: plans a new replica in the recovered region',
    base,
    environment: { [WF_ENV.failoverTargets]: JSON.stringify(failoverTargets(config)) },
  });
  grantStatements(planFunction, describeRds(replicas));

  // The replica a failback creates is named `<primary identifier (52)>-rp-<hash>` (planFailback)
  // in the primary region; an Aurora secondary's instance is named like its cluster.
  const created = new RdsTargets(
    scope,
    primary,
    databases.map((db) => ({ kind: db.kind, identifier: failbackReplicaPattern(db.identifier) })),
    { members: true },
  );
  const failback = config.failback;
  const createReplicaFunction = taskFunction(scope, 'CreateReplica', {
    entry: 'wf-create-replica/index.ts',
    description: 'failback: creates the new replica in the recovered region',
    base,
    environment: {
      ...(failback?.subnetGroupName ? { [REPLICA_ENV.subnetGroup]: failback.subnetGroupName } : {}),
      ...(failback?.kmsKeyArn ? { [REPLICA_ENV.kmsKeyArn]: failback.kmsKeyArn } : {}),
      ...(failback?.instanceClass ? { [REPLICA_ENV.instanceClass]: failback.instanceClass } : {}),
    },
  });
  // Settings a create names (or takes by default) in the recovered region: subnet group, option
  // and parameter groups. Referencing them changes nothing about them.
  const settings = (['subgrp', 'og', 'pg', 'cluster-pg'] as const).map((t) =>
    rdsArnIn(scope, primary, t, '*'),
  );
  // RDS encrypts the new replica with the failback key, and reads the source (the promoted
  // database, encrypted with its DR storage key) across regions, on the caller's behalf.
  const sourceKeys = [...new Set(databases.flatMap((db) => db.drStorageKmsKeyArn ?? []))];
  grantStatements(createReplicaFunction, [
    // The creates carry tags (lifeboat:workflow=failback, lifeboat:created-by): tagging only that.
    ...createRdsReplicas(created, replicas, settings, WORKFLOW_TAG_VALUE.failback),
    ...(failback?.kmsKeyArn ? rdsKeyGrants([failback.kmsKeyArn], primary) : []),
    ...(sourceKeys.length > 0 ? rdsKeyGrants(sourceKeys, config.drRegion) : []),
    // A create whose answer was lost finds its database on the retry: reading its tags tells
    // whether this execution made it (wf-create-replica).
    ...describeRds(created),
  ]);

  const describeReplicaFunction = taskFunction(scope, 'DescribeReplica', {
    entry: 'wf-describe-replica/index.ts',
    description: 'failback: status of the new replica',
    base,
  });
  grantStatements(describeReplicaFunction, describeRds(created));

  const deleteReplicaFunction = taskFunction(scope, 'DeleteReplica', {
    entry: 'wf-delete-replica/index.ts',
    description: 'failback: removes the replica a failed failback created',
    base,
  });
  grantStatements(deleteReplicaFunction, [
    ...deleteCreatedRds(created, replicas, WORKFLOW_TAG_VALUE.failback),
    // The cleanup looks the planned replica up by name and reads its tags before deleting it.
    ...describeRds(created),
  ]);
  for (const fn of [createReplicaFunction, describeReplicaFunction, deleteReplicaFunction]) {
    acknowledgeWildcards(
      fn.role!,
      rdsResources,
      "The failback replica is named <primary identifier>-rp-<hash of the execution> at run time; creates reference the recovered region's subnet, option and parameter groups; deletes need the failback tag.",
    );
  }

  return { planFunction, createReplicaFunction, describeReplicaFunction, deleteReplicaFunction };
}

/** The failback state machine over `tasks`. */
export function failbackStateMachine(
  scope: Construct,
  tasks: FailbackTasks,
  props: FailoverContext,
): FailbackWorkflow {
  const workflow = new FailbackWorkflow(scope, 'Failback', { ...stateMachineProps(props.base), ...tasks });
  hardenStateMachine(workflow, { topic: props.base.notificationTopic });
  return workflow;
}
