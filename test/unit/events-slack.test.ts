import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, type LifeboatEvent } from '#core/notify/events.ts';
import { logGroupConsoleUrl } from '#core/notify/links.ts';
import {
  escapeMrkdwn,
  formatBytes,
  formatFigure,
  formatSeconds,
  renderEvent,
  renderUnrecognised,
  routeFor,
  SEVERITY_COLOUR,
  type SlackBlock,
  SlackWebhooks,
  TITLES,
} from '#core/notify/slack.ts';
import { EXECUTION_URL, sampleEvent } from './events-samples.ts';

type Section = Extract<SlackBlock, { type: 'section' }>;
const sections = (blocks: readonly SlackBlock[]) => blocks.filter((b): b is Section => b.type === 'section');
const fieldsOf = (event: LifeboatEvent) =>
  sections(renderEvent(event).attachments[0]!.blocks).flatMap((s) => (s.fields ?? []).map((f) => f.text));

describe('renderEvent, for every event type', () => {
  it.each(EVENT_TYPES)('%s: headline, colour, fields, button', (type) => {
    const event = sampleEvent(type);

    const message = renderEvent(event);

    const header = message.blocks[0];
    expect(header?.type).toBe('header');
    expect(header?.type === 'header' && header.text.text).toBe(
      `${{ info: ':large_green_circle:', warning: ':warning:', critical: ':rotating_light:' }[event.severity]} ${TITLES[type]}: orders · prod`,
    );
    expect(message.attachments).toHaveLength(1);
    expect(message.attachments[0]!.color).toBe(SEVERITY_COLOUR[event.severity]);
    const body = message.attachments[0]!.blocks;
    expect(body[0]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: `${type} of orders in prod` } });
    expect(fieldsOf(event).slice(0, 3)).toEqual([
      '*Environment*\nprod',
      '*Region*\neu-central-1',
      '*Database*\norders',
    ]);
    expect(fieldsOf(event)).toHaveLength(3 + Object.keys(event.figures).length);
    expect(body).toContainEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: `\`${type}\` · 2026-11-23T09:15:00.000Z · lifeboat` }],
    });
    const actions = body.find((b) => b.type === 'actions');
    expect(actions?.type === 'actions' && actions.elements[0]).toMatchObject({
      type: 'button',
      text: { type: 'plain_text', text: 'Open execution' },
      url: EXECUTION_URL,
    });
    expect(message.text).toContain(TITLES[type]);
  });
});

describe('renderEvent details', () => {
  it('uses the severity colours: info green, warning amber, critical red', () => {
    expect(renderEvent(sampleEvent('backup.completed')).attachments[0]!.color).toBe('#2EB67D');
    expect(renderEvent(sampleEvent('backup.stale')).attachments[0]!.color).toBe('#ECB22E');
    expect(renderEvent(sampleEvent('backup.failed')).attachments[0]!.color).toBe('#E01E5A');
  });

  it('formats figures with their units', () => {
    expect(fieldsOf(sampleEvent('failover.completed')).slice(3)).toEqual([
      '*RTO*\n3 min 7 s',
      '*RPO*\n3 s',
      '*To*\norders-dr (eu-central-1)',
    ]);
    expect(fieldsOf(sampleEvent('backup.completed')).slice(3)).toEqual([
      '*Size*\n12.4 GiB',
      '*Duration*\n12 min 34 s',
      '*Backup id*\ndump-20261123T091500Z',
    ]);
    expect(fieldsOf(sampleEvent('prune.completed')).slice(3)).toEqual(['*Deleted*\n12', '*Freed*\n49 GiB']);
    expect(fieldsOf(sampleEvent('backup.stale')).slice(3)).toEqual(['*Age*\n30 h', '*Threshold*\n26 h']);
  });

  it('marks the button of a critical event as danger, and leaves it plain otherwise', () => {
    const button = (event: LifeboatEvent) => {
      const actions = renderEvent(event).attachments[0]!.blocks.find((b) => b.type === 'actions');
      return actions?.type === 'actions' ? actions.elements[0] : undefined;
    };

    expect(button(sampleEvent('failover.failed'))?.style).toBe('danger');
    expect(button(sampleEvent('restore.completed'))?.style).toBeUndefined();
  });

  it('labels a log link and an alarm link', () => {
    const logs = renderEvent(
      sampleEvent('backup.failed', { link: logGroupConsoleUrl('eu-west-1', '/aws/lambda/x') }),
    );
    const alarm = renderEvent(
      sampleEvent('alarm.raised', {
        link: 'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/x',
      }),
    );

    expect(JSON.stringify(logs)).toContain('"text":"Open logs"');
    expect(JSON.stringify(alarm)).toContain('"text":"Open alarm"');
  });

  it('has no button without a link, and no database field for an environment-wide event', () => {
    const message = renderEvent(sampleEvent('prune.completed', { link: undefined, database: undefined }));

    expect(message.attachments[0]!.blocks.some((b) => b.type === 'actions')).toBe(false);
    expect(JSON.stringify(message)).not.toContain('*Database*');
    expect(message.blocks[0]?.type === 'header' && message.blocks[0].text.text).toBe(
      ':large_green_circle: Prune completed: prod',
    );
  });

  it('escapes mrkdwn control characters in what it did not write', () => {
    const message = renderEvent(sampleEvent('backup.failed', { summary: 'pg_dump: <error> & more' }));

    expect(message.attachments[0]!.blocks[0]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: 'pg_dump: &lt;error&gt; &amp; more' },
    });
    expect(escapeMrkdwn('<!channel>')).toBe('&lt;!channel&gt;');
  });

  it('keeps within Block Kit limits: header 150 characters, 10 fields a section', () => {
    const figures = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`figure${i}`, i]));
    const message = renderEvent(sampleEvent('drill.completed', { database: 'd'.repeat(200), figures }));

    const header = message.blocks[0];
    expect(header?.type === 'header' && header.text.text.length).toBeLessThanOrEqual(150);
    const withFields = sections(message.attachments[0]!.blocks).filter((s) => s.fields);
    expect(withFields.map((s) => s.fields!.length)).toEqual([10, 8]);
  });
});

describe('figure formatting', () => {
  it.each([
    [512, '512 B'],
    [3584, '3.5 KiB'],
    [123_942_092, '118.2 MiB'],
    [13_314_398_208, '12.4 GiB'],
    [3 * 1024 ** 4, '3 TiB'],
  ])('formatBytes(%d) = %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));

  it.each([
    [0.85, '850 ms'],
    [4.25, '4.3 s'],
    [60, '1 min'],
    [200, '3 min 20 s'],
    [7500, '2 h 5 min'],
    [3599.6, '1 h'],
  ])('formatSeconds(%d) = %s', (s, text) => expect(formatSeconds(s)).toBe(text));

  it('reads the unit from the name', () => {
    expect(formatFigure('restoreDurationMs', 95_400)).toBe('1 min 35 s');
    expect(formatFigure('lagSeconds', 75)).toBe('1 min 15 s');
    expect(formatFigure('usedPercent', 81.25)).toBe('81.3 %');
    expect(formatFigure('rows', 1_250_000)).toBe('1,250,000');
    expect(formatFigure('backupId', 'dump-1')).toBe('dump-1');
  });
});

describe('renderUnrecognised', () => {
  it('shows the raw text in a code block, in the warning colour', () => {
    const message = renderUnrecognised({
      subject: 'hi',
      text: 'hello <world>',
      reason: 'the message is not JSON',
      environment: 'prod',
    });

    expect(message.attachments[0]!.color).toBe(SEVERITY_COLOUR.warning);
    expect(JSON.stringify(message.attachments[0]!.blocks)).toContain('```hello &lt;world&gt;```');
    expect(message.text).toBe(':warning: Unrecognised message on the lifeboat topic: prod');
  });
});

describe('routing by severity', () => {
  const webhooks = SlackWebhooks.parse({
    default: 'https://hooks.slack.com/services/T0/B0/default',
    critical: 'https://hooks.slack.com/services/T0/B1/critical',
  });

  it('sends a severity to its own webhook, and the others to the default', () => {
    expect(routeFor('critical', webhooks)).toEqual({ route: 'critical', url: webhooks.critical });
    expect(routeFor('warning', webhooks)).toEqual({ route: 'default', url: webhooks.default });
    expect(routeFor('info', webhooks)).toEqual({ route: 'default', url: webhooks.default });
  });

  it.each([
    ['no default', { critical: 'https://hooks.slack.com/x' }],
    ['a misspelt severity', { default: 'https://hooks.slack.com/x', critcal: 'https://hooks.slack.com/y' }],
    ['plain http to another host', { default: 'http://hooks.slack.com/x' }],
    ['not a URL', { default: 'hooks.slack.com/x' }],
  ])('refuses a secret with %s', (_, value) => {
    expect(SlackWebhooks.safeParse(value).success).toBe(false);
  });

  it('accepts plain http to this machine (tests, a local relay)', () => {
    expect(SlackWebhooks.safeParse({ default: 'http://127.0.0.1:8080/hook' }).success).toBe(true);
  });
});
