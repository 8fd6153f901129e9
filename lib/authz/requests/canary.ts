import { heartbeatStateKey } from '../../../functions/core/failover/heartbeat.ts';
import { canaryAlarmName, primaryUnwritableAlarmName } from '../../naming.ts';
import { failoverDatabases } from '../../recovery.ts';
import { TLS, type TableBuilder } from './table.ts';

/**
 * The primary canary (DR region; lib/constructs/primary-canary.ts, functions/canary,
 * functions/core/canary.ts): every minute per database with `failover`, an EventBridge schedule
 * invokes it; it reads the database's DR secret, writes a heartbeat through the endpoint (SQL,
 * not AWS), and keeps the last acknowledged heartbeat in the lock table's `heartbeat#<db>` item
 * (GetItem, conditional PutItem). Its metrics go out as EMF in its log. Its alarms page on the
 * region's topic: the composite trigger (which the failover rule also matches) and the silent one.
 */
export function canaryRequests(t: TableBuilder): void {
  const fdbs = failoverDatabases(t.config);
  if (fdbs.length === 0) return;
  const { environment } = t;
  const canary = t.fn('dr', 'PrimaryCanaryFunctionRole', 'canary');
  t.vpc(canary);
  const table = t.lockTable();
  canary.allow(
    ['kms:Decrypt', 'kms:GenerateDataKey'],
    t.opsKey('dr'),
    'the lock table is KMS-encrypted',
    t.via('dynamodb', 'dr'),
  );
  const cloudwatch = t.caller('dr', 'cloudwatch.amazonaws.com');
  for (const db of fdbs) {
    const c = canary.of(db.name);
    const heartbeat = { 'dynamodb:LeadingKeys': [heartbeatStateKey(db.name)] };
    // The schema requires drSecretArn with failover.
    t.secret(c, db.drSecretArn!, db.drSecretKmsKeyArn, 'reads the credentials the heartbeat is written with');
    c.allow('dynamodb:GetItem', table, 'reads the last acknowledged heartbeat (heartbeat# item)', heartbeat);
    c.allow(
      'dynamodb:PutItem',
      table,
      'keeps the heartbeat the primary acknowledged (heartbeat# item)',
      heartbeat,
    );
    t.delivery(
      'dr',
      'events.amazonaws.com',
      { fn: 'PrimaryCanaryFunction' },
      `{{dr:PrimaryCanarySchedule${db.name}}}`,
      'EventBridge schedule (every minute) → the canary',
      db.name,
    );
    for (const alarm of [
      primaryUnwritableAlarmName(environment, db.name),
      canaryAlarmName(environment, db.name, 'canary-silent'),
    ]) {
      const source = t.source(t.alarmArn('dr', alarm));
      const a = cloudwatch.of(db.name);
      a.allow('sns:Publish', t.topic('dr'), `CloudWatch alarm (${alarm}) → the topic`, { ...TLS, ...source });
      a.allow(
        ['kms:GenerateDataKey', 'kms:Decrypt'],
        t.opsKey('dr'),
        `CloudWatch alarm (${alarm}) → the KMS-encrypted topic`,
        source,
      );
    }

    // It writes its heartbeat item and nothing else, and reads only the DR secrets.
    const lock = { 'dynamodb:LeadingKeys': [`failover#${db.name}`] };
    c.never('dynamodb:PutItem', table, "the canary never writes a failover's lock", lock);
    c.never('dynamodb:UpdateItem', table, "the canary never changes a failover's lock", lock);
    c.never('dynamodb:DeleteItem', table, 'the canary deletes no item, not even its own', heartbeat);
    c.never('dynamodb:UpdateItem', table, 'the canary replaces its item whole (PutItem) only', heartbeat);
    if (db.secretArn !== db.drSecretArn) {
      c.never(
        'secretsmanager:GetSecretValue',
        db.secretArn,
        "the canary reads the DR region's secrets only",
        TLS,
      );
    }
  }
  canary.never(
    'sns:Publish',
    t.topic('dr'),
    'the canary publishes nothing (its metrics are in its log)',
    TLS,
  );
  canary.never(
    'states:StartExecution',
    '{{dr:FailoverStateMachine}}',
    'the canary never starts a failover itself (only its alarm, through the rule and its starter)',
  );
}
