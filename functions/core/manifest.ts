import { z } from 'zod';

/**
 * Statistics of the source database, read in the same snapshot that pg_dump dumps, so that a
 * restore can be checked exactly against them.
 */
export const TableStat = z.object({
  schema: z.string(),
  name: z.string(),
  /** `table` (ordinary or leaf partition) or `partitioned` (a parent that holds no rows itself). */
  kind: z.enum(['table', 'partitioned']),
  /** Exact row count of the table's own rows (ONLY), null for partitioned parents. */
  rowCount: z.number().int().nonnegative().nullable(),
  /** Set for partitions: the parent table as schema.name. */
  partitionOf: z.string().nullable(),
  rowSecurity: z.boolean(),
  forceRowSecurity: z.boolean(),
});
export type TableStat = z.infer<typeof TableStat>;

export const IndexStat = z.object({
  schema: z.string(),
  table: z.string(),
  name: z.string(),
  method: z.string(),
  definition: z.string(),
});
export type IndexStat = z.infer<typeof IndexStat>;

export const ConstraintStat = z.object({
  schema: z.string(),
  table: z.string(),
  name: z.string(),
  /** p primary key, f foreign key, u unique, c check, x exclusion. */
  type: z.string(),
  definition: z.string(),
  validated: z.boolean(),
});
export type ConstraintStat = z.infer<typeof ConstraintStat>;

export const FunctionStat = z.object({
  schema: z.string(),
  name: z.string(),
  arguments: z.string(),
  /** f function, p procedure, a aggregate, w window. */
  kind: z.string(),
});
export type FunctionStat = z.infer<typeof FunctionStat>;

export const PolicyStat = z.object({
  schema: z.string(),
  table: z.string(),
  name: z.string(),
  command: z.string(),
  permissive: z.boolean(),
  roles: z.array(z.string()),
  using: z.string().nullable(),
  withCheck: z.string().nullable(),
});
export type PolicyStat = z.infer<typeof PolicyStat>;

export const ExtensionStat = z.object({ name: z.string(), version: z.string(), schema: z.string() });
export type ExtensionStat = z.infer<typeof ExtensionStat>;

export const SourceStatistics = z.object({
  databaseSizeBytes: z.number().int().nonnegative(),
  tables: z.array(TableStat),
  indexes: z.array(IndexStat),
  constraints: z.array(ConstraintStat),
  functions: z.array(FunctionStat),
  policies: z.array(PolicyStat),
  extensions: z.array(ExtensionStat),
  views: z.array(z.object({ schema: z.string(), name: z.string(), materialized: z.boolean() })),
  sequences: z.array(z.object({ schema: z.string(), name: z.string() })),
  largeObjects: z.number().int().nonnegative(),
});
export type SourceStatistics = z.infer<typeof SourceStatistics>;

export const Encryption = z.object({
  /** `SSE-KMS` with the key id used, `none` for a local file repository. */
  type: z.enum(['none', 'SSE-S3', 'SSE-KMS']),
  kmsKeyId: z.string().nullable(),
});
export type Encryption = z.infer<typeof Encryption>;

/** A logical dump's manifest: written once, after its artifact is fully stored. */
export const DumpManifest = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('logical-dump'),
  id: z.string(),
  database: z.string(),
  source: z.object({
    host: z.string(),
    port: z.number().int(),
    database: z.string(),
    serverVersion: z.string(),
    serverVersionNum: z.number().int(),
  }),
  tool: z.object({
    name: z.literal('pg_dump'),
    version: z.string(),
    path: z.string(),
    format: z.literal('custom'),
  }),
  snapshotId: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: z.number().int().nonnegative(),
  artifact: z.object({
    key: z.string(),
    bytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    encryption: Encryption,
  }),
  statistics: SourceStatistics,
});
export type DumpManifest = z.infer<typeof DumpManifest>;

/** An RDS instance or Aurora cluster snapshot (or its cross-region copy), as cataloged. */
export const SnapshotManifest = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('rds-snapshot'),
  id: z.string(),
  database: z.string(),
  engine: z.string(),
  engineVersion: z.string().nullable(),
  /** instance snapshot or Aurora cluster snapshot. */
  snapshotType: z.enum(['instance', 'cluster']),
  snapshotArn: z.string(),
  snapshotIdentifier: z.string(),
  region: z.string(),
  /** Set on a cross-region copy: the ARN of the snapshot it was copied from. */
  copiedFrom: z.string().nullable(),
  kmsKeyId: z.string().nullable(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  allocatedStorageGiB: z.number().nullable(),
  tags: z.record(z.string(), z.string()),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifest>;

export const Manifest = z.discriminatedUnion('kind', [DumpManifest, SnapshotManifest]);
export type Manifest = z.infer<typeof Manifest>;
