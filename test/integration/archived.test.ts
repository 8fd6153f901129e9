import {
  GetObjectCommand,
  HeadObjectCommand,
  InvalidObjectState,
  ObjectAlreadyInActiveTierError,
  RestoreObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { parse } from '../../bin/cli/args.ts';
import { archiveOptions, archivePreflight, EXIT_ARCHIVED } from '../../bin/cli/archived.ts';
import { tierText } from '../../bin/cli/format.ts';
import { runBackup } from '#core/dumps/backup.ts';
import { requestBackupRestore } from '#core/dumps/cold-storage.ts';
import { ArchivedObject, RepositoryAccessDenied } from '#core/shared/errors.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { objectStorage, S3Repository } from '#core/repository/s3.ts';
import { runVerify } from '#core/verify/verify.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

/**
 * Dumps in archive tiers. s3rver has no storage classes: the S3 control calls (HeadObject's
 * StorageClass and x-amz-restore, RestoreObject, GetObject's InvalidObjectState) are answered by
 * aws-sdk-client-mock as S3 documents them, while every byte of the backup goes through s3rver.
 */

const control = new S3Client({ region: 'us-east-1' });
const s3 = mockClient(control);

type Tier = { storageClass: string; restore: 'none' | 'in-progress' | 'available' };

/** A client that sends the tier-related calls to the mock and everything else to s3rver. */
function tieredClient(real: S3Client, state: () => Tier): S3Client {
  return new Proxy(real, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver);
      return (command: unknown) => {
        // The lifecycle archives artifacts only: catalog documents stay where they are.
        const c = command as { input: { Key?: string } };
        const artifact = c.input?.Key?.includes('/artifacts/') === true;
        const tierCall =
          command instanceof HeadObjectCommand ||
          command instanceof RestoreObjectCommand ||
          (command instanceof GetObjectCommand && state().restore !== 'available');
        if (artifact && tierCall) return control.send(command as never);
        return target.send(command as never);
      };
    },
  });
}

function output() {
  let text = '';
  return {
    stream: {
      write: (c: string) => {
        text += c;
        return true;
      },
    } as unknown as NodeJS.WritableStream,
    text: () => text,
  };
}

const invalidObjectState = (storageClass: string) =>
  new InvalidObjectState({
    message: 'The operation is not valid for the object storage class',
    StorageClass: storageClass as never,
    $metadata: { httpStatusCode: 403 },
  });

describe("an artifact's storage, as HeadObject tells it", () => {
  it.each([
    [undefined, undefined, undefined, { storageClass: 'STANDARD', archived: false, readable: true }],
    ['GLACIER', undefined, undefined, { archived: true, restore: 'none', readable: false }],
    ['DEEP_ARCHIVE', 'ongoing-request="true"', undefined, { restore: 'in-progress', readable: false }],
    [
      'GLACIER',
      'ongoing-request="false", expiry-date="Fri, 23 Dec 2026 00:00:00 GMT"',
      undefined,
      { restore: 'available', readable: true, restoredUntil: '2026-12-23T00:00:00.000Z' },
    ],
    ['GLACIER_IR', undefined, undefined, { archived: false, readable: true }],
    [
      'INTELLIGENT_TIERING',
      undefined,
      'DEEP_ARCHIVE_ACCESS',
      { storageClass: 'INTELLIGENT_TIERING/DEEP_ARCHIVE_ACCESS', archived: true, readable: false },
    ],
  ])('%s %s %s', (cls, restore, archiveStatus, expected) => {
    expect(objectStorage('k', cls, restore, archiveStatus)).toMatchObject(expected);
  });

  it('list shows the tier and whether it reads now', () => {
    expect(tierText(objectStorage('k', 'GLACIER', undefined))).toBe('GLACIER (archived)');
    expect(tierText(objectStorage('k', 'DEEP_ARCHIVE', 'ongoing-request="true"'))).toBe(
      'DEEP_ARCHIVE (restoring)',
    );
    expect(
      tierText(
        objectStorage('k', 'GLACIER', 'ongoing-request="false", expiry-date="Fri, 23 Dec 2026 00:00:00 GMT"'),
      ),
    ).toBe('GLACIER (restored until 2026-12-23)');
    expect(tierText(objectStorage('k', undefined, undefined))).toBe('STANDARD');
  });
});

describe('a dump in an archive tier, end to end (s3rver bytes, mocked tiers)', () => {
  let db: string;
  let bucket: string;
  let real: S3Client;
  let manifest: DumpManifest;
  let tier: Tier;
  let repository: S3Repository;

  beforeAll(async () => {
    db = await createDatabase('lb_archived');
    await query(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 500) g',
    );
    real = s3Client(inject('s3Endpoint'));
    bucket = await createBucket(real, 'lb-archived');
    repository = new S3Repository({ client: real, bucket, prefix: 'prod' });
    manifest = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(db)),
      repository,
      database: 'shop',
    });
  });
  afterAll(async () => dropDatabase(db));

  beforeEach(() => {
    s3.reset();
    tier = { storageClass: 'DEEP_ARCHIVE', restore: 'none' };
    repository = new S3Repository({ client: tieredClient(real, () => tier), bucket, prefix: 'prod' });
    s3.on(HeadObjectCommand).callsFake(() => ({
      ContentLength: 1,
      StorageClass: tier.storageClass,
      ...(tier.restore === 'none'
        ? {}
        : {
            Restore:
              tier.restore === 'in-progress'
                ? 'ongoing-request="true"'
                : 'ongoing-request="false", expiry-date="Fri, 23 Dec 2026 00:00:00 GMT"',
          }),
    }));
    s3.on(GetObjectCommand).callsFake(() => {
      throw invalidObjectState(tier.storageClass);
    });
  });

  it('reading an archived artifact is ArchivedObject with its tier, never access denied', async () => {
    const err = await repository.read(manifest.artifact.key).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchivedObject);
    expect(err).not.toBeInstanceOf(RepositoryAccessDenied);
    expect((err as ArchivedObject).storageClass).toBe('DEEP_ARCHIVE');
    expect((err as Error).message).toMatch(/is archived \(DEEP_ARCHIVE\).*--request-restore/);
    // A real 403 stays what it is.
    s3.on(GetObjectCommand).rejects(
      new S3ServiceException({
        name: 'AccessDenied',
        $fault: 'client',
        message: 'Access Denied',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(repository.read(manifest.artifact.key)).rejects.toBeInstanceOf(RepositoryAccessDenied);
  });

  it('verify without --request-restore refuses naming the tier and the way out, and calls no restore', async () => {
    const p = parse('u', [], archiveOptions);
    await expect(
      archivePreflight(
        p,
        repository,
        { ref: manifest.id, database: 'shop' },
        { name: 'verify', argv: [] },
        output().stream,
      ),
    ).rejects.toThrow(
      /backup .* is archived \(.*\.dump(\.\w+)?: DEEP_ARCHIVE; .*\.roles\.json: DEEP_ARCHIVE\); pass --request-restore/,
    );
    expect(s3).not.toHaveReceivedCommand(RestoreObjectCommand);
  });

  it('--request-restore restores every artifact at the tier asked, says when and how to resume; asking again is harmless', async () => {
    s3.on(RestoreObjectCommand).callsFake(() => {
      if (tier.restore === 'in-progress')
        throw new S3ServiceException({
          name: 'RestoreAlreadyInProgress',
          $fault: 'client',
          message: 'Object restore is already in progress',
          $metadata: { httpStatusCode: 409 },
        });
      tier = { ...tier, restore: 'in-progress' };
      return {};
    });
    const argv = [
      manifest.id,
      '--repo',
      `s3://${bucket}/prod`,
      '--database',
      'shop',
      '--request-restore',
      '--tier',
      'Bulk',
      '--days',
      '3',
    ];
    const p = parse(
      'u',
      argv,
      { ...archiveOptions, repo: { type: 'string' }, database: { type: 'string' } },
      1,
    );
    const out = output();

    const code = await archivePreflight(
      p,
      repository,
      { ref: manifest.id, database: 'shop' },
      { name: 'verify', argv },
      out.stream,
    );

    expect(code).toBe(EXIT_ARCHIVED);
    const keys = s3.commandCalls(RestoreObjectCommand).map((c) => c.args[0].input.Key);
    expect(keys).toEqual([`prod/${manifest.artifact.key}`, `prod/${manifest.roles!.key}`]);
    expect(s3).toHaveReceivedCommandWith(RestoreObjectCommand, {
      Bucket: bucket,
      RestoreRequest: { Days: 3, GlacierJobParameters: { Tier: 'Bulk' } },
    });
    // The first request put the shared state in progress: the roles artifact answered "already running".
    expect(out.text()).toMatch(
      /\.dump(\.\w+)? \(DEEP_ARCHIVE\): restore requested \(Bulk, readable for 3 days\)/,
    );
    expect(out.text()).toMatch(/\.roles\.json \(DEEP_ARCHIVE\): a restore is already running/);
    expect(out.text()).toMatch(
      new RegExp(
        `readable by .* at the latest; then run:\\n  lifeboat verify ${manifest.id} --repo s3://${bucket}/prod --database shop\\n`,
      ),
    );

    const again = output();
    expect(
      await archivePreflight(
        p,
        repository,
        { ref: manifest.id, database: 'shop' },
        { name: 'verify', argv },
        again.stream,
      ),
    ).toBe(EXIT_ARCHIVED);
    expect(again.text()).toMatch(/\.dump(\.\w+)? \(DEEP_ARCHIVE\): a restore is already running/);
  });

  it("--wait checks on the tier's plan until every artifact reads, saying how many do, then lets the command go on", async () => {
    s3.on(RestoreObjectCommand).callsFake(() => {
      tier = { ...tier, restore: 'in-progress' };
      return {};
    });
    const argv = [manifest.id, '--request-restore', '--wait'];
    const p = parse('u', argv, archiveOptions, 1);
    const out = output();
    const pauses: number[] = [];
    let clock = 0;

    const code = await archivePreflight(
      p,
      repository,
      { ref: manifest.id, database: 'shop' },
      { name: 'verify', argv },
      out.stream,
      {
        now: () => clock,
        sleep: async (ms) => {
          pauses.push(ms);
          clock += ms;
          // S3 finishes the restore during the third wait.
          if (pauses.length === 3) tier = { ...tier, restore: 'available' };
        },
      },
    );

    expect(code).toBeNull();
    expect(pauses).toEqual([900_000, 900_000, 900_000]);
    expect(out.text()).toMatch(
      / {2}15 min: 0\/2 artifacts readable, 2 restoring\n {2}30 min: 0\/2 artifacts readable, 2 restoring\n {2}45 min: 2\/2 artifacts readable\n/,
    );
    expect(out.text()).toMatch(/every artifact is readable now; going on/);
    const report = await runVerify({ repository, ref: manifest.id, database: 'shop' });
    expect(report.passed).toBe(true);
  });

  it('--wait gives up an hour after the worst case with the command to resume; it goes only with --request-restore', async () => {
    s3.on(RestoreObjectCommand).callsFake(() => {
      tier = { ...tier, restore: 'in-progress' };
      return {};
    });
    const argv = [
      manifest.id,
      '--repo',
      `s3://${bucket}/prod`,
      '--request-restore',
      '--tier',
      'Bulk',
      '--wait',
    ];
    const p = parse('u', argv, { ...archiveOptions, repo: { type: 'string' } }, 1);
    const out = output();
    let checks = 0;

    const code = await archivePreflight(
      p,
      repository,
      { ref: manifest.id, database: 'shop' },
      { name: 'restore', argv },
      out.stream,
      { sleep: async () => void (checks += 1) },
    );

    expect(code).toBe(EXIT_ARCHIVED);
    // DEEP_ARCHIVE Bulk: 48 h, plus an hour, a check every 15 min.
    expect(checks).toBe(196);
    expect(out.text()).toMatch(
      /still not readable 49 h after the request \(S3's worst case for Bulk is 48 h\)/,
    );
    expect(out.text()).toMatch(
      new RegExp(`then run:\\n  lifeboat restore ${manifest.id} --repo s3://${bucket}/prod\\n`),
    );

    await expect(
      archivePreflight(
        parse('u', ['--wait'], archiveOptions),
        repository,
        { ref: manifest.id, database: 'shop' },
        { name: 'restore', argv: ['--wait'] },
        output().stream,
      ),
    ).rejects.toThrow('--tier, --days and --wait go with --request-restore');
  });

  it('Expedited is refused for DEEP_ARCHIVE before anything is asked; a restored copy reads and verifies for real', async () => {
    await expect(requestBackupRestore(repository, manifest, { tier: 'Expedited', days: 1 })).rejects.toThrow(
      /--tier Expedited is not available for DEEP_ARCHIVE: use Standard or Bulk/,
    );
    expect(s3).not.toHaveReceivedCommand(RestoreObjectCommand);
    s3.on(RestoreObjectCommand).rejects(
      new ObjectAlreadyInActiveTierError({
        message: 'already in active tier',
        $metadata: { httpStatusCode: 403 },
      }),
    );

    tier = { storageClass: 'DEEP_ARCHIVE', restore: 'available' };
    const p = parse('u', [], archiveOptions);
    expect(
      await archivePreflight(
        p,
        repository,
        { ref: manifest.id, database: 'shop' },
        { name: 'verify', argv: [] },
        output().stream,
      ),
    ).toBeNull();
    const report = await runVerify({ repository, ref: manifest.id, database: 'shop' });
    expect(report.passed).toBe(true);
    expect(s3).toHaveReceivedCommand(HeadObjectCommand);
  });
});
