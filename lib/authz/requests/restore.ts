import { type Caller, type Context, TLS, type Side, type TableBuilder } from './table.ts';
import { TAG, WORKFLOW_TAG_VALUE } from '../../../functions/core/contracts/index.ts';

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
    'WorkflowsArchivedDump',
    'WorkflowsVerifyRestore',
    'WorkflowsDropCreatedDatabase',
    'WorkflowsFinishRestore',
  ]) {
    sm.allow('lambda:InvokeFunction', `{{${side}:${fn}}}`, `lambda:invoke ${fn}`);
  }
  t.publish(sm);
  const tag = {
    [`aws:RequestTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.restore,
    'aws:TagKeys': [TAG.workflow, TAG.createdBy],
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
    c.allow(inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters', target, 'polls until available');
    const created = { [`aws:ResourceTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.restore };
    c.allow(
      inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
      target,
      'cleanup of what it created (tagged)',
      created,
    );
    if (!inst) clusterInstance(c, t.rds(side, 'db', `${db.identifier}-restored-1`), tag, created);
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
  if (config.databases.some((db) => db.failover?.dns)) {
    sm.allow('route53:GetChange', 'arn:aws:route53:::change/C0123456789', 'waits for the cutover');
  }

  const never = t.caller(side, 'WorkflowsRestoreStateMachineRole');
  never.never(
    'rds:DeleteDBInstance',
    t.rds(side, 'db', 'production-db'),
    'restore deletes only what it tagged',
    { [`aws:ResourceTag/${TAG.workflow}`]: 'none' },
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
    { [`aws:RequestTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.restore },
  );
  never.never(
    'sns:Publish',
    `arn:aws:sns:${t.regions[side]}:${t.account}:lifeboat-other-events`,
    "a workflow publishes to its own environment's topic only",
    TLS,
  );
}

/** A restored cluster's instance: created (tagged), polled until available, deleted in cleanup. */
function clusterInstance(c: Caller, instance: string, tag: Context, created: Context): void {
  c.allow('rds:CreateDBInstance', instance, "the restored cluster's instance", tag);
  c.allow('rds:AddTagsToResource', instance, "the instance's create carries tags", tag);
  c.allow('rds:DescribeDBInstances', instance, 'polls the instance until available');
  c.allow('rds:DeleteDBInstance', instance, 'cleanup of the instance it created (tagged)', created);
}

/** The restore workflow's task functions (the restore test's VerifyRestore among them). */
function restoreTasks(t: TableBuilder, side: Side): void {
  const resolve = t.fn(side, 'WorkflowsResolveRestorePointRole', 'wf-resolve-restore-point');
  const restoreDump = t.fn(side, 'WorkflowsRestoreDumpRole', 'wf-restore-dump');
  const verify = t.fn(side, 'WorkflowsVerifyRestoreRole', 'wf-verify-restore');
  const drop = t.fn(side, 'WorkflowsDropCreatedDatabaseRole', 'wf-drop-restored-database');
  const finish = t.fn(side, 'WorkflowsFinishRestoreRole', 'wf-finish-restore');
  t.fn(side, 'WorkflowsValidateInputRole', 'wf-validate-restore'); // validates its input: no AWS call
  const archived = t.fn(side, 'WorkflowsArchivedDumpRole', 'wf-archived-dump');
  for (const db of t.config.databases) {
    const inst = db.kind === 'instance';
    const target = `${db.identifier}-restored`;
    // The server a dump is restored onto (a restore of a cluster's dump: its instance).
    const server = t.rds(side, 'db', inst ? target : `${target}-1`);
    t.repo(resolve.of(db.name), { catalogRead: true });
    resolve
      .of(db.name)
      .allow(
        inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        t.rdsDatabase(side, db, target),
        'refuses an existing target',
      );
    if (!inst)
      resolve.of(db.name).allow('rds:DescribeDBInstances', server, "refuses an existing target's instance");
    const secret = side === 'primary' ? db.secretArn : db.drSecretArn;
    const key = side === 'primary' ? db.secretKmsKeyArn : db.drSecretKmsKeyArn;
    if (secret) {
      t.secret(verify.of(db.name), secret, key, 'connects to the restored database');
      t.secret(restoreDump.of(db.name), secret, key, 'connects to the target server');
      t.secret(resolve.of(db.name), secret, key, 'refuses a database that exists on the target server');
      t.secret(drop.of(db.name), secret, key, 'connects to the target server');
    }
    for (const c of [restoreDump, drop])
      c.of(db.name).allow('rds:DescribeDBInstances', server, "the target server's endpoint");
    t.repo(restoreDump.of(db.name), { catalogAppend: true, artifactRead: true });
    t.repo(verify.of(db.name), { catalogRead: true });
    t.repo(finish.of(db.name), { catalogAppend: true });
    // An archived dump: its manifest, each artifact's tier (HeadObject is s3:GetObject), restores.
    t.repo(archived.of(db.name), { catalogRead: true, artifactRead: true });
    for (const key of [
      t.artifactObject(side, db.name),
      t.artifactObject(side, db.name).replace(/\.dump$/, '.roles.json'),
    ])
      archived
        .of(db.name)
        .allow('s3:RestoreObject', key, 'asks S3 for a readable copy of an archived artifact', TLS);
    archived.never(
      's3:RestoreObject',
      t.catalogObject(side, db.name),
      'restores are asked for artifacts only (the catalog is never archived)',
      TLS,
    );
    restoreDump.never(
      's3:RestoreObject',
      t.artifactObject(side, db.name),
      'only the archived-dump step asks for S3 restores',
      TLS,
    );
  }
  for (const vpc of [resolve, restoreDump, verify, drop]) {
    t.vpc(t.caller(side, vpc.principal));
  }
  t.appendOnly(finish);
  restoreDump.never(
    'kms:Decrypt',
    t.vaultKey(side),
    'the backup key decrypts only through its services (no direct kms:Decrypt of a dump)',
    {},
  );
  // S3 restores of archived objects: of artifacts only, by the dump restore only.
  restoreDump.never(
    's3:RestoreObject',
    t.catalogObject(side, 'orders'),
    'an archive restore is of artifacts/ only (the catalog never leaves the standard tier)',
    TLS,
  );
  restoreDump.never(
    's3:RestoreObject',
    `${t.bucketArn(side)}/reports/x.html`,
    'an archive restore is of artifacts/ only',
    TLS,
  );
  for (const other of [resolve, verify, finish]) {
    other.never(
      's3:RestoreObject',
      t.artifactObject(side, 'orders'),
      'only the dump restore asks S3 to restore an archived artifact',
      TLS,
    );
  }
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
  const tag = { [`aws:RequestTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.restoreTest };
  const plan = t.fn('primary', 'WorkflowsPlanRestoreTestRole', 'wf-plan-restore-test');
  const record = t.fn('primary', 'WorkflowsRecordRestoreTestRole', 'wf-record-restore-test');
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
    const created = { [`aws:ResourceTag/${TAG.workflow}`]: WORKFLOW_TAG_VALUE.restoreTest };
    c.allow(
      inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
      target,
      'deletes its temporary resources',
      created,
    );
    if (inst) c.allow('rds:DescribeDBInstances', target, 'polls until available');
    else clusterInstance(c, t.rds('primary', 'db', `lifeboat-rt-${db.name}-abc123-1`), tag, created);
    if (db.storageKmsKeyArn) {
      const viaRds = t.via('rds', 'primary');
      c.allow('kms:CreateGrant', db.storageKmsKeyArn, "RDS decrypts the snapshot on the caller's behalf", {
        ...viaRds,
        'kms:GrantIsForAWSResource': 'true',
      });
      c.allow('kms:DescribeKey', db.storageKmsKeyArn, "RDS checks the snapshot's key", viaRds);
    }
    t.repo(plan.of(db.name), { catalogRead: true });
    t.repo(record.of(db.name), { catalogAppend: true });
    if (db.policySettings.verification) {
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
