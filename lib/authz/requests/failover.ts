import { heartbeatStateKey } from '../../../functions/core/failover/heartbeat.ts';
import { replicaLagCriticalAlarmName } from '../../naming.ts';
import { failoverDatabases } from '../../recovery.ts';
import { TLS, type TableBuilder } from './table.ts';

/**
 * The failover workflow (DR region) and its task functions, and the path that starts it from an
 * alarm: alarm → EventBridge rule → wf-alarm-start → the workflow.
 */
export function failoverRequests(t: TableBuilder): void {
  const fdbs = failoverDatabases(t.config);
  if (fdbs.length === 0) return;
  const { account, regions, environment } = t;
  const sm = t.caller('dr', 'FailoverStateMachineRole', 'failover workflow');
  for (const fn of [
    'FailoverPreflight',
    'FailoverFence',
    'FailoverCheckWritable',
    'FailoverVerifyWrite',
    'FailoverRecordFailover',
  ]) {
    sm.allow('lambda:InvokeFunction', `{{dr:${fn}}}`, `lambda:invoke ${fn}`);
  }
  t.publish(sm);
  sm.allow(
    ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
    t.lockTable(),
    'the lock (and the approval token, waitForTaskToken)',
  );
  sm.allow(
    ['kms:Decrypt', 'kms:GenerateDataKey'],
    t.opsKey('dr'),
    'the lock table is KMS-encrypted',
    t.via('dynamodb', 'dr'),
  );
  const preflight = t.fn('dr', 'FailoverPreflightRole', 'wf-failover-preflight');
  const fence = t.fn('dr', 'FailoverFenceRole', 'wf-fence');
  const checkWritable = t.fn('dr', 'FailoverCheckWritableRole', 'wf-check-writable');
  const verifyWrite = t.fn('dr', 'FailoverVerifyWriteRole', 'wf-verify-write');
  const record = t.fn('dr', 'FailoverRecordFailoverRole', 'wf-record-failover');
  t.vpc(verifyWrite);
  for (const db of fdbs) {
    const inst = db.kind === 'instance';
    const c = sm.of(db.name);
    if (inst) {
      c.allow(
        'rds:PromoteReadReplica',
        t.rds('dr', 'db', db.failover.replicaIdentifier),
        'promotes the configured replica',
      );
    } else {
      for (const r of [
        t.rds('dr', 'global-cluster', db.failover.globalClusterIdentifier!),
        t.rds('dr', 'cluster', db.failover.replicaIdentifier),
        t.rds('primary', 'cluster', db.identifier),
      ]) {
        c.allow(
          ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
          r,
          'global switchover/failover (global cluster and both members)',
        );
      }
    }
    if (db.failover.dns) {
      c.allow(
        'route53:ChangeResourceRecordSets',
        `arn:aws:route53:::hostedzone/${db.failover.dns.hostedZoneId}`,
        'switches DNS',
      );
      c.allow('route53:GetChange', 'arn:aws:route53:::change/C0123456789', 'waits for the DNS change');
    }
    c.allow(
      'dynamodb:GetItem',
      t.lockTable(),
      "GetLastHeartbeat reads the canary's last acknowledged heartbeat (RPO estimate)",
      { 'dynamodb:LeadingKeys': [heartbeatStateKey(db.name)] },
    );
    c.allow(
      'dynamodb:GetItem',
      t.lockTable(),
      'ReleaseLock*Check: after a release that failed, whether the lock item is still there',
      { 'dynamodb:LeadingKeys': [`failover#${db.name}`] },
    );
    const describe = inst ? 'rds:DescribeDBInstances' : 'rds:DescribeDBClusters';
    // wf-check-writable: the replica (and its global database) until it takes writes.
    const cw = checkWritable.of(db.name);
    cw.allow(describe, t.rdsDatabase('dr', db, db.failover.replicaIdentifier), 'the promoted replica');
    if (!inst) {
      cw.allow(
        'rds:DescribeGlobalClusters',
        t.rds('dr', 'global-cluster', db.failover.globalClusterIdentifier!),
        'the global database',
      );
    }
    const pf = preflight.of(db.name);
    pf.allow(describe, t.rdsDatabase('dr', db, db.failover.replicaIdentifier), 'the replica');
    pf.allow(describe, t.rdsDatabase('primary', db, db.identifier), 'the old primary where reachable');
    if (!inst) {
      pf.allow(
        'rds:DescribeGlobalClusters',
        t.rds('dr', 'global-cluster', db.failover.globalClusterIdentifier!),
        'the global database',
      );
    }
    pf.allow('cloudwatch:GetMetricStatistics', '*', 'replica lag');
    if (db.failover.fenceSecurityGroupId) {
      fence
        .of(db.name)
        .allow(
          inst ? 'rds:ModifyDBInstance' : 'rds:ModifyDBCluster',
          t.rdsDatabase('primary', db, db.identifier),
          'fences the old primary',
        );
    }
    if (db.drSecretArn) {
      t.secret(verifyWrite.of(db.name), db.drSecretArn, db.drSecretKmsKeyArn, 'connects to the new primary');
    }
    t.repo(record.of(db.name), { catalogAppend: true });

    // alarm → rule → starter → failover
    const rule = `{{dr:FailoverAlarmRule${db.name}}}`;
    const unwritable = 'EventBridge rule (the primary-unwritable alarm)';
    t.delivery(
      'dr',
      'events.amazonaws.com',
      { fn: 'FailoverAlarmStart' },
      rule,
      `${unwritable} → wf-alarm-start`,
      db.name,
    );
    t.delivery(
      'dr',
      'events.amazonaws.com',
      { queue: 'FailoverDeadLetterQueue' },
      rule,
      `${unwritable} → its dead-letter queue`,
      db.name,
    );
    const alarm = {
      'aws:SourceAccount': account,
      'aws:SourceArn': t.alarmArn('dr', replicaLagCriticalAlarmName(environment, db.name)),
    };
    const cloudwatch = t.caller('dr', 'cloudwatch.amazonaws.com').of(db.name);
    cloudwatch.allow('sns:Publish', t.topic('dr'), 'CloudWatch alarm (replica lag) → the topic', {
      ...TLS,
      ...alarm,
    });
    cloudwatch.allow(
      'kms:GenerateDataKey',
      t.opsKey('dr'),
      'CloudWatch alarm → the KMS-encrypted topic',
      alarm,
    );
  }
  const start = t.fn('dr', 'FailoverAlarmStartRole', 'wf-alarm-start');
  start.allow('states:StartExecution', '{{dr:FailoverStateMachine}}', 'starts the failover workflow');
  t.deadLetter(start, 'FailoverDeadLetterQueue');

  const never = t.caller('dr', 'FailoverStateMachineRole');
  never.never(
    'rds:PromoteReadReplica',
    t.rds('dr', 'db', 'unconfigured-replica'),
    'only configured replicas are promoted',
  );
  never.never(
    'rds:FailoverGlobalCluster',
    t.rds('dr', 'global-cluster', 'someone-elses-global'),
    'only the configured global databases fail over',
  );
  never.never(
    'rds:FailoverGlobalCluster',
    t.rds('dr', 'cluster', 'unconfigured-cluster'),
    'only the configured members',
  );
  never.never(
    'sns:Publish',
    `arn:aws:sns:${regions.dr}:${account}:lifeboat-other-events`,
    "publishes to its own environment's topic only",
    TLS,
  );
}
