import {
  type DBClusterSnapshot,
  type DBSnapshot,
  DeleteDBClusterSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeAccountAttributesCommand,
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { artifactKey, CATALOG_PREFIX, Catalog, manifestKey } from '../../functions/core/catalog/catalog.ts';
import { AlreadyExists, BackupNotFound, RepositoryError } from '../../functions/core/shared/errors.ts';
import { silentLogger } from '../../functions/core/shared/logger.ts';
import { prune } from '../../functions/core/retention/prune.ts';
import { type PruneLimits, type RetentionPolicies } from '../../functions/core/retention/prune-settings.ts';
import type { Repository } from '../../functions/core/repository/types.ts';
import { snapshotIdentifier } from '../../functions/core/snapshots/snapshot-naming.ts';
import { dumpManifest } from './handlers/prune-world.ts';

/**
 * The adversarial layer: whole prune runs (the real `prune()`, the real catalog reading, real
 * retention) over generated worlds — a fake RDS of two regions that pages, fails, repeats its
 * marker, shares snapshots and refuses deletes; an in-memory repository with corrupt, future,
 * unknown-major and newer-minor documents, and reads that fail; several sources under one catalog
 * name; copies in flight; snapshots that are not lifeboat's. The expected outcome is worked out
 * from the generator's own ground truth (which snapshot each test was of), never from the catalog
 * prune reads.
 *
 * Invariants: prune never deletes a backup that is among the newest `minVerified` backups of its
 * series (catalog name + source + kind + region) whose latest test passed — a DR copy without a
 * test of its own counts its source's tests — nor anything of a database whose history it could
 * not read completely (any catalog document unreadable; a snapshot listing of that type failed);
 * nor anything dated after now, in progress, shared, of another environment, not named or not
 * made by lifeboat, a source whose copy is in flight, a dump that never completed; it never removes
 * a catalog document, records every deletion, and stays under the caps.
 */

const RUNS = Number(process.env.LIFEBOAT_PROPERTY_RUNS ?? 20_000);
const NOW = new Date('2026-11-23T12:00:00Z');
const PRIMARY = 'eu-west-1';
const DR = 'eu-central-1';
const ACCOUNT = '123456789012';
const REGIONS = [PRIMARY, DR] as const;
type Region = (typeof REGIONS)[number];
type SnapType = 'instance' | 'cluster';
type ListingFault = 'ok' | 'fail' | 'fail-page-2' | 'repeat-marker';
type DocFault = 'ok' | 'corrupt' | 'major-2' | 'minor-7' | 'unreadable';

// --- the generated world ---------------------------------------------------------------------

interface Test {
  readonly passed: boolean;
  /** Hours after the backup; large values land after now. */
  readonly afterHours: number;
  readonly doc: DocFault;
}

interface SnapshotSpec {
  readonly source: number;
  readonly day: number; // days before NOW; negative is after now
  readonly minute: number;
  readonly status: 'available' | 'creating' | 'failed' | 'deleting';
  readonly kind: 'manual' | 'automated';
  readonly misnamed: boolean;
  readonly otherEnvironment: boolean;
  readonly sharing: 'none' | 'account' | 'all' | 'fails';
  readonly deleteFails: boolean;
  readonly manifest: 'none' | DocFault;
  readonly tests: readonly Test[];
  readonly copy: null | {
    readonly status: 'available' | 'copying' | 'creating';
    readonly manifest: 'none' | DocFault;
    readonly tests: readonly Test[];
    readonly copiedFromKnown: boolean;
  };
}

interface DumpSpec {
  readonly host: 'db-a' | 'db-b';
  readonly day: number;
  readonly minute: number;
  readonly state: 'completed' | 'running' | 'failed' | 'deleted-today';
  readonly manifest: DocFault;
  readonly tests: readonly Test[];
  readonly removeFails: boolean;
}

interface SourceSpec {
  readonly database: string;
  readonly identifier: string;
  readonly resourceId: string;
  readonly type: SnapType;
}

interface World {
  readonly sources: readonly SourceSpec[];
  readonly snapshots: readonly SnapshotSpec[];
  readonly dumps: ReadonlyMap<string, readonly DumpSpec[]>;
  readonly policies: Readonly<Record<string, PolicySpec>>;
  readonly listing: Readonly<Record<`${Region}/${SnapType}`, ListingFault>>;
  readonly limits: PruneLimits;
  readonly dryRun: boolean;
}

interface PolicySpec {
  daily: number;
  weekly: number;
  monthly: number;
  yearly: number;
  minVerified: number;
  maxDeletionsPerRun: number;
  timeZone: string;
}

const DATABASES = ['orders', 'billing', 'constructor'] as const;

// Faults are rare per document (a run has tens of them): about a quarter of runs hold one.
const docFault = fc.oneof(
  { weight: 400, arbitrary: fc.constant<DocFault>('ok') },
  { weight: 10, arbitrary: fc.constant<DocFault>('minor-7') },
  { weight: 3, arbitrary: fc.constantFrom<DocFault>('corrupt', 'major-2', 'unreadable') },
);
const testArb: fc.Arbitrary<Test> = fc.record({
  passed: fc.boolean(),
  afterHours: fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 1, max: 20 }) },
    fc.integer({ min: 200, max: 2000 }),
  ),
  doc: docFault,
});
const tests = fc.array(testArb, { maxLength: 2 });
// Many backups fall in the last week, so that two sources under one name often share a slot.
const dayArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 6 }) },
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 800 }) },
  { weight: 1, arbitrary: fc.integer({ min: -5, max: -1 }) },
);

const snapshotArb = (sources: number): fc.Arbitrary<SnapshotSpec> =>
  fc.record({
    source: fc.nat({ max: sources - 1 }),
    day: dayArb,
    minute: fc.constantFrom(0, 0, 0, 30),
    status: fc.oneof(
      { weight: 20, arbitrary: fc.constant('available' as const) },
      { weight: 1, arbitrary: fc.constantFrom('creating' as const, 'failed' as const, 'deleting' as const) },
    ),
    kind: fc.oneof(
      { weight: 30, arbitrary: fc.constant('manual' as const) },
      fc.constant('automated' as const),
    ),
    misnamed: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, fc.constant(true)),
    otherEnvironment: fc.oneof({ weight: 40, arbitrary: fc.constant(false) }, fc.constant(true)),
    sharing: fc.oneof(
      { weight: 30, arbitrary: fc.constant('none' as const) },
      fc.constantFrom('account' as const, 'all' as const, 'fails' as const),
    ),
    deleteFails: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, fc.constant(true)),
    manifest: fc.oneof(
      { weight: 8, arbitrary: docFault },
      { weight: 1, arbitrary: fc.constant('none' as const) },
    ),
    tests,
    copy: fc.option(
      fc.record({
        status: fc.oneof(
          { weight: 8, arbitrary: fc.constant('available' as const) },
          fc.constantFrom('copying' as const, 'creating' as const),
        ),
        manifest: fc.oneof(
          { weight: 8, arbitrary: docFault },
          { weight: 1, arbitrary: fc.constant('none' as const) },
        ),
        tests: fc.array(testArb, { maxLength: 2 }),
        copiedFromKnown: fc.oneof({ weight: 10, arbitrary: fc.constant(true) }, fc.constant(false)),
      }),
      { freq: 2 },
    ),
  });

const dumpArb: fc.Arbitrary<DumpSpec> = fc.record({
  host: fc.oneof({ weight: 6, arbitrary: fc.constant('db-a' as const) }, fc.constant('db-b' as const)),
  day: dayArb,
  minute: fc.constantFrom(0, 0, 15),
  state: fc.oneof(
    { weight: 15, arbitrary: fc.constant('completed' as const) },
    fc.constantFrom('running' as const, 'failed' as const, 'deleted-today' as const),
  ),
  manifest: docFault,
  tests,
  removeFails: fc.oneof({ weight: 30, arbitrary: fc.constant(false) }, fc.constant(true)),
});

const policyArb: fc.Arbitrary<PolicySpec> = fc.record({
  daily: fc.nat({ max: 5 }),
  weekly: fc.nat({ max: 3 }),
  monthly: fc.nat({ max: 3 }),
  yearly: fc.nat({ max: 2 }),
  minVerified: fc.integer({ min: 1, max: 3 }),
  maxDeletionsPerRun: fc.integer({ min: 0, max: 40 }),
  timeZone: fc.constantFrom('UTC', 'UTC', 'Europe/Paris', 'Pacific/Chatham'),
});

const listingArb = fc.oneof(
  { weight: 60, arbitrary: fc.constant<ListingFault>('ok') },
  { weight: 1, arbitrary: fc.constantFrom<ListingFault>('fail', 'fail-page-2', 'repeat-marker') },
);

const sourceArb: fc.Arbitrary<SourceSpec> = fc.record({
  database: fc.oneof({ weight: 3, arbitrary: fc.constant(DATABASES[0]) }, fc.constantFrom(...DATABASES)),
  // Identifiers repeat across sources now and then: an instance deleted and created again.
  identifier: fc.constantFrom('orders-db', 'orders', 'billing-db', 'reports'),
  resourceId: fc.constant(''),
  type: fc.oneof(
    { weight: 3, arbitrary: fc.constant<SnapType>('instance') },
    fc.constant<SnapType>('cluster'),
  ),
});

/** World sizes: the everyday one, and large catalogs (fewer runs). */
interface Scale {
  readonly snapshots: { minLength: number; maxLength: number };
  readonly dumps: { minLength: number; maxLength: number };
}
const EVERYDAY: Scale = { snapshots: { minLength: 0, maxLength: 16 }, dumps: { minLength: 0, maxLength: 8 } };
const LARGE: Scale = {
  snapshots: { minLength: 200, maxLength: 400 },
  dumps: { minLength: 150, maxLength: 300 },
};

const worldArb = (scale: Scale): fc.Arbitrary<World> =>
  fc.array(sourceArb, { minLength: 1, maxLength: 4 }).chain((sourceList) =>
    fc.record({
      sources: fc.constant(sourceList.map((s, i) => ({ ...s, resourceId: `res-${i}` }))),
      snapshots: fc.array(snapshotArb(sourceList.length), scale.snapshots),
      dumps: fc
        .record({
          orders: fc.array(dumpArb, scale.dumps),
          billing: fc.array(dumpArb, { maxLength: Math.ceil(scale.dumps.maxLength / 2) }),
          constructor: fc.array(dumpArb, { maxLength: Math.ceil(scale.dumps.maxLength / 4) }),
        })
        .map((d) => new Map(Object.entries(d))),
      policies: fc.record(
        { orders: policyArb, billing: policyArb, constructor: policyArb },
        { requiredKeys: ['orders'] },
      ),
      listing: fc.record({
        [`${PRIMARY}/instance`]: listingArb,
        [`${PRIMARY}/cluster`]: listingArb,
        [`${DR}/instance`]: listingArb,
        [`${DR}/cluster`]: listingArb,
      }) as fc.Arbitrary<World['listing']>,
      limits: fc.record({
        maxDeletionsPerRun: fc.oneof(fc.constant(200), fc.integer({ min: 0, max: 30 })),
        maxDeletionsPerDay: fc.oneof(fc.constant(200), fc.integer({ min: 0, max: 40 })),
      }),
      dryRun: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, fc.constant(true)),
    }),
  );

// --- rendering the world as RDS and a repository would show it ----------------------------------

const compact = (at: number) =>
  new Date(at)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
const slotAt = (day: number, minute: number) => Date.UTC(2026, 10, 23 - day, 3, minute);

interface RenderedSnapshot {
  readonly spec: SnapshotSpec;
  readonly source: SourceSpec;
  readonly region: Region;
  readonly type: SnapType;
  readonly identifier: string;
  readonly arn: string;
  readonly at: number;
  readonly status: string;
  /** The tests of this very snapshot (ground truth). */
  readonly tests: readonly Test[];
  /** The primary snapshot this one is a DR copy of. */
  readonly copyOf: RenderedSnapshot | null;
  readonly catalogId: string;
}

interface Rendered {
  readonly snapshots: RenderedSnapshot[];
  readonly docs: Map<string, string>;
  readonly unreadableKeys: Set<string>;
  /** Databases with a document that cannot be read (ground truth). */
  readonly brokenDatabases: Set<string>;
  readonly dumps: { database: string; id: string; spec: DumpSpec; at: number }[];
  readonly deletedToday: number;
}

function docText(doc: unknown, fault: DocFault): string {
  if (fault === 'corrupt') return JSON.stringify(doc).slice(0, 25);
  if (fault === 'major-2') return JSON.stringify({ ...(doc as object), schemaVersion: 2 });
  if (fault === 'minor-7')
    return JSON.stringify({ ...(doc as object), schemaVersion: 1, schemaMinor: 7, addedLater: { x: 1 } });
  return JSON.stringify(doc);
}

function render(world: World): Rendered {
  const docs = new Map<string, string>();
  const unreadableKeys = new Set<string>();
  const brokenDatabases = new Set<string>();
  let counter = 0;
  const put = (database: string, key: string, doc: unknown, fault: DocFault) => {
    if (docs.has(key)) return false; // write-once: the first writer wins
    docs.set(key, docText(doc, fault));
    if (fault === 'unreadable') unreadableKeys.add(key);
    if (fault === 'corrupt' || fault === 'major-2' || fault === 'unreadable') brokenDatabases.add(database);
    return true;
  };
  const record = (database: string, backupId: string, at: number, body: object, fault: DocFault) =>
    put(
      database,
      `${CATALOG_PREFIX}${encodeURIComponent(database)}/${backupId}/records/${compact(at)}-${(body as { kind: string }).kind}-${String(counter++).padStart(6, '0')}.json`,
      { backupId, database, at: new Date(at).toISOString(), ...body },
      fault,
    );
  const writeTests = (
    database: string,
    backupId: string,
    at: number,
    list: readonly Test[],
    method: string,
  ) => {
    for (const t of list) {
      record(
        database,
        backupId,
        at + t.afterHours * 3600_000 + counter,
        {
          kind: 'verification',
          passed: t.passed,
          method,
          checks: [],
          restoreDurationMs: 1,
          totalDurationMs: 1,
          error: null,
        },
        t.doc,
      );
    }
  };

  const snapshots: RenderedSnapshot[] = [];
  const identifiers = new Set<string>();
  for (const spec of world.snapshots) {
    const source = world.sources[spec.source]!;
    const at = slotAt(spec.day, spec.minute);
    const identifier = spec.misnamed
      ? `lifeboat-${source.identifier}-manual-${compact(at).toLowerCase()}`
      : snapshotIdentifier(source.identifier, new Date(at), source.type);
    // RDS holds one snapshot per identifier, type and region.
    if (identifiers.has(`${source.type}/${identifier}`)) continue;
    identifiers.add(`${source.type}/${identifier}`);
    const arnOf = (region: Region) =>
      `arn:aws:rds:${region}:${ACCOUNT}:${source.type === 'instance' ? 'snapshot' : 'cluster-snapshot'}:${identifier}`;
    const catalogIdOf = (region: Region) => `${compact(at)}-rds-${region}`;
    const primary: RenderedSnapshot = {
      spec,
      source,
      region: PRIMARY,
      type: source.type,
      identifier,
      arn: arnOf(PRIMARY),
      at,
      status: spec.status,
      tests: spec.tests,
      copyOf: null,
      catalogId: catalogIdOf(PRIMARY),
    };
    snapshots.push(primary);
    if (spec.copy) {
      snapshots.push({
        spec,
        source,
        region: DR,
        type: source.type,
        identifier,
        arn: arnOf(DR),
        at,
        status: spec.copy.status,
        tests: spec.copy.tests,
        copyOf: primary,
        catalogId: catalogIdOf(DR),
      });
    }
  }
  // The catalog documents, in the order their writers would have written them. Only lifeboat's
  // own snapshots are cataloged and restore-tested.
  for (const s of snapshots) {
    const database = s.source.database;
    if (s.spec.misnamed || s.spec.kind !== 'manual' || s.spec.otherEnvironment) continue;
    const manifestFault = s.copyOf ? s.spec.copy!.manifest : s.spec.manifest;
    if (manifestFault !== 'none') {
      put(
        database,
        manifestKey(database, s.catalogId),
        {
          schemaVersion: 1,
          kind: 'rds-snapshot',
          id: s.catalogId,
          database,
          engine: 'postgres',
          engineVersion: '16.4',
          snapshotType: s.type,
          snapshotArn: s.arn,
          snapshotIdentifier: s.identifier,
          region: s.region,
          copiedFrom: s.copyOf ? s.copyOf.arn : null,
          kmsKeyId: null,
          startedAt: new Date(s.at).toISOString(),
          finishedAt: new Date(s.at + 60_000).toISOString(),
          allocatedStorageGiB: 20,
          tags: {},
        },
        manifestFault,
      );
    }
    writeTests(database, s.catalogId, s.at, s.tests, 'snapshot-restore-test');
  }

  const dumps: Rendered['dumps'] = [];
  let deletedToday = 0;
  for (const [database, list] of world.dumps) {
    list.forEach((spec, i) => {
      const at = Date.UTC(2026, 10, 23 - spec.day, 4, spec.minute);
      const id = `${compact(at)}-${spec.host}-${i}`;
      dumps.push({ database, id, spec, at });
      const base = dumpManifest(0, database);
      record(database, id, at, { kind: 'started', backupKind: 'logical-dump', runner: 'gen' }, 'ok');
      if (spec.state === 'failed') {
        record(
          database,
          id,
          at + 60_000,
          { kind: 'failed', error: { name: 'E', message: 'm' }, cleanup: 'x' },
          'ok',
        );
        return;
      }
      if (spec.state === 'running') return;
      put(
        database,
        manifestKey(database, id),
        {
          ...base,
          id,
          source: { ...base.source, host: spec.host },
          startedAt: new Date(at).toISOString(),
          finishedAt: new Date(at + 60_000).toISOString(),
          artifact: { ...base.artifact, key: artifactKey(database, id) },
        },
        spec.manifest,
      );
      docs.set(artifactKey(database, id), 'PGDMP');
      writeTests(database, id, at, spec.tests, 'ephemeral');
      if (spec.state === 'deleted-today') {
        docs.delete(artifactKey(database, id));
        record(
          database,
          id,
          NOW.getTime() - 3600_000,
          { kind: 'deleted', reason: 'earlier run', region: PRIMARY },
          'ok',
        );
        deletedToday++;
      }
    });
  }
  return { snapshots, docs, unreadableKeys, brokenDatabases, dumps, deletedToday };
}

/** An in-memory repository: documents as strings; some reads fail; removes can be refused. */
class MemoryRepository implements Repository {
  readonly url = 'memory://world';
  readonly encryption = { type: 'none' as const, kmsKeyId: null };
  readonly removed: string[] = [];
  readonly written: string[] = [];

  constructor(
    readonly docs: Map<string, string>,
    private readonly unreadable: ReadonlySet<string>,
    private readonly refuseRemove: ReadonlySet<string>,
  ) {}

  async check() {}
  async upload(): Promise<{ bytes: number }> {
    throw new Error('prune never uploads');
  }
  async putOnce(key: string, body: string) {
    if (this.docs.has(key)) throw new AlreadyExists(key);
    this.docs.set(key, body);
    this.written.push(key);
  }
  async read(key: string) {
    if (this.unreadable.has(key)) throw new RepositoryError(`reading ${key}: access denied by KMS`);
    const body = this.docs.get(key);
    if (body === undefined) throw new BackupNotFound(key);
    return Buffer.from(body);
  }
  async readStream(): Promise<never> {
    throw new Error('prune never streams');
  }
  async size(key: string) {
    return this.docs.get(key)?.length ?? null;
  }
  async list(prefix: string) {
    return [...this.docs.keys()].filter((k) => k.startsWith(prefix));
  }
  async remove(key: string) {
    if (this.refuseRemove.has(key)) throw new RepositoryError(`removing ${key}: Object Lock`);
    this.removed.push(key);
    this.docs.delete(key);
  }
}

/** A fake RDS of one region: listings that page (3 a page), fail or repeat; sharing; deletes. */
function fakeRds(
  region: Region,
  world: World,
  rendered: Rendered,
  deleted: { region: Region; type: SnapType; identifier: string }[],
) {
  const listed = (type: SnapType) =>
    rendered.snapshots
      .filter((s) => s.region === region && s.type === type)
      .map((s) => {
        const tags = [
          { Key: 'lifeboat:policy', Value: 'gold' },
          { Key: 'lifeboat:slot', Value: `${new Date(s.at).toISOString().slice(0, 19)}Z` },
          { Key: 'lifeboat:environment', Value: s.spec.otherEnvironment ? 'staging' : 'prod' },
          { Key: 'lifeboat:database', Value: s.source.database },
        ];
        const copiedFrom = s.copyOf && s.spec.copy!.copiedFromKnown ? s.copyOf.arn : undefined;
        return type === 'instance'
          ? ({
              DBSnapshotIdentifier: s.identifier,
              DBSnapshotArn: s.arn,
              DBInstanceIdentifier: s.source.identifier,
              DbiResourceId: s.source.resourceId,
              Status: s.status,
              SnapshotType: s.spec.kind,
              Engine: 'postgres',
              SourceDBSnapshotIdentifier: copiedFrom,
              TagList: tags,
            } satisfies DBSnapshot)
          : ({
              DBClusterSnapshotIdentifier: s.identifier,
              DBClusterSnapshotArn: s.arn,
              DBClusterIdentifier: s.source.identifier,
              DbClusterResourceId: s.source.resourceId,
              Status: s.status,
              SnapshotType: s.spec.kind,
              Engine: 'aurora-postgresql',
              SourceDBClusterSnapshotArn: copiedFrom,
              TagList: tags,
            } satisfies DBClusterSnapshot);
      });
  const page = (type: SnapType, marker: string | undefined) => {
    const fault = world.listing[`${region}/${type}`];
    if (fault === 'fail')
      throw Object.assign(new Error('ServiceUnavailable'), { name: 'ServiceUnavailable' });
    if (fault === 'fail-page-2' && marker !== undefined)
      throw Object.assign(new Error('InternalFailure'), { name: 'InternalFailure' });
    const all = listed(type);
    const start = marker === undefined ? 0 : Number(marker);
    const next =
      start + 3 < all.length || fault === 'repeat-marker'
        ? String(fault === 'repeat-marker' ? 3 : start + 3)
        : undefined;
    return { items: all.slice(start, start + 3), marker: next };
  };
  const find = (identifier: string, type: SnapType) =>
    rendered.snapshots.find((s) => s.region === region && s.type === type && s.identifier === identifier)!;
  const sharing = (s: RenderedSnapshot) => {
    if (s.spec.sharing === 'fails') throw Object.assign(new Error('Throttling'), { name: 'Throttling' });
    return s.spec.sharing === 'none' ? [] : s.spec.sharing === 'all' ? ['all'] : ['210987654321'];
  };
  const send = async (command: unknown): Promise<unknown> => {
    if (command instanceof DescribeDBSnapshotsCommand) {
      const { items, marker } = page('instance', command.input.Marker);
      return { DBSnapshots: items, Marker: marker };
    }
    if (command instanceof DescribeDBClusterSnapshotsCommand) {
      const { items, marker } = page('cluster', command.input.Marker);
      return { DBClusterSnapshots: items, Marker: marker };
    }
    if (command instanceof DescribeDBSnapshotAttributesCommand) {
      const values = sharing(find(command.input.DBSnapshotIdentifier!, 'instance'));
      return {
        DBSnapshotAttributesResult: {
          DBSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }],
        },
      };
    }
    if (command instanceof DescribeDBClusterSnapshotAttributesCommand) {
      const values = sharing(find(command.input.DBClusterSnapshotIdentifier!, 'cluster'));
      return {
        DBClusterSnapshotAttributesResult: {
          DBClusterSnapshotAttributes: [{ AttributeName: 'restore', AttributeValues: values }],
        },
      };
    }
    if (command instanceof DeleteDBSnapshotCommand || command instanceof DeleteDBClusterSnapshotCommand) {
      const identifier =
        command instanceof DeleteDBSnapshotCommand
          ? command.input.DBSnapshotIdentifier!
          : command.input.DBClusterSnapshotIdentifier!;
      const type = command instanceof DeleteDBSnapshotCommand ? 'instance' : 'cluster';
      const s = find(identifier, type);
      if (s.spec.deleteFails)
        throw Object.assign(new Error('InvalidDBSnapshotState'), { name: 'InvalidDBSnapshotState' });
      deleted.push({ region, type, identifier });
      return {};
    }
    if (command instanceof DescribeAccountAttributesCommand) return { AccountQuotas: [] };
    throw new Error(`unexpected command ${(command as object).constructor.name}`);
  };
  return { send, config: { region: async () => region } } as unknown as RDSClient;
}

// --- the model: what must survive, from the ground truth -----------------------------------------

const latestPassed = (list: readonly Test[]) => {
  if (list.length === 0) return false;
  const latest = list.reduce((a, b) => (b.afterHours >= a.afterHours ? b : a));
  return latest.passed;
};

interface Protected {
  readonly snapshots: Set<string>; // `${region}/${type}/${identifier}`
  readonly dumps: Set<string>; // `${database}/${id}`
}

function mustSurvive(world: World, rendered: Rendered): Protected {
  const snapshots = new Set<string>();
  const dumps = new Set<string>();
  const key = (s: RenderedSnapshot) => `${s.region}/${s.type}/${s.identifier}`;
  const policyOf = (database: string) =>
    Object.hasOwn(world.policies, database)
      ? world.policies[database as keyof typeof world.policies]
      : undefined;
  // A listing fails when told to, or on its second page if it has one (3 a page).
  const fails = (region: Region, type: SnapType) => {
    const fault = world.listing[`${region}/${type}`];
    const count = rendered.snapshots.filter((s) => s.region === region && s.type === type).length;
    return fault === 'fail' || fault === 'repeat-marker' || (fault === 'fail-page-2' && count > 3);
  };
  const unlisted = new Set(
    (['instance', 'cluster'] as const).filter((t) => REGIONS.some((r) => fails(r, t))),
  );
  const now = NOW.getTime();

  // Series of snapshots: catalog name, source (resource id), region.
  const series = new Map<string, RenderedSnapshot[]>();
  for (const s of rendered.snapshots) {
    const database = s.source.database;
    const never =
      !policyOf(database) ||
      rendered.brokenDatabases.has(database) ||
      unlisted.has(s.type) ||
      s.at > now ||
      // In progress, or being deleted already (a failed one is no restore point: it may go).
      s.status === 'creating' ||
      s.status === 'copying' ||
      s.status === 'deleting' ||
      s.spec.kind !== 'manual' ||
      s.spec.misnamed ||
      s.spec.otherEnvironment ||
      s.spec.sharing !== 'none' ||
      // The source of a copy in flight.
      (s.copyOf === null && rendered.snapshots.some((c) => c.copyOf === s && c.status !== 'available'));
    if (never) snapshots.add(key(s));
    const k = `${database}|${s.source.resourceId}|${s.region}`;
    series.set(k, [...(series.get(k) ?? []), s]);
  }
  for (const [k, list] of series) {
    const database = k.split('|')[0]!;
    const minVerified = policyOf(database)?.minVerified ?? 0;
    const verified = list
      .filter((s) => s.status === 'available' && s.at <= now)
      .filter((s) => latestPassed(s.copyOf && s.tests.length === 0 ? s.copyOf.tests : s.tests))
      .sort((a, b) => b.at - a.at || (a.identifier < b.identifier ? 1 : -1));
    for (const s of verified.slice(0, minVerified)) snapshots.add(key(s));
  }

  // Dumps: series by catalog name and source host.
  const dumpSeries = new Map<string, Rendered['dumps']>();
  for (const d of rendered.dumps) {
    const never =
      !policyOf(d.database) ||
      rendered.brokenDatabases.has(d.database) ||
      d.at > now ||
      d.spec.state !== 'completed';
    if (never) dumps.add(`${d.database}/${d.id}`);
    const k = `${d.database}|${d.spec.host}`;
    dumpSeries.set(k, [...(dumpSeries.get(k) ?? []), d]);
  }
  for (const [k, list] of dumpSeries) {
    const database = k.split('|')[0]!;
    const minVerified = policyOf(database)?.minVerified ?? 0;
    const verified = list
      .filter((d) => d.spec.state === 'completed' && d.at <= now && latestPassed(d.spec.tests))
      .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1));
    for (const d of verified.slice(0, minVerified)) dumps.add(`${d.database}/${d.id}`);
  }
  return { snapshots, dumps };
}

// --- the properties ------------------------------------------------------------------------------

const figures = {
  runs: 0,
  deletions: 0,
  refusedRuns: 0,
  largestCatalog: 0,
  largestListing: 0,
  largestDumps: 0,
  millis: 0,
};

async function runWorld(world: World) {
  const rendered = render(world);
  const refuseRemove = new Set(
    rendered.dumps.filter((d) => d.spec.removeFails).map((d) => artifactKey(d.database, d.id)),
  );
  const repository = new MemoryRepository(rendered.docs, rendered.unreadableKeys, refuseRemove);
  const catalogKeysBefore = [...rendered.docs.keys()].filter((k) => k.startsWith(CATALOG_PREFIX));
  const deletedSnapshots: { region: Region; type: SnapType; identifier: string }[] = [];
  const policies = Object.create(null) as RetentionPolicies;
  for (const [name, p] of Object.entries(world.policies))
    Object.defineProperty(policies, name, { value: p, enumerable: true });

  const started = performance.now();
  const report = await prune(
    { dryRun: world.dryRun },
    {
      snapshots: {
        primary: fakeRds(PRIMARY, world, rendered, deletedSnapshots),
        dr: fakeRds(DR, world, rendered, deletedSnapshots),
        drRegion: DR,
      },
      catalog: new Catalog(repository, { now: () => NOW, region: PRIMARY }),
      policies,
      environment: 'prod',
      limits: world.limits,
      logger: silentLogger,
      now: () => NOW,
    },
  );
  figures.millis += performance.now() - started;
  return { rendered, repository, report, deletedSnapshots, catalogKeysBefore };
}

/** The invariants of one run. */
async function check(world: World) {
  const { rendered, repository, report, deletedSnapshots, catalogKeysBefore } = await runWorld(world);
  figures.runs++;
  figures.deletions += deletedSnapshots.length + repository.removed.length;
  if (report.refused.length > 0) figures.refusedRuns++;
  figures.largestCatalog = Math.max(figures.largestCatalog, catalogKeysBefore.length);
  figures.largestListing = Math.max(figures.largestListing, rendered.snapshots.length);
  figures.largestDumps = Math.max(figures.largestDumps, rendered.dumps.length);

  const survive = mustSurvive(world, rendered);
  for (const d of deletedSnapshots) {
    const s = rendered.snapshots.find(
      (x) => x.region === d.region && x.type === d.type && x.identifier === d.identifier,
    )!;
    expect(
      survive.snapshots.has(`${s.region}/${s.type}/${s.identifier}`),
      `${d.region} ${d.identifier}`,
    ).toBe(false);
  }
  for (const key of repository.removed) {
    expect(key.startsWith('artifacts/'), key).toBe(true);
    const d = rendered.dumps.find((x) => artifactKey(x.database, x.id) === key)!;
    expect(survive.dumps.has(`${d.database}/${d.id}`), key).toBe(false);
  }
  // No catalog document removed; every deletion recorded as a new one.
  for (const k of catalogKeysBefore) expect(repository.docs.has(k), k).toBe(true);
  const deletions = deletedSnapshots.length + repository.removed.length;
  expect(repository.written.filter((k) => k.includes('-deleted-'))).toHaveLength(deletions);
  expect(report.deleted).toHaveLength(deletions);
  if (world.dryRun) expect(deletions).toBe(0);
  // The caps across databases.
  expect(deletions + report.wouldDelete.length).toBeLessThanOrEqual(world.limits.maxDeletionsPerRun);
  expect(deletions + report.wouldDelete.length).toBeLessThanOrEqual(
    Math.max(0, world.limits.maxDeletionsPerDay - rendered.deletedToday),
  );
  // Every database with a document it could not read is reported as not judged, and only those.
  expect(new Set(report.refused.map((r) => r.database))).toEqual(rendered.brokenDatabases);
}

describe('prune over adversarial worlds', () => {
  afterAll(() => {
    // The figures of this run, for the record (docs/retention.md quotes them).
    console.info(
      `adversarial prune: ${figures.runs} runs, ${figures.deletions} deletions, ${figures.refusedRuns} runs with a database not judged, largest catalog ${figures.largestCatalog} documents (${figures.largestListing} snapshots listed, ${figures.largestDumps} dumps), ${Math.round(figures.millis)} ms in prune`,
    );
  });

  it(`never deletes what must survive (${RUNS} runs)`, async () => {
    await fc.assert(fc.asyncProperty(worldArb(EVERYDAY), check), { numRuns: RUNS });
  }, 600_000);

  it('holds on large catalogs too (20 runs, hundreds of snapshots and dumps)', async () => {
    await fc.assert(fc.asyncProperty(worldArb(LARGE), check), { numRuns: 20 });
  }, 600_000);
});
