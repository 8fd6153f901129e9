import * as z from '../shared/zod.ts';
import { EventType, LifeboatEvent, Severity } from './events.ts';
import { alarmConsoleUrl, executionConsoleUrl, parseArn } from './links.ts';

/**
 * Reading what SNS delivers to the notifier: lifeboat's own events, the smaller shape workflows
 * publish, and CloudWatch alarm notifications, each turned into a LifeboatEvent.
 */

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
  environment: z.string().check(z.minLength(1)),
  executionId: z.string().check(z.minLength(1)),
  at: z.iso.datetime({ offset: true }),
  database: z.optional(z.string().check(z.minLength(1))),
});
type WorkflowMessage = z.infer<typeof WorkflowMessage>;

/** A CloudWatch alarm's SNS notification (the fields read here). */
const AlarmMessage = z.looseObject({
  AlarmName: z.string().check(z.minLength(1)),
  AlarmDescription: z.nullish(z.string()),
  AlarmArn: z.optional(z.string()),
  NewStateValue: z.enum(['ALARM', 'OK', 'INSUFFICIENT_DATA']),
  NewStateReason: z.optional(z.string()),
  StateChangeTime: z.optional(z.string()),
  Trigger: z.nullish(
    z.looseObject({
      MetricName: z.optional(z.string()),
      Namespace: z.optional(z.string()),
      Dimensions: z.optional(z.array(z.looseObject({ name: z.string(), value: z.string() }))),
    }),
  ),
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
  // Failback: what a failed failback left in the recovered region and, where it is left or
  // unknown, the commands that check and remove it (state-machines/failback.ts, wf-delete-replica);
  // the cleanup one step per figure (an Aurora secondary's takes four).
  if (m.type === 'failback.failed' && isRecord(m.replica)) {
    const r = m.replica;
    put('replicaStatus', str(r.status));
    put('cleanupDetail', str(r.detail));
    if (['left-behind', 'unknown'].includes(str(r.status) ?? '')) {
      put('checkReplica', str(r.check));
      const steps = (str(r.cleanup) ?? '').split(' && ').filter(Boolean);
      steps.forEach((step, i) => put(steps.length === 1 ? 'cleanup' : `cleanupStep${i + 1}`, step));
    }
  }
  // Approval gate: what a failover now would lose, from the heartbeat the replica replayed.
  const estimate = isRecord(m.estimate) ? m.estimate : {};
  if (room()) put('dataAtRisk', str(estimate.summary));
  if (room()) put('rowsAtRisk', num(estimate.rowsAtRisk));
  if (room()) put('estimatedRpoSeconds', num(estimate.rpoSeconds));
  if (room()) put('lastReplayedHeartbeat', str(estimate.lastReplayedHeartbeat));

  // Restore of an archived dump: the S3 restore asked for, and when it is readable at the latest.
  const archive = isRecord(m.restore) ? m.restore : {};
  const storage = isRecord(m.storage) ? m.storage : {};
  if (m.type === 'restore.waiting-for-archive') {
    put('tier', str(archive.tier));
    // Expedited had no capacity: the Standard tier instead.
    put('insteadOf', str(isRecord(m.asked) ? m.asked.insteadOf : undefined));
    put('worstCaseHours', num(archive.hours));
    put('readyBy', str(archive.readyBy));
    const wait = num(archive.waitSeconds);
    put('checkEveryMinutes', wait === undefined ? undefined : wait / 60);
    put('giveUpAfterHours', num(archive.boundHours));
    put('artifacts', num(storage.artifacts));
    if (Array.isArray(storage.storageClasses)) put('storageClass', storage.storageClasses.join(', '));
  }

  const who = m.database ? ` of ${m.database}` : '';
  const what = m.type.replace(/[.-]/g, ' ');
  let summary: string;
  switch (m.type) {
    case 'failover.partial':
      summary =
        str(m.promotion) === 'unknown'
          ? `Failover${who} does not know whether the new primary was promoted: ${str(m.nextStep) ?? 'see the execution'}`
          : str(m.promotion) === 'requested-not-writable'
            ? `Failover${who} requested the promotion of the new primary, but it was not confirmed writable (DNS not switched): ${str(m.nextStep) ?? 'see the execution'}`
            : `Failover${who} promoted the new primary but stopped at ${str(m.stage) ?? 'a later step'}: ${str(m.nextStep) ?? 'see the execution'}`;
      break;
    case 'failover.approval-needed':
      summary = `Failover${who} is waiting for a person to approve or abort it${str(m.approve) ? `: ${str(m.approve)}` : ''}${str(estimate.summary) ? ` — ${str(estimate.summary)}` : ''}`;
      break;
    case 'restore.waiting-for-archive':
      summary = `Restore${who} waits for S3 to restore its archived dump${figures.backupId ? ` ${figures.backupId}` : ''}${figures.storageClass ? ` (${figures.storageClass}, ${figures.tier ?? 'Standard'} tier)` : ''}: readable by ${figures.readyBy ?? 'an unknown time'} at the latest`;
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
