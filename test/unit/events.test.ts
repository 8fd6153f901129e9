import { failbackCommands } from '../../functions/core/failover/failback.ts';
import 'aws-sdk-client-mock-vitest/extend';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SEVERITY, EVENT_TYPES, LifeboatEvent, makeEvent } from '#core/notify/events.ts';
import { eventFromSnsRecord } from '#core/notify/decode.ts';
import { publishEvent } from '#core/notify/publish.ts';
import {
  alarmConsoleUrl,
  executionConsoleUrl,
  lambdaLogConsoleUrl,
  logGroupConsoleUrl,
  logGroupConsoleUrlFromArn,
} from '#core/notify/links.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { EXECUTION_ARN, EXECUTION_URL, sampleEvent, snsEvent } from './events-samples.ts';
import { spyLogger } from './handlers/support.ts';

const TOPIC = 'arn:aws:sns:eu-central-1:123456789012:lifeboat-prod-events';
const sns = new SNSClient({ region: 'eu-central-1' });
const snsMock = mockClient(sns);

/** Every `type` the pinned workflow definitions publish through sns:publish. */
function publishedWorkflowTypes(): Set<string> {
  const dir = path.join(PROJECT_ROOT, 'test/fixtures/asl');
  const types = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    if (o.Resource === 'arn:aws:states:::sns:publish') {
      const message = (o.Parameters as { Message?: { type?: string } } | undefined)?.Message;
      if (message?.type) types.add(message.type);
    }
    for (const value of Object.values(o)) walk(value);
  };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    walk(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
  }
  return types;
}

describe('event schema', () => {
  it('covers every type the workflows publish', () => {
    const published = publishedWorkflowTypes();

    expect(published.size).toBeGreaterThanOrEqual(10);
    for (const type of published) expect(EVENT_TYPES).toContain(type);
    expect(published).toContain('failover.dry-run');
  });

  it('gives every type a default severity', () => {
    for (const type of EVENT_TYPES) expect(['info', 'warning', 'critical']).toContain(DEFAULT_SEVERITY[type]);
  });

  it('makeEvent fills source, default severity and time', () => {
    const event = makeEvent(
      {
        type: 'backup.failed',
        environment: 'prod',
        region: 'eu-west-1',
        database: 'orders',
        summary: 'pg_dump failed',
      },
      () => new Date('2026-11-23T09:15:00Z'),
    );

    expect(event).toEqual({
      source: 'lifeboat',
      type: 'backup.failed',
      severity: 'critical',
      environment: 'prod',
      region: 'eu-west-1',
      database: 'orders',
      at: '2026-11-23T09:15:00.000Z',
      summary: 'pg_dump failed',
      figures: {},
    });
  });

  it.each([
    ['an unknown type', { type: 'backup.exploded' }],
    ['an unknown severity', { severity: 'fatal' }],
    ['a multi-line summary', { summary: 'one\ntwo' }],
    ['a non-https link', { link: 'http://example.com/x' }],
    ['a nested figure', { figures: { bytes: { value: 1 } } }],
    ['an infinite figure', { figures: { bytes: Number.POSITIVE_INFINITY } }],
    ['an unknown field', { extra: true }],
    ['a time without zone', { at: '2026-11-23 09:15' }],
  ])('refuses %s', (_, change) => {
    const result = LifeboatEvent.safeParse({ ...sampleEvent('backup.completed'), ...change });

    expect(result.success).toBe(false);
  });
});

describe('console links', () => {
  it('builds the Step Functions execution page from the execution ARN', () => {
    expect(EXECUTION_URL).toBe(
      `https://eu-central-1.console.aws.amazon.com/states/home?region=eu-central-1#/v2/executions/details/${encodeURIComponent(EXECUTION_ARN)}`,
    );
    expect(executionConsoleUrl('arn:aws:states:eu-central-1:123456789012:stateMachine:x')).toBeUndefined();
    expect(executionConsoleUrl('not an arn')).toBeUndefined();
  });

  it('uses the partition console host', () => {
    expect(executionConsoleUrl('arn:aws-cn:states:cn-north-1:123456789012:execution:m:e')).toMatch(
      /^https:\/\/console\.amazonaws\.cn\/states\/home\?region=cn-north-1#/,
    );
  });

  it('escapes log group and stream names the way the CloudWatch console does', () => {
    expect(logGroupConsoleUrl('eu-west-1', '/aws/lambda/lifeboat-prod-notifier')).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/$252Faws$252Flambda$252Flifeboat-prod-notifier',
    );
    expect(logGroupConsoleUrl('eu-west-1', '/x', '2026/11/23/[$LATEST]abc')).toMatch(
      /log-group\/\$252Fx\/log-events\/2026\$252F11\$252F23\$252F\$255B\$2524LATEST\$255Dabc$/,
    );
  });

  it('reads a log group ARN, with or without the trailing :*', () => {
    const url = logGroupConsoleUrl('eu-west-1', '/lifeboat/prod/restore');

    expect(
      logGroupConsoleUrlFromArn('arn:aws:logs:eu-west-1:123456789012:log-group:/lifeboat/prod/restore:*'),
    ).toBe(url);
    expect(
      logGroupConsoleUrlFromArn('arn:aws:logs:eu-west-1:123456789012:log-group:/lifeboat/prod/restore'),
    ).toBe(url);
  });

  it('links the running Lambda invocation log from Lambda variables', () => {
    expect(
      lambdaLogConsoleUrl({
        AWS_REGION: 'eu-west-1',
        AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/f',
        AWS_LAMBDA_LOG_STREAM_NAME: 's',
      }),
    ).toBe(logGroupConsoleUrl('eu-west-1', '/aws/lambda/f', 's'));
    expect(lambdaLogConsoleUrl({})).toBeUndefined();
  });

  it('links an alarm', () => {
    expect(alarmConsoleUrl('arn:aws:cloudwatch:eu-west-1:123456789012:alarm:lifeboat prod lag')).toBe(
      'https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/lifeboat%20prod%20lag',
    );
  });
});

describe('publishEvent', () => {
  beforeEach(() => snsMock.reset());

  it('publishes the JSON with filterable attributes and a one-line ASCII subject', async () => {
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const event = sampleEvent('failover.completed', { database: 'orders–eu' });

    const result = await publishEvent(sns, TOPIC, event, spyLogger());

    expect(result).toEqual({ published: true, messageId: 'm-1' });
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: TOPIC,
      Message: JSON.stringify(event),
      Subject: 'lifeboat prod: failover.completed orders?eu',
      MessageAttributes: {
        type: { DataType: 'String', StringValue: 'failover.completed' },
        severity: { DataType: 'String', StringValue: 'critical' },
        environment: { DataType: 'String', StringValue: 'prod' },
      },
    });
  });

  it('returns and logs at error when SNS rejects', async () => {
    snsMock
      .on(PublishCommand)
      .rejects(Object.assign(new Error('User is not authorized'), { name: 'AuthorizationError' }));
    const logger = spyLogger();

    const result = await publishEvent(sns, TOPIC, sampleEvent('backup.failed'), logger);

    expect(result).toEqual({ published: false, reason: 'User is not authorized' });
    expect(logger.error).toHaveBeenCalledWith(
      'notification not published',
      expect.objectContaining({ errorName: 'AuthorizationError', topicArn: TOPIC }),
    );
  });

  it('gives up on a publish that hangs after the timeout', async () => {
    snsMock.on(PublishCommand).callsFake(() => new Promise(() => {}));
    const logger = spyLogger();
    const started = performance.now();

    const result = await publishEvent(sns, TOPIC, sampleEvent('restore.started'), logger, { timeoutMs: 50 });

    const elapsed = performance.now() - started;
    expect(result).toEqual({ published: false, reason: 'SNS publish took longer than 50 ms' });
    expect(elapsed).toBeGreaterThanOrEqual(45);
    expect(elapsed).toBeLessThan(1000);
    expect(logger.error).toHaveBeenCalledOnce();
  });

  it('does not send an invalid event, and says why', async () => {
    const logger = spyLogger();
    const bad = { ...sampleEvent('backup.completed'), summary: 'two\nlines' };

    const result = await publishEvent(sns, TOPIC, bad, logger);

    expect(result.published).toBe(false);
    expect(result.published === false && result.reason).toContain('summary');
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(logger.error).toHaveBeenCalledOnce();
  });
});

describe('eventFromSnsRecord', () => {
  const record = (message: string) => snsEvent(message).Records[0]!;

  it('reads what publishEvent sends', () => {
    const event = sampleEvent('backup.completed');

    expect(eventFromSnsRecord(record(JSON.stringify(event)))).toEqual({
      kind: 'event',
      event,
      origin: 'event',
    });
  });

  it('reads an event JSON-encoded twice', () => {
    const event = sampleEvent('prune.completed');

    const read = eventFromSnsRecord(record(JSON.stringify(JSON.stringify(event))));

    expect(read).toEqual({ kind: 'event', event, origin: 'event' });
  });

  it('completes a failover.completed workflow message: region, execution link, RTO/RPO, summary', () => {
    // What sns:publish delivers for NotifyCompleted (state-machines/failover.ts): the Message object
    // with its paths resolved, serialised.
    const message = {
      source: 'lifeboat',
      type: 'failover.completed',
      severity: 'critical',
      environment: 'prod',
      executionId: EXECUTION_ARN,
      at: '2026-11-23T09:18:07.412Z',
      database: 'orders',
      from: { region: 'eu-west-1', identifier: 'orders-db' },
      to: { region: 'eu-central-1', identifier: 'orders-dr' },
      endpoint: 'orders-dr.abc.eu-central-1.rds.amazonaws.com',
      fence: 'fenced',
      record: { kind: 'failover', rtoSeconds: 187.4, rpoSeconds: 3 },
    };

    const read = eventFromSnsRecord(record(JSON.stringify(message)));

    expect(read).toEqual({
      kind: 'event',
      origin: 'workflow',
      event: {
        source: 'lifeboat',
        type: 'failover.completed',
        severity: 'critical',
        environment: 'prod',
        region: 'eu-central-1',
        database: 'orders',
        at: '2026-11-23T09:18:07.412Z',
        link: EXECUTION_URL,
        summary: 'Failover of orders completed: orders-dr (eu-central-1) is the primary',
        figures: {
          rtoSeconds: 187.4,
          rpoSeconds: 3,
          from: 'orders-db (eu-west-1)',
          to: 'orders-dr (eu-central-1)',
          endpoint: 'orders-dr.abc.eu-central-1.rds.amazonaws.com',
          fence: 'fenced',
        },
      },
    });
  });

  it('tells how to approve a failover that waits for approval', () => {
    const message = {
      source: 'lifeboat',
      type: 'failover.approval-needed',
      severity: 'critical',
      environment: 'prod',
      executionId: EXECUTION_ARN,
      at: '2026-11-23T09:15:02.000Z',
      database: 'orders',
      input: { database: 'orders', trigger: 'alarm' },
      checks: [],
      rpoSeconds: 4.2,
      timeoutSeconds: 3600,
      approve: 'lifeboat approve --env prod --database orders',
      abort: 'lifeboat abort --env prod --database orders --reason WHY',
    };

    const read = eventFromSnsRecord(record(JSON.stringify(message)));

    expect(read.kind === 'event' && read.event).toMatchObject({
      type: 'failover.approval-needed',
      summary:
        'Failover of orders is waiting for a person to approve or abort it: lifeboat approve --env prod --database orders',
      figures: {
        rpoSeconds: 4.2,
        approvalTimeoutSeconds: 3600,
        approve: 'lifeboat approve --env prod --database orders',
        abort: 'lifeboat abort --env prod --database orders --reason WHY',
      },
    });
  });

  it('puts a workflow error into the summary, the Lambda error message unwrapped', () => {
    const message = {
      source: 'lifeboat',
      type: 'restore.failed',
      severity: 'critical',
      environment: 'prod',
      executionId: EXECUTION_ARN,
      at: '2026-11-23T09:18:07.412Z',
      database: 'orders',
      error: {
        Error: 'BackupNotFound',
        Cause: JSON.stringify({ errorType: 'BackupNotFound', errorMessage: 'no verified backup of orders' }),
      },
    };

    const read = eventFromSnsRecord(record(JSON.stringify(message)));

    expect(read.kind === 'event' && read.event.summary).toBe(
      'Restore failed of orders: BackupNotFound: no verified backup of orders',
    );
    expect(read.kind === 'event' && read.event.figures).toEqual({ error: 'BackupNotFound' });
  });

  it('a failed failback names what it left, with the commands to check and remove it (one cleanup step per figure)', () => {
    const replica = { region: 'ap-southeast-2', identifier: `${'a'.repeat(52)}-rp-abcdef` };
    const commands = failbackCommands('cluster', replica, 'g'.repeat(63));
    const message = {
      source: 'lifeboat',
      type: 'failback.failed',
      severity: 'critical',
      environment: 'prod',
      executionId: EXECUTION_ARN,
      at: '2026-11-23T09:18:07.412Z',
      database: 'orders',
      error: { Error: 'ReplicaTimedOut', Cause: 'replica was not available after 14 checks' },
      replica: {
        status: 'unknown',
        kind: 'cluster',
        ...replica,
        detail: 'the cleanup did not finish',
        ...commands,
      },
      cleanupErrors: {},
    };

    const read = eventFromSnsRecord(record(JSON.stringify(message)));
    const figures = read.kind === 'event' ? read.event.figures : {};

    expect(figures).toMatchObject({
      replica: `${replica.identifier} (ap-southeast-2)`,
      replicaStatus: 'unknown',
      checkReplica: commands.check,
    });
    // Each step whole (a figure holds 500 characters; the four steps together are longer).
    expect(commands.cleanup.length).toBeGreaterThan(500);
    expect([1, 2, 3, 4].map((i) => figures[`cleanupStep${i}`]).join(' && ')).toBe(commands.cleanup);

    // Nothing left: no commands.
    const deleted = eventFromSnsRecord(
      record(JSON.stringify({ ...message, replica: { ...message.replica, status: 'deleted' } })),
    );
    expect(deleted.kind === 'event' && Object.keys(deleted.event.figures)).not.toContain('checkReplica');
  });

  it('names the next step of a partial failover', () => {
    const message = {
      source: 'lifeboat',
      type: 'failover.partial',
      severity: 'critical',
      environment: 'prod',
      executionId: EXECUTION_ARN,
      at: '2026-11-23T09:18:07.412Z',
      database: 'orders',
      promoted: true,
      stage: 'dns',
      nextStep: 'point orders.db.example.com at orders-dr by hand',
    };

    const read = eventFromSnsRecord(record(JSON.stringify(message)));

    expect(read.kind === 'event' && read.event.summary).toBe(
      'Failover of orders promoted the new primary but stopped at dns: point orders.db.example.com at orders-dr by hand',
    );
  });

  it('turns a CloudWatch alarm notification into alarm.raised with the alarm link', () => {
    const alarm = {
      AlarmName: 'lifeboat-prod-orders-replica-lag-critical',
      AlarmDescription: 'lifeboat prod: replica lag of orders above 60 s (critical)',
      AWSAccountId: '123456789012',
      NewStateValue: 'ALARM',
      NewStateReason: 'Threshold Crossed: 1 datapoint [75.0] was greater than the threshold (60.0).',
      StateChangeTime: '2026-11-23T09:15:00.123+0000',
      Region: 'EU (Frankfurt)',
      AlarmArn:
        'arn:aws:cloudwatch:eu-central-1:123456789012:alarm:lifeboat-prod-orders-replica-lag-critical',
      OldStateValue: 'OK',
      Trigger: {
        MetricName: 'ReplicaLag',
        Namespace: 'AWS/RDS',
        Dimensions: [{ value: 'orders-dr', name: 'DBInstanceIdentifier' }],
      },
    };

    const read = eventFromSnsRecord(record(JSON.stringify(alarm)), { environment: 'prod' });

    expect(read.kind).toBe('event');
    if (read.kind !== 'event') return;
    expect(read.origin).toBe('alarm');
    expect(read.event).toMatchObject({
      type: 'alarm.raised',
      severity: 'critical',
      environment: 'prod',
      region: 'eu-central-1',
      database: 'orders-dr',
      at: '2026-11-23T09:15:00.123Z',
      link: alarmConsoleUrl(alarm.AlarmArn),
      summary: alarm.AlarmDescription,
      figures: { alarm: alarm.AlarmName, metric: 'AWS/RDS/ReplicaLag', reason: alarm.NewStateReason },
    });
  });

  it('reports an alarm back to OK as alarm.resolved, info', () => {
    const read = eventFromSnsRecord(
      record(
        JSON.stringify({
          AlarmName: 'lifeboat-prod-backup-age-warning',
          NewStateValue: 'OK',
          AlarmArn: 'arn:aws:cloudwatch:eu-west-1:123456789012:alarm:lifeboat-prod-backup-age-warning',
          StateChangeTime: '2026-11-23T09:15:00.000+0000',
        }),
      ),
      { environment: 'prod' },
    );

    expect(read.kind === 'event' && [read.event.type, read.event.severity]).toEqual([
      'alarm.resolved',
      'info',
    ]);
  });

  it.each([
    ['plain text', 'hello from the console', 'the message is not JSON'],
    ['a JSON array', '[1,2]', 'the message is not a JSON object'],
    ['some other JSON', '{"hello":"world"}', 'neither a lifeboat event nor a CloudWatch alarm'],
    [
      'a lifeboat event of an unknown type',
      '{"source":"lifeboat","type":"backup.exploded"}',
      'not a valid lifeboat event',
    ],
  ])('returns %s as unrecognised, with its text', (_, message, reason) => {
    const read = eventFromSnsRecord(snsEvent(message, 'm', 'a subject').Records[0]!);

    expect(read).toMatchObject({ kind: 'unrecognised', subject: 'a subject', text: message });
    expect(read.kind === 'unrecognised' && read.reason).toContain(reason);
  });
});
