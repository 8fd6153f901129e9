import { failoverDatabases } from '../../recovery.ts';
import type { TableBuilder } from './table.ts';

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
  const tag = { 'aws:RequestTag/lifeboat:workflow': 'failback' };
  const replicaOf = (identifier: string) => `${identifier.slice(0, 52)}-rp-1a2b3c`;
  for (const db of fdbs) {
    const inst = db.kind === 'instance';
    const replica = replicaOf(db.identifier);
    const cr = t.caller('dr', 'FailoverCreateReplicaRole', 'wf-create-replica').of(db.name);
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
    t.caller('dr', 'FailoverDeleteReplicaRole', 'wf-delete-replica')
      .of(db.name)
      .allow(
        inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
        t.rdsDatabase('primary', db, replica),
        "removes a failed failback's replica (tagged)",
        { 'aws:ResourceTag/lifeboat:workflow': 'failback' },
      );
  }
  t.caller('dr', 'FailoverDeleteReplicaRole').never(
    'rds:DeleteDBInstance',
    t.rds('primary', 'db', replicaOf(fdbs[0]!.identifier)),
    'failback deletes only its tagged replica',
    {},
  );
}
