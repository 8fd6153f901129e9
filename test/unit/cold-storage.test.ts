import { HeadObjectCommand, RestoreObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  ARCHIVE_WAIT_MAX_HOURS,
  archiveWaitPlan,
  requestBackupRestore,
  summarizeStorage,
} from '#core/dumps/cold-storage.ts';
import { ExpeditedRetrievalUnavailable, InvalidArgument } from '#core/shared/errors.ts';
import { eventFromSnsRecord } from '#core/notify/decode.ts';
import { objectStorage, S3Repository } from '#core/repository/s3.ts';

/**
 * Archive tiers at the S3 API level: HeadObject and RestoreObject answered by aws-sdk-client-mock
 * with the shapes S3 documents (s3rver has no storage classes; the bytes of a backup are not
 * involved here).
 */

const client = new S3Client({ region: 'eu-central-1' });
const s3 = mockClient(client);
const repository = new S3Repository({ client, bucket: 'b', prefix: 'prod' });
const manifest = {
  artifact: { key: 'artifacts/orders/x.dump' },
  roles: { key: 'artifacts/orders/x.roles.json' },
} as never;
const s3Error = (name: string, status: number, message: string) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    message,
    $metadata: { httpStatusCode: status },
  });

describe('the wait for an S3 restore', () => {
  it.each([
    // S3's published worst case (h) → a check every n s, at most m checks, giving up after h + margin
    [5 / 60, { waitSeconds: 60, maxChecks: 20, boundHours: 1 / 3 }],
    [5, { waitSeconds: 900, maxChecks: 24, boundHours: 6 }],
    [12, { waitSeconds: 900, maxChecks: 52, boundHours: 13 }],
    [48, { waitSeconds: 900, maxChecks: 196, boundHours: 49 }],
  ])('worst case %s h', (hours, plan) => {
    expect(archiveWaitPlan(hours)).toEqual(plan);
  });

  it('the longest wait is DEEP_ARCHIVE Bulk with its margin', () => {
    expect(ARCHIVE_WAIT_MAX_HOURS).toBe(49);
  });
});

describe('summarizeStorage', () => {
  it('counts what is readable, archived and restoring, and names a few keys still waiting', () => {
    const keys = Array.from({ length: 8 }, (_, i) => `artifacts/orders/x.dir/${i}.dat`);
    const summary = summarizeStorage([
      objectStorage(
        'artifacts/orders/x.roles.json',
        'GLACIER',
        'ongoing-request="false", expiry-date="Mon, 30 Nov 2026 00:00:00 GMT"',
      ),
      ...keys.map((k, i) => objectStorage(k, 'DEEP_ARCHIVE', i % 2 ? 'ongoing-request="true"' : undefined)),
    ]);
    expect(summary).toEqual({
      readable: false,
      artifacts: 9,
      readableNow: 1,
      archived: 4,
      restoring: 4,
      storageClasses: ['DEEP_ARCHIVE', 'GLACIER'],
      waitingFor: keys.slice(0, 5),
    });
    expect(summarizeStorage(null)).toMatchObject({ readable: true, artifacts: 0 });
  });
});

describe('RestoreObject answers', () => {
  beforeEach(() => {
    s3.reset();
    s3.on(HeadObjectCommand).resolves({ StorageClass: 'GLACIER' });
  });

  it('RestoreAlreadyInProgress (409) is success: the restore asked before stands', async () => {
    s3.on(RestoreObjectCommand).rejects(
      s3Error('RestoreAlreadyInProgress', 409, 'Object restore is already in progress'),
    );
    await expect(repository.requestRestore('k', { tier: 'Standard', days: 1 })).resolves.toBe('in-progress');
  });

  it('ObjectAlreadyInActiveTierError (403) means not archived, not denied', async () => {
    s3.on(RestoreObjectCommand).rejects(
      s3Error('ObjectAlreadyInActiveTierError', 403, 'Restore is not allowed for the object'),
    );
    await expect(repository.requestRestore('k', { tier: 'Standard', days: 1 })).resolves.toBe('not-archived');
  });

  it('GlacierExpeditedRetrievalNotAvailable (503) is ExpeditedRetrievalUnavailable, saying what to do', async () => {
    s3.on(RestoreObjectCommand).rejects(
      s3Error(
        'GlacierExpeditedRetrievalNotAvailable',
        503,
        'Glacier expedited retrievals are currently not available, please try again later',
      ),
    );
    const err = await repository.requestRestore('k', { tier: 'Expedited', days: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExpeditedRetrievalUnavailable);
    expect((err as Error).message).toBe(
      'S3 has no Expedited retrieval capacity now for k: ask again later or use the Standard tier',
    );
  });

  it('requestBackupRestore reports the worst case of what it asked for, and of restores already running', async () => {
    s3.on(RestoreObjectCommand).resolves({});
    const now = new Date('2026-11-23T09:00:00Z');
    const asked = await requestBackupRestore(repository, manifest, { tier: 'Bulk', days: 2, now });
    expect(asked).toMatchObject({ hours: 12, readyBy: '2026-11-23T21:00:00.000Z' });
    expect(s3).toHaveReceivedCommandTimes(RestoreObjectCommand, 2);

    s3.on(HeadObjectCommand).resolves({ StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="true"' });
    s3.on(RestoreObjectCommand).rejects(s3Error('RestoreAlreadyInProgress', 409, 'in progress'));
    const running = await requestBackupRestore(repository, manifest, { tier: 'Standard', days: 2, now });
    expect(running).toMatchObject({ hours: 48, readyBy: '2026-11-25T09:00:00.000Z' });
    expect(running.artifacts.map((a) => a.outcome)).toEqual(['in-progress', 'in-progress']);
  });

  it('Expedited for DEEP_ARCHIVE is refused before anything is asked, naming the option', async () => {
    s3.on(HeadObjectCommand).resolves({ StorageClass: 'DEEP_ARCHIVE' });
    const err = await requestBackupRestore(repository, manifest, {
      tier: 'Expedited',
      days: 1,
      option: 'archive.tier',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgument);
    expect((err as Error).message).toBe(
      'archive.tier Expedited is not available for DEEP_ARCHIVE: use Standard or Bulk',
    );
    expect(s3).not.toHaveReceivedCommand(RestoreObjectCommand);
  });
});

describe('the restore.waiting-for-archive notification', () => {
  it('reads as a plan: tier, worst case, readable-by time, how often checked', () => {
    const message = {
      source: 'lifeboat',
      type: 'restore.waiting-for-archive',
      severity: 'warning',
      environment: 'prod',
      executionId: 'arn:aws:states:eu-central-1:111111111111:execution:lifeboat-prod-restore:r1',
      at: '2026-11-23T09:00:00.000Z',
      database: 'orders',
      backupId: '20260612T020000Z-arch',
      storage: { artifacts: 2, storageClasses: ['DEEP_ARCHIVE'] },
      restore: {
        tier: 'Standard',
        hours: 12,
        readyBy: '2026-11-23T21:00:00.000Z',
        waitSeconds: 900,
        boundHours: 13,
      },
      asked: { tier: 'Standard', days: 7 },
    };
    const read = eventFromSnsRecord({ Sns: { Message: JSON.stringify(message) } } as never);
    expect(read).toMatchObject({
      kind: 'event',
      event: {
        severity: 'warning',
        summary:
          'Restore of orders waits for S3 to restore its archived dump 20260612T020000Z-arch (DEEP_ARCHIVE, Standard tier): readable by 2026-11-23T21:00:00.000Z at the latest',
        figures: {
          tier: 'Standard',
          worstCaseHours: 12,
          readyBy: '2026-11-23T21:00:00.000Z',
          checkEveryMinutes: 15,
          giveUpAfterHours: 13,
          artifacts: 2,
          storageClass: 'DEEP_ARCHIVE',
        },
      },
    });
  });
});
