import * as z from '../shared/zod.ts';

/**
 * The structured events lifeboat publishes to its per-environment SNS topic (flow 7): their schema.
 * Functions publish them with `publishEvent` (publish.ts); workflows publish them from `sns:publish`
 * states (see state-machines/common.ts `notification`), in a smaller shape that `eventFromSnsRecord`
 * (decode.ts) completes. The notifier (functions/notifier) turns each into a Slack message.
 */

/**
 * Every event type, closed: a type outside this list is not an event (test/unit/events.test.ts checks
 * that every type the workflows publish is here).
 */
export const EVENT_TYPES = [
  'backup.completed',
  'backup.failed',
  'backup.stale',
  'verification.passed',
  'verification.failed',
  'snapshot.created',
  'snapshot.copied',
  'snapshot.copy-failed',
  'restore.started',
  'restore.waiting-for-archive',
  'restore.completed',
  'restore.failed',
  'restore-test.passed',
  'restore-test.checks-failed',
  'restore-test.failed',
  'failover.started',
  'failover.approval-needed',
  'failover.completed',
  'failover.partial',
  'failover.failed',
  'failover.refused',
  'failover.dry-run',
  'failback.started',
  'failback.reprotected',
  'failback.completed',
  'failback.failed',
  'drill.completed',
  'drill.failed',
  'prune.completed',
  'prune.failed',
  'report.published',
  'alarm.raised',
  'alarm.resolved',
  'alarm.insufficient-data',
] as const;

export const EventType = z.enum(EVENT_TYPES);
export type EventType = z.infer<typeof EventType>;

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

/** The severity a type has unless its publisher knows better (docs/notifications.md lists them). */
export const DEFAULT_SEVERITY: Readonly<Record<EventType, Severity>> = {
  'backup.completed': 'info',
  'backup.failed': 'critical',
  'backup.stale': 'warning',
  'verification.passed': 'info',
  'verification.failed': 'critical',
  'snapshot.created': 'info',
  'snapshot.copied': 'info',
  'snapshot.copy-failed': 'warning',
  'restore.started': 'info',
  'restore.waiting-for-archive': 'warning',
  'restore.completed': 'info',
  'restore.failed': 'critical',
  'restore-test.passed': 'info',
  'restore-test.checks-failed': 'critical',
  'restore-test.failed': 'warning',
  'failover.started': 'critical',
  'failover.approval-needed': 'critical',
  'failover.completed': 'critical',
  'failover.partial': 'critical',
  'failover.failed': 'critical',
  'failover.refused': 'warning',
  'failover.dry-run': 'info',
  'failback.started': 'info',
  'failback.reprotected': 'info',
  'failback.completed': 'info',
  'failback.failed': 'critical',
  'drill.completed': 'info',
  'drill.failed': 'warning',
  'prune.completed': 'info',
  'prune.failed': 'warning',
  'report.published': 'info',
  'alarm.raised': 'warning',
  'alarm.resolved': 'info',
  'alarm.insufficient-data': 'warning',
};

/** `rtoSeconds`, `bytes`, `durationMs`: a name a figure formatter can read its unit from. */
const FIGURE_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;

export const Figures = z
  .record(
    z.string().check(z.regex(FIGURE_NAME, { error: 'figure names are camelCase words' })),
    // z.number() refuses Infinity and NaN by itself (it was spelled .finite() on the classic form).
    z.union([z.number(), z.string().check(z.maxLength(500))]),
  )
  .check(z.refine((r) => Object.keys(r).length <= 20, { error: 'at most 20 figures' }));
export type Figures = z.infer<typeof Figures>;

export const LifeboatEvent = z.strictObject({
  source: z.literal('lifeboat'),
  type: EventType,
  severity: Severity,
  /** lifeboat environment (dev, staging, prod ...). */
  environment: z.string().check(z.minLength(1), z.maxLength(64)),
  /** AWS region the event happened in (`local` for the CLI's local mode). */
  region: z.string().check(z.minLength(1), z.maxLength(32)),
  /** The protected database's name in lifeboat's configuration; absent for environment-wide events. */
  database: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  /** When it happened (ISO 8601). */
  at: z.iso.datetime({ offset: true }),
  /** Console URL of the execution, log group or alarm (see executionConsoleUrl, logGroupConsoleUrl). */
  link: z.optional(z.url({ protocol: /^https$/ }).check(z.maxLength(3000))),
  /** One line a person on call reads first. */
  summary: z.string().check(
    z.minLength(1),
    z.maxLength(500),
    z.refine((s) => !/[\r\n]/.test(s), { error: 'one line: no line breaks' }),
  ),
  figures: z._default(Figures, {}),
});
export type LifeboatEvent = z.infer<typeof LifeboatEvent>;
/** What a publisher writes: severity defaults per type, `at` to now, figures to none. */
export type LifeboatEventInput = Omit<z.input<typeof LifeboatEvent>, 'source' | 'severity' | 'at'> & {
  readonly severity?: Severity;
  readonly at?: string | Date;
};

/** Completes an event with the type's default severity and the current time. */
export function makeEvent(input: LifeboatEventInput, now: () => Date = () => new Date()): LifeboatEvent {
  const at = input.at instanceof Date ? input.at.toISOString() : (input.at ?? now().toISOString());
  return LifeboatEvent.parse({
    ...input,
    source: 'lifeboat',
    severity: input.severity ?? DEFAULT_SEVERITY[input.type],
    at,
  });
}

/**
 * Environment variable through which a function learns the events topic (set together with the
 * publish grant by `Notifications.bindPublisher` in lib/constructs/notifications.ts).
 */
export const EVENTS_TOPIC_ENV = 'LIFEBOAT_EVENTS_TOPIC_ARN';
