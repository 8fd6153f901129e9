import { TLS, type Side, type TableBuilder } from './table.ts';

/** The restore workflow (both regions) with its task functions, and the restore test (primary). */
export function restoreRequests(t: TableBuilder): void {
  for (const side of ['primary', 'dr'] as const) {
    restoreWorkflow(t, side);
    restoreTasks(t, side);
  }
  restoreTest(t);
}

function restoreWorkflow(t: TableBuilder, side: Side): void {
  const { config } = t;
  const sm = t.caller(side, 'WorkflowsRestoreStateMachineRole', 'restore workflow');
  for (const fn of [
    'WorkflowsValidateInput',
    'WorkflowsResolveRestorePoint',
    'WorkflowsRestoreDump',
    'WorkflowsVerifyRestore',
    'WorkflowsDropCreatedDatabase',
    'WorkflowsFinishRestore',
  ]) {
    sm.allow('lambda:InvokeFunction', `{{${side}:${fn}}}`, `lambda:invoke ${fn}`);
  }
  t.publish(sm);
  const tag = {
    'aws:RequestTag/lifeboat:workflow': 'restore',
    'aws:TagKeys': ['lifeboat:workflow', 'lifeboat:created-by'],
  };
  for (const db of config.databases) {
    const inst = db.kind === 'instance';
    const target = t.rdsDatabase(side, db, `${db.identifier}-restored`);
    const c = sm.of(db.name);
    const fromSnapshot = inst ? 'rds:RestoreDBInstanceFromDBSnapshot' : 'rds:RestoreDBClusterFromSnapshot';
    c.allow(fromSnapshot, target, 'restore from a lifeboat snapshot, tagged', tag);
    c.allow(fromSnapshot, t.snapshotArn(side, db), 'the snapshot restored from', tag);
    c.allow(fromSnapshot, t.rds(side, 'subgrp', 'default-vpc'), 'the subnet group', tag);
    const pitr = inst ? 'rds:RestoreDBInstanceToPointInTime' : 'rds:RestoreDBClusterToPointInTime';
    const pitrSource = side === 'primary' ? db.identifier : (db.failover?.replicaIdentifier ?? db.identifier);
    c.allow(pitr, target, 'point-in-time restore, tagged', tag);
    c.allow(pitr, t.rdsDatabase(side, db, pitrSource), 'the point-in-time source', tag);
    c.allow('rds:AddTagsToResource', target, 'the create carries tags', tag);
    if (!inst) {
      c.allow(
        'rds:CreateDBInstance',
        t.rds(side, 'db', `${db.identifier}-restored-1`),
        "the restored cluster's instance",
        tag,
      );
    }
    c.allow(inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters', target, 'polls until available');
    c.allow(
      inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
      target,
      'cleanup of what it created (tagged)',
      { 'aws:ResourceTag/lifeboat:workflow': 'restore' },
    );
  }
  const keys =
    side === 'primary'
      ? [...new Set(config.databases.flatMap((db) => db.storageKmsKeyArn ?? []))]
      : ['{{dr:VaultKey}}', ...new Set(config.databases.flatMap((db) => db.drStorageKmsKeyArn ?? []))];
  for (const key of keys) {
    sm.allow(
      ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant'],
      key,
      "RDS uses the snapshot / source key on the caller's behalf",
      { ...t.via('rds', side), 'kms:GrantIsForAWSResource': 'true' },
    );
  }
  for (const zone of new Set(
    config.databases.flatMap((db) => (db.failover?.dns ? [db.failover.dns.hostedZoneId] : [])),
  )) {
    sm.allow('route53:ChangeResourceRecordSets', `arn:aws:route53:::hostedzone/${zone}`, 'optional cutover');
  }

  const never = t.caller(side, 'WorkflowsRestoreStateMachineRole');
  never.never(
    'rds:DeleteDBInstance',
    t.rds(side, 'db', 'production-db'),
    'restore deletes only what it tagged',
    { 'aws:ResourceTag/lifeboat:workflow': 'none' },
  );
  never.never(
    'rds:DeleteDBCluster',
    t.rds(side, 'cluster', 'production-cluster'),
    'restore deletes only what it tagged (untagged cluster)',
    {},
  );
  never.never(
    'rds:RestoreDBInstanceFromDBSnapshot',
    t.rds(side, 'db', 'untagged-target'),
    'restore creates only tagged resources',
    {},
  );
  never.never(
    'rds:RestoreDBInstanceFromDBSnapshot',
    t.rds(side, 'snapshot', 'someone-elses-snapshot'),
    'restore reads lifeboat snapshots only',
    { 'aws:RequestTag/lifeboat:workflow': 'restore' },
  );
  never.never(
    'sns:Publish',
    `arn:aws:sns:${t.regions[side]}:${t.account}:lifeboat-other-events`,
    "a workflow publishes to its own environment's topic only",
    TLS,
  );
}

/** The restore workflow's task functions. */
function restoreTasks(t: TableBuilder, side: Side): void {
  const resolve = t.caller(side, 'WorkflowsResolveRestorePointRole', 'wf-resolve-restore-point');
  const restoreDump = t.caller(side, 'WorkflowsRestoreDumpRole', 'wf-restore-dump');
  const verify = t.caller(side, 'WorkflowsVerifyRestoreRole', 'wf-verify-restore');
  const finish = t.caller(side, 'WorkflowsFinishRestoreRole', 'wf-finish-restore');
  t.logs(resolve, 'WorkflowsResolveRestorePointLogGroup');
  for (const db of t.config.databases) {
    t.repo(resolve.of(db.name), { catalogRead: true });
    resolve
      .of(db.name)
      .allow(
        db.kind === 'instance' ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        t.rdsDatabase(side, db, `${db.identifier}-restored`),
        'refuses an existing target',
      );
    const secret = side === 'primary' ? db.secretArn : db.drSecretArn;
    const key = side === 'primary' ? db.secretKmsKeyArn : db.drSecretKmsKeyArn;
    if (secret) {
      t.secret(verify.of(db.name), secret, key, 'connects to the restored database');
      t.secret(restoreDump.of(db.name), secret, key, 'connects to the target server');
    }
    t.repo(restoreDump.of(db.name), { catalogAppend: true, artifactRead: true });
    t.repo(finish.of(db.name), { catalogAppend: true });
  }
  for (const vpc of [resolve, restoreDump, verify, t.caller(side, 'WorkflowsDropCreatedDatabaseRole')]) {
    t.vpc(vpc);
  }
  t.appendOnly(finish);
  restoreDump.never(
    'kms:Decrypt',
    t.vaultKey(side),
    'the backup key decrypts only through its services (no direct kms:Decrypt of a dump)',
    {},
  );
}

/** The restore test (primary): a temporary isolated instance from the newest snapshot, checked, deleted. */
function restoreTest(t: TableBuilder): void {
  const { config } = t;
  if (!config.restoreTest) return;
  const sm = t.caller('primary', 'WorkflowsRestoreTestStateMachineRole', 'restore-test workflow');
  for (const fn of ['WorkflowsPlanRestoreTest', 'WorkflowsRecordRestoreTest', 'WorkflowsVerifyRestore']) {
    sm.allow('lambda:InvokeFunction', `{{primary:${fn}}}`, `lambda:invoke ${fn}`);
  }
  t.publish(sm);
  const tag = { 'aws:RequestTag/lifeboat:workflow': 'restore-test' };
  for (const db of config.databases) {
    const inst = db.kind === 'instance';
    const target = t.rdsDatabase('primary', db, `lifeboat-rt-${db.name}-abc123`);
    const c = sm.as('restore-test').of(db.name);
    const fromSnapshot = inst ? 'rds:RestoreDBInstanceFromDBSnapshot' : 'rds:RestoreDBClusterFromSnapshot';
    c.allow(fromSnapshot, target, 'temporary instance, tagged', tag);
    c.allow(fromSnapshot, t.snapshotArn('primary', db), 'the newest lifeboat snapshot', tag);
    c.allow(
      fromSnapshot,
      t.rds('primary', 'subgrp', config.restoreTest.subnetGroupName.toLowerCase()),
      'the isolated subnet group',
      tag,
    );
    c.allow('rds:AddTagsToResource', target, 'the create carries tags', tag);
    c.allow(
      inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
      target,
      'deletes its temporary resources',
      { 'aws:ResourceTag/lifeboat:workflow': 'restore-test' },
    );
    if (db.storageKmsKeyArn) {
      c.allow('kms:CreateGrant', db.storageKmsKeyArn, "RDS decrypts the snapshot on the caller's behalf", {
        ...t.via('rds', 'primary'),
        'kms:GrantIsForAWSResource': 'true',
      });
    }
    t.repo(t.caller('primary', 'WorkflowsPlanRestoreTestRole', 'wf-plan-restore-test').of(db.name), {
      catalogRead: true,
    });
    t.repo(t.caller('primary', 'WorkflowsRecordRestoreTestRole', 'wf-record-restore-test').of(db.name), {
      catalogAppend: true,
    });
    if (config.policies[db.policy]?.verification) {
      t.schedule(
        'primary',
        'states:StartExecution',
        '{{primary:WorkflowsRestoreTestStateMachine}}',
        db.name,
        'verification schedule → restore-test workflow',
      );
    }
  }
}
