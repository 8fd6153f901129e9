import { TLS, type TableBuilder } from './table.ts';

/**
 * What carries news to on-call: CloudWatch alarms → the topic, SNS → the notifier (and its
 * dead-letter queue), the notifier → Slack's secret; CloudWatch Logs → the log groups' key.
 */
export function notificationRequests(t: TableBuilder): void {
  const { account, environment, regions } = t;
  for (const side of ['primary', 'dr'] as const) {
    const cloudwatch = t.caller(side, 'cloudwatch.amazonaws.com');
    for (const db of t.config.databases) {
      const alarm = t.source(t.alarmArn(side, `lifeboat-${environment}-${db.name}-backup-age-critical`));
      const c = cloudwatch.of(db.name);
      c.allow('sns:Publish', t.topic(side), 'CloudWatch alarm (backup age) → the topic', {
        ...TLS,
        ...alarm,
      });
      c.allow(
        ['kms:GenerateDataKey', 'kms:Decrypt'],
        t.opsKey(side),
        'CloudWatch alarm → the KMS-encrypted topic',
        alarm,
      );
    }
    cloudwatch.never('sns:Publish', t.topic(side), 'alarms of another account cannot publish to the topic', {
      ...TLS,
      'aws:SourceAccount': '999999999999',
      'aws:SourceArn': `arn:aws:cloudwatch:${regions[side]}:999999999999:alarm:x`,
    });
    cloudwatch.never('sns:Publish', t.topic(side), 'no publish without TLS', {
      'aws:SecureTransport': 'false',
      'aws:SourceAccount': account,
      'aws:SourceArn': t.alarmArn(side, 'x'),
    });
    // CloudWatch Logs encrypts the region's log groups with the operations key.
    t.caller(side, `logs.${regions[side]}.amazonaws.com`).allow(
      'kms:GenerateDataKey',
      t.opsKey(side),
      "CloudWatch Logs → the log groups' key",
      {
        'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:${regions[side]}:${account}:log-group:lifeboat-any`,
      },
    );
    const slack = t.slackSecret(side);
    if (!slack) continue;
    t.delivery(
      side,
      'sns.amazonaws.com',
      { fn: 'NotificationsNotifier' },
      t.topic(side),
      'SNS → the notifier',
    );
    t.delivery(
      side,
      'sns.amazonaws.com',
      { queue: 'NotificationsDeadLetterQueue' },
      t.topic(side),
      'SNS subscription → its dead-letter queue',
    );
    const n = t.fn(side, 'NotificationsNotifierRole', 'notifier');
    t.secret(n, slack, undefined, 'reads the Slack webhook URLs');
    n.allow('sqs:SendMessage', `{{${side}:NotificationsDeadLetterQueue}}`, 'on-failure destination', TLS);
    n.allow(
      ['kms:GenerateDataKey', 'kms:Decrypt'],
      t.opsKey(side),
      'the destination queue is KMS-encrypted',
      t.via('sqs', side),
    );
  }
}
