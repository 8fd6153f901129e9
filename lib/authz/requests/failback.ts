import { failoverDatabases } from '../../recovery.ts';
import type { TableBuilder } from './table.ts';
import {
  TAG,
  WORKFLOW_TAG_VALUE,
  failbackReplicaIdentifier,
} from '../../../functions/core/contracts/index.ts';

/** The failback workflow (DR region): a new replica in the recovered region, or its removal. */
export function failbackRequests(t: TableBuilder): void {
  const fdbs = failoverDatabases(t.config);
  if (fdbs.length === 0) return;
  const { config } = t;
  const fb = t.caller('dr', 'FailoverFailbackStateMachineRole', 'failback workflow');
  for (const fn of [
    'FailoverPlanFailback',
    'FailoverCreateReplica',
    'FailoverDescribeReplica',
    'FailoverDeleteReplica',
  ]) {
    fb.allow('lambda:InvokeFunction', `{{dr:${fn}}}`, `lambda:invoke ${fn}`);
  }
  t.publish(fb);
  const tag = { [`aws:RequestTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.failback };
  const created = { [`aws:ResourceTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.failback };
  const plan = t.fn('dr', 'FailoverPlanFailbackRole', 'wf-plan-failback');
  const create = t.fn('dr', 'FailoverCreateReplicaRole', 'wf-create-replica');
  const describe = t.fn('dr', 'FailoverDescribeReplicaRole', 'wf-describe-replica');
  const remove = t.fn('dr', 'FailoverDeleteReplicaRole', 'wf-delete-replica');
  const replicaOf = (identifier: string) => failbackReplicaIdentifier(identifier, 'failback-execution');
  for (const db of fdbs) {
    const inst = db.kind === 'instance';
    const replica = replicaOf(db.identifier);
    const cr = create.of(db.name);
    const global = inst ? undefined : t.rds('dr', 'global-cluster', db.failover.globalClusterIdentifier!);
    // wf-plan-failback: the DR side (now the primary) is the source of the new replica.
    const source = t.rdsDatabase('dr', db, db.failover.replicaIdentifier);
    plan
      .of(db.name)
      .allow(
        inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        source,
        'the source (the promoted side)',
      );
    if (global) plan.of(db.name).allow('rds:DescribeGlobalClusters', global, 'the global database');
    // The replica (an Aurora secondary: its cluster and its instance) in the recovered region.
    const newReplica = t.rdsDatabase('primary', db, replica);
    const instance = t.rds('primary', 'db', inst ? replica : `${replica}-1`);
    cr.allow('rds:DescribeDBInstances', instance, 'finds a replica an earlier attempt created');
    if (!inst) cr.allow('rds:DescribeDBClusters', newReplica, 'finds a cluster an earlier attempt created');
    describe.of(db.name).allow('rds:DescribeDBInstances', instance, "the new replica's status");
    if (!inst) describe.of(db.name).allow('rds:DescribeDBClusters', newReplica, "the new secondary's status");
    if (inst) {
      cr.allow(
        'rds:CreateDBInstanceReadReplica',
        t.rds('primary', 'db', replica),
        'the new replica in the recovered region',
        tag,
      );
      cr.allow(
        'rds:CreateDBInstanceReadReplica',
        t.rds('dr', 'db', db.failover.replicaIdentifier),
        'its source, the promoted database',
        tag,
      );
    } else {
      cr.allow('rds:CreateDBCluster', t.rds('primary', 'cluster', replica), 'the new secondary cluster', tag);
      cr.allow(
        'rds:CreateDBCluster',
        t.rds('dr', 'global-cluster', db.failover.globalClusterIdentifier!),
        'joins the global database',
        tag,
      );
      cr.allow(
        'rds:CreateDBInstance',
        t.rds('primary', 'db', `${replica}-1`),
        "the secondary's instance",
        tag,
      );
    }
    cr.allow('rds:AddTagsToResource', t.rdsDatabase('primary', db, replica), 'the create carries tags', tag);
    const grant = { 'kms:GrantIsForAWSResource': 'true' };
    if (config.failback?.kmsKeyArn) {
      cr.allow(
        'kms:CreateGrant',
        config.failback.kmsKeyArn,
        'RDS encrypts the new replica with the failback key',
        { ...t.via('rds', 'primary'), ...grant },
      );
    }
    if (db.drStorageKmsKeyArn) {
      cr.allow('kms:CreateGrant', db.drStorageKmsKeyArn, 'RDS reads the encrypted source across regions', {
        ...t.via('rds', 'dr'),
        ...grant,
      });
    }
    const rm = remove.of(db.name);
    rm.allow(
      inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
      newReplica,
      "removes a failed failback's replica (tagged)",
      created,
    );
    rm.allow('rds:DescribeDBInstances', instance, 'finds the planned replica and reads its tags');
    if (!inst)
      rm.allow('rds:DescribeDBClusters', newReplica, 'finds the planned secondary and reads its tags');
    if (global) {
      rm.allow('rds:DeleteDBInstance', instance, "removes the secondary's instance (tagged)", created);
      rm.allow(['rds:RemoveFromGlobalCluster'], global, 'detaches the secondary from the global database');
      rm.allow('rds:RemoveFromGlobalCluster', newReplica, 'the secondary it detaches');
    }
  }
  // The create leaves a half-made secondary to the workflow's cleanup: it deletes nothing.
  t.caller('dr', 'FailoverCreateReplicaRole').never(
    'rds:DeleteDBCluster',
    t.rds('primary', 'cluster', replicaOf(fdbs[0]!.identifier)),
    'the create deletes nothing, not even the secondary it tagged',
    created,
  );
  t.caller('dr', 'FailoverDeleteReplicaRole').never(
    'rds:DeleteDBInstance',
    t.rds('primary', 'db', replicaOf(fdbs[0]!.identifier)),
    'failback deletes only its tagged replica',
    {},
  );
}
