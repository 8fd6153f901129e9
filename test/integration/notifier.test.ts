import 'aws-sdk-client-mock-vitest/extend';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EVENT_TYPES, type LifeboatEvent, type Severity } from '#core/notify/events.ts';
import { TITLES } from '#core/notify/slack.ts';
import {
  handler,
  type NotifierDeps,
  notify,
  SlackDeliveryFailed,
  SlackRejected,
  SlackSecretUnavailable,
  WebhookSecret,
} from '../../functions/notifier/index.ts';
import { EXECUTION_ARN, EXECUTION_URL, sampleEvent, snsEvent } from '../unit/events-samples.ts';
import { spyLogger } from '../unit/handlers/support.ts';

/**
 * The notifier against a real HTTP server standing in for Slack's incoming webhooks (node:http on
 * 127.0.0.1, the global fetch unmocked). Only Secrets Manager, a control-plane call, is mocked.
 */

interface Hit {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: SlackBody;
  readonly at: number;
}
interface SlackBody {
  text: string;
  blocks: { type: string; text?: { text: string } }[];
  attachments: {
    color: string;
    blocks: {
      type: string;
      text?: { text: string };
      fields?: { text: string }[];
      elements?: Record<string, unknown>[];
    }[];
  }[];
}
type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

/** A stand-in for hooks.slack.com: records each POST, answers from a per-path script (then 200 "ok"). */
class FakeSlack {
  readonly hits: Hit[] = [];
  private readonly scripts = new Map<string, Reply[]>();
  private server!: Server;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.hits.push({
          path,
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as SlackBody,
          at: performance.now(),
        });
        const reply = this.scripts.get(path)?.shift() ?? { status: 200, body: 'ok' };
        if (reply === 'hang') return;
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        res.end(reply.body ?? '');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  script(path: string, ...replies: Reply[]): void {
    this.scripts.set(path, replies);
  }

  reset(): void {
    this.hits.length = 0;
    this.scripts.clear();
  }
}

const SECRET_ARN = 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:lifeboat/prod/slack-AbCdEf';
const DEFAULT_PATH = '/services/T0000/B0001/default-token';
const CRITICAL_PATH = '/services/T0000/B0002/critical-token';
const COLOURS: Record<Severity, string> = { info: '#2EB67D', warning: '#ECB22E', critical: '#E01E5A' };
const FAST = { baseDelayMs: 10, maxDelayMs: 40, budgetMs: 5_000, requestTimeoutMs: 2_000 };

const secretsMock = mockClient(SecretsManagerClient);
const slack = new FakeSlack();

function secretValue(value: Record<string, string>) {
  secretsMock
    .on(GetSecretValueCommand, { SecretId: SECRET_ARN })
    .resolves({ SecretString: JSON.stringify(value) });
}

function deps(overrides: Partial<NotifierDeps> = {}) {
  const logger = spyLogger();
  const counted: Record<string, number> = {};
  return {
    logger,
    counted,
    deps: {
      webhooks: new WebhookSecret(new SecretsManagerClient({ region: 'eu-central-1' }), SECRET_ARN),
      logger,
      env: { LIFEBOAT_ENVIRONMENT: 'prod', AWS_REGION: 'eu-central-1' },
      timing: FAST,
      count: (name: string, value: number) => {
        counted[name] = (counted[name] ?? 0) + value;
      },
      ...overrides,
    } satisfies NotifierDeps,
  };
}

const publish = (event: LifeboatEvent, id = 'msg-1') => snsEvent(JSON.stringify(event), id);

beforeAll(() => slack.start());
afterAll(() => slack.stop());
beforeEach(() => {
  slack.reset();
  secretsMock.reset();
  secretValue({ default: slack.url(DEFAULT_PATH), critical: slack.url(CRITICAL_PATH) });
});

describe('the message posted for each event type', () => {
  it.each(EVENT_TYPES)('%s', async (type) => {
    const event = sampleEvent(type);
    const { deps: d } = deps();

    const result = await notify(publish(event), d);

    expect(slack.hits).toHaveLength(1);
    const hit = slack.hits[0]!;
    expect(hit.path).toBe(event.severity === 'critical' ? CRITICAL_PATH : DEFAULT_PATH);
    expect(hit.headers['content-type']).toMatch(/^application\/json/);
    expect(hit.body.blocks[0]).toMatchObject({
      type: 'header',
      text: { text: expect.stringContaining(`${TITLES[type]}: orders · prod`) },
    });
    expect(hit.body.attachments[0]!.color).toBe(COLOURS[event.severity]);
    const blocks = hit.body.attachments[0]!.blocks;
    expect(blocks[0]!.text!.text).toBe(event.summary);
    const fields = blocks.flatMap((b) => b.fields ?? []).map((f) => f.text);
    expect(fields).toEqual(
      expect.arrayContaining(['*Environment*\nprod', '*Region*\neu-central-1', '*Database*\norders']),
    );
    const button = blocks.find((b) => b.type === 'actions')!.elements![0];
    expect(button).toMatchObject({ type: 'button', url: EXECUTION_URL });
    expect(result.delivered).toEqual([
      {
        messageId: 'msg-1',
        type,
        route: event.severity === 'critical' ? 'critical' : 'default',
        attempts: 1,
      },
    ]);
  });

  it('formats the figures of a failover: RTO and RPO with units', async () => {
    await notify(publish(sampleEvent('failover.completed')), deps().deps);

    const fields = slack.hits[0]!.body.attachments[0]!.blocks.flatMap((b) => b.fields ?? []).map(
      (f) => f.text,
    );
    expect(fields).toContain('*RTO*\n3 min 7 s');
    expect(fields).toContain('*RPO*\n3 s');
  });

  it('posts what a workflow publishes through sns:publish, with the execution link', async () => {
    const message = {
      source: 'lifeboat',
      type: 'failover.refused',
      severity: 'warning',
      environment: 'prod',
      executionId: EXECUTION_ARN,
      at: '2026-11-23T09:15:00.000Z',
      database: 'orders',
      error: { Error: 'FailoverInProgress', Cause: 'another failover of this database is running' },
    };

    await notify(snsEvent(JSON.stringify(message)), deps().deps);

    const body = slack.hits[0]!.body;
    expect(slack.hits[0]!.path).toBe(DEFAULT_PATH);
    expect(body.attachments[0]!.color).toBe(COLOURS.warning);
    expect(body.attachments[0]!.blocks[0]!.text!.text).toBe(
      'Failover refused of orders: FailoverInProgress: another failover of this database is running',
    );
    expect(JSON.stringify(body)).toContain(EXECUTION_URL);
  });

  it('posts a message that is not an event as unrecognised instead of dropping it', async () => {
    const { deps: d, counted } = deps();

    await notify(snsEvent('manual test from the console'), d);

    expect(slack.hits[0]!.body.text).toBe(':warning: Unrecognised message on the lifeboat topic: prod');
    expect(JSON.stringify(slack.hits[0]!.body)).toContain('manual test from the console');
    expect(counted).toMatchObject({ UnrecognisedMessage: 1, SlackDelivered: 1 });
  });
});

describe('routing by severity', () => {
  it('sends each severity to its own webhook when the secret names one, else to the default', async () => {
    const infoPath = '/services/T0000/B0003/info-token';
    secretValue({
      default: slack.url(DEFAULT_PATH),
      info: slack.url(infoPath),
      critical: slack.url(CRITICAL_PATH),
    });
    const { deps: d } = deps();

    await notify(publish(sampleEvent('backup.completed'), 'i'), d);
    await notify(publish(sampleEvent('backup.stale'), 'w'), d);
    await notify(publish(sampleEvent('backup.failed'), 'c'), d);

    expect(slack.hits.map((h) => [h.body.attachments[0]!.color, h.path])).toEqual([
      [COLOURS.info, infoPath],
      [COLOURS.warning, DEFAULT_PATH],
      [COLOURS.critical, CRITICAL_PATH],
    ]);
  });
});

describe('when Slack fails', () => {
  it('retries a 500 with backoff and delivers when Slack recovers', async () => {
    slack.script(DEFAULT_PATH, { status: 500 }, { status: 503 });
    const { deps: d, logger } = deps();

    const result = await notify(publish(sampleEvent('backup.completed')), d);

    expect(slack.hits).toHaveLength(3);
    expect(result.delivered[0]!.attempts).toBe(3);
    expect(logger.warn).toHaveBeenCalledTimes(2);
    expect(logger.error).not.toHaveBeenCalled();
  });

  it('keeps answering 500: retries up to the budget, then throws (Lambda retries, then the DLQ)', async () => {
    slack.script(
      DEFAULT_PATH,
      ...Array.from({ length: 10 }, () => ({ status: 500, body: 'internal_error' })),
    );
    const { deps: d, logger, counted } = deps({ timing: { ...FAST, maxAttempts: 4 } });

    const failure = notify(publish(sampleEvent('backup.completed')), d);

    await expect(failure).rejects.toThrow(SlackDeliveryFailed);
    await expect(failure).rejects.toThrow(/after 4 attempt\(s\).*HTTP 500 internal_error/);
    expect(slack.hits).toHaveLength(4);
    const gaps = slack.hits.slice(1).map((h, i) => h.at - slack.hits[i]!.at);
    // equal jitter: at least half of 10, 20, 40 ms
    expect(gaps[0]).toBeGreaterThanOrEqual(4);
    expect(gaps[2]).toBeGreaterThanOrEqual(19);
    expect(logger.error).toHaveBeenCalledWith(
      'Slack delivery failed; the event goes to the notifications DLQ',
      expect.objectContaining({
        route: 'default',
        type: 'backup.completed',
        errorName: 'SlackDeliveryFailed',
      }),
    );
    expect(counted).toEqual({ SlackDeliveryFailed: 1 });
    expect(JSON.stringify(logger.error.mock.calls)).not.toContain('default-token');
  });

  it('stops at the time budget even with attempts left', async () => {
    slack.script(DEFAULT_PATH, ...Array.from({ length: 10 }, () => ({ status: 502 })));
    const { deps: d } = deps({
      timing: { ...FAST, maxAttempts: 10, baseDelayMs: 200, maxDelayMs: 200, budgetMs: 450 },
    });
    const started = performance.now();

    await expect(notify(publish(sampleEvent('backup.completed')), d)).rejects.toThrow(SlackDeliveryFailed);

    expect(performance.now() - started).toBeLessThan(1_500);
    expect(slack.hits.length).toBeGreaterThanOrEqual(2);
    expect(slack.hits.length).toBeLessThan(10);
  });

  it('honours Retry-After on 429', async () => {
    slack.script(DEFAULT_PATH, { status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' });
    const { deps: d } = deps();

    const result = await notify(publish(sampleEvent('backup.completed')), d);

    expect(slack.hits).toHaveLength(2);
    expect(slack.hits[1]!.at - slack.hits[0]!.at).toBeGreaterThanOrEqual(950);
    expect(result.delivered[0]!.attempts).toBe(2);
  });

  it('does not start a Retry-After wait that would end past the budget: throws at once', async () => {
    slack.script(DEFAULT_PATH, { status: 429, headers: { 'retry-after': '120' } });
    const { deps: d, logger } = deps({ timing: { ...FAST, budgetMs: 2_000 } });
    const started = performance.now();

    await expect(notify(publish(sampleEvent('backup.completed')), d)).rejects.toThrow(/HTTP 429/);

    expect(performance.now() - started).toBeLessThan(1_000);
    expect(slack.hits).toHaveLength(1);
    expect(logger.warn).toHaveBeenCalledWith(
      'Slack delivery: the next wait would pass the retry budget',
      expect.objectContaining({ waitMs: 120_000 }),
    );
  });

  it('retries a request that hangs, after the request timeout', async () => {
    slack.script(DEFAULT_PATH, 'hang');
    const { deps: d } = deps({ timing: { ...FAST, requestTimeoutMs: 200 } });

    const result = await notify(publish(sampleEvent('backup.completed')), d);

    expect(slack.hits).toHaveLength(2);
    expect(result.delivered[0]!.attempts).toBe(2);
  });

  it('does not retry a refusal (400 invalid_payload) and throws it', async () => {
    slack.script(DEFAULT_PATH, { status: 400, body: 'invalid_payload' });
    const { deps: d } = deps();

    await expect(notify(publish(sampleEvent('backup.completed')), d)).rejects.toThrow(SlackRejected);

    expect(slack.hits).toHaveLength(1);
  });

  it('retries when nothing listens (connection refused), then throws', async () => {
    const gone = new FakeSlack();
    await gone.start();
    const url = gone.url('/services/T0000/B0009/gone');
    await gone.stop();
    secretValue({ default: url });
    const { deps: d, logger } = deps({ timing: { ...FAST, maxAttempts: 3 } });

    await expect(notify(publish(sampleEvent('backup.completed')), d)).rejects.toThrow(
      /after 3 attempt\(s\).*ECONNREFUSED/,
    );

    expect(logger.warn).toHaveBeenCalledTimes(2);
  });
});

describe('when the webhook secret cannot be read', () => {
  it('logs at error, counts it, posts nothing and throws once into the DLQ path', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    const { deps: d, logger, counted } = deps();

    await expect(notify(publish(sampleEvent('failover.started')), d)).rejects.toThrow(SlackSecretUnavailable);

    expect(slack.hits).toHaveLength(0);
    expect(counted).toEqual({ SlackSecretUnavailable: 1 });
    expect(logger.error).toHaveBeenCalledWith(
      'Slack webhook secret unavailable; the events go to the notifications DLQ',
      expect.objectContaining({
        secretArn: SECRET_ARN,
        cached: false,
        error: `Slack secret ${SECRET_ARN} may not be read by the notifier (IAM)`,
        undelivered: [{ messageId: 'msg-1', type: 'failover.started', database: 'orders' }],
      }),
    );
  });

  it('does not crash-loop: a burst of events reads the secret once, and it recovers after the pause', async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }))
      .resolves({ SecretString: JSON.stringify({ default: slack.url(DEFAULT_PATH) }) });
    let clock = 1_000_000;
    const webhooks = new WebhookSecret(new SecretsManagerClient({ region: 'eu-central-1' }), SECRET_ARN, {
      failureTtlMs: 60_000,
      now: () => clock,
    });
    const { deps: d, logger } = deps({ webhooks });

    for (let i = 0; i < 5; i++) {
      await expect(notify(publish(sampleEvent('backup.failed'), `m${i}`), d)).rejects.toThrow(
        /does not exist/,
      );
    }
    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(logger.error.mock.calls.map((c) => (c[1] as { cached: boolean }).cached)).toEqual([
      false,
      true,
      true,
      true,
      true,
    ]);

    clock += 60_001;
    const result = await notify(publish(sampleEvent('backup.failed'), 'm5'), d);

    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    expect(result.delivered).toHaveLength(1);
    expect(slack.hits).toHaveLength(1);
  });

  it('names the wrong fields of a malformed secret, never its value', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ critical: 'https://hooks.slack.com/services/T1/B1/very-secret' }),
    });
    const { deps: d, logger } = deps();

    await expect(notify(publish(sampleEvent('backup.failed')), d)).rejects.toThrow(
      /lacks or has invalid fields: default/,
    );

    expect(JSON.stringify(logger.error.mock.calls)).not.toContain('very-secret');
  });

  it('names a misspelt severity key of the secret', async () => {
    secretsMock.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ default: slack.url(DEFAULT_PATH), critcal: slack.url(CRITICAL_PATH) }),
    });

    await expect(notify(publish(sampleEvent('backup.failed')), deps().deps)).rejects.toThrow(
      /invalid fields: critcal \(unknown\)/,
    );

    expect(slack.hits).toHaveLength(0);
  });

  it('keeps a secret that was read for a while (one read for many events)', async () => {
    const { deps: d } = deps();

    for (let i = 0; i < 3; i++) await notify(publish(sampleEvent('backup.completed'), `m${i}`), d);

    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(slack.hits).toHaveLength(3);
  });
});

describe('the deployed handler (middy, Powertools)', () => {
  const context = {
    awsRequestId: 'req-1',
    functionName: 'lifeboat-prod-notifier',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-central-1:123456789012:function:lifeboat-prod-notifier',
    memoryLimitInMB: '256',
    getRemainingTimeInMillis: () => 60_000,
  } as unknown as Context;
  let stdout: string[];

  beforeEach(() => {
    vi.stubEnv('AWS_REGION', 'eu-central-1');
    vi.stubEnv('LIFEBOAT_ENVIRONMENT', 'prod');
    stdout = [];
    // Powertools writes info to stdout and errors to stderr: keep both, in order.
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        stdout.push(String(chunk));
        return true;
      });
    }
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('posts the event to the webhook named by the secret in LIFEBOAT_SLACK_SECRET_ARN and emits a metric', async () => {
    vi.stubEnv('LIFEBOAT_SLACK_SECRET_ARN', SECRET_ARN);

    const result = await handler(publish(sampleEvent('drill.completed')), context);

    expect(result.delivered).toHaveLength(1);
    expect(slack.hits).toHaveLength(1);
    expect(secretsMock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ARN });
    const emf = stdout.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => '_aws' in l);
    expect(emf).toMatchObject({ SlackDelivered: 1, Environment: 'prod' });
  });

  it('fails with the variable named when LIFEBOAT_SLACK_SECRET_ARN is missing', async () => {
    vi.stubEnv('LIFEBOAT_SLACK_SECRET_ARN', '');

    await expect(handler(publish(sampleEvent('drill.completed')), context)).rejects.toThrow(
      'environment variable LIFEBOAT_SLACK_SECRET_ARN is not set',
    );
  });

  it('logs an unreadable secret as JSON at error, without any webhook URL', async () => {
    const otherArn = `${SECRET_ARN}-broken`;
    vi.stubEnv('LIFEBOAT_SLACK_SECRET_ARN', otherArn);
    secretsMock
      .on(GetSecretValueCommand, { SecretId: otherArn })
      .rejects(Object.assign(new Error('cannot decrypt'), { name: 'DecryptionFailure' }));

    await expect(handler(publish(sampleEvent('failover.failed')), context)).rejects.toThrow(
      SlackSecretUnavailable,
    );

    const lines = stdout.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toContainEqual(
      expect.objectContaining({
        level: 'ERROR',
        message: 'Slack webhook secret unavailable; the events go to the notifications DLQ',
        secretArn: otherArn,
      }),
    );
    expect(stdout.join('')).not.toContain('hooks.slack.com');
    expect(slack.hits).toHaveLength(0);
  });

  it('refuses an event that is not from SNS', async () => {
    vi.stubEnv('LIFEBOAT_SLACK_SECRET_ARN', SECRET_ARN);

    await expect(handler({ hello: 'world' }, context)).rejects.toThrow('expected an SNS event');
  });
});
