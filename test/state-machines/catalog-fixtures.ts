import type { BackupSummary } from '../../functions/core/catalog/catalog.ts';
import type {
  DumpManifest,
  SnapshotManifest,
  SourceStatistics,
} from '../../functions/core/catalog/manifest.ts';

/** Catalog summaries as Catalog.list returns them (newest first), without touching a repository. */

export const REGION = 'eu-central-1';

const emptyStats: SourceStatistics = {
  databaseSizeBytes: 1024,
  tables: [],
  indexes: [],
  constraints: [],
  functions: [],
  policies: [],
  extensions: [],
  views: [],
  sequences: [],
  largeObjects: 0,
};

export function snapshotBackup(
  id: string,
  at: string,
  extra: { verified?: boolean; type?: 'instance' | 'cluster'; region?: string; database?: string } = {},
): BackupSummary {
  const type = extra.type ?? 'instance';
  const manifest: SnapshotManifest = {
    schemaVersion: 1,
    kind: 'rds-snapshot',
    id,
    database: extra.database ?? 'orders',
    engine: type === 'cluster' ? 'aurora-postgresql' : 'postgres',
    engineVersion: '16.4',
    snapshotType: type,
    snapshotArn: `arn:aws:rds:${extra.region ?? REGION}:111111111111:${type === 'cluster' ? 'cluster-snapshot' : 'snapshot'}:lifeboat-${id}`,
    snapshotIdentifier: `lifeboat-${id}`,
    region: extra.region ?? REGION,
    copiedFrom: null,
    kmsKeyId: null,
    startedAt: at,
    finishedAt: at,
    allocatedStorageGiB: 20,
    tags: {},
  };
  return summary(id, manifest, at, extra.verified ?? false);
}

export function dumpBackup(
  id: string,
  at: string,
  extra: { verified?: boolean; database?: string } = {},
): BackupSummary {
  const manifest: DumpManifest = {
    schemaVersion: 1,
    kind: 'logical-dump',
    id,
    database: extra.database ?? 'orders',
    source: { host: 'h', port: 5432, database: 'orders', serverVersion: '16.4', serverVersionNum: 160004 },
    tool: { name: 'pg_dump', version: '16.4', path: '/usr/bin/pg_dump', format: 'custom' },
    snapshotId: '00000003-1',
    startedAt: at,
    finishedAt: at,
    durationMs: 1000,
    artifact: {
      key: `artifacts/orders/${id}.dump`,
      bytes: 1000,
      sha256: 'a'.repeat(64),
      encryption: { type: 'none', kmsKeyId: null },
    },
    statistics: emptyStats,
  };
  return summary(id, manifest, at, extra.verified ?? false);
}

function summary(
  id: string,
  manifest: DumpManifest | SnapshotManifest,
  at: string,
  verified: boolean,
): BackupSummary {
  return {
    id,
    database: manifest.database,
    kind: manifest.kind,
    state: 'completed',
    startedAt: at,
    finishedAt: at,
    bytes: null,
    manifest,
    verification: verified ? 'verified' : 'unverified',
    lastVerification: null,
    verifiedAt: verified ? at : null,
    error: null,
    records: [],
  };
}
