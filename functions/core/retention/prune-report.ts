import { type RDSClient } from '@aws-sdk/client-rds';
import { type Catalog, type CatalogProblem } from '../catalog/catalog.ts';
import type { Logger } from '../shared/logger.ts';
import { type Quota } from '../snapshots/rds.ts';
import { type SnapshotType } from '../snapshots/snapshot-naming.ts';
import type { DatabaseRetention, PruneLimits, RetentionPolicies } from './prune-settings.ts';

/** What a prune run reports, what it is given, and the reasons it gives for each decision. */

export interface PruneItem {
  readonly database: string;
  readonly backupId: string;
  readonly kind: 'dump' | 'snapshot';
  readonly region: string;
  /** e.g. "snapshot in eu-west-1 of orders-db (db-ABC123)". */
  readonly series: string;
  /** The RDS snapshot identifier, or the dump's artifact key. */
  readonly resource: string;
  readonly takenAt: string;
  readonly reasons: readonly string[];
}

export interface PruneError {
  readonly database: string | null;
  readonly backupId: string | null;
  readonly region: string | null;
  readonly error: { readonly name: string; readonly message: string };
}

/** A database prune did not judge: everything of it was kept. */
export interface PruneRefusal {
  readonly database: string;
  readonly reason: string;
  /** The catalog documents that could not be read, when that is the reason. */
  readonly problems: readonly CatalogProblem[];
}

/** A snapshot listed with lifeboat's environment tag that is not one prune may judge. */
export interface PruneIgnored {
  readonly region: string;
  readonly resource: string;
  readonly reason: string;
}

/** One catalog name, more than one source in a region: judged as separate series. */
export interface PruneConflict {
  readonly database: string;
  readonly kind: 'dump' | 'snapshot';
  readonly region: string;
  readonly sources: readonly string[];
}

export interface PruneReport {
  readonly environment: string;
  readonly dryRun: boolean;
  readonly at: string;
  readonly kept: PruneItem[];
  readonly deleted: PruneItem[];
  readonly wouldDelete: PruneItem[];
  readonly errors: PruneError[];
  readonly refused: PruneRefusal[];
  readonly ignored: PruneIgnored[];
  readonly conflicts: PruneConflict[];
  /** The caps across databases, and the deletions of the last 24 hours counted against them. */
  readonly limits: PruneLimits & { readonly deletedInLast24h: number };
  /** Manual snapshot quotas per region after this run's deletions (null where unreadable). */
  readonly quotas: Record<string, { instance: Quota | null; cluster: Quota | null } | null>;
}

/** RDS of both regions, for the primary region's prune. */
export interface SnapshotClients {
  readonly primary: RDSClient;
  readonly dr: RDSClient;
  readonly drRegion: string;
}

/** Figures prune reports for alarms (Powertools Metrics in Lambda). */
export interface PruneGauges {
  /** Databases not judged (unreadable history, an error while judging). */
  refused(count: number): void;
  /** Deletions that failed, listings that failed. */
  errors(count: number): void;
}

export interface PruneDeps {
  readonly catalog: Catalog;
  readonly policies: RetentionPolicies;
  /**
   * Retention by policy name, for databases found by discovery (not in `policies`): their
   * snapshots carry the policy in their lifeboat:policy tag. @default {}
   */
  readonly policiesByName?: RetentionPolicies;
  /** The retention of every database that has none in `policies` (the CLI's). @default - none */
  readonly defaultPolicy?: DatabaseRetention;
  /** Only this database's backups are read and judged. @default - every database */
  readonly database?: string;
  readonly environment: string;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** @default DEFAULT_PRUNE_LIMITS */
  readonly limits?: PruneLimits;
  /** The snapshots to prune too; without them, only the repository's dumps. */
  readonly snapshots?: SnapshotClients;
  /**
   * The region of the repository's copy of the dumps (the catalog's region), as reports name it.
   * @default the catalog's region, or "repository"
   */
  readonly region?: string;
  readonly gauges?: PruneGauges;
}

export const NO_POLICY = 'no retention policy for this database: untouched';
export const COPY_IN_FLIGHT = 'its DR copy is in flight: deleting the source now would fail the copy';
export const PRUNE_REASON = {
  notRead: (database: string, n: number) =>
    `catalog of ${database} not read completely (${n} document${n === 1 ? '' : 's'}): not judged this run`,
  notJudged: (message: string) => `could not be judged: ${message}`,
  notListed: (type: SnapshotType, region: string) =>
    `${type} snapshots of ${region} could not be listed: not judged this run`,
  ambiguousTest:
    'its catalog entry is shared with another snapshot of the same name and slot: kept and not counted',
  futureTest: 'a verification of it is dated after now (clock skew?): kept and not counted',
  copySourceUnknown: 'a DR copy without a test of its own whose source cannot be told: kept and not counted',
  noArtifact: (state: string) => `${state}: no artifact to delete`,
  envCap: (max: number, per: 'run' | 'day') => `environment deletion cap reached (max ${max} per ${per})`,
  shared: (accounts: readonly string[]) => `shared with other accounts (${accounts.join(', ')}): not deleted`,
  sharingUnknown: (message: string) => `sharing could not be read: not deleted (${message})`,
} as const;
