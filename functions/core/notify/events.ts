import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod';
import { errorMessage } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';

/**
 * The structured events lifeboat publishes to its per-environment SNS topic (flow 7). Functions
 * publish them with `publishEvent`; workflows publish them from `sns:publish` states (see
 * state-machines/common.ts `notification`), in a smaller shape that `eventFromSnsRecord` completes.
 * The notifier (functions/notifier) turns each into a Slack message.
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
    z.string().regex(FIGURE_NAME, { error: 'figure names are camelCase words' }),
    z.union([z.number().finite(), z.string().max(500)]),
  )
  .refine((r) => Object.keys(r).length <= 20, { error: 'at most 20 figures' });
export type Figures = z.infer<typeof Figures>;

export const LifeboatEvent = z.strictObject({
  source: z.literal('lifeboat'),
  type: EventType,
  severity: Severity,
  /** lifeboat environment (dev, staging, prod ...). */
  environment: z.string().min(1).max(64),
  /** AWS region the event happened in (`local` for the CLI's local mode). */
  region: z.string().min(1).max(32),
  /** The protected database's name in lifeboat's configuration; absent for environment-wide events. */
  database: z.string().min(1).max(200).optional(),
  /** When it happened (ISO 8601). */
  at: z.iso.datetime({ offset: true }),
  /** Console URL of the execution, log group or alarm (see executionConsoleUrl, logGroupConsoleUrl). */
  link: z
    .url({ protocol: /^https$/ })
    .max(3000)
    .optional(),
  /** One line a person on call reads first. */
  summary: z
    .string()
    .min(1)
    .max(500)
    .refine((s) => !/[\r\n]/.test(s), { error: 'one line: no line breaks' }),
  figures: Figures.default({}),
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

// --- console links -------------------------------------------------------------------------------

interface ParsedArn {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const m = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:(.+)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, account: m[4] ?? '', resource: m[5]! };
}

function consoleHost(partition: string, region: string): string {
  if (partition === 'aws-cn') return 'console.amazonaws.cn';
  if (partition === 'aws-us-gov') return 'console.amazonaws-us-gov.com';
  return `${region}.console.aws.amazon.com`;
}

/** Step Functions console page of an execution, from its ARN (`$$.Execution.Id`). */
export function executionConsoleUrl(executionArn: string): string | undefined {
  const arn = parseArn(executionArn);
  if (arn?.service !== 'states' || !arn.resource.startsWith('execution:') || !arn.region) return undefined;
  return `https://${consoleHost(arn.partition, arn.region)}/states/home?region=${arn.region}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}

/**
 * The CloudWatch console's own escaping of names in a `#logsV2:` fragment: URI-encode twice and
 * write `%` as `$`.
 */
function logsFragment(name: string): string {
  return encodeURIComponent(encodeURIComponent(name)).replace(/%/g, '$');
}

/** CloudWatch Logs console page of a log group (and stream), by name and region. */
export function logGroupConsoleUrl(
  region: string,
  logGroupName: string,
  logStreamName?: string,
  partition = 'aws',
): string {
  const stream = logStreamName ? `/log-events/${logsFragment(logStreamName)}` : '';
  return `https://${consoleHost(partition, region)}/cloudwatch/home?region=${region}#logsV2:log-groups/log-group/${logsFragment(logGroupName)}${stream}`;
}

/** CloudWatch Logs console page of a log group, from its ARN (`arn:aws:logs:r:a:log-group:NAME[:*]`). */
export function logGroupConsoleUrlFromArn(logGroupArn: string): string | undefined {
  const arn = parseArn(logGroupArn);
  if (arn?.service !== 'logs' || !arn.resource.startsWith('log-group:')) return undefined;
  const name = arn.resource.slice('log-group:'.length).replace(/:\*$/, '');
  return logGroupConsoleUrl(arn.region, name, undefined, arn.partition);
}

/** The log of the Lambda invocation that is running (Lambda's own environment variables). */
export function lambdaLogConsoleUrl(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const region = env.AWS_REGION;
  const group = env.AWS_LAMBDA_LOG_GROUP_NAME;
  if (!region || !group) return undefined;
  return logGroupConsoleUrl(region, group, env.AWS_LAMBDA_LOG_STREAM_NAME || undefined);
}

/** CloudWatch console page of an alarm, from its ARN. */
export function alarmConsoleUrl(alarmArn: string): string | undefined {
  const arn = parseArn(alarmArn);
  if (arn?.service !== 'cloudwatch' || !arn.resource.startsWith('alarm:')) return undefined;
  const name = arn.resource.slice('alarm:'.length);
  return `https://${consoleHost(arn.partition, arn.region)}/cloudwatch/home?region=${arn.region}#alarmsV2:alarm/${encodeURIComponent(name)}`;
}

// --- publishing ----------------------------------------------------------------------------------

export interface PublishOptions {
  /** Longest a publish may take before it is abandoned. @default 2000 */
  readonly timeoutMs?: number;
}

export type PublishResult =
  | { readonly published: true; readonly messageId: string | undefined }
  | { readonly published: false; readonly reason: string };

/** SNS subjects: ASCII, one line, under 100 characters. */
function subjectOf(event: LifeboatEvent): string {
  const text = `lifeboat ${event.environment}: ${event.type}${event.database ? ` ${event.database}` : ''}`;
  return text
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 99)
    .trim();
}

/**
 * Publishes an event. Never throws and never takes longer than `timeoutMs`: a notification that
 * cannot be sent must not fail or slow the backup, restore or failover that sends it. A failure is
 * logged at error (and the event with it, so the log still tells the story).
 *
 * The message is the event's JSON; the message attributes `type`, `severity` and `environment` let
 * a subscription filter (e.g. e-mail only for `critical`).
 */
export async function publishEvent(
  client: SNSClient,
  topicArn: string,
  event: LifeboatEvent,
  logger: Logger,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const parsed = LifeboatEvent.safeParse(event);
  if (!parsed.success) {
    const reason = `invalid event: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`;
    logger.error('notification not published', { reason, event });
    return { published: false, reason };
  }
  const valid = parsed.data;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`SNS publish took longer than ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const send = client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: JSON.stringify(valid),
        Subject: subjectOf(valid),
        MessageAttributes: {
          type: { DataType: 'String', StringValue: valid.type },
          severity: { DataType: 'String', StringValue: valid.severity },
          environment: { DataType: 'String', StringValue: valid.environment },
        },
      }),
      { abortSignal: controller.signal },
    );
    // The race settles on the timer even where the client ignores the signal; the abandoned send
    // must not surface later as an unhandled rejection.
    send.catch(() => {});
    const out = await Promise.race([send, timedOut]);
    return { published: true, messageId: out.MessageId };
  } catch (err) {
    const reason = errorMessage(err);
    logger.error('notification not published', {
      reason,
      errorName: (err as { name?: string }).name,
      topicArn,
      event: valid,
    });
    return { published: false, reason };
  } finally {
    clearTimeout(timer);
  }
}

// --- reading what SNS delivers -------------------------------------------------------------------

/** The parts of an SNS-to-Lambda event record this module reads (aws-lambda's SNSEventRecord fits). */
export interface SnsRecordLike {
  readonly Sns: {
    readonly Message: string;
    readonly Subject?: string | null;
    readonly Timestamp?: string;
    readonly TopicArn?: string;
    readonly MessageId?: string;
  };
}

/** What the notifier knows about itself, for messages that do not say (alarms). */
export interface ReadContext {
  readonly environment?: string | undefined;
  readonly region?: string | undefined;
}

export type ReadResult =
  | { readonly kind: 'event'; readonly event: LifeboatEvent; readonly origin: 'event' | 'workflow' | 'alarm' }
  | {
      readonly kind: 'unrecognised';
      readonly subject: string | undefined;
      readonly text: string;
      readonly reason: string;
    };

/**
 * The shape workflows publish (state-machines/common.ts `notification`): the event's envelope with
 * `executionId` and `at` from the context object, the rest free-form detail of the workflow.
 */
const WorkflowMessage = z.looseObject({
  source: z.literal('lifeboat'),
  type: EventType,
  severity: Severity,
  environment: z.string().min(1),
  executionId: z.string().min(1),
  at: z.iso.datetime({ offset: true }),
  database: z.string().min(1).optional(),
});
type WorkflowMessage = z.infer<typeof WorkflowMessage>;

/** A CloudWatch alarm's SNS notification (the fields read here). */
const AlarmMessage = z.looseObject({
  AlarmName: z.string().min(1),
  AlarmDescription: z.string().nullish(),
  AlarmArn: z.string().optional(),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  NewStateReason: z.string().optional(),
  StateChangeTime: z.string().optional(),
  Trigger: z
    .looseObject({
      MetricName: z.string().optional(),
      Namespace: z.string().optional(),
      Dimensions: z.array(z.looseObject({ name: z.string(), value: z.string() })).optional(),
    })
    .nullish(),
});
type AlarmMessage = z.infer<typeof AlarmMessage>;

/**
 * Reads the event out of an SNS record. The Message is the event's JSON (`publishEvent`), the
 * workflow shape (Step Functions serialises the `sns:publish` state's JSON Message object to a
 * string), a CloudWatch alarm notification, or any of those JSON-encoded once more. Anything else
 * comes back `unrecognised` with its text, so the notifier can still show it.
 */
export function eventFromSnsRecord(record: SnsRecordLike, context: ReadContext = {}): ReadResult {
  const text = record.Sns.Message;
  const subject = record.Sns.Subject ?? undefined;
  let value: unknown = text;
  for (let depth = 0; depth < 3 && typeof value === 'string'; depth++) {
    try {
      value = JSON.parse(value);
    } catch {
      return { kind: 'unrecognised', subject, text, reason: 'the message is not JSON' };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { kind: 'unrecognised', subject, text, reason: 'the message is not a JSON object' };
  }

  const asEvent = LifeboatEvent.safeParse(value);
  if (asEvent.success) return { kind: 'event', event: asEvent.data, origin: 'event' };

  const asWorkflow = WorkflowMessage.safeParse(value);
  if (asWorkflow.success) {
    const event = fromWorkflowMessage(asWorkflow.data, context);
    if (event) return { kind: 'event', event, origin: 'workflow' };
  }

  const asAlarm = AlarmMessage.safeParse(value);
  if (asAlarm.success) {
    const event = fromAlarmMessage(asAlarm.data, context, record.Sns.Timestamp);
    if (event) return { kind: 'event', event, origin: 'alarm' };
  }

  const reason =
    'source' in value && (value as { source?: unknown }).source === 'lifeboat'
      ? `not a valid lifeboat event: ${asEvent.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
          .join('; ')}`
      : 'neither a lifeboat event nor a CloudWatch alarm';
  return { kind: 'unrecognised', subject, text, reason };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

function oneLine(text: string, max = 300): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** `{ Error, Cause }` of a Step Functions catch, as one line. */
function describeError(error: unknown): string | undefined {
  if (!isRecord(error)) return undefined;
  const name = str(error.Error);
  let cause = str(error.Cause);
  // A Lambda task's Cause is the JSON of the error it threw: show its message.
  if (cause?.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(cause);
      if (isRecord(parsed)) cause = str(parsed.errorMessage) ?? cause;
    } catch {
      // not JSON after all: keep the text
    }
  }
  if (name && cause) return `${name}: ${cause}`;
  return name ?? cause;
}

function instanceName(v: unknown): string | undefined {
  if (!isRecord(v)) return str(v);
  const id = str(v.identifier);
  const region = str(v.region);
  return id ? (region ? `${id} (${region})` : id) : undefined;
}

/** Completes what a workflow publishes into an event: region and link from the execution ARN. */
function fromWorkflowMessage(m: WorkflowMessage, context: ReadContext): LifeboatEvent | undefined {
  const arn = parseArn(m.executionId);
  const region = arn?.region || context.region;
  if (!region) return undefined;
  const figures: Record<string, number | string> = {};
  const put = (name: string, v: number | string | undefined) => {
    if (v !== undefined) figures[name] = typeof v === 'string' ? oneLine(v, 500) : v;
  };
  const record = isRecord(m.record) ? m.record : {};
  put('rtoSeconds', num(record.rtoSeconds));
  put('rpoSeconds', num(record.rpoSeconds) ?? num(m.rpoSeconds));
  put('from', instanceName(m.from));
  put('to', instanceName(m.to));
  put('endpoint', str(m.endpoint));
  put('fence', str(m.fence));
  put('stage', str(m.stage));
  put('backupId', str(m.backupId));
  put('replica', instanceName(m.replica));
  const report = isRecord(m.report) ? m.report : {};
  put('durationMs', num(report.durationMs));
  put('restoreDurationMs', num(report.restoreDurationMs));
  put('approvalTimeoutSeconds', num(m.timeoutSeconds));
  put('approve', str(m.approve));
  put('abort', str(m.abort));
  const error = describeError(m.error);
  if (isRecord(m.error)) put('error', str(m.error.Error));
  // Failover: the state of each part as the workflow knows it, and the check to run where it is
  // unknown (state-machines/failover.ts). Figures are capped at 20: these come last and give way.
  const state = isRecord(m.state) ? m.state : {};
  const room = () => Object.keys(figures).length < 20;
  for (const part of ['lock', 'fence', 'promotion', 'dns', 'writeCheck']) {
    const s = state[part];
    if (!isRecord(s) || !room()) continue;
    if (figures[part] === undefined) put(part, str(s.status));
    if (str(s.check) && room()) put(`${part}Check`, str(s.check));
    if (str(s.clear) && room()) put('clearLock', str(s.clear));
  }
  // Approval gate: what a failover now would lose, from the heartbeat the replica replayed.
  const estimate = isRecord(m.estimate) ? m.estimate : {};
  if (room()) put('dataAtRisk', str(estimate.summary));
  if (room()) put('rowsAtRisk', num(estimate.rowsAtRisk));
  if (room()) put('estimatedRpoSeconds', num(estimate.rpoSeconds));
  if (room()) put('lastReplayedHeartbeat', str(estimate.lastReplayedHeartbeat));

  const who = m.database ? ` of ${m.database}` : '';
  const what = m.type.replace(/[.-]/g, ' ');
  let summary: string;
  switch (m.type) {
    case 'failover.partial':
      summary =
        str(m.promotion) === 'unknown'
          ? `Failover${who} does not know whether the new primary was promoted: ${str(m.nextStep) ?? 'see the execution'}`
          : `Failover${who} promoted the new primary but stopped at ${str(m.stage) ?? 'a later step'}: ${str(m.nextStep) ?? 'see the execution'}`;
      break;
    case 'failover.approval-needed':
      summary = `Failover${who} is waiting for a person to approve or abort it${str(m.approve) ? `: ${str(m.approve)}` : ''}${str(estimate.summary) ? ` — ${str(estimate.summary)}` : ''}`;
      break;
    case 'failover.completed':
      summary = `Failover${who} completed${figures.to ? `: ${figures.to} is the primary` : ''}`;
      break;
    default:
      summary = error ? `${what}${who}: ${error}` : `${what}${who}`;
  }
  const summaryLine = oneLine(summary.charAt(0).toUpperCase() + summary.slice(1), 500);
  const parsed = LifeboatEvent.safeParse({
    source: 'lifeboat',
    type: m.type,
    severity: m.severity,
    environment: m.environment,
    region,
    database: m.database,
    at: m.at,
    link: executionConsoleUrl(m.executionId),
    summary: summaryLine,
    figures,
  });
  return parsed.success ? parsed.data : undefined;
}

/** CloudWatch writes `2026-11-23T09:15:00.123+0000`; ISO 8601 wants `+00:00`. */
function alarmTime(value: string | undefined, fallback: string | undefined): string {
  for (const candidate of [value, fallback]) {
    if (!candidate) continue;
    const iso = candidate.replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
    const ms = Date.parse(iso);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  return new Date().toISOString();
}

const DATABASE_DIMENSIONS = ['Database', 'DBInstanceIdentifier', 'DBClusterIdentifier'];

function fromAlarmMessage(
  m: AlarmMessage,
  context: ReadContext,
  timestamp: string | undefined,
): LifeboatEvent | undefined {
  const arn = m.AlarmArn ? parseArn(m.AlarmArn) : undefined;
  const region = arn?.region || context.region;
  if (!region) return undefined;
  const dimensions = m.Trigger?.Dimensions ?? [];
  const database = dimensions.find((d) => DATABASE_DIMENSIONS.includes(d.name))?.value;
  const environment =
    dimensions.find((d) => d.name === 'Environment')?.value ?? context.environment ?? 'unknown';
  const type: EventType =
    m.NewStateValue === 'ALARM'
      ? 'alarm.raised'
      : m.NewStateValue === 'OK'
        ? 'alarm.resolved'
        : 'alarm.insufficient-data';
  // lifeboat names its critical alarms so (monitoring construct); the rest are warnings.
  const critical = /critical/i.test(`${m.AlarmName} ${m.AlarmDescription ?? ''}`);
  const severity: Severity = type === 'alarm.resolved' ? 'info' : critical ? 'critical' : 'warning';
  const figures: Record<string, string> = { alarm: oneLine(m.AlarmName, 500) };
  if (m.Trigger?.MetricName)
    figures.metric = oneLine(`${m.Trigger.Namespace ?? ''}/${m.Trigger.MetricName}`, 500);
  if (m.NewStateReason) figures.reason = oneLine(m.NewStateReason, 500);
  const parsed = LifeboatEvent.safeParse({
    source: 'lifeboat',
    type,
    severity,
    environment,
    region,
    database,
    at: alarmTime(m.StateChangeTime, timestamp),
    link: m.AlarmArn ? alarmConsoleUrl(m.AlarmArn) : undefined,
    summary: oneLine(m.AlarmDescription || m.AlarmName, 500),
    figures,
  });
  return parsed.success ? parsed.data : undefined;
}
