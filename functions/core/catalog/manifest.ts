import * as z from '../shared/zod.ts';
import { Compression } from '../dumps/compression.ts';

/**
 * Versions of the catalog's documents: `schemaVersion` is the major, `schemaMinor` the minor
 * (absent means 0). A reader reads every minor of the majors it knows and refuses any other major.
 *
 * Adding a field is a minor bump by construction: every object schema here strips keys it does
 * not know (zod's default; never `strictObject`), and a field added in a minor is optional for
 * readers, so a reader of 1.0 reads 1.7. Renaming, removing, or changing what a field means is a
 * new major, which older readers refuse (they keep the backup and report it) instead of
 * misreading. The major stays the number `1` that every version wrote, so a reader released before
 * minors existed (it accepts exactly `schemaVersion: 1`) still reads what this version writes.
 */
export const DOCUMENT_SCHEMA = { major: 1, minor: 2 } as const;

/** The schema version a document declares, or null when it declares none that can be read. */
export function declaredSchema(doc: unknown): { major: number; minor: number } | null {
  if (typeof doc !== 'object' || doc === null) return null;
  const { schemaVersion, schemaMinor } = doc as { schemaVersion?: unknown; schemaMinor?: unknown };
  const minor = schemaMinor === undefined ? 0 : schemaMinor;
  if (typeof minor !== 'number' || !Number.isInteger(minor) || minor < 0) return null;
  if (typeof schemaVersion === 'number' && Number.isInteger(schemaVersion) && schemaVersion > 0)
    return { major: schemaVersion, minor };
  // "1.3" is read as major 1, minor 3 (a spelling some writers may use).
  const m = typeof schemaVersion === 'string' ? /^([1-9][0-9]*)\.([0-9]+)$/.exec(schemaVersion) : null;
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** The version fields every manifest carries: major 1 (the literal every reader of 1 accepts), any minor. */
const version = {
  schemaVersion: z.literal(DOCUMENT_SCHEMA.major),
  /** Minor version; absent in documents written before minors existed (1.0). */
  schemaMinor: z.optional(z.int().check(z.nonnegative())),
};

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
  rowCount: z.nullable(z.int().check(z.nonnegative())),
  /** Set for partitions: the parent table as schema.name. */
  partitionOf: z.nullable(z.string()),
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
  using: z.nullable(z.string()),
  withCheck: z.nullable(z.string()),
});
export type PolicyStat = z.infer<typeof PolicyStat>;

export const ExtensionStat = z.object({ name: z.string(), version: z.string(), schema: z.string() });
export type ExtensionStat = z.infer<typeof ExtensionStat>;

export const SourceStatistics = z.object({
  databaseSizeBytes: z.int().check(z.nonnegative()),
  tables: z.array(TableStat),
  indexes: z.array(IndexStat),
  constraints: z.array(ConstraintStat),
  functions: z.array(FunctionStat),
  policies: z.array(PolicyStat),
  extensions: z.array(ExtensionStat),
  views: z.array(z.object({ schema: z.string(), name: z.string(), materialized: z.boolean() })),
  sequences: z.array(z.object({ schema: z.string(), name: z.string() })),
  largeObjects: z.int().check(z.nonnegative()),
});
export type SourceStatistics = z.infer<typeof SourceStatistics>;

export const Encryption = z.object({
  /** `SSE-KMS` with the key id used, `none` for a local file repository. */
  type: z.enum(['none', 'SSE-S3', 'SSE-KMS']),
  kmsKeyId: z.nullable(z.string()),
});
export type Encryption = z.infer<typeof Encryption>;

/** One file of a directory dump (pg_dump -Fd), as stored. */
export const DumpFile = z.object({
  /** The file's name in the dump directory (`toc.dat`, `3401.dat`). */
  name: z.string().check(z.regex(/^[A-Za-z0-9_.-]+$/)),
  key: z.string(),
  /** Stored (compressed) bytes and their SHA-256. */
  bytes: z.int().check(z.nonnegative()),
  sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
});
export type DumpFile = z.infer<typeof DumpFile>;

/** Every key a dump's manifest owns in the repository. */
export function artifactKeysOf(manifest: Pick<DumpManifest, 'artifact'>): string[] {
  return manifest.artifact.files ? manifest.artifact.files.map((f) => f.key) : [manifest.artifact.key];
}

/** A logical dump's manifest: written once, after its artifact is fully stored. */
export const DumpManifest = z.object({
  ...version,
  kind: z.literal('logical-dump'),
  id: z.string(),
  database: z.string(),
  source: z.object({
    host: z.string(),
    port: z.int(),
    database: z.string(),
    serverVersion: z.string(),
    serverVersionNum: z.int(),
  }),
  tool: z.object({
    name: z.literal('pg_dump'),
    version: z.string(),
    path: z.string(),
    /** (1.2) `directory`: pg_dump -Fd, one stored object per file (artifact.files). */
    format: z.enum(['custom', 'directory']),
    /** (1.2) pg_dump --jobs of a directory dump. */
    jobs: z.optional(z.int().check(z.positive())),
  }),
  snapshotId: z.string(),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  durationMs: z.int().check(z.nonnegative()),
  artifact: z.object({
    key: z.string(),
    bytes: z.int().check(z.nonnegative()),
    /** Of a directory dump: SHA-256 of its file list (`<sha256>  <name>` lines, sorted by name). */
    sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    encryption: Encryption,
    /**
     * (1.2) How the stored bytes are compressed. Absent: pg_dump's own default (every manifest
     * before 1.2), an archive stock pg_restore reads as it is.
     */
    compression: z.optional(Compression),
    /** (1.2) A directory dump's files, each stored under its own key. */
    files: z.optional(z.array(DumpFile)),
  }),
  statistics: SourceStatistics,
  /**
   * (1.2) The roles artifact beside the dump (functions/core/dumps/roles.ts): the roles, memberships and
   * settings the database needs, for restoring onto a server that lacks them. Absent in older
   * manifests; `rolesError` says why a newer backup has none.
   */
  roles: z.optional(
    z.object({
      key: z.string(),
      bytes: z.int().check(z.nonnegative()),
      sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
      count: z.int().check(z.nonnegative()),
    }),
  ),
  rolesError: z.optional(z.string()),
});
export type DumpManifest = z.infer<typeof DumpManifest>;

/** An RDS instance or Aurora cluster snapshot (or its cross-region copy), as cataloged. */
export const SnapshotManifest = z.object({
  ...version,
  kind: z.literal('rds-snapshot'),
  id: z.string(),
  database: z.string(),
  engine: z.string(),
  engineVersion: z.nullable(z.string()),
  /** instance snapshot or Aurora cluster snapshot. */
  snapshotType: z.enum(['instance', 'cluster']),
  snapshotArn: z.string(),
  snapshotIdentifier: z.string(),
  region: z.string(),
  /** Set on a cross-region copy: the ARN of the snapshot it was copied from. */
  copiedFrom: z.nullable(z.string()),
  kmsKeyId: z.nullable(z.string()),
  startedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  allocatedStorageGiB: z.nullable(z.number()),
  tags: z.record(z.string(), z.string()),
  /**
   * (1.1) The DB instance or cluster the snapshot was taken of: with the catalog name, what makes
   * a series. `resourceId` is RDS's DbiResourceId / DbClusterResourceId (never reused), when RDS gave it.
   */
  source: z.optional(z.object({ identifier: z.string(), resourceId: z.nullable(z.string()) })),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifest>;

export const Manifest = z.discriminatedUnion('kind', [DumpManifest, SnapshotManifest]);
export type Manifest = z.infer<typeof Manifest>;
