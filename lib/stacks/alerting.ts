import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { Database, EnvironmentConfig } from '../config/schema.ts';
import { Monitoring, type ReplicaLagSource } from '../constructs/monitoring/index.ts';
import { Notifications } from '../constructs/notifications.ts';
import type { OperationsKey } from '../constructs/operations-key.ts';

export interface RegionAlertingProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** The region's Slack webhook secret (secrets are regional); without it, no events topic. */
  readonly slackWebhookSecretArn: string | undefined;
  readonly operationsKey: OperationsKey;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
}

export interface RegionAlerting {
  /** The events topic and the Slack notifier, when the region has a webhook secret. */
  readonly notifications?: Notifications;
  readonly monitoring: Monitoring;
}

/**
 * One topic per environment and region, and the alarms on it: with a webhook secret, the events
 * topic of `Notifications` (notifier to Slack, e-mail, Chatbot), which the alarms share so that
 * they reach Slack too; without one, an alarm topic of `Monitoring` with the e-mail subscribers.
 * Every function and workflow of the stack gets its alarms (`Monitoring.watchStack`).
 */
export function regionAlerting(scope: Construct, props: RegionAlertingProps): RegionAlerting {
  const { environment, config } = props;
  const notifications = props.slackWebhookSecretArn
    ? new Notifications(scope, 'Notifications', {
        environment,
        key: props.operationsKey.key,
        slackWebhookSecret: Secret.fromSecretCompleteArn(
          scope,
          'SlackWebhookSecret',
          props.slackWebhookSecretArn,
        ),
        emailSubscriptions: config.notifications.emails,
        chatbot: config.notifications.chatbot,
        logRetention: props.logRetention,
        logKey: props.logKey,
      })
    : undefined;
  const monitoring = new Monitoring(scope, 'Monitoring', {
    environment,
    alarms: config.alarms,
    notifications: config.notifications,
    operationsKey: props.operationsKey,
    topic: notifications?.topic,
  });
  if (notifications) monitoring.include(notifications.alarm);
  monitoring.watchStack();
  return { notifications, monitoring };
}

/** The DR replica of each database that fails over: whose lag the DR stack alarms on. */
export function replicaLagSources(databases: readonly Database[]): ReplicaLagSource[] {
  return databases.flatMap((db) =>
    db.failover ? [{ database: db.name, kind: db.kind, identifier: db.failover.replicaIdentifier }] : [],
  );
}
