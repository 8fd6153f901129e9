import type { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { WF_ENV } from '../../../functions/wf-common/env.ts';
import { FailoverWorkflow } from '../../../state-machines/failover.ts';
import type { Database } from '../../config/schema.ts';
import { failoverTargets, hostedZoneIds, regionalSecrets } from '../../recovery.ts';
import type { LifeboatFunction } from '../lifeboat-function.ts';
import type { ImportedNetwork } from '../logical-dump.ts';
import type { OperationsKey } from '../operations-key.ts';
import { grantCatalog, stateMachineProps, taskFunction, type WorkflowsBaseProps } from './common.ts';
import { describeRds, grantStatements, modifyRds, promoteOnly, RdsTargets } from './rds-grants.ts';
import { grantSecrets } from './secrets.ts';
import { hardenStateMachine } from './state-machine-role.ts';

/** A database with a `failover` block. */
export type FailoverDatabase = Database & { failover: NonNullable<Database['failover']> };

/** What the failover and failback workflows of the DR region share. */
export interface FailoverContext {
  readonly base: WorkflowsBaseProps;
  /** The databases that fail over (at least one). */
  readonly databases: readonly FailoverDatabase[];
  /** Their DR replicas (read replicas; secondary clusters with their global databases), DR region. */
  readonly replicas: RdsTargets;
  /** Their primaries, in the primary region. */
  readonly primaries: RdsTargets;
  /** The DR region's `workflowNetwork`, for the write check. */
  readonly network?: ImportedNetwork;
}

/** The failover targets of `databases` as RDS targets: their DR replicas and their primaries. */
export function failoverRdsTargets(
  scope: Construct,
  base: WorkflowsBaseProps,
  databases: readonly FailoverDatabase[],
): Pick<FailoverContext, 'replicas' | 'primaries'> {
  const { primaryRegion, drRegion } = base.config;
  return {
    replicas: new RdsTargets(
      scope,
      drRegion,
      databases.map((db) => ({
        kind: db.kind,
        identifier: db.failover.replicaIdentifier,
        globalClusterIdentifier: db.failover.globalClusterIdentifier,
      })),
    ),
    primaries: new RdsTargets(scope, primaryRegion, databases),
  };
}

export interface FailoverWorkflowProps extends FailoverContext {
  readonly lockTable: ITable;
  /** Encrypts the lock table. */
  readonly operationsKey: OperationsKey;
  /** How long the approval gate of an alarm-started failover waits. */
  readonly approvalTimeout?: Duration;
}

export interface FailoverTasks {
  readonly preflightFunction: LifeboatFunction;
  readonly fenceFunction: LifeboatFunction;
  readonly checkWritableFunction: LifeboatFunction;
  readonly verifyWriteFunction: LifeboatFunction;
  readonly recordFunction: LifeboatFunction;
}

/**
 * The failover workflow (flow 6): lock → preflight → approval (alarm-started) → fence the old
 * primary → promote the configured replica (or switch the global database over) → check writable
 * → DNS → verify a write → record. Built in two steps, its task functions (`failoverTasks`) and
 * then its state machine (`failoverStateMachine`), so that FailoverWorkflows keeps the order of
 * its constructs (functions first, then the workflows), which the dashboard's order follows.
 */
export function failoverTasks(scope: Construct, props: FailoverContext): FailoverTasks {
  const { base, databases, replicas, primaries } = props;
  const { config } = base;
  const targetsJson = JSON.stringify(failoverTargets(config));

  const preflightFunction = taskFunction(scope, 'Preflight', {
    entry: 'wf-failover-preflight/index.ts',
    description: 'failover: validates the request and checks the replica, the old primary and the lag',
    base,
    environment: { [WF_ENV.failoverTargets]: targetsJson },
  });
  grantStatements(preflightFunction, [
    ...describeRds(replicas, primaries),
    // CloudWatch metric reads have no resource-level permissions.
    new PolicyStatement({ actions: ['cloudwatch:GetMetricStatistics'], resources: ['*'] }),
  ]);

  const fenceFunction = taskFunction(scope, 'Fence', {
    entry: 'wf-fence/index.ts',
    description: 'failover: fences the old primary into a closed security group',
    base,
  });
  const fenced = databases.filter((db) => db.failover.fenceSecurityGroupId);
  grantStatements(fenceFunction, modifyRds(new RdsTargets(scope, config.primaryRegion, fenced)));

  const checkWritableFunction = taskFunction(scope, 'CheckWritable', {
    entry: 'wf-check-writable/index.ts',
    description: 'failover: whether the promoted replica accepts writes',
    base,
  });
  grantStatements(checkWritableFunction, describeRds(replicas));

  const verifyWriteFunction = taskFunction(scope, 'VerifyWrite', {
    entry: 'wf-verify-write/index.ts',
    description: 'failover: writes and reads back a row on the new primary',
    network: props.network,
    base,
  });
  grantSecrets(
    verifyWriteFunction.role!,
    regionalSecrets(config, 'dr').filter((s) => databases.some((db) => db.name === s.database)),
    config.drRegion,
  );

  const recordFunction = taskFunction(scope, 'RecordFailover', {
    entry: 'wf-record-failover/index.ts',
    description: 'failover: records RTO and RPO in the catalog',
    base,
  });
  grantCatalog(recordFunction, base.bucket, 'append');
  return { preflightFunction, fenceFunction, checkWritableFunction, verifyWriteFunction, recordFunction };
}

/** The failover state machine over `tasks`; it may promote exactly the configured replicas. */
export function failoverStateMachine(
  scope: Construct,
  tasks: FailoverTasks,
  props: FailoverWorkflowProps,
): FailoverWorkflow {
  const { base, replicas, primaries } = props;
  const { config } = base;
  const failover = new FailoverWorkflow(scope, 'Failover', {
    ...stateMachineProps(base),
    ...tasks,
    lockTable: props.lockTable,
    automaticFailover: config.automaticFailover,
    approvalTimeout: props.approvalTimeout,
    hostedZoneIds: hostedZoneIds(config),
  });
  hardenStateMachine(failover, { topic: base.notificationTopic });
  const stateMachine = failover.stateMachine;
  // The lock table is encrypted with the operations key: DynamoDB uses it on the workflow's behalf.
  stateMachine.addToRolePolicy(
    new PolicyStatement({
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*'],
      resources: [props.operationsKey.key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${config.drRegion}.amazonaws.com` } },
    }),
  );
  // Promotion only of the configured replicas, whatever the preflight result holds; docs/deploy.md
  // names the drill that proves the global switchover's grants in a real account.
  for (const s of promoteOnly(replicas, primaries)) stateMachine.addToRolePolicy(s);

  return failover;
}
