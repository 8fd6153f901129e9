import { artifactKey, manifestKey } from '../../functions/core/catalog.ts';
import { snapshotIdentifier } from '../../functions/core/snapshot-naming.ts';
import type { Database, EnvironmentConfig } from '../config/schema.ts';
import {
  aliasArn,
  backupBucketName,
  backupKeyAlias,
  lockTableName,
  replicaLagCriticalAlarmName,
} from '../naming.ts';
import { failoverDatabases } from '../recovery.ts';

/**
 * Every AWS request the deployed system makes — by its functions, Fargate tasks and workflows,
 * and by AWS services on its behalf (alarm → topic, rule → queue/function, SNS → notifier,
 * replication → DR bucket and key, CloudWatch Logs → its key) — as an authorization request:
 * who asks, which IAM action, on which resource ARN (as the code builds it), with which context
 * keys. The same table is evaluated offline against the synthesized policies (test/authz) and
 * asked of AWS itself after deploy (`lifeboat doctor`).
 *
 * Enumerated from the code paths of each handler and each workflow state (not from mock
 * histories): a request is listed once per distinct (principal, action, resource shape).
 * Resources of the stacks are written `{{primary:LogicalIdPrefix}}` / `{{dr:...}}` (CDK's
 * logical id without its hash); `{{...#stream}}` is a log stream of a log group.
 */
export interface AuthzRequest {
  /** The stack the principal (role or the service's source) belongs to. */
  readonly stack: 'primary' | 'dr';
  /** A role's logical-id prefix in that stack, or an AWS service principal (`*.amazonaws.com`). */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | string[]>>;
  /** The database it concerns, when one does (doctor groups findings by it). */
  readonly database?: string;
  /** What makes the request: handler, workflow state, or service path. */
  readonly why: string;
}

export interface AuthzTable {
  readonly expected: readonly AuthzRequest[];
  /** Requests that must never be allowed. */
  readonly forbidden: readonly AuthzRequest[];
}

const SLOT = new Date('2026-11-23T02:00:00Z');
const isService = (p: string) => p.endsWith('.amazonaws.com');
export { isService };

export function authzTable(environment: string, config: EnvironmentConfig): AuthzTable {
  const account = config.account;
  const regions = { primary: config.primaryRegion, dr: config.drRegion } as const;
  const expected: AuthzRequest[] = [];
  const forbidden: AuthzRequest[] = [];
  type Side = 'primary' | 'dr';
  const bucket = (side: Side) => backupBucketName({ environment, account, region: regions[side] });
  const bucketArn = (side: Side) => `arn:aws:s3:::${bucket(side)}`;
  const rds = (side: Side, type: string, name: string) =>
    `arn:aws:rds:${type === 'global-cluster' ? '' : regions[side]}:${account}:${type}:${name}`;
  const slack = {
    primary: config.notifications.slackWebhookSecretArn,
    dr: config.notifications.drSlackWebhookSecretArn,
  };
  const topic = (side: Side) =>
    slack[side] ? `{{${side}:NotificationsTopic}}` : `{{${side}:MonitoringAlarmTopic}}`;
  const opsKey = (side: Side) => `{{${side}:OperationsKey}}`;
  const vaultKey = (side: Side) => `{{${side}:VaultKey}}`;
  const tls = { 'aws:SecureTransport': 'true' };

  const add = (r: AuthzRequest) => expected.push(r);
  const never = (r: AuthzRequest) => forbidden.push(r);
  const via = (service: string, side: Side) => ({
    'kms:ViaService': `${service}.${regions[side]}.amazonaws.com`,
  });

  /** Writes to its own log group (every Lambda function, Fargate task, workflow log delivery). */
  const logs = (side: Side, principal: string, logGroup: string, why: string) =>
    add({
      stack: side,
      principal,
      action: 'logs:PutLogEvents',
      resource: `{{${side}:${logGroup}#stream}}`,
      why: `${why}: writes its own log group`,
    });

  /** S3 repository use with SSE-KMS (functions/core/repository/s3.ts). */
  const repo = (
    side: Side,
    principal: string,
    db: string,
    access: {
      catalogRead?: boolean;
      catalogAppend?: boolean;
      artifactRead?: boolean;
      artifactWrite?: boolean;
    },
    why: string,
  ) => {
    const catalog = `${bucketArn(side)}/${manifestKey(db, 'x').replace(/manifest\.json$/, 'records/r.json')}`;
    const artifact = `${bucketArn(side)}/${artifactKey(db, '20261123T020000Z-abcd')}`;
    const s3kms = (action: string, object: string) =>
      add({
        stack: side,
        principal,
        action,
        resource: vaultKey(side),
        context: { ...via('s3', side), 'kms:EncryptionContext:aws:s3:arn': object },
        database: db,
        why: `${why}: SSE-KMS of ${object.includes('/catalog/') ? 'a catalog record' : 'an artifact'}`,
      });
    add({
      stack: side,
      principal,
      action: 's3:ListBucket',
      resource: bucketArn(side),
      context: { ...tls, 's3:prefix': `catalog/${db}/` },
      database: db,
      why: `${why}: lists the catalog`,
    });
    if (access.catalogRead || access.catalogAppend) {
      add({
        stack: side,
        principal,
        action: 's3:GetObject',
        resource: catalog,
        context: tls,
        database: db,
        why: `${why}: reads (and heads) catalog records`,
      });
      s3kms('kms:Decrypt', catalog);
    }
    if (access.catalogAppend) {
      add({
        stack: side,
        principal,
        action: 's3:PutObject',
        resource: catalog,
        context: tls,
        database: db,
        why: `${why}: writes a catalog record once`,
      });
      s3kms('kms:GenerateDataKey', catalog);
    }
    if (access.artifactRead) {
      add({
        stack: side,
        principal,
        action: 's3:GetObject',
        resource: artifact,
        context: tls,
        database: db,
        why: `${why}: reads a dump`,
      });
      s3kms('kms:Decrypt', artifact);
    }
    if (access.artifactWrite) {
      for (const action of ['s3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject']) {
        add({
          stack: side,
          principal,
          action,
          resource: artifact,
          context: tls,
          database: db,
          why: `${why}: streams a dump (multipart), aborts or removes a partial one`,
        });
      }
      s3kms('kms:GenerateDataKey', artifact);
      s3kms('kms:Decrypt', artifact);
    }
  };

  /** Publishing an event to the region's encrypted topic. */
  const publish = (side: Side, principal: string, why: string) => {
    add({
      stack: side,
      principal,
      action: 'sns:Publish',
      resource: topic(side),
      context: tls,
      why: `${why}: publishes an event`,
    });
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      add({
        stack: side,
        principal,
        action,
        resource: opsKey(side),
        context: via('sns', side),
        why: `${why}: the topic is KMS-encrypted`,
      });
    }
  };

  /** Lambda sends a failed asynchronous event to the function's encrypted dead-letter queue with its role. */
  const deadLetter = (side: Side, principal: string, queue: string, why: string) => {
    add({
      stack: side,
      principal,
      action: 'sqs:SendMessage',
      resource: `{{${side}:${queue}}}`,
      context: tls,
      why: `${why}: Lambda sends a failed event to the dead-letter queue`,
    });
    for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
      add({
        stack: side,
        principal,
        action,
        resource: opsKey(side),
        context: via('sqs', side),
        why: `${why}: the dead-letter queue is KMS-encrypted`,
      });
    }
  };

  const secret = (
    side: Side,
    principal: string,
    arn: string,
    key: string | undefined,
    db: string | undefined,
    why: string,
  ) => {
    add({
      stack: side,
      principal,
      action: 'secretsmanager:GetSecretValue',
      resource: arn,
      context: tls,
      ...(db ? { database: db } : {}),
      why,
    });
    if (key)
      add({
        stack: side,
        principal,
        action: 'kms:Decrypt',
        resource: key,
        context: via('secretsmanager', side),
        ...(db ? { database: db } : {}),
        why: `${why} (customer-managed secret key)`,
      });
  };

  const snapshotArn = (side: Side, db: Database) =>
    rds(
      side,
      db.kind === 'instance' ? 'snapshot' : 'cluster-snapshot',
      snapshotIdentifier(db.identifier, SLOT, db.kind),
    );

  // --- primary: snapshots ---------------------------------------------------------------------
  const p = 'primary' as const;
  const ts = 'TakeSnapshotFunctionRole';
  logs(p, ts, 'TakeSnapshotFunctionLogGroup', 'take-snapshot');
  deadLetter(p, ts, 'DeadLetterQueue', 'take-snapshot');
  add({
    stack: p,
    principal: ts,
    action: 'rds:DescribeAccountAttributes',
    resource: '*',
    why: 'take-snapshot: reads the manual snapshot quota',
  });
  for (const db of config.databases) {
    const inst = db.kind === 'instance';
    const source = rds(p, inst ? 'db' : 'cluster', db.identifier);
    const snap = snapshotArn(p, db);
    add({
      stack: p,
      principal: ts,
      action: inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
      resource: source,
      database: db.name,
      why: 'take-snapshot: checks the source is available',
    });
    add({
      stack: p,
      principal: ts,
      action: inst ? 'rds:CreateDBSnapshot' : 'rds:CreateDBClusterSnapshot',
      resource: source,
      database: db.name,
      why: 'take-snapshot: snapshots the source',
    });
    add({
      stack: p,
      principal: ts,
      action: inst ? 'rds:CreateDBSnapshot' : 'rds:CreateDBClusterSnapshot',
      resource: snap,
      database: db.name,
      why: 'take-snapshot: the new snapshot (deterministic name)',
    });
    add({
      stack: p,
      principal: ts,
      action: 'rds:AddTagsToResource',
      resource: snap,
      database: db.name,
      why: 'take-snapshot: the create carries tags',
    });
    add({
      stack: p,
      principal: ts,
      action: inst ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots',
      resource: snap,
      database: db.name,
      why: 'take-snapshot: finds an existing snapshot of the slot',
    });
    repo(p, ts, db.name, { catalogAppend: true }, 'take-snapshot');
  }

  // copy-snapshot: SQS event source → cross-region copy with the DR key → catalog in both regions
  const cs = 'CopySnapshotFunctionRole';
  logs(p, cs, 'CopySnapshotFunctionLogGroup', 'copy-snapshot');
  for (const action of [
    'sqs:ReceiveMessage',
    'sqs:DeleteMessage',
    'sqs:ChangeMessageVisibility',
    'sqs:GetQueueAttributes',
  ]) {
    add({
      stack: p,
      principal: cs,
      action,
      resource: '{{primary:CopySnapshotQueue}}',
      context: tls,
      why: 'copy-snapshot: its SQS event source polls the copy queue with its role',
    });
  }
  add({
    stack: p,
    principal: cs,
    action: 'kms:Decrypt',
    resource: opsKey(p),
    context: via('sqs', p),
    why: 'copy-snapshot: the copy queue is KMS-encrypted',
  });
  const drKeyAlias = aliasArn({ environment, account, region: regions.dr }, backupKeyAlias(environment));
  for (const db of config.databases) {
    const inst = db.kind === 'instance';
    const copy = inst ? 'rds:CopyDBSnapshot' : 'rds:CopyDBClusterSnapshot';
    add({
      stack: p,
      principal: cs,
      action: copy,
      resource: snapshotArn(p, db),
      database: db.name,
      why: 'copy-snapshot: the source snapshot',
    });
    add({
      stack: p,
      principal: cs,
      action: copy,
      resource: snapshotArn('dr', db),
      database: db.name,
      why: 'copy-snapshot: the DR copy (same name)',
    });
    add({
      stack: p,
      principal: cs,
      action: 'rds:AddTagsToResource',
      resource: snapshotArn('dr', db),
      database: db.name,
      why: 'copy-snapshot: the copy carries the tags',
    });
    add({
      stack: p,
      principal: cs,
      action: inst ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots',
      resource: '*',
      database: db.name,
      why: 'copy-snapshot: counts copies in flight in the DR region',
    });
    if (db.storageKmsKeyArn) {
      for (const action of ['kms:CreateGrant', 'kms:DescribeKey']) {
        add({
          stack: p,
          principal: cs,
          action,
          resource: db.storageKmsKeyArn,
          context: { ...via('rds', p), 'kms:GrantIsForAWSResource': 'true' },
          database: db.name,
          why: "copy-snapshot: RDS reads the encrypted source snapshot on the caller's behalf",
        });
      }
    }
    for (const action of ['kms:CreateGrant', 'kms:DescribeKey']) {
      add({
        stack: p,
        principal: cs,
        action,
        resource: '{{dr:VaultKey}}',
        context: {
          ...via('rds', 'dr'),
          'kms:GrantIsForAWSResource': 'true',
          'kms:ResourceAliases': [backupKeyAlias(environment)],
        },
        database: db.name,
        why: `copy-snapshot: RDS encrypts the copy with the DR key (${drKeyAlias})`,
      });
    }
    repo(p, cs, db.name, { catalogAppend: true }, 'copy-snapshot');
  }

  // prune: the primary region's prunes snapshots of both regions and its dumps; the DR region's
  // prunes only its own copy of the dumps. Both record their deletions.
  for (const side of ['primary', 'dr'] as const) {
    const pr = 'PruneFunctionRole';
    logs(side, pr, 'PruneFunctionLogGroup', `prune (${side})`);
    deadLetter(side, pr, 'DeadLetterQueue', `prune (${side})`);
    if (side === 'primary') {
      add({
        stack: side,
        principal: pr,
        action: 'rds:DescribeAccountAttributes',
        resource: '*',
        why: 'prune: manual snapshot quota',
      });
    }
    for (const db of config.databases) {
      const inst = db.kind === 'instance';
      if (side === 'primary') {
        add({
          stack: side,
          principal: pr,
          action: inst ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots',
          resource: '*',
          database: db.name,
          why: 'prune: lists manual snapshots',
        });
        for (const where of ['primary', 'dr'] as const) {
          add({
            stack: side,
            principal: pr,
            action: inst ? 'rds:DescribeDBSnapshotAttributes' : 'rds:DescribeDBClusterSnapshotAttributes',
            resource: snapshotArn(where, db),
            database: db.name,
            why: `prune: a snapshot shared elsewhere is kept (${where})`,
          });
          add({
            stack: side,
            principal: pr,
            action: inst ? 'rds:DeleteDBSnapshot' : 'rds:DeleteDBClusterSnapshot',
            resource: snapshotArn(where, db),
            database: db.name,
            why: `prune: deletes an expired lifeboat snapshot (${where})`,
          });
        }
      }
      repo(side, pr, db.name, { catalogAppend: true }, `prune (${side})`);
      add({
        stack: side,
        principal: pr,
        action: 's3:DeleteObject',
        resource: `${bucketArn(side)}/${artifactKey(db.name, '20261123T020000Z-abcd')}`,
        context: tls,
        database: db.name,
        why: 'prune: deletes an expired dump artifact',
      });
    }
  }
  if (config.databases.length > 0) {
    never({
      stack: 'dr',
      principal: 'PruneFunctionRole',
      action: 'rds:DeleteDBSnapshot',
      resource: rds('dr', 'snapshot', 'lifeboat-x-202611230200'),
      why: "the DR region's prune deletes no snapshot (the primary's prune owns them)",
    });
  }

  // logical dumps: Lambda (or a Fargate task for `large` databases), and verification
  for (const db of config.databases) {
    const policy = config.policies[db.policy];
    if (!policy?.dump) continue;
    const principal = db.large ? `DumpTask${db.name}JobTaskDefinitionTaskRole` : `Dump${db.name}Role`;
    const why = db.large ? `dump task of ${db.name}` : `logical-dump of ${db.name}`;
    if (!db.large) {
      logs(p, principal, `Dump${db.name}LogGroup`, why);
      deadLetter(p, principal, 'DeadLetterQueue', why);
    }
    secret(p, principal, db.secretArn, db.secretKmsKeyArn, db.name, `${why}: reads the database credentials`);
    repo(p, principal, db.name, { catalogAppend: true, artifactWrite: true }, why);
    if (slack.primary) publish(p, principal, why);
    if (db.large) {
      const sm = `DumpTask${db.name}JobStateMachineRole`;
      const td = `{{primary:DumpTask${db.name}JobTaskDefinition}}`;
      add({
        stack: p,
        principal: sm,
        action: 'ecs:RunTask',
        resource: td,
        database: db.name,
        why: 'dump task workflow: ecs:runTask.sync',
      });
      for (const role of [
        `DumpTask${db.name}JobTaskDefinitionTaskRole`,
        `DumpTask${db.name}JobTaskDefinitionExecutionRole`,
      ]) {
        add({
          stack: p,
          principal: sm,
          action: 'iam:PassRole',
          resource: `{{primary:${role}}}`,
          context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
          database: db.name,
          why: 'dump task workflow: RunTask passes the task and execution roles',
        });
      }
      for (const action of ['events:PutRule', 'events:PutTargets', 'events:DescribeRule']) {
        add({
          stack: p,
          principal: sm,
          action,
          resource: `arn:aws:events:${regions.primary}:${account}:rule/StepFunctionsGetEventsForECSTaskRule`,
          why: 'dump task workflow: .sync waits through the ECS events rule Step Functions manages',
        });
      }
      add({
        stack: p,
        principal: sm,
        action: 'ecs:DescribeTasks',
        resource: '*',
        why: 'dump task workflow: .sync polls the task',
      });
      const ex = `DumpTask${db.name}JobTaskDefinitionExecutionRole`;
      logs(p, ex, `DumpTask${db.name}JobLogGroup`, `dump task of ${db.name} (awslogs driver)`);
      add({
        stack: p,
        principal: ex,
        action: 'ecr:GetAuthorizationToken',
        resource: '*',
        why: 'Fargate pulls the dump image',
      });
    }
    // verification of the dump
    if (db.large) {
      const vt = `VerifyTask${db.name}JobTaskDefinitionTaskRole`;
      repo(p, vt, db.name, { catalogAppend: true, artifactRead: true }, `verify task of ${db.name}`);
      if (slack.primary) publish(p, vt, `verify task of ${db.name}`);
    } else {
      const vb = 'VerifyBackupFunctionRole';
      repo(p, vb, db.name, { catalogAppend: true, artifactRead: true }, 'verify-backup');
      if (slack.primary) publish(p, vb, 'verify-backup');
    }
  }

  // --- schedules (EventBridge Scheduler → targets, with the schedules role) ---------------------
  for (const db of config.databases) {
    const policy = config.policies[db.policy];
    add({
      stack: p,
      principal: 'SchedulesRole',
      action: 'lambda:InvokeFunction',
      resource: '{{primary:TakeSnapshotFunction}}',
      database: db.name,
      why: 'Scheduler: snapshot schedule → take-snapshot',
    });
    if (policy?.dump) {
      add(
        db.large
          ? {
              stack: p,
              principal: 'SchedulesRole',
              action: 'states:StartExecution',
              resource: `{{primary:DumpTask${db.name}JobStateMachine}}`,
              database: db.name,
              why: 'Scheduler: dump schedule → Fargate dump workflow',
            }
          : {
              stack: p,
              principal: 'SchedulesRole',
              action: 'lambda:InvokeFunction',
              resource: `{{primary:Dump${db.name}Function}}`,
              database: db.name,
              why: 'Scheduler: dump schedule → logical-dump',
            },
      );
    }
    if (policy?.dump && policy.verification) {
      add(
        db.large
          ? {
              stack: p,
              principal: 'SchedulesRole',
              action: 'states:StartExecution',
              resource: `{{primary:VerifyTask${db.name}JobStateMachine}}`,
              database: db.name,
              why: 'Scheduler: verification schedule → Fargate verification workflow',
            }
          : {
              stack: p,
              principal: 'SchedulesRole',
              action: 'lambda:InvokeFunction',
              resource: '{{primary:VerifyBackupFunction}}',
              database: db.name,
              why: 'Scheduler: verification schedule → verify-backup',
            },
      );
    }
    if (policy?.verification && config.restoreTest) {
      add({
        stack: p,
        principal: 'SchedulesRole',
        action: 'states:StartExecution',
        resource: '{{primary:WorkflowsRestoreTestStateMachine}}',
        database: db.name,
        why: 'Scheduler: verification schedule → restore-test workflow',
      });
    }
  }
  for (const side of ['primary', 'dr'] as const) {
    add({
      stack: side,
      principal: 'SchedulesRole',
      action: 'lambda:InvokeFunction',
      resource: `{{${side}:PruneFunction}}`,
      why: 'Scheduler: prune schedule → prune',
    });
    add({
      stack: side,
      principal: 'SchedulesRole',
      action: 'sqs:SendMessage',
      resource: `{{${side}:DeadLetterQueue}}`,
      context: tls,
      why: 'Scheduler: an undeliverable schedule goes to the dead-letter queue',
    });
    add({
      stack: side,
      principal: 'SchedulesRole',
      action: 'kms:GenerateDataKey',
      resource: opsKey(side),
      context: via('sqs', side),
      why: 'Scheduler: the dead-letter queue is KMS-encrypted',
    });
  }

  // --- restore workflows (both regions), restore-test (primary) --------------------------------
  for (const side of ['primary', 'dr'] as const) {
    const sm = 'WorkflowsRestoreStateMachineRole';
    const fns = [
      'WorkflowsValidateInput',
      'WorkflowsResolveRestorePoint',
      'WorkflowsRestoreDump',
      'WorkflowsVerifyRestore',
      'WorkflowsDropCreatedDatabase',
      'WorkflowsFinishRestore',
    ];
    for (const fn of fns)
      add({
        stack: side,
        principal: sm,
        action: 'lambda:InvokeFunction',
        resource: `{{${side}:${fn}}}`,
        why: `restore workflow: lambda:invoke ${fn}`,
      });
    publish(side, sm, 'restore workflow');
    const keys =
      side === 'primary'
        ? [...new Set(config.databases.flatMap((db) => db.storageKmsKeyArn ?? []))]
        : ['{{dr:VaultKey}}', ...new Set(config.databases.flatMap((db) => db.drStorageKmsKeyArn ?? []))];
    for (const db of config.databases) {
      const inst = db.kind === 'instance';
      const target = rds(side, inst ? 'db' : 'cluster', `${db.identifier}-restored`);
      const tag = {
        'aws:RequestTag/lifeboat:workflow': 'restore',
        'aws:TagKeys': ['lifeboat:workflow', 'lifeboat:created-by'],
      };
      const fromSnapshot = inst ? 'rds:RestoreDBInstanceFromDBSnapshot' : 'rds:RestoreDBClusterFromSnapshot';
      add({
        stack: side,
        principal: sm,
        action: fromSnapshot,
        resource: target,
        context: tag,
        database: db.name,
        why: 'restore workflow: restore from a lifeboat snapshot, tagged',
      });
      add({
        stack: side,
        principal: sm,
        action: fromSnapshot,
        resource: snapshotArn(side, db),
        context: tag,
        database: db.name,
        why: 'restore workflow: the snapshot restored from',
      });
      add({
        stack: side,
        principal: sm,
        action: fromSnapshot,
        resource: rds(side, 'subgrp', 'default-vpc'),
        context: tag,
        database: db.name,
        why: 'restore workflow: the subnet group',
      });
      const pitr = inst ? 'rds:RestoreDBInstanceToPointInTime' : 'rds:RestoreDBClusterToPointInTime';
      const pitrSource =
        side === 'primary' ? db.identifier : (db.failover?.replicaIdentifier ?? db.identifier);
      add({
        stack: side,
        principal: sm,
        action: pitr,
        resource: target,
        context: tag,
        database: db.name,
        why: 'restore workflow: point-in-time restore, tagged',
      });
      add({
        stack: side,
        principal: sm,
        action: pitr,
        resource: rds(side, inst ? 'db' : 'cluster', pitrSource),
        context: tag,
        database: db.name,
        why: 'restore workflow: the point-in-time source',
      });
      add({
        stack: side,
        principal: sm,
        action: 'rds:AddTagsToResource',
        resource: target,
        context: tag,
        database: db.name,
        why: 'restore workflow: the create carries tags',
      });
      if (!inst) {
        add({
          stack: side,
          principal: sm,
          action: 'rds:CreateDBInstance',
          resource: rds(side, 'db', `${db.identifier}-restored-1`),
          context: tag,
          database: db.name,
          why: "restore workflow: the restored cluster's instance",
        });
      }
      add({
        stack: side,
        principal: sm,
        action: inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        resource: target,
        database: db.name,
        why: 'restore workflow: polls until available',
      });
      add({
        stack: side,
        principal: sm,
        action: inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
        resource: target,
        context: { 'aws:ResourceTag/lifeboat:workflow': 'restore' },
        database: db.name,
        why: 'restore workflow: cleanup of what it created (tagged)',
      });
    }
    for (const key of keys) {
      for (const action of ['kms:DescribeKey', 'kms:Decrypt', 'kms:GenerateDataKey', 'kms:CreateGrant']) {
        add({
          stack: side,
          principal: sm,
          action,
          resource: key,
          context: { ...via('rds', side), 'kms:GrantIsForAWSResource': 'true' },
          why: "restore workflow: RDS uses the snapshot / source key on the caller's behalf",
        });
      }
    }
    for (const zone of new Set(
      config.databases.flatMap((db) => (db.failover?.dns ? [db.failover.dns.hostedZoneId] : [])),
    )) {
      add({
        stack: side,
        principal: sm,
        action: 'route53:ChangeResourceRecordSets',
        resource: `arn:aws:route53:::hostedzone/${zone}`,
        why: 'restore workflow: optional cutover',
      });
    }
    // task functions
    const resolve = 'WorkflowsResolveRestorePointRole';
    logs(side, resolve, 'WorkflowsResolveRestorePointLogGroup', 'wf-resolve-restore-point');
    for (const db of config.databases) {
      repo(side, resolve, db.name, { catalogRead: true }, 'wf-resolve-restore-point');
      add({
        stack: side,
        principal: resolve,
        action: db.kind === 'instance' ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        resource: rds(side, db.kind === 'instance' ? 'db' : 'cluster', `${db.identifier}-restored`),
        database: db.name,
        why: 'wf-resolve-restore-point: refuses an existing target',
      });
      const sec = side === 'primary' ? db.secretArn : db.drSecretArn;
      const key = side === 'primary' ? db.secretKmsKeyArn : db.drSecretKmsKeyArn;
      if (sec) {
        secret(
          side,
          'WorkflowsVerifyRestoreRole',
          sec,
          key,
          db.name,
          'wf-verify-restore: connects to the restored database',
        );
        secret(
          side,
          'WorkflowsRestoreDumpRole',
          sec,
          key,
          db.name,
          'wf-restore-dump: connects to the target server',
        );
      }
      repo(
        side,
        'WorkflowsRestoreDumpRole',
        db.name,
        { catalogAppend: true, artifactRead: true },
        'wf-restore-dump',
      );
      repo(side, 'WorkflowsFinishRestoreRole', db.name, { catalogAppend: true }, 'wf-finish-restore');
    }
    for (const vpcFn of [
      'WorkflowsResolveRestorePointRole',
      'WorkflowsRestoreDumpRole',
      'WorkflowsVerifyRestoreRole',
      'WorkflowsDropCreatedDatabaseRole',
    ]) {
      if (config.workflowNetwork) {
        add({
          stack: side,
          principal: vpcFn,
          action: 'ec2:CreateNetworkInterface',
          resource: '*',
          why: 'Lambda attaches the function to the workflow network with its role',
        });
      }
    }
  }
  if (config.restoreTest) {
    const sm = 'WorkflowsRestoreTestStateMachineRole';
    for (const fn of ['WorkflowsPlanRestoreTest', 'WorkflowsRecordRestoreTest', 'WorkflowsVerifyRestore']) {
      add({
        stack: p,
        principal: sm,
        action: 'lambda:InvokeFunction',
        resource: `{{primary:${fn}}}`,
        why: `restore-test workflow: lambda:invoke ${fn}`,
      });
    }
    publish(p, sm, 'restore-test workflow');
    for (const db of config.databases) {
      const inst = db.kind === 'instance';
      const target = rds(p, inst ? 'db' : 'cluster', `lifeboat-rt-${db.name}-abc123`);
      const tag = { 'aws:RequestTag/lifeboat:workflow': 'restore-test' };
      const fromSnapshot = inst ? 'rds:RestoreDBInstanceFromDBSnapshot' : 'rds:RestoreDBClusterFromSnapshot';
      add({
        stack: p,
        principal: sm,
        action: fromSnapshot,
        resource: target,
        context: tag,
        database: db.name,
        why: 'restore-test: temporary instance, tagged',
      });
      add({
        stack: p,
        principal: sm,
        action: fromSnapshot,
        resource: snapshotArn(p, db),
        context: tag,
        database: db.name,
        why: 'restore-test: the newest lifeboat snapshot',
      });
      add({
        stack: p,
        principal: sm,
        action: fromSnapshot,
        resource: rds(p, 'subgrp', config.restoreTest.subnetGroupName.toLowerCase()),
        context: tag,
        database: db.name,
        why: 'restore-test: the isolated subnet group',
      });
      add({
        stack: p,
        principal: sm,
        action: 'rds:AddTagsToResource',
        resource: target,
        context: tag,
        database: db.name,
        why: 'restore-test: the create carries tags',
      });
      add({
        stack: p,
        principal: sm,
        action: inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
        resource: target,
        context: { 'aws:ResourceTag/lifeboat:workflow': 'restore-test' },
        database: db.name,
        why: 'restore-test: deletes its temporary resources',
      });
      if (db.storageKmsKeyArn) {
        add({
          stack: p,
          principal: sm,
          action: 'kms:CreateGrant',
          resource: db.storageKmsKeyArn,
          context: { ...via('rds', p), 'kms:GrantIsForAWSResource': 'true' },
          database: db.name,
          why: "restore-test: RDS decrypts the snapshot on the caller's behalf",
        });
      }
      repo(p, 'WorkflowsPlanRestoreTestRole', db.name, { catalogRead: true }, 'wf-plan-restore-test');
      repo(p, 'WorkflowsRecordRestoreTestRole', db.name, { catalogAppend: true }, 'wf-record-restore-test');
    }
  }

  // --- failover and failback (DR region) --------------------------------------------------------
  const d = 'dr' as const;
  const fdbs = failoverDatabases(config);
  if (fdbs.length > 0) {
    const sm = 'FailoverStateMachineRole';
    for (const fn of [
      'FailoverPreflight',
      'FailoverFence',
      'FailoverCheckWritable',
      'FailoverVerifyWrite',
      'FailoverRecordFailover',
    ]) {
      add({
        stack: d,
        principal: sm,
        action: 'lambda:InvokeFunction',
        resource: `{{dr:${fn}}}`,
        why: `failover workflow: lambda:invoke ${fn}`,
      });
    }
    publish(d, sm, 'failover workflow');
    const table = `arn:aws:dynamodb:${regions.dr}:${account}:table/${lockTableName(environment)}`;
    for (const action of ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem']) {
      add({
        stack: d,
        principal: sm,
        action,
        resource: table,
        why: 'failover workflow: the lock (and the approval token, waitForTaskToken)',
      });
    }
    for (const action of ['kms:Decrypt', 'kms:GenerateDataKey']) {
      add({
        stack: d,
        principal: sm,
        action,
        resource: opsKey(d),
        context: via('dynamodb', d),
        why: 'failover workflow: the lock table is KMS-encrypted',
      });
    }
    for (const db of fdbs) {
      if (db.kind === 'instance') {
        add({
          stack: d,
          principal: sm,
          action: 'rds:PromoteReadReplica',
          resource: rds(d, 'db', db.failover.replicaIdentifier),
          database: db.name,
          why: 'failover workflow: promotes the configured replica',
        });
      } else {
        for (const action of ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster']) {
          for (const r of [
            rds(d, 'global-cluster', db.failover.globalClusterIdentifier!),
            rds(d, 'cluster', db.failover.replicaIdentifier),
            rds(p, 'cluster', db.identifier),
          ]) {
            add({
              stack: d,
              principal: sm,
              action,
              resource: r,
              database: db.name,
              why: 'failover workflow: global switchover/failover (global cluster and both members)',
            });
          }
        }
      }
      if (db.failover.dns) {
        add({
          stack: d,
          principal: sm,
          action: 'route53:ChangeResourceRecordSets',
          resource: `arn:aws:route53:::hostedzone/${db.failover.dns.hostedZoneId}`,
          database: db.name,
          why: 'failover workflow: switches DNS',
        });
        add({
          stack: d,
          principal: sm,
          action: 'route53:GetChange',
          resource: 'arn:aws:route53:::change/C0123456789',
          database: db.name,
          why: 'failover workflow: waits for the DNS change',
        });
      }
      // preflight
      const pf = 'FailoverPreflightRole';
      const inst = db.kind === 'instance';
      add({
        stack: d,
        principal: pf,
        action: inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        resource: rds(d, inst ? 'db' : 'cluster', db.failover.replicaIdentifier),
        database: db.name,
        why: 'wf-failover-preflight: the replica',
      });
      add({
        stack: d,
        principal: pf,
        action: inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters',
        resource: rds(p, inst ? 'db' : 'cluster', db.identifier),
        database: db.name,
        why: 'wf-failover-preflight: the old primary where reachable',
      });
      if (!inst)
        add({
          stack: d,
          principal: pf,
          action: 'rds:DescribeGlobalClusters',
          resource: rds(d, 'global-cluster', db.failover.globalClusterIdentifier!),
          database: db.name,
          why: 'wf-failover-preflight: the global database',
        });
      add({
        stack: d,
        principal: pf,
        action: 'cloudwatch:GetMetricStatistics',
        resource: '*',
        database: db.name,
        why: 'wf-failover-preflight: replica lag',
      });
      if (db.failover.fenceSecurityGroupId) {
        add({
          stack: d,
          principal: 'FailoverFenceRole',
          action: inst ? 'rds:ModifyDBInstance' : 'rds:ModifyDBCluster',
          resource: rds(p, inst ? 'db' : 'cluster', db.identifier),
          database: db.name,
          why: 'wf-fence: fences the old primary',
        });
      }
      if (db.drSecretArn)
        secret(
          d,
          'FailoverVerifyWriteRole',
          db.drSecretArn,
          db.drSecretKmsKeyArn,
          db.name,
          'wf-verify-write: connects to the new primary',
        );
      repo(d, 'FailoverRecordFailoverRole', db.name, { catalogAppend: true }, 'wf-record-failover');
      // failback
      const cr = 'FailoverCreateReplicaRole';
      const replica = `${db.identifier.slice(0, 52)}-rp-1a2b3c`;
      const fbTag = { 'aws:RequestTag/lifeboat:workflow': 'failback' };
      if (inst) {
        add({
          stack: d,
          principal: cr,
          action: 'rds:CreateDBInstanceReadReplica',
          resource: rds(p, 'db', replica),
          context: fbTag,
          database: db.name,
          why: 'wf-create-replica: the new replica in the recovered region',
        });
        add({
          stack: d,
          principal: cr,
          action: 'rds:CreateDBInstanceReadReplica',
          resource: rds(d, 'db', db.failover.replicaIdentifier),
          context: fbTag,
          database: db.name,
          why: 'wf-create-replica: its source, the promoted database',
        });
      } else {
        add({
          stack: d,
          principal: cr,
          action: 'rds:CreateDBCluster',
          resource: rds(p, 'cluster', replica),
          context: fbTag,
          database: db.name,
          why: 'wf-create-replica: the new secondary cluster',
        });
        add({
          stack: d,
          principal: cr,
          action: 'rds:CreateDBCluster',
          resource: rds(d, 'global-cluster', db.failover.globalClusterIdentifier!),
          context: fbTag,
          database: db.name,
          why: 'wf-create-replica: joins the global database',
        });
        add({
          stack: d,
          principal: cr,
          action: 'rds:CreateDBInstance',
          resource: rds(p, 'db', `${replica}-1`),
          context: fbTag,
          database: db.name,
          why: "wf-create-replica: the secondary's instance",
        });
      }
      add({
        stack: d,
        principal: cr,
        action: 'rds:AddTagsToResource',
        resource: rds(p, inst ? 'db' : 'cluster', replica),
        context: fbTag,
        database: db.name,
        why: 'wf-create-replica: the create carries tags',
      });
      if (config.failback?.kmsKeyArn) {
        add({
          stack: d,
          principal: cr,
          action: 'kms:CreateGrant',
          resource: config.failback.kmsKeyArn,
          context: { ...via('rds', p), 'kms:GrantIsForAWSResource': 'true' },
          database: db.name,
          why: 'wf-create-replica: RDS encrypts the new replica with the failback key',
        });
      }
      if (db.drStorageKmsKeyArn) {
        add({
          stack: d,
          principal: cr,
          action: 'kms:CreateGrant',
          resource: db.drStorageKmsKeyArn,
          context: { ...via('rds', d), 'kms:GrantIsForAWSResource': 'true' },
          database: db.name,
          why: 'wf-create-replica: RDS reads the encrypted source across regions',
        });
      }
      add({
        stack: d,
        principal: 'FailoverDeleteReplicaRole',
        action: inst ? 'rds:DeleteDBInstance' : 'rds:DeleteDBCluster',
        resource: rds(p, inst ? 'db' : 'cluster', replica),
        context: { 'aws:ResourceTag/lifeboat:workflow': 'failback' },
        database: db.name,
        why: "wf-delete-replica: removes a failed failback's replica (tagged)",
      });
      // alarm → rule → starter → failover
      const rule = `{{dr:FailoverAlarmRule${db.name}}}`;
      add({
        stack: d,
        principal: 'events.amazonaws.com',
        action: 'lambda:InvokeFunction',
        resource: '{{dr:FailoverAlarmStart}}',
        context: { 'aws:SourceArn': rule, 'aws:SourceAccount': account },
        database: db.name,
        why: 'EventBridge rule (critical replica-lag alarm) → wf-alarm-start',
      });
      add({
        stack: d,
        principal: 'events.amazonaws.com',
        action: 'sqs:SendMessage',
        resource: '{{dr:FailoverDeadLetterQueue}}',
        context: { ...tls, 'aws:SourceArn': rule, 'aws:SourceAccount': account },
        database: db.name,
        why: 'EventBridge rule → its dead-letter queue',
      });
      add({
        stack: d,
        principal: 'events.amazonaws.com',
        action: 'kms:GenerateDataKey',
        resource: opsKey(d),
        context: { 'aws:SourceArn': rule, 'aws:SourceAccount': account },
        database: db.name,
        why: 'EventBridge rule → its encrypted dead-letter queue',
      });
      add({
        stack: d,
        principal: 'cloudwatch.amazonaws.com',
        action: 'sns:Publish',
        resource: topic(d),
        context: {
          ...tls,
          'aws:SourceAccount': account,
          'aws:SourceArn': `arn:aws:cloudwatch:${regions.dr}:${account}:alarm:${replicaLagCriticalAlarmName(environment, db.name)}`,
        },
        database: db.name,
        why: 'CloudWatch alarm (replica lag) → the topic',
      });
      add({
        stack: d,
        principal: 'cloudwatch.amazonaws.com',
        action: 'kms:GenerateDataKey',
        resource: opsKey(d),
        context: {
          'aws:SourceAccount': account,
          'aws:SourceArn': `arn:aws:cloudwatch:${regions.dr}:${account}:alarm:${replicaLagCriticalAlarmName(environment, db.name)}`,
        },
        database: db.name,
        why: 'CloudWatch alarm → the KMS-encrypted topic',
      });
    }
    add({
      stack: d,
      principal: 'FailoverAlarmStartRole',
      action: 'states:StartExecution',
      resource: '{{dr:FailoverStateMachine}}',
      why: 'wf-alarm-start: starts the failover workflow',
    });
    deadLetter(d, 'FailoverAlarmStartRole', 'FailoverDeadLetterQueue', 'wf-alarm-start');
    const fb = 'FailoverFailbackStateMachineRole';
    for (const fn of [
      'FailoverPlanFailback',
      'FailoverCreateReplica',
      'FailoverDescribeReplica',
      'FailoverDeleteReplica',
    ]) {
      add({
        stack: d,
        principal: fb,
        action: 'lambda:InvokeFunction',
        resource: `{{dr:${fn}}}`,
        why: `failback workflow: lambda:invoke ${fn}`,
      });
    }
    publish(d, fb, 'failback workflow');
  }

  // --- service to service ---------------------------------------------------------------------
  for (const side of ['primary', 'dr'] as const) {
    for (const db of config.databases) {
      const alarm = `arn:aws:cloudwatch:${regions[side]}:${account}:alarm:lifeboat-${environment}-${db.name}-backup-age-critical`;
      const ctx = { 'aws:SourceAccount': account, 'aws:SourceArn': alarm };
      add({
        stack: side,
        principal: 'cloudwatch.amazonaws.com',
        action: 'sns:Publish',
        resource: topic(side),
        context: { ...tls, ...ctx },
        database: db.name,
        why: 'CloudWatch alarm (backup age) → the topic',
      });
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        add({
          stack: side,
          principal: 'cloudwatch.amazonaws.com',
          action,
          resource: opsKey(side),
          context: ctx,
          database: db.name,
          why: 'CloudWatch alarm → the KMS-encrypted topic',
        });
      }
    }
    // CloudWatch Logs encrypts the region's log groups with the operations key.
    add({
      stack: side,
      principal: `logs.${regions[side]}.amazonaws.com`,
      action: 'kms:GenerateDataKey',
      resource: opsKey(side),
      context: {
        'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${regions[side]}:${account}:log-group:lifeboat-any`,
      },
      why: "CloudWatch Logs → the log groups' key",
    });
    if (slack[side]) {
      const topicCtx = { 'aws:SourceArn': topic(side), 'aws:SourceAccount': account };
      add({
        stack: side,
        principal: 'sns.amazonaws.com',
        action: 'lambda:InvokeFunction',
        resource: `{{${side}:NotificationsNotifier}}`,
        context: topicCtx,
        why: 'SNS → the notifier',
      });
      add({
        stack: side,
        principal: 'sns.amazonaws.com',
        action: 'sqs:SendMessage',
        resource: `{{${side}:NotificationsDeadLetterQueue}}`,
        context: { ...tls, ...topicCtx },
        why: 'SNS subscription → its dead-letter queue',
      });
      add({
        stack: side,
        principal: 'sns.amazonaws.com',
        action: 'kms:GenerateDataKey',
        resource: opsKey(side),
        context: { 'aws:SourceAccount': account },
        why: 'SNS → the encrypted dead-letter queue',
      });
      const n = 'NotificationsNotifierRole';
      logs(side, n, 'NotificationsNotifierLogGroup', 'notifier');
      secret(side, n, slack[side]!, undefined, undefined, 'notifier: reads the Slack webhook URLs');
      add({
        stack: side,
        principal: n,
        action: 'sqs:SendMessage',
        resource: `{{${side}:NotificationsDeadLetterQueue}}`,
        context: tls,
        why: 'notifier: on-failure destination',
      });
      add({
        stack: side,
        principal: n,
        action: 'kms:GenerateDataKey',
        resource: opsKey(side),
        context: via('sqs', side),
        why: 'notifier: the destination queue is KMS-encrypted',
      });
    }
  }
  const ruleCtx = { 'aws:SourceArn': '{{primary:CopySnapshotSnapshotEvents}}', 'aws:SourceAccount': account };
  if (config.databases.length > 0) {
    add({
      stack: p,
      principal: 'events.amazonaws.com',
      action: 'sqs:SendMessage',
      resource: '{{primary:CopySnapshotQueue}}',
      context: { ...tls, ...ruleCtx },
      why: 'EventBridge rule (snapshot events) → the copy queue',
    });
    add({
      stack: p,
      principal: 'events.amazonaws.com',
      action: 'kms:GenerateDataKey',
      resource: opsKey(p),
      context: ruleCtx,
      why: 'EventBridge rule → the encrypted copy queue',
    });
  }
  // S3 replication → the DR bucket, encrypted with the DR key
  const rr = 'VaultReplicationRole';
  const obj = (side: Side) => `${bucketArn(side)}/${artifactKey('db', '20261123T020000Z-abcd')}`;
  add({
    stack: p,
    principal: rr,
    action: 's3:GetObjectVersionForReplication',
    resource: obj('primary'),
    why: 'S3 replication reads the source version',
  });
  add({
    stack: p,
    principal: rr,
    action: 'kms:Decrypt',
    resource: '{{primary:VaultKey}}',
    context: via('s3', p),
    why: 'S3 replication decrypts the source',
  });
  add({
    stack: p,
    principal: rr,
    action: 's3:ReplicateObject',
    resource: obj('dr'),
    why: 'S3 replication writes the DR copy',
  });
  add({
    stack: p,
    principal: rr,
    action: 'kms:Encrypt',
    resource: '{{dr:VaultKey}}',
    context: { ...via('s3', 'dr'), 'kms:ResourceAliases': [backupKeyAlias(environment)] },
    why: 'S3 replication encrypts the DR copy with the DR key',
  });

  // --- must never be allowed -------------------------------------------------------------------
  for (const side of ['primary', 'dr'] as const) {
    for (const principal of [
      'PruneFunctionRole',
      'WorkflowsFinishRestoreRole',
      ...(side === 'primary'
        ? ['TakeSnapshotFunctionRole', 'CopySnapshotFunctionRole', 'VerifyBackupFunctionRole']
        : []),
      ...(side === 'primary'
        ? config.databases
            .filter((db) => config.policies[db.policy]?.dump)
            .map((db) => (db.large ? `DumpTask${db.name}JobTaskDefinitionTaskRole` : `Dump${db.name}Role`))
        : []),
    ]) {
      never({
        stack: side,
        principal,
        action: 's3:DeleteObject',
        resource: `${bucketArn(side)}/catalog/orders/x/manifest.json`,
        context: tls,
        why: 'the catalog is append-only: nobody deletes a record',
      });
      never({
        stack: side,
        principal,
        action: 's3:DeleteObjectVersion',
        resource: `${bucketArn(side)}/${artifactKey('orders', 'x')}`,
        context: tls,
        why: 'no version is ever deleted (Object Lock)',
      });
    }
    // decrypting a dump outside S3
    for (const principal of ['WorkflowsRestoreDumpRole', 'PruneFunctionRole']) {
      never({
        stack: side,
        principal,
        action: 'kms:Decrypt',
        resource: vaultKey(side),
        context: {},
        why: 'the backup key decrypts only through its services (no direct kms:Decrypt of a dump)',
      });
    }
    // deleting an instance without the workflow tag
    never({
      stack: side,
      principal: 'WorkflowsRestoreStateMachineRole',
      action: 'rds:DeleteDBInstance',
      resource: rds(side, 'db', 'production-db'),
      context: { 'aws:ResourceTag/lifeboat:workflow': 'none' },
      why: 'restore deletes only what it tagged',
    });
    never({
      stack: side,
      principal: 'WorkflowsRestoreStateMachineRole',
      action: 'rds:DeleteDBCluster',
      resource: rds(side, 'cluster', 'production-cluster'),
      context: {},
      why: 'restore deletes only what it tagged (untagged cluster)',
    });
    never({
      stack: side,
      principal: 'WorkflowsRestoreStateMachineRole',
      action: 'rds:RestoreDBInstanceFromDBSnapshot',
      resource: rds(side, 'db', 'untagged-target'),
      context: {},
      why: 'restore creates only tagged resources',
    });
    never({
      stack: side,
      principal: 'WorkflowsRestoreStateMachineRole',
      action: 'rds:RestoreDBInstanceFromDBSnapshot',
      resource: rds(side, 'snapshot', 'someone-elses-snapshot'),
      context: { 'aws:RequestTag/lifeboat:workflow': 'restore' },
      why: 'restore reads lifeboat snapshots only',
    });
    // publishing to another environment's topic
    never({
      stack: side,
      principal: 'WorkflowsRestoreStateMachineRole',
      action: 'sns:Publish',
      resource: `arn:aws:sns:${regions[side]}:${account}:lifeboat-other-events`,
      context: tls,
      why: "a workflow publishes to its own environment's topic only",
    });
    never({
      stack: side,
      principal: 'cloudwatch.amazonaws.com',
      action: 'sns:Publish',
      resource: topic(side),
      context: {
        ...tls,
        'aws:SourceAccount': '999999999999',
        'aws:SourceArn': `arn:aws:cloudwatch:${regions[side]}:999999999999:alarm:x`,
      },
      why: 'alarms of another account cannot publish to the topic',
    });
    never({
      stack: side,
      principal: 'cloudwatch.amazonaws.com',
      action: 'sns:Publish',
      resource: topic(side),
      context: {
        'aws:SecureTransport': 'false',
        'aws:SourceAccount': account,
        'aws:SourceArn': `arn:aws:cloudwatch:${regions[side]}:${account}:alarm:x`,
      },
      why: 'no publish without TLS',
    });
  }
  if (fdbs.length > 0) {
    never({
      stack: d,
      principal: 'FailoverStateMachineRole',
      action: 'rds:PromoteReadReplica',
      resource: rds(d, 'db', 'unconfigured-replica'),
      why: 'only configured replicas are promoted',
    });
    never({
      stack: d,
      principal: 'FailoverStateMachineRole',
      action: 'rds:FailoverGlobalCluster',
      resource: rds(d, 'global-cluster', 'someone-elses-global'),
      why: 'only the configured global databases fail over',
    });
    never({
      stack: d,
      principal: 'FailoverStateMachineRole',
      action: 'rds:FailoverGlobalCluster',
      resource: rds(d, 'cluster', 'unconfigured-cluster'),
      why: 'only the configured members',
    });
    never({
      stack: d,
      principal: 'FailoverDeleteReplicaRole',
      action: 'rds:DeleteDBInstance',
      resource: rds(p, 'db', `${fdbs[0]!.identifier.slice(0, 52)}-rp-1a2b3c`),
      context: {},
      why: 'failback deletes only its tagged replica',
    });
    never({
      stack: d,
      principal: 'FailoverStateMachineRole',
      action: 'sns:Publish',
      resource: `arn:aws:sns:${regions.dr}:${account}:lifeboat-other-events`,
      context: tls,
      why: "publishes to its own environment's topic only",
    });
  }
  return { expected, forbidden };
}
