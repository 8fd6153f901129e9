import type { S3Client } from '@aws-sdk/client-s3';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it, vi } from 'vitest';
import { EVENTS_TOPIC_ENV, LifeboatEvent } from '#core/notify/events.ts';
import { DEFAULT_REPORT_TARGETS, type EvidenceReport } from '#core/report/report-model.ts';
import type { ScheduledReportSettings } from '#core/report/report-publish.ts';
import { S3Repository } from '#core/repository/index.ts';
import { renderEvent } from '#core/notify/slack.ts';
import { runReport } from '../../functions/report/index.ts';
import { ENV } from '../../functions/report/env.ts';
import { failoverDoc, KNOWN, PERIOD, writeKnownHistory } from '../support/report-history.ts';
import { createBucket, s3Client } from '../support/s3.ts';

/**
 * The scheduled report function against the S3 protocol (s3rver): both regions' buckets read, the
 * report written under reports/, the link signed and opened; SNS (control plane) mocked.
 */
describe('the report function', () => {
  let s3: S3Client;
  let primary: string;
  let dr: string;
  const sns = mockClient(SNSClient);
  const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
  const settings: ScheduledReportSettings = {
    environment: 'prod',
    primaryRegion: 'us-east-1',
    drRegion: 'us-west-2',
    periodDays: 10,
    linkExpiryDays: 7,
    targets: DEFAULT_REPORT_TARGETS,
    retention: {},
    databases: [],
  };
  const env = (extra: Record<string, string> = {}) => ({
    [ENV.bucket]: primary,
    [ENV.drBucket]: dr,
    [ENV.settings]: JSON.stringify(settings),
    ...extra,
  });

  beforeAll(async () => {
    s3 = s3Client(inject('s3Endpoint'));
    primary = await createBucket(s3, 'lb-report-primary');
    dr = await createBucket(s3, 'lb-report-dr');
    await writeKnownHistory(new S3Repository({ client: s3, bucket: primary, prefix: '' }));
    // What only the DR region wrote: a failover run there.
    const f = failoverDoc('orders', '2026-11-09T08:00:00.000Z', 300, 5, false);
    await new S3Repository({ client: s3, bucket: dr, prefix: '' }).putOnce(f.key, JSON.stringify(f.record));
  });
  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    vi.clearAllMocks();
  });
  afterAll(() => sns.restore());

  it('writes the HTML and JSON under reports/, and its link opens the HTML for 7 days', async () => {
    const result = await runReport({
      s3: () => s3,
      sns: sns as never,
      logger,
      env: env(),
      now: () => PERIOD.to,
    });
    expect(result.htmlKey).toBe('reports/2026-11-11/dr-evidence-prod-20261111T0000Z.html');
    expect(result.jsonKey).toBe('reports/2026-11-11/dr-evidence-prod-20261111T0000Z.json');
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: primary, Prefix: 'reports/' }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual([result.htmlKey, result.jsonKey]);
    // Nothing is written to the DR bucket.
    expect((await s3.send(new ListObjectsV2Command({ Bucket: dr, Prefix: 'reports/' }))).KeyCount).toBe(0);

    const json = JSON.parse(
      await (
        await s3.send(new GetObjectCommand({ Bucket: primary, Key: result.jsonKey }))
      ).Body!.transformToString(),
    ) as EvidenceReport;
    const orders = json.databases.find((d) => d.database === 'orders')!;
    expect(orders.backups.completed).toBe(KNOWN.orders.backups.completed);
    expect(orders.verifications).toMatchObject(KNOWN.orders.verifications);
    // The known two failovers, and the one only the DR bucket holds.
    expect(orders.failovers.map((f) => f.rtoSeconds)).toEqual([1200, 300, 3.5]);
    expect(result.unavailable).toEqual([]);

    // The link: a SigV4 presigned GET of the HTML, asked for 7 days (SigV4's longest).
    const link = new URL(result.link);
    expect(link.searchParams.get('X-Amz-Expires')).toBe('604800');
    expect(link.pathname).toContain(result.htmlKey);
    const opened = await fetch(result.link);
    expect(opened.status).toBe(200);
    expect(opened.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = await opened.text();
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('DR evidence report: environment prod');
    // No events topic (Slack not configured): nothing is announced.
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  it('writes the report even when its summary cannot be announced, and logs why', async () => {
    // s3rver's link is http, which an event refuses (links are https).
    const result = await runReport({
      s3: () => s3,
      sns: sns as never,
      logger,
      env: env({ [EVENTS_TOPIC_ENV]: 'arn:aws:sns:us-east-1:333333333333:lifeboat-prod-events' }),
      now: () => new Date(PERIOD.to.getTime() + 120_000),
    });
    expect(result.htmlKey).toMatch(/\.html$/);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    expect(logger.error).toHaveBeenCalledWith(
      'the report summary could not be announced',
      expect.objectContaining({ error: expect.stringContaining('link') }),
    );
  });

  it('announces worst gaps, pass rates and RTO against target with the link (the Slack summary)', async () => {
    const link = 'https://lb-report-primary.s3.us-east-1.amazonaws.com/reports/x.html?X-Amz-Expires=604800';
    const result = await runReport({
      s3: () => s3,
      sns: sns as never,
      logger,
      env: env({ [EVENTS_TOPIC_ENV]: 'arn:aws:sns:us-east-1:333333333333:lifeboat-prod-events' }),
      now: () => PERIOD.to,
      sign: async (key, seconds) => {
        expect([key, seconds]).toEqual([expect.stringMatching(/^reports\/2026-11-11\/.*\.html$/), 604_800]);
        return link;
      },
    });
    const calls = sns.commandCalls(PublishCommand);
    expect(calls).toHaveLength(1);
    const event = LifeboatEvent.parse(JSON.parse(calls[0]!.args[0].input.Message!));
    expect(event).toMatchObject({
      type: 'report.published',
      severity: 'warning',
      environment: 'prod',
      link,
      summary:
        'DR evidence for the last 10 days: 3 gaps with no verified backup younger than 48.0 h, the longest orders 25.0 h',
    });
    expect(event.figures).toMatchObject({
      gaps: 3,
      worstGaps:
        'orders 25.0 h from 2026-11-05T02:00Z; billing 22.0 h (open) from 2026-11-10T02:00Z; orders 1.0 h from 2026-11-08T02:00Z',
      backupsCompleted: 12,
      backupsFailed: 2,
      verificationPassRate: '80.0 %',
      restoreTestsWithinRto: '1 of 2 (target 4.0 h)',
      failoversWithinRto: '2 of 3 (target 15 min)',
      slowestRecovery: 'orders failover 20 min against 15 min',
      report: `s3://${primary}/${result.htmlKey}`,
    });
    expect(String(event.figures.link)).toMatch(/stops working earlier when that role's session ends/);
    // What on-call sees: the header, the figures, and a button to the report.
    const slack = JSON.stringify(renderEvent(event));
    expect(slack).toContain('DR evidence report');
    expect(slack).toContain('80.0 %');
    expect(slack).toContain(link);
  });

  it('signs the link with the report-link key when one is configured, so it lasts its 7 days', async () => {
    const secrets = mockClient(SecretsManagerClient);
    const signer = 'arn:aws:secretsmanager:us-east-1:333333333333:secret:lifeboat/prod/report-link-AbCdEf';
    secrets.on(GetSecretValueCommand, { SecretId: signer }).resolves({
      SecretString: JSON.stringify({
        accessKeyId: 'AKIAREPORTLINK000001',
        secretAccessKey: 's'.repeat(40),
      }),
    });
    try {
      await runReport({
        s3: () => s3,
        sns: sns as never,
        secrets: secrets as never,
        logger,
        env: env({
          [EVENTS_TOPIC_ENV]: 'arn:aws:sns:us-east-1:333333333333:lifeboat-prod-events',
          [ENV.linkSigner]: signer,
        }),
        now: () => new Date(PERIOD.to.getTime() + 180_000),
      });
      const event = LifeboatEvent.parse(
        JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!),
      );
      const link = new URL(event.link!);
      // Signed with the long-lived key: its id in the credential, no session token to expire.
      expect(link.searchParams.get('X-Amz-Credential')).toMatch(
        /^AKIAREPORTLINK000001\/\d{8}\/us-east-1\/s3\//,
      );
      expect(link.searchParams.get('X-Amz-Security-Token')).toBeNull();
      expect(link.searchParams.get('X-Amz-Expires')).toBe('604800');
      expect(String(event.figures.link)).toMatch(/^valid 7 d \(signed with the report-link key\)/);
      expect(JSON.stringify(logger.info.mock.calls)).not.toContain('s'.repeat(40));
    } finally {
      secrets.restore();
    }
  });

  it('falls back to the role when the report-link key cannot be read, without showing the secret', async () => {
    const secrets = mockClient(SecretsManagerClient);
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: '{"accessKeyId": "AKIA-secret-looking-text"}' });
    try {
      const result = await runReport({
        s3: () => s3,
        sns: sns as never,
        secrets: secrets as never,
        logger,
        env: env({ [ENV.linkSigner]: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:x-AbCdEf' }),
        now: () => new Date(PERIOD.to.getTime() + 240_000),
      });
      expect((await fetch(result.link)).status).toBe(200);
      expect(logger.warn).toHaveBeenCalledWith(
        'the report-link key could not be read: the role signs the link',
        expect.objectContaining({ error: expect.stringContaining('expected {"accessKeyId"') }),
      );
      expect(JSON.stringify(logger.warn.mock.calls)).not.toContain('AKIA-secret-looking-text');
    } finally {
      secrets.restore();
    }
  });

  it('reports from the primary bucket when the DR region cannot be read, and says so', async () => {
    const unreachable = s3Client('http://127.0.0.1:1');
    const result = await runReport({
      s3: (region) => (region === 'us-west-2' ? unreachable : s3),
      sns: sns as never,
      logger,
      env: env(),
      now: () => new Date(PERIOD.to.getTime() + 60_000),
    });
    expect(result.unavailable.map((u) => u.url)).toEqual([`s3://${dr}/`]);
    expect(result.summary.failovers).toBe(2);
    expect(logger.warn).toHaveBeenCalledWith(
      expect.stringContaining('could not be read'),
      expect.objectContaining({ url: `s3://${dr}/` }),
    );
  });

  it('names a missing or malformed setting', async () => {
    await expect(runReport({ s3: () => s3, sns: sns as never, logger, env: {} })).rejects.toThrow(
      ENV.settings,
    );
    await expect(
      runReport({
        s3: () => s3,
        sns: sns as never,
        logger,
        env: env({ [ENV.settings]: '{"environment":"prod"}' }),
      }),
    ).rejects.toThrow(/LIFEBOAT_REPORT_SETTINGS: primaryRegion: /);
  });
});
