import { EVENT_TYPES, type EventType, type LifeboatEvent, makeEvent } from '#core/notify/events.ts';
import { executionConsoleUrl } from '#core/notify/links.ts';

/** Test data shared by the event, Slack and notifier tests: one realistic event per type. */

export const EXECUTION_ARN =
  'arn:aws:states:eu-central-1:123456789012:execution:lifeboat-prod-failover:orders-2026-11-23T0915';
export const EXECUTION_URL = executionConsoleUrl(EXECUTION_ARN)!;

const FIGURES: Partial<Record<EventType, LifeboatEvent['figures']>> = {
  'backup.completed': { bytes: 13_314_398_208, durationMs: 754_000, backupId: 'dump-20261123T091500Z' },
  'backup.failed': { error: 'PgDumpFailed' },
  'backup.stale': { ageHours: 30, thresholdHours: 26 },
  'verification.passed': { tables: 42, rows: 1_250_000, restoreDurationMs: 95_400 },
  'verification.failed': { error: 'ChecksumMismatch', backupId: 'dump-20261123T091500Z' },
  'snapshot.created': { snapshotId: 'lifeboat-orders-gold-20261123t0915z' },
  'snapshot.copied': { durationMs: 1_820_000, sizeBytes: 107_374_182_400 },
  'snapshot.copy-failed': { error: 'KmsKeyNotAccessible' },
  'restore.waiting-for-archive': {
    tier: 'Standard',
    worstCaseHours: 12,
    readyBy: '2026-11-23T21:15:00.000Z',
    storageClass: 'DEEP_ARCHIVE',
  },
  'restore.completed': { durationMs: 1_260_000, endpoint: 'orders-restore.abc.eu-west-1.rds.amazonaws.com' },
  'failover.approval-needed': { lagSeconds: 4.2, rpoSeconds: 4.2 },
  'failover.completed': { rtoSeconds: 187.4, rpoSeconds: 3, to: 'orders-dr (eu-central-1)' },
  'failover.partial': { stage: 'dns', rtoSeconds: 140 },
  'drill.completed': { rtoSeconds: 2.9, rpoSeconds: 0, lagSeconds: 0.4 },
  'prune.completed': { deleted: 12, freedBytes: 52_613_349_376 },
  'alarm.raised': { alarm: 'lifeboat-prod-orders-replica-lag-critical', lagSeconds: 75 },
};

export function sampleEvent(type: EventType, overrides: Partial<LifeboatEvent> = {}): LifeboatEvent {
  return makeEvent({
    type,
    environment: 'prod',
    region: 'eu-central-1',
    database: 'orders',
    at: '2026-11-23T09:15:00.000Z',
    link: EXECUTION_URL,
    summary: `${type} of orders in prod`,
    figures: FIGURES[type] ?? {},
    ...overrides,
  });
}

export const ALL_SAMPLES: readonly LifeboatEvent[] = EVENT_TYPES.map((type) => sampleEvent(type));

/** An SNS-to-Lambda event carrying `message` (the string SNS delivers as Message). */
export function snsEvent(message: string, messageId = 'msg-1', subject: string | null = null) {
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn:
          'arn:aws:sns:eu-central-1:123456789012:lifeboat-prod-events:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55',
        Sns: {
          Type: 'Notification',
          MessageId: messageId,
          TopicArn: 'arn:aws:sns:eu-central-1:123456789012:lifeboat-prod-events',
          Subject: subject,
          Message: message,
          Timestamp: '2026-11-23T09:15:01.000Z',
          SignatureVersion: '1',
          Signature: 'EXAMPLE',
          SigningCertUrl: 'https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-0000.pem',
          UnsubscribeUrl: 'https://sns.eu-central-1.amazonaws.com/?Action=Unsubscribe',
          MessageAttributes: {},
        },
      },
    ],
  };
}
