import {
  HeadObjectCommand,
  NotFound,
  RestoreObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BackupSummary, Catalog } from '../../functions/core/catalog/catalog.ts';
import type { DumpManifest } from '../../functions/core/catalog/manifest.ts';
import { S3Repository } from '../../functions/core/repository/s3.ts';
import {
  chooseRestorePoint,
  type PlannedRestore,
  planRestore,
} from '../../functions/core/restore/restore-plan.ts';
import { type ArchivedDumpEvent, archivedDump } from '../../functions/wf-archived-dump/index.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { dumpBackup, REGION } from './catalog-fixtures.ts';
import { failWith, type Handlers, type RunResult, runWorkflow } from './harness.ts';

/**
 * The restore workflow's dump route when the dump is archived, run from the synthesized ASL. The
 * archived-dump steps run the shipped logic (functions/wf-archived-dump → core/cold-storage →
 * S3Repository) against an S3 client whose HeadObject and RestoreObject answers are those S3
 * documents (aws-sdk-client-mock: s3rver has no storage classes); a small model of S3 moves each
 * requested object from "restore running" to "restored copy" after a number of checks.
 */

const BUCKET = 'lifeboat-prod-111111111111-eu-central-1';
const ID = '20260612T020000Z-arch';
const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-restore-AbCdEf';
const NOW = new Date('2026-11-23T09:00:00.000Z');

function archivedBackup(): BackupSummary {
  const b = dumpBackup(ID, '2026-06-12T02:00:00.000Z', { verified: true });
  const manifest = b.manifest as DumpManifest;
  return {
    ...b,
    manifest: {
      ...manifest,
      roles: { key: `artifacts/orders/${ID}.roles.json`, bytes: 512, sha256: 'b'.repeat(64), count: 3 },
    },
  };
}
const backup = archivedBackup();
const KEYS = [`artifacts/orders/${ID}.dump`, `artifacts/orders/${ID}.roles.json`];

const input = (archive?: object) => ({
  database: 'orders',
  source: 'dump',
  restorePoint: { kind: 'backup', backupId: ID },
  target: { identifier: 'reports-db', databaseName: 'orders_restored', secretArn: SECRET },
  ...(archive && { archive }),
});

// --- a model of S3's archive tiers, answering as S3 does ------------------------------------------

type ObjectState = { storageClass: string; restore: 'none' | 'in-progress' | 'available'; tier?: string };

const s3Error = (name: string, status: number, message: string) =>
  new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    message,
    $metadata: { httpStatusCode: status },
  });

class S3Tiers {
  objects = new Map<string, ObjectState>();
  /** Checks (HeadObject rounds of CheckArchiveRestore) after which a running restore is done. */
  readyAfterChecks = 3;
  checks = 0;
  expeditedCapacity = true;
  headError: Error | null = null;
  restoreError: Error | null = null;

  archive(storageClass: string, restore: ObjectState['restore'] = 'none'): void {
    for (const key of KEYS) this.objects.set(key, { storageClass, restore });
  }

  /** One check of the wait loop has happened: time passes for the running restores. */
  tick(): void {
    this.checks++;
    if (this.checks < this.readyAfterChecks) return;
    for (const o of this.objects.values()) if (o.restore === 'in-progress') o.restore = 'available';
  }

  head(key: string) {
    if (this.headError) throw this.headError;
    const o = this.objects.get(key);
    if (!o) throw new NotFound({ message: 'Not Found', $metadata: { httpStatusCode: 404 } });
    return {
      ContentLength: 1000,
      ...(o.storageClass === 'STANDARD' ? {} : { StorageClass: o.storageClass as never }),
      ...(o.restore === 'in-progress' && { Restore: 'ongoing-request="true"' }),
      ...(o.restore === 'available' && {
        Restore: 'ongoing-request="false", expiry-date="Mon, 30 Nov 2026 00:00:00 GMT"',
      }),
    };
  }

  restore(key: string, tier: string) {
    if (this.restoreError) throw this.restoreError;
    const o = this.objects.get(key)!;
    if (!['GLACIER', 'DEEP_ARCHIVE'].includes(o.storageClass))
      throw s3Error('ObjectAlreadyInActiveTierError', 403, 'Restore is not allowed for the object');
    if (o.restore === 'in-progress')
      throw s3Error('RestoreAlreadyInProgress', 409, 'Object restore is already in progress');
    if (tier === 'Expedited' && !this.expeditedCapacity)
      throw s3Error(
        'GlacierExpeditedRetrievalNotAvailable',
        503,
        'Glacier expedited retrievals are currently not available, please try again later',
      );
    // A restored copy asked again: S3 extends its days (200 OK); otherwise 202 Accepted.
    if (o.restore === 'none') Object.assign(o, { restore: 'in-progress', tier });
    return {};
  }
}

const client = new S3Client({ region: REGION });
const s3 = mockClient(client);
let tiers: S3Tiers;

const catalog = {
  get: async (id: string) => {
    if (id !== backup.id) throw new Error(`unknown backup ${id}`);
    return backup;
  },
  list: async () => [backup],
} as unknown as Catalog;

function archiveStep(check: 'first' | 'loop' | null) {
  return async (e: ArchivedDumpEvent) => {
    if (check === 'loop') tiers.tick();
    return archivedDump(e, {
      repository: new S3Repository({ client, bucket: BUCKET, prefix: '' }),
      catalog,
      now: () => NOW,
    });
  };
}

function handlers(overrides: Handlers = {}): Handlers {
  const published = () => ({ MessageId: 'm' });
  return {
    ValidateInput: (e: { input: unknown }) => planRestore(e.input),
    NotifyRestoreStarted: published,
    ResolveRestorePoint: (e: { request: PlannedRestore }) => chooseRestorePoint(e.request, [backup], REGION),
    CheckDumpArtifacts: archiveStep('first'),
    RequestArchiveRestore: archiveStep(null),
    NotifyArchiveRestore: published,
    CheckArchiveRestore: archiveStep('loop'),
    RestoreDump: (e: { target: { databaseName: string } }) => {
      // The restore reads the artifacts: every one must be readable by now.
      for (const [key, o] of tiers.objects)
        if (o.storageClass !== 'STANDARD' && o.restore !== 'available')
          throw Object.assign(new Error(`${key} is archived`), { name: 'ArchivedObject' });
      return {
        database: e.target.databaseName,
        endpoint: 'reports-db.abc.rds.amazonaws.com',
        passed: true,
        checks: [{ name: 'tables', passed: true, detail: '3 tables, 10 rows, exact', failures: [] }],
        restoreDurationMs: 1200,
      };
    },
    FinishRestore: () => ({ recorded: true, durationMs: 754_000 }),
    NotifyRestored: published,
    NotifyRestoreFailed: published,
    DropCreatedDatabase: () => ({}),
    // Not on a dump route.
    ...Object.fromEntries(
      [
        'RestoreInstanceFromSnapshot',
        'RestoreInstanceToPointInTime',
        'RestoreClusterFromSnapshot',
        'RestoreClusterToPointInTime',
        'CreateClusterInstance',
        'ExistingInstanceDescribe',
        'UnsureInstanceDescribe',
        'ExistingClusterDescribe',
        'UnsureClusterDescribe',
        'DescribeRestoredInstance',
        'DescribeRestoredCluster',
        'VerifyRestore',
        'Cutover',
        'GetCutoverChange',
        'DeleteCreatedInstance',
        'DeleteCreatedCluster',
      ].map((n) => [n, failWith('Unexpected', `${n} is not on the dump route`)]),
    ),
    ...overrides,
  };
}

const restoreCalls = () => s3.commandCalls(RestoreObjectCommand).map((c) => c.args[0].input);
const failedMessage = (r: RunResult) =>
  (
    r.calls.NotifyRestoreFailed![0] as {
      Message: { error: { Error: string; Cause: string }; removed: object };
    }
  ).Message;
/** The states of the archive wait, in the order entered (the loop's repeats included). */
const archivePath = (r: RunResult) =>
  r.path.filter((s) =>
    [
      'CheckDumpArtifacts',
      'IsDumpReadable',
      'RequestArchiveRestore',
      'ArchiveTierStandard',
      'NotifyArchiveRestore',
      'InitArchivePoll',
      'WaitForArchiveRestore',
      'CheckArchiveRestore',
      'CountArchivePoll',
      'IsArchiveReadable',
      'ArchiveReadable',
      'ArchiveRestoreTimedOut',
      'TrackDumpDatabase',
      'RestoreDump',
    ].includes(s),
  );

describe('RestoreWorkflow: a dump in an archive tier', () => {
  let asl: AslDefinition;
  beforeAll(() => {
    asl = renderAsl('restore');
  });
  beforeEach(() => {
    s3.reset();
    tiers = new S3Tiers();
    s3.on(HeadObjectCommand).callsFake((i: { Key: string }) => tiers.head(i.Key));
    s3.on(RestoreObjectCommand).callsFake(
      (i: { Key: string; RestoreRequest: { GlacierJobParameters: { Tier: string } } }) =>
        tiers.restore(i.Key, i.RestoreRequest.GlacierJobParameters.Tier),
    );
  });

  it('archived → requested → in progress → readable → restored (DEEP_ARCHIVE, Standard by default)', async () => {
    tiers.archive('DEEP_ARCHIVE');

    const result = await runWorkflow('restore', asl, input(), handlers());

    expect(result.status).toBe('SUCCEEDED');
    // Every object of the backup (the dump and its roles) restored at the default tier and days.
    expect(restoreCalls()).toEqual(
      KEYS.map((Key) => ({
        Bucket: BUCKET,
        Key,
        RestoreRequest: { Days: 7, GlacierJobParameters: { Tier: 'Standard' } },
      })),
    );
    expect(result.calls.RequestArchiveRestore).toEqual([
      { action: 'request', database: 'orders', backupId: ID, tier: 'Standard', days: 7 },
    ]);
    // On-call is told the wait: S3's worst case for DEEP_ARCHIVE Standard, and when at the latest.
    expect(result.calls.NotifyArchiveRestore).toHaveLength(1);
    expect(result.calls.NotifyArchiveRestore![0]).toMatchObject({
      Message: {
        type: 'restore.waiting-for-archive',
        severity: 'warning',
        database: 'orders',
        backupId: ID,
        storage: {
          readable: false,
          artifacts: 2,
          archived: 2,
          restoring: 0,
          storageClasses: ['DEEP_ARCHIVE'],
        },
        restore: {
          tier: 'Standard',
          days: 7,
          requested: 2,
          alreadyRunning: 0,
          hours: 12,
          readyBy: '2026-11-23T21:00:00.000Z',
          waitSeconds: 900,
          maxChecks: 52,
          boundHours: 13,
        },
      },
    });
    // Checked until readable (3 rounds), then the dump restore ran, once.
    expect(result.calls.CheckArchiveRestore).toHaveLength(3);
    expect(archivePath(result)).toEqual([
      'CheckDumpArtifacts',
      'IsDumpReadable',
      'RequestArchiveRestore',
      'NotifyArchiveRestore',
      'InitArchivePoll',
      ...Array.from({ length: 3 }, () => [
        'WaitForArchiveRestore',
        'CheckArchiveRestore',
        'CountArchivePoll',
        'IsArchiveReadable',
      ]).flat(),
      'ArchiveReadable',
      'TrackDumpDatabase',
      'RestoreDump',
    ]);
    expect(result.calls.RestoreDump).toHaveLength(1);
    console.info(
      `archived dump restore: ${result.path.length} states entered in all, ${archivePath(result).length - 2} for the archive (3 checks); each further check adds 4`,
    );
    expect(result.output).toMatchObject({
      result: 'restored',
      created: { database: { name: 'orders_restored' } },
      archive: {
        waited: true,
        poll: { attempts: 3 },
        storage: { readable: true, readableNow: 2, restoring: 0 },
        request: { tier: 'Standard', hours: 12 },
      },
    });
    expect(result.calls.DropCreatedDatabase).toHaveLength(0);
  });

  it('waits on a restore already running (asked from the CLI): RestoreAlreadyInProgress is success, bounded by the slowest tier', async () => {
    tiers.archive('DEEP_ARCHIVE', 'in-progress');
    tiers.readyAfterChecks = 2;

    const result = await runWorkflow('restore', asl, input({ tier: 'Bulk', days: 3 }), handlers());

    expect(result.status).toBe('SUCCEEDED');
    expect(restoreCalls()).toHaveLength(2);
    expect(result.calls.NotifyArchiveRestore![0]).toMatchObject({
      Message: {
        storage: { archived: 0, restoring: 2 },
        restore: { requested: 0, alreadyRunning: 2, hours: 48, maxChecks: 196, boundHours: 49 },
      },
    });
    expect(result.calls.CheckArchiveRestore).toHaveLength(2);
    expect(result.calls.RestoreDump).toHaveLength(1);
  });

  it('a restored copy already there is read at once: no request, no wait, no notification', async () => {
    tiers.archive('GLACIER', 'available');

    const result = await runWorkflow('restore', asl, input(), handlers());

    expect(result.status).toBe('SUCCEEDED');
    expect(restoreCalls()).toEqual([]);
    expect(result.calls.NotifyArchiveRestore).toHaveLength(0);
    expect(archivePath(result)).toEqual([
      'CheckDumpArtifacts',
      'IsDumpReadable',
      'TrackDumpDatabase',
      'RestoreDump',
    ]);
    expect(result.output.archive).toMatchObject({ waited: false, storage: { readable: true, artifacts: 2 } });
  });

  it('a dump in STANDARD never touches the archive steps beyond the first check', async () => {
    tiers.archive('STANDARD');

    const result = await runWorkflow('restore', asl, input(), handlers());

    expect(result.status).toBe('SUCCEEDED');
    expect(s3).toHaveReceivedCommandTimes(HeadObjectCommand, 2);
    expect(restoreCalls()).toEqual([]);
    expect(result.calls.RequestArchiveRestore).toHaveLength(0);
  });

  it('GLACIER at the Expedited tier: checked every minute, for at most 20 minutes', async () => {
    tiers.archive('GLACIER');

    const result = await runWorkflow('restore', asl, input({ tier: 'Expedited', days: 1 }), handlers());

    expect(result.status).toBe('SUCCEEDED');
    expect(restoreCalls()[0]).toMatchObject({
      RestoreRequest: { Days: 1, GlacierJobParameters: { Tier: 'Expedited' } },
    });
    expect(result.output.archive.request).toMatchObject({
      tier: 'Expedited',
      hours: 5 / 60,
      waitSeconds: 60,
      maxChecks: 20,
    });
  });

  it('no Expedited capacity (503 GlacierExpeditedRetrievalNotAvailable): asked twice more, then the Standard tier, and on-call is told', async () => {
    tiers.archive('GLACIER');
    tiers.expeditedCapacity = false;

    const result = await runWorkflow('restore', asl, input({ tier: 'Expedited', days: 2 }), handlers());

    expect(result.status).toBe('SUCCEEDED');
    const asked = restoreCalls().map(
      (c) => `${c.Key!.split('.').at(-1)}:${c.RestoreRequest!.GlacierJobParameters!.Tier}`,
    );
    expect(asked).toEqual([
      'dump:Expedited',
      'dump:Expedited',
      'dump:Expedited',
      'dump:Standard',
      'json:Standard',
    ]);
    expect(result.path).toContain('ArchiveTierStandard');
    expect(result.calls.NotifyArchiveRestore![0]).toMatchObject({
      Message: {
        asked: { tier: 'Standard', days: 2, insteadOf: 'Expedited' },
        restore: { tier: 'Standard', hours: 5, maxChecks: 24 },
      },
    });
    expect(result.calls.RestoreDump).toHaveLength(1);
  });

  it('never readable within the bound: fails with ArchiveRestoreTimedOut after maxChecks checks, nothing created or dropped', async () => {
    tiers.archive('DEEP_ARCHIVE');
    tiers.readyAfterChecks = Number.POSITIVE_INFINITY;

    const result = await runWorkflow('restore', asl, input(), handlers());

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ArchiveRestoreTimedOut');
    expect(result.calls.CheckArchiveRestore).toHaveLength(52);
    console.info(
      `archived dump never readable (DEEP_ARCHIVE Standard): ${result.path.length} states entered`,
    );
    expect(result.cause).toBe(
      `backup ${ID} is still archived after 52 checks (13 h, S3 restore at Standard tier): 0 of 2 artifacts readable, 2 still restoring (e.g. ${KEYS[0]}). Nothing was created. The S3 restore goes on: start this restore again once the artifacts are readable (lifeboat list --env shows their tier).`,
    );
    expect(result.calls.RestoreDump).toHaveLength(0);
    expect(result.calls.DropCreatedDatabase).toHaveLength(0);
    expect(failedMessage(result)).toMatchObject({ error: { Error: 'ArchiveRestoreTimedOut' }, removed: {} });
    // Bounded: one request, never asked again while waiting.
    expect(restoreCalls()).toHaveLength(2);
  });

  it('Expedited for DEEP_ARCHIVE is refused before any request, naming the field', async () => {
    tiers.archive('DEEP_ARCHIVE');

    const result = await runWorkflow('restore', asl, input({ tier: 'Expedited' }), handlers());

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InvalidArgument');
    expect(result.cause).toContain(
      'archive.tier Expedited is not available for DEEP_ARCHIVE: use Standard or Bulk',
    );
    expect(restoreCalls()).toEqual([]);
    expect(result.calls.RestoreDump).toHaveLength(0);
    expect(failedMessage(result).removed).toEqual({});
  });

  describe('every Catch of the archive steps fails the restore cleanly (nothing was created)', () => {
    it('CheckDumpArtifacts: HeadObject denied', async () => {
      tiers.archive('GLACIER');
      tiers.headError = s3Error('AccessDenied', 403, 'Access Denied');

      const result = await runWorkflow('restore', asl, input(), handlers());

      expect(result.error).toBe('RepositoryAccessDenied');
      expect(result.calls.RequestArchiveRestore).toHaveLength(0);
      expect(failedMessage(result)).toMatchObject({
        error: { Error: 'RepositoryAccessDenied' },
        removed: {},
      });
    });

    it('CheckDumpArtifacts: an artifact missing (404 on HeadObject)', async () => {
      tiers.archive('GLACIER');
      tiers.objects.delete(KEYS[1]!);

      const result = await runWorkflow('restore', asl, input(), handlers());

      expect(result.error).toBe('BackupNotFound');
      expect(result.calls.RestoreDump).toHaveLength(0);
    });

    it('RequestArchiveRestore: RestoreObject denied', async () => {
      tiers.archive('DEEP_ARCHIVE');
      tiers.restoreError = s3Error('AccessDenied', 403, 'Access Denied');

      const result = await runWorkflow('restore', asl, input(), handlers());

      expect(result.error).toBe('RepositoryAccessDenied');
      expect(result.calls.NotifyArchiveRestore).toHaveLength(0);
      expect(result.calls.RestoreDump).toHaveLength(0);
      expect(failedMessage(result).removed).toEqual({});
    });

    it('RequestArchiveRestore: a transient S3 error is retried, then the restore goes on', async () => {
      tiers.archive('GLACIER');
      let failures = 1;
      const step = archiveStep(null);

      const result = await runWorkflow(
        'restore',
        asl,
        input(),
        handlers({
          RequestArchiveRestore: async (e: ArchivedDumpEvent) => {
            if (failures-- > 0)
              throw Object.assign(new Error('S3 error: InternalError (HTTP 500)'), {
                name: 'RepositoryError',
              });
            return step(e);
          },
        }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RequestArchiveRestore).toHaveLength(2);
    });

    it('CheckArchiveRestore: denied while waiting', async () => {
      tiers.archive('GLACIER');
      const loop = archiveStep('loop');
      let n = 0;

      const result = await runWorkflow(
        'restore',
        asl,
        input(),
        handlers({
          CheckArchiveRestore: async (e: ArchivedDumpEvent) => {
            if (++n === 2) tiers.headError = s3Error('AccessDenied', 403, 'Access Denied');
            return loop(e);
          },
        }),
      );

      expect(result.error).toBe('RepositoryAccessDenied');
      expect(result.calls.CheckArchiveRestore).toHaveLength(2);
      expect(result.calls.RestoreDump).toHaveLength(0);
      expect(failedMessage(result).removed).toEqual({});
    });

    it('a notification that cannot be published does not stop the wait', async () => {
      tiers.archive('GLACIER');

      const result = await runWorkflow(
        'restore',
        asl,
        input(),
        handlers({ NotifyArchiveRestore: failWith('SNS.AuthorizationErrorException') }),
      );

      expect(result.status).toBe('SUCCEEDED');
      expect(result.calls.RestoreDump).toHaveLength(1);
    });
  });

  it.each([
    [{ tier: 'Glacial' }, 'archive.tier'],
    [{ days: 31 }, 'archive.days'],
    [{ days: 1.5 }, 'archive.days'],
    [{ tier: 'Bulk', surprise: 1 }, 'surprise'],
  ])('bad archive input %o is refused naming %s', async (archive, field) => {
    const result = await runWorkflow('restore', asl, input(archive), handlers());

    expect(result.error).toBe('InvalidRestoreInput');
    expect(result.cause).toContain(field);
    expect(s3).not.toHaveReceivedCommand(HeadObjectCommand);
  });

  it('archive is refused on a snapshot restore', async () => {
    const result = await runWorkflow(
      'restore',
      asl,
      {
        database: 'orders',
        source: 'snapshot',
        target: {
          identifier: 'orders-restored',
          instanceClass: 'db.r6g.large',
          subnetGroupName: 'lifeboat-restore',
          securityGroupIds: ['sg-0123456789abcdef0'],
          secretArn: SECRET,
        },
        archive: { tier: 'Bulk' },
      },
      handlers(),
    );

    expect(result.error).toBe('InvalidRestoreInput');
    expect(result.cause).toContain('field archive: applies to dump restores only');
  });
});
