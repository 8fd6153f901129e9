import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { Catalog } from '#core/catalog/catalog.ts';
import { lifeboatMetrics } from '#core/shared/emf.ts';
import { silentLogger } from '#core/shared/logger.ts';
import {
  announceBackup,
  type LogicalDumpResult,
  withBackupMetrics,
} from '../../functions/logical-dump/index.ts';
import {
  announceVerification,
  recordVerificationMetrics,
  type VerifyBackupResult,
} from '../../functions/verify-backup/index.ts';
import { recordFailoverMetrics } from '../../functions/wf-record-failover/index.ts';
import { recordRestoreTest } from '../../functions/wf-record-restore-test/index.ts';

/** A real Powertools Metrics whose EMF output is captured instead of printed. */
function captured() {
  const chunks: string[] = [];
  // The factory every handler uses: no Powertools `service` dimension, or no alarm would match.
  const metrics = lifeboatMetrics('test');
  // Powertools writes EMF to stdout through its own console.
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  return {
    metrics,
    flush() {
      metrics.publishStoredMetrics();
      vi.restoreAllMocks();
      return chunks
        .join('')
        .split('\n')
        .filter((l) => l.includes('"_aws"'))
        .map((l) => JSON.parse(l));
    },
  };
}

const result = {
  manifestKey: 'catalog/orders/x/manifest.json',
  manifest: { artifact: { bytes: 1048576 }, durationMs: 2500 },
} as unknown as LogicalDumpResult;

describe('metrics the handlers emit', () => {
  it('a completed backup: BackupSucceeded, BackupBytes, BackupDurationSeconds with Environment and Database', async () => {
    const c = captured();
    await withBackupMetrics(c.metrics, 'prod', { database: 'orders' }, async () => result);
    const [emf] = c.flush();
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: 'Lifeboat',
      Dimensions: [['Environment', 'Database']],
    });
    expect(emf).toMatchObject({
      Environment: 'prod',
      Database: 'orders',
      BackupSucceeded: 1,
      BackupBytes: 1048576,
      BackupDurationSeconds: 2.5,
    });
  });

  it('a failed backup counts BackupFailed and the error still propagates', async () => {
    const c = captured();
    await expect(
      withBackupMetrics(c.metrics, 'prod', { database: 'orders' }, async () => {
        throw new Error('pg_dump failed');
      }),
    ).rejects.toThrow('pg_dump failed');
    const [emf] = c.flush();
    expect(emf).toMatchObject({ BackupFailed: 1, Database: 'orders' });
    expect(emf.BackupSucceeded).toBeUndefined();
  });

  it('a verification: VerificationPassed or VerificationFailed, and the restore duration', () => {
    const c = captured();
    recordVerificationMetrics(c.metrics, 'prod', {
      database: 'orders',
      passed: false,
      restoreDurationMs: 4000,
    } as VerifyBackupResult);
    const [emf] = c.flush();
    expect(emf).toMatchObject({
      VerificationFailed: 1,
      RestoreDurationSeconds: 4,
      Database: 'orders',
      Environment: 'prod',
    });
    expect(emf.VerificationPassed).toBeUndefined();
  });

  it('a recorded restore test counts as a verification, like a verified dump', async () => {
    const c = captured();
    const catalog = { record: async () => 'catalog/ledger/b1/verification.json' } as unknown as Catalog;
    const event = {
      executionId: 'arn:e',
      startedAt: '2026-11-23T04:00:00.000Z',
      database: 'ledger',
      plan: { backupId: 'b1' },
      timing: { restoredAt: '2026-11-23T04:20:00.000Z' },
      checks: { passed: true, checks: [] },
    };
    const now = new Date('2026-11-23T04:25:00.000Z');

    await recordRestoreTest(event, catalog, now, { sink: c.metrics, environment: 'staging' });
    const [emf] = c.flush();

    expect(emf).toMatchObject({
      VerificationPassed: 1,
      RestoreDurationSeconds: 1200,
      Database: 'ledger',
      Environment: 'staging',
    });
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Environment', 'Database']]);
  });

  it('a restore test that failed, or had nothing to test, counts accordingly', async () => {
    const c = captured();
    const catalog = { record: async () => 'k' } as unknown as Catalog;
    const base = {
      executionId: 'arn:e',
      startedAt: '2026-11-23T04:00:00.000Z',
      database: 'ledger',
      timing: {},
    };

    await recordRestoreTest(
      { ...base, plan: { backupId: 'b1' }, error: { Error: 'RestoreFailed' } },
      catalog,
      new Date('2026-11-23T04:10:00.000Z'),
      { sink: c.metrics, environment: 'staging' },
    );
    const [failed] = c.flush();
    expect(failed).toMatchObject({ VerificationFailed: 1, Database: 'ledger' });
    expect(failed.VerificationPassed).toBeUndefined();
    expect(failed.RestoreDurationSeconds).toBeUndefined();

    const none = captured();
    const result = await recordRestoreTest({ ...base, plan: {} }, catalog, new Date(), {
      sink: none.metrics,
      environment: 'staging',
    });
    expect(result.recorded).toBe(false);
    expect(none.flush()).toEqual([]);
  });

  it('a failover: its RTO and RPO in seconds; no RPO figure when the lag was unknown', () => {
    const c = captured();
    recordFailoverMetrics(c.metrics, 'prod', 'orders', {
      recorded: true,
      key: 'k',
      rtoSeconds: 187.4,
      rpoSeconds: 3,
    });
    const [emf] = c.flush();
    expect(emf).toMatchObject({ FailoverRtoSeconds: 187.4, FailoverRpoSeconds: 3, Database: 'orders' });

    const forced = captured();
    recordFailoverMetrics(forced.metrics, 'prod', 'orders', {
      recorded: true,
      key: 'k',
      rtoSeconds: 90,
      rpoSeconds: null,
    });
    const [noRpo] = forced.flush();
    expect(noRpo.FailoverRtoSeconds).toBe(90);
    expect(noRpo.FailoverRpoSeconds).toBeUndefined();
  });
});

describe('events the handlers announce', () => {
  const sns = mockClient(SNSClient);
  const env = {
    LIFEBOAT_EVENTS_TOPIC_ARN: 'arn:aws:sns:eu-west-1:111111111111:lifeboat-prod-events',
    LIFEBOAT_ENVIRONMENT: 'prod',
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/lifeboat-prod-logical-dump',
  };
  const published = () => sns.commandCalls(PublishCommand).map((c) => JSON.parse(c.args[0].input.Message!));
  const full = {
    ...result,
    manifest: { id: '20261123T020000Z-abcdef', artifact: { bytes: 5 * 1048576 }, durationMs: 42_000 },
    statistics: { tables: 12, rows: 1000, indexes: 3, databaseSizeBytes: 1 },
  } as unknown as LogicalDumpResult;

  beforeEach(() => sns.reset());

  it('backup.completed with the figures, and backup.failed with the reason on one line', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    await announceBackup(new SNSClient({}), env, silentLogger, { database: 'orders' }, { result: full });
    await announceBackup(
      new SNSClient({}),
      env,
      silentLogger,
      { database: 'orders' },
      {
        error: Object.assign(new Error('pg_dump failed:\nconnection lost'), { name: 'BackupFailed' }),
      },
    );
    const [completed, failed] = published();
    expect(completed).toMatchObject({
      type: 'backup.completed',
      severity: 'info',
      environment: 'prod',
      region: 'eu-west-1',
      database: 'orders',
      summary: 'backup 20261123T020000Z-abcdef of orders: 5.0 MiB in 42 s',
      figures: { backupId: '20261123T020000Z-abcdef', bytes: 5 * 1048576, durationMs: 42_000, tables: 12 },
      link: expect.stringMatching(/^https:\/\/.*console\.aws\.amazon\.com/),
    });
    expect(failed).toMatchObject({
      type: 'backup.failed',
      summary: 'backup of orders failed: pg_dump failed: connection lost',
      figures: { error: 'BackupFailed' },
    });
  });

  it('verification.failed names the failed checks', async () => {
    sns.on(PublishCommand).resolves({ MessageId: 'm' });
    await announceVerification(new SNSClient({}), env, silentLogger, {
      backupId: 'b1',
      database: 'orders',
      passed: false,
      checks: [
        { name: 'checksum', passed: true, detail: 'ok', failures: [] },
        { name: 'tables', passed: false, detail: '1 of 3 tables differ', failures: ['x'] },
      ],
      restoreDurationMs: 100,
      totalDurationMs: 200,
      recordKey: 'k',
    });
    expect(published()[0]).toMatchObject({
      type: 'verification.failed',
      severity: 'critical',
      summary: 'backup b1 of orders FAILED verification: tables (1 of 3 tables differ)',
      figures: { checks: 2, failedChecks: 1 },
    });
  });

  it('publishes nothing without a topic, and never throws when SNS fails', async () => {
    await announceBackup(new SNSClient({}), {}, silentLogger, { database: 'orders' }, { result: full });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    sns.on(PublishCommand).rejects(new Error('SNS is down'));
    await expect(
      announceBackup(new SNSClient({}), env, silentLogger, { database: 'orders' }, { result: full }),
    ).resolves.toBeUndefined();
  });
});
