import {
  type BackupSummary,
  type CatalogProblem,
  type CheckResult,
  type VerificationRecord,
} from '../catalog/catalog.ts';
import type { DatabaseRetention } from '../retention/prune-settings.ts';

/** The shape of the DR evidence report (report.ts builds it; report-html/md/text render it). */

export interface ReportTargets {
  /** Newest completed backup older than this: warning. */
  readonly backupAgeWarnHours: number;
  /** Newest completed backup older than this: critical. */
  readonly backupAgeCritHours: number;
  /** The newest verified restore point must be younger: the RPO of a restore from backup. */
  readonly verifiedAgeHours: number;
  /** A restore test (restore and checks) should take at most this long. */
  readonly restoreRtoSeconds: number;
  /** A failover (start to verified write) should take at most this long. */
  readonly failoverRtoSeconds: number;
  /** A failover should lose at most this much (replication lag at the start). */
  readonly failoverRpoSeconds: number;
}

export const DEFAULT_REPORT_TARGETS: ReportTargets = {
  backupAgeWarnHours: 26,
  backupAgeCritHours: 48,
  verifiedAgeHours: 48,
  restoreRtoSeconds: 4 * 3600,
  failoverRtoSeconds: 15 * 60,
  failoverRpoSeconds: 60,
};

export interface ReportOptions {
  readonly from: Date;
  readonly to: Date;
  readonly targets?: Partial<ReportTargets>;
  /** Only these databases (and listed even without a document). @default - every one in the catalog */
  readonly databases?: readonly string[] | undefined;
  /** Retention of each database, to say what it keeps per tier. @default - tiers not shown */
  readonly retention?: Readonly<Record<string, DatabaseRetention>> | undefined;
  /** Retention of a database `retention` does not name. @default - none */
  readonly defaultRetention?: DatabaseRetention | undefined;
  /** The copy this repository holds (see CatalogOptions.region). */
  readonly region?: string | undefined;
  /** When the report is made; the period must not end after it. @default to */
  readonly now?: Date;
  /** What the report is about, for its title: a repository URL or an environment. */
  readonly subject?: string;
}

export interface Interval {
  readonly from: string;
  readonly to: string;
  readonly seconds: number;
  /** The interval lasts to the end of the period: it was still open then. */
  readonly open: boolean;
  /** The oldest the restore point got in it (null: there was none at all). */
  readonly worstAgeSeconds: number | null;
}

/** One line of an age chart: [epoch ms, age in seconds | null (no restore point)]. */
export type AgePoint = readonly [number, number | null];

export interface AgeSeries {
  readonly points: readonly AgePoint[];
  /** At the end of the period. */
  readonly endSeconds: number | null;
  readonly maxSeconds: number | null;
  readonly targetSeconds: number;
  /** Periods over the target. */
  readonly over: readonly Interval[];
}

export interface VerificationEntry {
  readonly backupId: string;
  readonly backupKind: BackupSummary['kind'];
  readonly at: string;
  readonly method: VerificationRecord['method'];
  readonly passed: boolean;
  readonly checks: readonly CheckResult[];
  readonly restoreSeconds: number | null;
  readonly totalSeconds: number;
  readonly region: string | null;
  readonly error: { name: string; message: string } | null;
}

export interface RestoreTestEntry {
  readonly kind: 'restore-test';
  readonly backupId: string;
  readonly method: VerificationRecord['method'];
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly passed: boolean;
  readonly rtoSeconds: number;
  readonly rpoSeconds: number;
  readonly rtoTargetSeconds: number;
  readonly rpoTargetSeconds: number;
  readonly rtoMet: boolean;
  readonly rpoMet: boolean;
}

export interface FailoverEntry {
  readonly kind: 'failover';
  readonly executionId: string;
  readonly drill: boolean;
  readonly mode: 'planned' | 'unplanned';
  readonly trigger: 'manual' | 'alarm';
  readonly reason: string;
  readonly from: string;
  readonly to: string;
  readonly startedAt: string;
  readonly rtoSeconds: number;
  readonly rpoSeconds: number | null;
  readonly rtoTargetSeconds: number;
  readonly rpoTargetSeconds: number;
  readonly rtoMet: boolean;
  /** null when the RPO was not measured (a forced failover with lag unknown). */
  readonly rpoMet: boolean | null;
}

export interface SnapshotCopyEntry {
  readonly backupId: string;
  readonly snapshotIdentifier: string;
  readonly region: string;
  readonly copiedFrom: string;
  /** When the source snapshot was taken. */
  readonly takenAt: string;
  /** When the copy was cataloged available. */
  readonly arrivedAt: string;
  readonly lagSeconds: number;
}

export interface RetentionView {
  /** Completed restore points not deleted at the end of the period. */
  readonly restorable: number;
  readonly oldestRestorable: { readonly id: string; readonly at: string } | null;
  readonly oldestVerified: { readonly id: string; readonly at: string } | null;
  /** Backups holding a slot of each tier under the policy (one may hold several); null without a policy. */
  readonly tiers: {
    readonly daily: number;
    readonly weekly: number;
    readonly monthly: number;
    readonly yearly: number;
    /** Kept by the newest-verified guard. */
    readonly verifiedGuard: number;
  } | null;
  readonly policy: DatabaseRetention | null;
}

export interface DatabaseReport {
  readonly database: string;
  /** Periods with no verified backup young enough: the first thing to look at. */
  readonly gaps: readonly Interval[];
  readonly backups: {
    /** Taken in the period (by start time), whatever became of them. */
    readonly taken: number;
    readonly completed: number;
    readonly failed: number;
    readonly abandoned: number;
    readonly inProgress: number;
    readonly unreadable: number;
    readonly byKind: { readonly 'logical-dump': number; readonly 'rds-snapshot': number };
  };
  readonly age: { readonly newestCompleted: AgeSeries; readonly newestVerified: AgeSeries };
  readonly verifications: {
    readonly passed: number;
    readonly failed: number;
    /** passed / (passed + failed), null without any. */
    readonly passRate: number | null;
    readonly list: readonly VerificationEntry[];
  };
  readonly restoreTests: readonly RestoreTestEntry[];
  readonly failovers: readonly FailoverEntry[];
  readonly snapshotCopies: {
    /** Snapshots taken in the period outside the DR region (sources). */
    readonly sources: number;
    /** Of those, how many have a copy cataloged. */
    readonly copied: number;
    readonly list: readonly SnapshotCopyEntry[];
  };
  readonly retention: RetentionView;
  /** Catalog documents of this database that could not be read: the report may miss what they say. */
  readonly problems: readonly string[];
}

export interface EvidenceReport {
  readonly subject: string;
  readonly generatedAt: string;
  readonly from: string;
  readonly to: string;
  readonly targets: ReportTargets;
  readonly summary: {
    readonly databases: number;
    readonly gaps: number;
    /** The longest gap of any database. */
    readonly worstGap: (Interval & { readonly database: string }) | null;
    readonly backupsCompleted: number;
    readonly backupsFailed: number;
    readonly verificationsPassed: number;
    readonly verificationsFailed: number;
    readonly verificationPassRate: number | null;
    readonly restoreTests: number;
    readonly restoreTestsWithinRto: number;
    readonly failovers: number;
    readonly failoversWithinRto: number;
    /** The slowest recovery (restore test or failover) against its target. */
    readonly slowestRecovery: {
      readonly database: string;
      readonly kind: 'restore-test' | 'failover';
      readonly rtoSeconds: number;
      readonly rtoTargetSeconds: number;
    } | null;
  };
  readonly databases: readonly DatabaseReport[];
  /** Documents that could not be read, anywhere in the catalog. */
  readonly problems: readonly CatalogProblem[];
}
