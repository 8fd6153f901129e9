import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog, manifestKey } from '../../functions/core/catalog/catalog.ts';
import { DOCUMENT_SCHEMA, declaredSchema, Manifest } from '../../functions/core/catalog/manifest.ts';
import type { FileRepository } from '../../functions/core/repository/file.ts';
import { dumpManifest, NOW, verificationRecord } from './handlers/prune-world.ts';
import { tempRepository } from './handlers/support.ts';

/**
 * Reading the catalog for retention: a document that cannot be used is a typed, visible outcome,
 * never a silent gap; minor versions are read, unknown majors are not; in a replicated pair, each
 * region's copy answers for itself.
 */

let repository: FileRepository;
let cleanup: () => Promise<void>;
let catalog: Catalog;

beforeEach(async () => {
  ({ repository, cleanup } = await tempRepository());
  catalog = new Catalog(repository, { now: () => NOW });
});

afterEach(async () => {
  await cleanup();
});

const put = (key: string, doc: unknown) =>
  repository.putOnce(key, typeof doc === 'string' ? doc : JSON.stringify(doc));

describe('catalog problems', () => {
  it('reports every document it cannot use, by kind, and lists the backup it belongs to', async () => {
    // Prepare
    const ok = dumpManifest(1);
    await catalog.writeManifest(ok);
    const cut = dumpManifest(2);
    await put(manifestKey('orders', cut.id), '{"schemaVersion":1,"kind":"logical-');
    const newer = dumpManifest(3);
    await put(manifestKey('orders', newer.id), { ...newer, schemaVersion: 2 });
    const wrong = dumpManifest(4);
    await put(manifestKey('orders', wrong.id), { ...wrong, database: 'billing' });
    await put(`catalog/orders/${ok.id}/records/20261122T050000Z-verification-aaaa.json`, {
      ...verificationRecord('orders', ok.id, true, '2026-11-22T05:00:00Z'),
      schemaVersion: 3,
    });
    await put(`catalog/orders/${ok.id}/notes.txt`, 'a person was here');
    await put('catalog/orders/latest/manifest.json', ok);
    await put('catalog/orders/_failovers/20261120T000000Z-x.json', { anything: true });
    await put('catalog/%E0%A4%A/20261120T000000Z-aaaaaa/manifest.json', ok);

    // Act
    const { backups, problems } = await catalog.read();

    // Assess
    const byKey = Object.fromEntries(problems.map((p) => [p.key, p]));
    expect(byKey[manifestKey('orders', cut.id)]).toMatchObject({ problem: 'unparseable', backupId: cut.id });
    expect(byKey[manifestKey('orders', newer.id)]).toMatchObject({
      problem: 'unknown-schema',
      message: 'schema version 2.0: this version of lifeboat reads 1.x',
    });
    expect(byKey[manifestKey('orders', wrong.id)]).toMatchObject({ problem: 'invalid' });
    expect(byKey[`catalog/orders/${ok.id}/records/20261122T050000Z-verification-aaaa.json`]).toMatchObject({
      problem: 'unknown-schema',
    });
    expect(byKey[`catalog/orders/${ok.id}/notes.txt`]).toMatchObject({ problem: 'unknown-document' });
    expect(byKey['catalog/orders/latest/manifest.json']).toMatchObject({
      problem: 'unknown-document',
      backupId: null,
      database: 'orders',
    });
    expect(byKey['catalog/%E0%A4%A/20261120T000000Z-aaaaaa/manifest.json']).toMatchObject({
      problem: 'unknown-document',
      database: null,
    });
    expect(problems).toHaveLength(7); // _failovers is not a backup folder: not a problem
    const states = Object.fromEntries(backups.map((b) => [b.id, b.state]));
    expect(states).toEqual({
      [ok.id]: 'completed',
      [cut.id]: 'unreadable',
      [newer.id]: 'unreadable',
      [wrong.id]: 'unreadable',
    });
    // A record it could not read may be a failure: the backup is not "verified" on older passes.
    const withLostRecord = backups.find((b) => b.id === ok.id)!;
    expect(withLostRecord.problems).toHaveLength(2);
    expect(withLostRecord.verification).toBe('unverified');
    // list() is read().backups: the unreadable ones are there, in their place (newest first).
    expect((await catalog.list()).map((b) => b.id)).toEqual([ok.id, cut.id, newer.id, wrong.id]);
  });

  it('a document the repository cannot read is a problem of its backup, not a failed read of the catalog', async () => {
    // Prepare
    const m = dumpManifest(1);
    await catalog.writeManifest(m);
    const read = repository.read.bind(repository);
    repository.read = async (key: string) => {
      if (key.endsWith('manifest.json')) throw new Error('KMS.DisabledException: key disabled');
      return read(key);
    };

    // Act
    const { backups, problems } = await catalog.read();

    // Assess
    expect(problems).toEqual([
      expect.objectContaining({ problem: 'unreadable', message: expect.stringMatching(/key disabled/) }),
    ]);
    expect(backups[0]!.state).toBe('unreadable');
  });
});

describe('schema versions: major.minor', () => {
  it('reads 1.0, newer minors (with fields it does not know, at any depth) and "1.3"; refuses other majors', async () => {
    // Prepare
    const base = dumpManifest(1);
    const docs = {
      v10: { ...base, id: '20261122T040000Z-v10' },
      v14: {
        ...base,
        id: '20261122T040000Z-v14',
        schemaMinor: 4,
        retentionClass: 'gold',
        source: { ...base.source, systemIdentifier: '7312345678901234567' },
        artifact: { ...base.artifact, encryption: { ...base.artifact.encryption, context: { team: 'x' } } },
        statistics: {
          ...base.statistics,
          tables: [
            {
              schema: 'public',
              name: 't',
              kind: 'table',
              rowCount: 1,
              partitionOf: null,
              rowSecurity: false,
              forceRowSecurity: false,
              toastBytes: 10,
            },
          ],
        },
      },
      string13: { ...base, id: '20261122T040000Z-s13', schemaVersion: '1.3' },
      v2: { ...base, id: '20261122T040000Z-v20', schemaVersion: 2 },
      v20string: { ...base, id: '20261122T040000Z-s20', schemaVersion: '2.0' },
      none: { ...base, id: '20261122T040000Z-none', schemaVersion: undefined },
    };
    for (const doc of Object.values(docs)) await put(manifestKey('orders', doc.id), doc);

    // Act
    const { backups, problems } = await catalog.read();

    // Assess
    const state = (id: string) => backups.find((b) => b.id === id)?.state;
    expect(state(docs.v10.id)).toBe('completed');
    expect(state(docs.v14.id)).toBe('completed');
    expect(state(docs.string13.id)).toBe('completed');
    expect(backups.find((b) => b.id === docs.string13.id)?.manifest).toMatchObject({
      schemaVersion: 1,
      schemaMinor: 3,
    });
    expect(problems.map((p) => [p.backupId, p.problem]).sort()).toEqual(
      [
        [docs.v2.id, 'unknown-schema'],
        [docs.v20string.id, 'unknown-schema'],
        [docs.none.id, 'invalid'],
      ].sort(),
    );
  });

  it('writes the major every reader of 1 accepts, with the current minor', () => {
    expect(DOCUMENT_SCHEMA).toEqual({ major: 1, minor: 2 });
    expect(declaredSchema({ schemaVersion: 1 })).toEqual({ major: 1, minor: 0 });
    expect(declaredSchema({ schemaVersion: 1, schemaMinor: 9 })).toEqual({ major: 1, minor: 9 });
    expect(declaredSchema({ schemaVersion: '1.x' })).toBeNull();
    expect(declaredSchema({ schemaVersion: 1, schemaMinor: -1 })).toBeNull();
    // A field added in a minor is optional: a 1.0 document is a valid 1.1 manifest.
    expect(Manifest.safeParse(dumpManifest(1)).success).toBe(true);
  });
});

describe('a replicated catalog: each region answers for its own copy', () => {
  it("a deletion of the primary's copy does not make the DR copy deleted; a 1.0 deletion counts everywhere", async () => {
    // Prepare: the DR bucket's catalog, as replication leaves it.
    const pruned = dumpManifest(5);
    const legacy = dumpManifest(6);
    for (const m of [pruned, legacy]) await catalog.writeManifest(m);
    const deleted = (backupId: string, region?: string) => ({
      kind: 'deleted' as const,
      backupId,
      database: 'orders',
      at: '2026-11-23T04:00:00Z',
      reason: 'in no daily/weekly/monthly/yearly slot',
      ...(region ? { region } : {}),
    });
    await catalog.record(deleted(pruned.id, 'eu-west-1'));
    await catalog.record(deleted(legacy.id));

    // Act
    const inDr = new Catalog(repository, { now: () => NOW, region: 'eu-central-1' });
    const inPrimary = new Catalog(repository, { now: () => NOW, region: 'eu-west-1' });
    const anywhere = new Catalog(repository, { now: () => NOW });

    // Assess
    expect((await inDr.get(pruned.id, 'orders')).state).toBe('completed');
    expect((await inPrimary.get(pruned.id, 'orders')).state).toBe('deleted');
    expect((await anywhere.get(pruned.id, 'orders')).state).toBe('deleted');
    expect((await inDr.get(legacy.id, 'orders')).state).toBe('deleted');
  });

  it("a copy's own failed verification is never overridden by a pass of the backup elsewhere", async () => {
    // Prepare
    const m = dumpManifest(1);
    await catalog.writeManifest(m);
    await catalog.record({
      ...verificationRecord('orders', m.id, true, '2026-11-22T06:00:00Z'),
      method: 'ephemeral',
    });
    await catalog.record({
      ...verificationRecord('orders', m.id, false, '2026-11-22T05:00:00Z'),
      method: 'ephemeral',
      region: 'eu-central-1',
    });

    // Act
    const inDr = await new Catalog(repository, { now: () => NOW, region: 'eu-central-1' }).get(
      m.id,
      'orders',
    );
    const inPrimary = await new Catalog(repository, { now: () => NOW, region: 'eu-west-1' }).get(
      m.id,
      'orders',
    );

    // Assess
    expect(inDr.verification).toBe('verification-failed');
    expect(inPrimary.verification).toBe('verified');
  });
});
