import * as z from '../shared/zod.ts';
import type { EventType, Figures, LifeboatEvent, Severity } from './events.ts';

/**
 * Slack rendering of lifeboat events: pure functions from an event to the JSON body of an incoming
 * webhook POST (Block Kit), and the choice of webhook by severity.
 *
 * Anatomy: a header block (severity emoji, what happened, database, environment) at the top level, so
 * it is what the channel and the notification show; below it one attachment in the severity's
 * colour holding the summary, the fields (environment, region, database, each figure with its unit),
 * a context line (type, time) and a button to the execution, log or alarm. The colour bar exists
 * only on attachments, hence the attachment.
 */

export const SEVERITY_COLOUR: Readonly<Record<Severity, string>> = {
  info: '#2EB67D',
  warning: '#ECB22E',
  critical: '#E01E5A',
};

export const SEVERITY_EMOJI: Readonly<Record<Severity, string>> = {
  info: ':large_green_circle:',
  warning: ':warning:',
  critical: ':rotating_light:',
};

/** Headline wording per type: what happened, in words. */
export const TITLES: Readonly<Record<EventType, string>> = {
  'backup.completed': 'Backup completed',
  'backup.failed': 'Backup failed',
  'backup.stale': 'Backup is stale',
  'verification.passed': 'Verification passed',
  'verification.failed': 'Verification failed',
  'snapshot.created': 'Snapshot created',
  'snapshot.copied': 'Snapshot copied to the DR region',
  'snapshot.copy-failed': 'Snapshot copy failed',
  'restore.started': 'Restore started',
  'restore.waiting-for-archive': 'Restore waiting for an archived dump',
  'restore.completed': 'Restore completed',
  'restore.failed': 'Restore failed',
  'restore-test.passed': 'Restore test passed',
  'restore-test.checks-failed': 'Restore test: data checks failed',
  'restore-test.failed': 'Restore test failed',
  'failover.started': 'Failover started',
  'failover.approval-needed': 'Failover awaiting approval',
  'failover.completed': 'Failover completed',
  'failover.partial': 'Failover partially completed',
  'failover.failed': 'Failover failed',
  'failover.refused': 'Failover refused',
  'failover.dry-run': 'Failover dry run',
  'failback.started': 'Failback started',
  'failback.reprotected': 'Failback: re-protected',
  'failback.completed': 'Failback completed',
  'failback.failed': 'Failback failed',
  'drill.completed': 'Drill completed',
  'drill.failed': 'Drill failed',
  'prune.completed': 'Prune completed',
  'prune.failed': 'Prune failed',
  'report.published': 'DR evidence report',
  'alarm.raised': 'Alarm',
  'alarm.resolved': 'Alarm resolved',
  'alarm.insufficient-data': 'Alarm has insufficient data',
};

// --- Block Kit types (the subset rendered here) ---------------------------------------------------

export interface PlainText {
  readonly type: 'plain_text';
  readonly text: string;
  readonly emoji?: boolean;
}
export interface Mrkdwn {
  readonly type: 'mrkdwn';
  readonly text: string;
}
export type SlackBlock =
  | { readonly type: 'header'; readonly text: PlainText }
  | { readonly type: 'section'; readonly text?: Mrkdwn; readonly fields?: readonly Mrkdwn[] }
  | { readonly type: 'context'; readonly elements: readonly Mrkdwn[] }
  | {
      readonly type: 'actions';
      readonly elements: readonly {
        readonly type: 'button';
        readonly text: PlainText;
        readonly url: string;
        readonly action_id: string;
        readonly style?: 'primary' | 'danger';
      }[];
    };

export interface SlackMessage {
  /** Notification and fallback text (screen readers, clients without Block Kit). */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
  readonly attachments: readonly { readonly color: string; readonly blocks: readonly SlackBlock[] }[];
}

// Block Kit limits: header text 150 characters, section text 3000, a field 2000, 10 fields a section.
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_PER_SECTION = 10;

/** Slack's mrkdwn treats `&`, `<` and `>` as control characters: escape them in anything we did not write. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// --- figures --------------------------------------------------------------------------------------

const KIB = 1024;
const MIB = KIB * 1024;
const GIB = MIB * 1024;
const TIB = GIB * 1024;

function trim(n: number, digits: number): string {
  return n.toFixed(digits).replace(/\.?0+$/, '');
}

/** 512 B, 3.5 KiB, 118.2 MiB, 12.40 GiB: binary units, as AWS bills storage. */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < KIB) return `${bytes} B`;
  if (abs < MIB) return `${trim(bytes / KIB, 1)} KiB`;
  if (abs < GIB) return `${trim(bytes / MIB, 1)} MiB`;
  if (abs < TIB) return `${trim(bytes / GIB, 2)} GiB`;
  return `${trim(bytes / TIB, 2)} TiB`;
}

/** 850 ms, 4.2 s, 3 min 20 s, 2 h 5 min. */
export function formatSeconds(seconds: number): string {
  if (seconds < 0) return `-${formatSeconds(-seconds)}`;
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 59.95) return `${trim(seconds, 1)} s`;
  const total = Math.round(seconds);
  if (total < 3600) {
    const m = Math.floor(total / 60);
    const s = total % 60;
    return s === 0 ? `${m} min` : `${m} min ${s} s`;
  }
  const minutes = Math.round(total / 60);
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m === 0 ? `${h} h` : `${h} h ${m} min`;
}

/** Labels of the figures people look for first; the rest are derived from the name. */
const FIGURE_LABELS: Readonly<Record<string, string>> = {
  rtoSeconds: 'RTO',
  rpoSeconds: 'RPO',
  lagSeconds: 'Replica lag',
  bytes: 'Size',
  durationMs: 'Duration',
  ageHours: 'Age',
};

function labelOf(name: string): string {
  const known = FIGURE_LABELS[name];
  if (known) return known;
  const words = name
    .replace(/(Bytes|Ms|Seconds|Hours)$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A figure's value with its unit, read from its name (`…Bytes`, `…Ms`, `…Seconds`, `…Hours`). */
export function formatFigure(name: string, value: number | string): string {
  if (typeof value === 'string') return value;
  if (name === 'bytes' || name.endsWith('Bytes')) return formatBytes(value);
  if (name === 'durationMs' || name.endsWith('Ms')) return formatSeconds(value / 1000);
  if (name.endsWith('Seconds')) return formatSeconds(value);
  if (name.endsWith('Hours')) return formatSeconds(value * 3600);
  if (name.endsWith('Percent')) return `${trim(value, 1)} %`;
  return Number.isInteger(value) ? value.toLocaleString('en-US') : trim(value, 3);
}

function field(label: string, value: string): Mrkdwn {
  return { type: 'mrkdwn', text: clip(`*${label}*\n${escapeMrkdwn(value)}`, FIELD_MAX) };
}

export function figureFields(figures: Figures): Mrkdwn[] {
  return Object.entries(figures).map(([name, value]) => field(labelOf(name), formatFigure(name, value)));
}

// --- the message ----------------------------------------------------------------------------------

export function headline(event: LifeboatEvent): string {
  const where = event.database ? `${event.database} · ${event.environment}` : event.environment;
  return clip(`${SEVERITY_EMOJI[event.severity]} ${TITLES[event.type]}: ${where}`, HEADER_MAX);
}

function buttonLabel(link: string): string {
  if (link.includes('/states/')) return 'Open execution';
  if (link.includes('#logsV2:')) return 'Open logs';
  if (link.includes('#alarmsV2:')) return 'Open alarm';
  return 'Open';
}

/** The incoming-webhook body for an event. */
export function renderEvent(event: LifeboatEvent): SlackMessage {
  const fields = [
    field('Environment', event.environment),
    field('Region', event.region),
    ...(event.database ? [field('Database', event.database)] : []),
    ...figureFields(event.figures),
  ];
  const body: SlackBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: clip(escapeMrkdwn(event.summary), SECTION_MAX) } },
  ];
  for (let i = 0; i < fields.length; i += FIELDS_PER_SECTION) {
    body.push({ type: 'section', fields: fields.slice(i, i + FIELDS_PER_SECTION) });
  }
  body.push({
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `\`${event.type}\` · ${escapeMrkdwn(event.at)} · lifeboat` }],
  });
  if (event.link) {
    body.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: buttonLabel(event.link) },
          url: event.link,
          action_id: 'lifeboat-open-link',
          ...(event.severity === 'critical' ? { style: 'danger' as const } : {}),
        },
      ],
    });
  }
  const head = headline(event);
  return {
    text: `${head} — ${clip(event.summary, 300)}`,
    blocks: [{ type: 'header', text: { type: 'plain_text', text: head, emoji: true } }],
    attachments: [{ color: SEVERITY_COLOUR[event.severity], blocks: body }],
  };
}

/**
 * A message that is not a lifeboat event (someone published by hand, a new producer): shown rather
 * than dropped, in the warning colour, its text in a code block.
 */
export function renderUnrecognised(args: {
  readonly subject?: string | undefined;
  readonly text: string;
  readonly reason: string;
  readonly environment?: string | undefined;
}): SlackMessage {
  const head = clip(
    `${SEVERITY_EMOJI.warning} Unrecognised message on the lifeboat topic${args.environment ? `: ${args.environment}` : ''}`,
    HEADER_MAX,
  );
  const body: SlackBlock[] = [];
  if (args.subject)
    body.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `*${escapeMrkdwn(clip(args.subject, 200))}*` },
    });
  body.push({
    type: 'section',
    text: { type: 'mrkdwn', text: `\`\`\`${escapeMrkdwn(clip(args.text, SECTION_MAX - 200))}\`\`\`` },
  });
  body.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(clip(args.reason, 300)) }] });
  return {
    text: head,
    blocks: [{ type: 'header', text: { type: 'plain_text', text: head, emoji: true } }],
    attachments: [{ color: SEVERITY_COLOUR.warning, blocks: body }],
  };
}

// --- routing --------------------------------------------------------------------------------------

/** https anywhere; plain http only to this machine (tests, a local relay). */
const webhookUrl = z.string().check(
  z.refine(
    (u) => {
      if (!URL.canParse(u)) return false;
      const url = new URL(u);
      return (
        url.protocol === 'https:' ||
        (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
      );
    },
    { error: 'expected an https URL' },
  ),
);

/**
 * The webhook secret's JSON: `default` receives every severity that names no webhook of its own.
 * Unknown keys are refused, so a typo (`critcal`) does not silently send criticals to the default.
 */
export const SlackWebhooks = z.strictObject({
  default: webhookUrl,
  info: z.optional(webhookUrl),
  warning: z.optional(webhookUrl),
  critical: z.optional(webhookUrl),
});
export type SlackWebhooks = z.infer<typeof SlackWebhooks>;

export interface Route {
  /** Which key of the secret was used (safe to log, unlike the URL). */
  readonly route: Severity | 'default';
  readonly url: string;
}

/** The webhook for a severity: its own if configured, else the default. */
export function routeFor(severity: Severity, webhooks: SlackWebhooks): Route {
  const own = webhooks[severity];
  return own ? { route: severity, url: own } : { route: 'default', url: webhooks.default };
}
