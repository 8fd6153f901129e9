import { Readable } from 'node:stream';
import type { DBClusterSnapshot, DBSnapshot } from '@aws-sdk/client-rds';
import { artifactKey, type Catalog } from '../../../functions/core/catalog/catalog.ts';
import { snapshotManifest } from '../../../functions/core/snapshots/copy-snapshot.ts';
import type { DumpManifest } from '../../../functions/core/catalog/manifest.ts';
import { fromDbSnapshot } from '../../../functions/core/snapshots/rds.ts';
import type { Repository } from '../../../functions/core/repository/types.ts';

/** Prune tests run at this instant: Monday 23 November 2026, noon UTC. */
export const NOW = new Date('2026-11-23T12:00:00Z');
export const ACCOUNT = '123456789012';
export const PRIMARY = 'eu-west-1';
export const DR = 'eu-central-1';

const compact = (at: Date) =>
  at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

export interface SnapOptions {
  /** The lifeboat:database tag. @default 'orders' */
  readonly database?: string;
  /** The DB instance it was taken of. @default 'orders-db' */
  readonly source?: string;
  /** DbiResourceId of that instance. @default 'db-<SOURCE>' */
  readonly resourceId?: string | null;
  readonly region?: string;
  /** Minutes after 03:00 UTC on its day. @default 0 */
  readonly minute?: number;
  readonly status?: string;
  readonly snapshotType?: string;
  /** Overrides the identifier lifeboat would give it. */
  readonly identifier?: string;
  readonly environment?: string;
  /** Set on a cross-region copy: the ARN of its source. */
  readonly copiedFrom?: string;
}

/** The slot (03:00 UTC + minute) `daysAgo` days before NOW; negative is in the future. */
export function slotOf(daysAgo: number, minute = 0): Date {
  return new Date(Date.UTC(2026, 10, 23 - daysAgo, 3, minute));
}

/** A lifeboat instance snapshot as RDS lists it. */
export function snap(daysAgo: number, options: SnapOptions = {}): DBSnapshot {
  const slot = slotOf(daysAgo, options.minute ?? 0);
  const stamp = slot.toISOString().slice(0, 16).replace(/[-:T]/g, '');
  const source = options.source ?? 'orders-db';
  const region = options.region ?? PRIMARY;
  const id = options.identifier ?? `lifeboat-${source}-${stamp}`;
  const resourceId =
    options.resourceId === undefined
      ? `db-${source.toUpperCase().replace(/[^A-Z0-9]/g, '')}`
      : options.resourceId;
  return {
    DBSnapshotIdentifier: id,
    DBSnapshotArn: `arn:aws:rds:${region}:${ACCOUNT}:snapshot:${id}`,
    DBInstanceIdentifier: source,
    ...(resourceId === null ? {} : { DbiResourceId: resourceId }),
    Engine: 'postgres',
    Status: options.status ?? 'available',
    SnapshotType: options.snapshotType ?? 'manual',
    SnapshotCreateTime: slot,
    ...(options.copiedFrom ? { SourceDBSnapshotIdentifier: options.copiedFrom } : {}),
    TagList: [
      { Key: 'lifeboat:policy', Value: 'gold' },
      { Key: 'lifeboat:slot', Value: `${slot.toISOString().slice(0, 19)}Z` },
      { Key: 'lifeboat:environment', Value: options.environment ?? 'prod' },
      { Key: 'lifeboat:database', Value: options.database ?? 'orders' },
    ],
  };
}

/** The DR copy of a primary snapshot, as RDS lists it in the DR region. */
export function copyOf(source: DBSnapshot, extra: Partial<DBSnapshot> = {}): DBSnapshot {
  const arn = source.DBSnapshotArn!.replace(`:${PRIMARY}:`, `:${DR}:`);
  return { ...source, DBSnapshotArn: arn, SourceDBSnapshotIdentifier: source.DBSnapshotArn, ...extra };
}

/** A lifeboat Aurora cluster snapshot as RDS lists it. */
export function clusterSnap(daysAgo: number, options: SnapOptions = {}): DBClusterSnapshot {
  const s = snap(daysAgo, { source: 'reports', database: 'reports', ...options });
  return {
    DBClusterSnapshotIdentifier: s.DBSnapshotIdentifier,
    DBClusterSnapshotArn: s.DBSnapshotArn!.replace(':snapshot:', ':cluster-snapshot:'),
    DBClusterIdentifier: s.DBInstanceIdentifier,
    DbClusterResourceId: `cluster-${s.DBInstanceIdentifier!.toUpperCase()}`,
    Engine: 'aurora-postgresql',
    Status: s.Status,
    SnapshotType: s.SnapshotType,
    SnapshotCreateTime: s.SnapshotCreateTime,
    TagList: s.TagList,
  };
}

/** The catalog id of a snapshot slot in a region. */
export const snapshotId = (daysAgo: number, region = PRIMARY, minute = 0) =>
  `${compact(slotOf(daysAgo, minute))}-rds-${region}`;

export function verificationRecord(
  database: string,
  backupId: string,
  passed: boolean,
  at: string,
  extra: Record<string, unknown> = {},
) {
  return {
    kind: 'verification' as const,
    backupId,
    database,
    at,
    passed,
    method: 'snapshot-restore-test' as const,
    checks: [],
    restoreDurationMs: 1000,
    totalDurationMs: 2000,
    error: passed ? null : { name: 'ChecksFailed', message: 'row counts differ' },
    ...extra,
  };
}

/** Catalogs a snapshot (its manifest) and, when given, restore tests of it. */
export async function catalogSnapshot(
  catalog: Catalog,
  s: DBSnapshot,
  tests: readonly boolean[] = [],
  copiedFrom: string | null = null,
): Promise<string> {
  const manifest = snapshotManifest(fromDbSnapshot(s), copiedFrom, NOW);
  await catalog.writeManifest(manifest);
  let at = Date.parse(manifest.startedAt) + 3600_000;
  for (const passed of tests) {
    await catalog.record(
      verificationRecord(manifest.database, manifest.id, passed, new Date(at).toISOString()),
    );
    at += 60_000;
  }
  return manifest.id;
}

/** The manifest of a completed dump `daysAgo` days before NOW at 04:00 UTC. */
export function dumpManifest(daysAgo: number, database = 'orders', suffix = `d${daysAgo}`): DumpManifest {
  const at = new Date(Date.UTC(2026, 10, 23 - daysAgo, 4, 0));
  const id = `${compact(at)}-${suffix}`;
  return {
    schemaVersion: 1,
    kind: 'logical-dump',
    id,
    database,
    source: { host: 'db', port: 5432, database, serverVersion: '16.4', serverVersionNum: 160004 },
    tool: { name: 'pg_dump', version: '16.4', path: '/usr/bin/pg_dump', format: 'custom' },
    snapshotId: '00000003-1',
    startedAt: at.toISOString(),
    finishedAt: at.toISOString(),
    durationMs: 1,
    artifact: {
      key: artifactKey(database, id),
      bytes: 18,
      sha256: 'a'.repeat(64),
      encryption: { type: 'none', kmsKeyId: null },
    },
    statistics: {
      databaseSizeBytes: 1,
      tables: [],
      indexes: [],
      constraints: [],
      functions: [],
      policies: [],
      extensions: [],
      views: [],
      sequences: [],
      largeObjects: 0,
    },
  };
}

/** A completed dump: its artifact (real bytes), its manifest, and verifications (ephemeral restores). */
export async function dump(
  catalog: Catalog,
  repository: Repository,
  daysAgo: number,
  tests: readonly boolean[] = [],
  database = 'orders',
): Promise<string> {
  const manifest = dumpManifest(daysAgo, database);
  await repository.upload(manifest.artifact.key, Readable.from([Buffer.from('PGDMP fake archive')]));
  await catalog.writeManifest(manifest);
  let at = Date.parse(manifest.finishedAt) + 600_000;
  for (const passed of tests) {
    await catalog.record({
      ...verificationRecord(database, manifest.id, passed, new Date(at).toISOString()),
      method: 'ephemeral',
    });
    at += 60_000;
  }
  return manifest.id;
}

export const policy = {
  daily: 3,
  weekly: 0,
  monthly: 0,
  yearly: 0,
  minVerified: 1,
  maxDeletionsPerRun: 50,
  timeZone: 'UTC',
};

export const pruneEnv = (policies: object = { orders: policy }, extra: Record<string, string> = {}) => ({
  LIFEBOAT_ENVIRONMENT: 'prod',
  LIFEBOAT_BUCKET: 'lifeboat-prod-backups',
  LIFEBOAT_DR_REGION: DR,
  LIFEBOAT_POLICIES: JSON.stringify(policies),
  ...extra,
});
