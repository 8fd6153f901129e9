import { aliasArn, backupKeyAlias } from '../../naming.ts';
import { TLS, type TableBuilder } from './table.ts';

/** Snapshots (take, copy to the DR region), logical dumps (Lambda or Fargate), S3 replication. */
export function backupRequests(t: TableBuilder): void {
  takeSnapshot(t);
  copySnapshot(t);
  dumps(t);
  replication(t);
  scheduleDeadLetters(t);
}

/** Every region has schedules (the DR region's prune among them): one undeliverable goes to the queue. */
function scheduleDeadLetters(t: TableBuilder): void {
  for (const side of ['primary', 'dr'] as const) {
    const scheduler = t.caller(side, 'SchedulesRole', 'Scheduler');
    scheduler.allow(
      'sqs:SendMessage',
      `{{${side}:DeadLetterQueue}}`,
      'an undeliverable schedule goes to the dead-letter queue',
      TLS,
    );
    // An SQS producer needs the key's Decrypt too (SQS checks the data key it reuses).
    scheduler.allow(
      ['kms:GenerateDataKey', 'kms:Decrypt'],
      t.opsKey(side),
      'the dead-letter queue is KMS-encrypted',
      t.via('sqs', side),
    );
  }
}

function takeSnapshot(t: TableBuilder): void {
  const ts = t.fn('primary', 'TakeSnapshotFunctionRole', 'take-snapshot');
  t.deadLetter(ts, 'DeadLetterQueue');
  ts.allow('rds:DescribeAccountAttributes', '*', 'reads the manual snapshot quota');
  for (const db of t.config.databases) {
    const inst = db.kind === 'instance';
    const source = t.rdsDatabase('primary', db, db.identifier);
    const snap = t.snapshotArn('primary', db);
    const c = ts.of(db.name);
    c.allow(
      inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
      source,
      'checks the source is available',
    );
    const create = inst ? 'rds:CreateDBSnapshot' : 'rds:CreateDBClusterSnapshot';
    c.allow(create, source, 'snapshots the source');
    c.allow(create, snap, 'the new snapshot (deterministic name)');
    c.allow('rds:AddTagsToResource', snap, 'the create carries tags');
    c.allow(
      inst ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots',
      snap,
      'finds an existing snapshot of the slot',
    );
    t.repo(c, { catalogAppend: true });
    t.schedule(
      'primary',
      'lambda:InvokeFunction',
      '{{primary:TakeSnapshotFunction}}',
      db.name,
      'snapshot schedule → take-snapshot',
    );
  }
  t.appendOnly(ts);
}

/** SQS event source → cross-region copy with the DR key → catalog in both regions. */
function copySnapshot(t: TableBuilder): void {
  const { environment, account, regions } = t;
  const cs = t.fn('primary', 'CopySnapshotFunctionRole', 'copy-snapshot');
  cs.allow(
    ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'],
    '{{primary:CopySnapshotQueue}}',
    'its SQS event source polls the copy queue with its role',
    TLS,
  );
  cs.allow('kms:Decrypt', t.opsKey('primary'), 'the copy queue is KMS-encrypted', t.via('sqs', 'primary'));
  const drKeyAlias = aliasArn({ environment, account, region: regions.dr }, backupKeyAlias(environment));
  for (const db of t.config.databases) {
    const inst = db.kind === 'instance';
    const copy = inst ? 'rds:CopyDBSnapshot' : 'rds:CopyDBClusterSnapshot';
    const c = cs.of(db.name);
    c.allow(copy, t.snapshotArn('primary', db), 'the source snapshot');
    c.allow(copy, t.snapshotArn('dr', db), 'the DR copy (same name)');
    c.allow('rds:AddTagsToResource', t.snapshotArn('dr', db), 'the copy carries the tags');
    c.allow(
      inst ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots',
      '*',
      'counts copies in flight in the DR region',
    );
    const grant = { 'kms:GrantIsForAWSResource': 'true' };
    if (db.storageKmsKeyArn) {
      c.allow(
        ['kms:CreateGrant', 'kms:DescribeKey'],
        db.storageKmsKeyArn,
        "RDS reads the encrypted source snapshot on the caller's behalf",
        { ...t.via('rds', 'primary'), ...grant },
      );
    }
    c.allow(
      ['kms:CreateGrant', 'kms:DescribeKey'],
      '{{dr:VaultKey}}',
      `RDS encrypts the copy with the DR key (${drKeyAlias})`,
      { ...t.via('rds', 'dr'), ...grant, 'kms:ResourceAliases': [backupKeyAlias(environment)] },
    );
    t.repo(c, { catalogAppend: true });
  }
  if (t.config.databases.length > 0) {
    const rule = '{{primary:CopySnapshotSnapshotEvents}}';
    const snapshotEvents = 'EventBridge rule (snapshot events)';
    t.delivery(
      'primary',
      'events.amazonaws.com',
      { queue: 'CopySnapshotQueue' },
      rule,
      `${snapshotEvents} → the copy queue`,
    );
    t.delivery(
      'primary',
      'events.amazonaws.com',
      { queue: 'CopySnapshotDeadLetterQueue' },
      rule,
      `${snapshotEvents} → its dead-letter queue`,
    );
  }
  t.appendOnly(cs);
}

/** Logical dumps: a Lambda function per database, or a Fargate task (and its workflow) for `large` ones. */
function dumps(t: TableBuilder): void {
  const { config } = t;
  for (const db of config.databases) {
    const policy = db.policySettings;
    if (!policy.dump) continue;
    const principal = db.large ? `DumpTask${db.name}JobTaskDefinitionTaskRole` : `Dump${db.name}Role`;
    const dump = t.caller(
      'primary',
      principal,
      db.large ? `dump task of ${db.name}` : `logical-dump of ${db.name}`,
    );
    if (!db.large) {
      t.logs(dump, `Dump${db.name}LogGroup`);
      t.deadLetter(dump, 'DeadLetterQueue');
      // In the database's network (whatever the workflow network).
      t.vpc(dump, true);
    }
    const c = dump.of(db.name);
    t.secret(c, db.secretArn, db.secretKmsKeyArn, 'reads the database credentials');
    t.repo(c, { catalogAppend: true, artifactWrite: true });
    if (t.slackSecret('primary')) t.publish(dump);
    t.appendOnly(dump);
    if (!db.large) {
      t.schedule(
        'primary',
        'lambda:InvokeFunction',
        `{{primary:Dump${db.name}Function}}`,
        db.name,
        'dump schedule → logical-dump',
      );
      continue;
    }
    const job = `DumpTask${db.name}Job`;
    t.schedule(
      'primary',
      'states:StartExecution',
      `{{primary:${job}StateMachine}}`,
      db.name,
      'dump schedule → Fargate dump workflow',
    );
    t.fargateJob(job, db.name, 'dump task');
  }
}

/** S3 replication → the DR bucket, encrypted with the DR key. */
function replication(t: TableBuilder): void {
  const rr = t.caller('primary', 'VaultReplicationRole');
  const object = (side: 'primary' | 'dr') => t.artifactObject(side, 'db');
  rr.allow('s3:GetObjectVersionForReplication', object('primary'), 'S3 replication reads the source version');
  rr.allow(
    'kms:Decrypt',
    '{{primary:VaultKey}}',
    'S3 replication decrypts the source',
    t.via('s3', 'primary'),
  );
  rr.allow('s3:ReplicateObject', object('dr'), 'S3 replication writes the DR copy');
  rr.allow('kms:Encrypt', '{{dr:VaultKey}}', 'S3 replication encrypts the DR copy with the DR key', {
    ...t.via('s3', 'dr'),
    'kms:ResourceAliases': [backupKeyAlias(t.environment)],
  });
}
