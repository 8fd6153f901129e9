import * as z from 'zod';
import {
  type BackupSummary,
  CATALOG_PREFIX,
  Catalog,
  type CatalogProblem,
  type CheckResult,
  type DeletedRecord,
  segment,
  type VerificationRecord,
} from '../catalog/catalog.ts';
import { errorMessage, InvalidArgument } from '../shared/errors.ts';
import { FailoverRecord } from '../failover/record.ts';
import type { DatabaseRetention } from '../retention/prune.ts';
import type { Repository } from '../repository/types.ts';
import { planRetention, type RetentionBackup } from '../retention/retention.ts';

/**
 * The DR evidence report: what a repository's catalog proves about each database over a period.
 * Everything here is derived from catalog documents read through `Catalog` (backups and their
 * records) and the failover documents beside them; nothing is estimated. Pure apart from reading
 * the repository: `now` and the period are given.
 *
 * Definitions (docs/report.md says the same for readers):
 * - a backup *completed* when its manifest exists; it is a restore point (its `startedAt`) from its
 *   `finishedAt` until a `deleted` record of this copy, if any;
 * - a backup *is verified* at time t when its newest verification at or before t passed and it was
 *   not deleted by t;
 * - a *gap* is a period in which the newest verified restore point was older than the verified-age
 *   target, or there was none for longer than the target since the database's first backup (or
 *   the period's start, whichever is later);
 * - a *restore test* is a verification that restored into a real target (`restore`,
 *   `snapshot-restore-test`): its RTO is its total duration (restore and checks), its RPO the age
 *   of the restore point when the test started (the data a restore then would have lost);
 * - a failover's RTO and RPO are the ones its record measured; a *drill* is a failover whose
 *   execution name starts with `drill-` (what `lifeboat drill` records).
 */

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

const DURATION = /^(\d+)(h|d|w)$/;

/** `90d`, `12w`, `36h` → milliseconds; InvalidArgument otherwise. */
export function parseSince(value: string, option = 'since'): number {
  const m = DURATION.exec(value);
  if (!m || Number(m[1]) === 0) {
    throw new InvalidArgument(`--${option} expects a duration such as 90d, 12w or 36h, got "${value}"`);
  }
  const unit = { h: 3600_000, d: 86_400_000, w: 7 * 86_400_000 }[m[2] as 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

/** A failover document's problem, or the record. */
export interface FailoverReading {
  readonly failovers: FailoverRecord[];
  readonly problems: CatalogProblem[];
}

/** Every failover record (catalog/<db>/_failovers/*.json); a document that cannot be used is a problem. */
export async function readFailovers(
  repository: Repository,
  database?: string | undefined,
): Promise<FailoverReading> {
  const prefix = database === undefined ? CATALOG_PREFIX : `${CATALOG_PREFIX}${segment(database)}/`;
  const keys = (await repository.list(prefix)).filter((k) => k.split('/')[2] === '_failovers');
  const failovers: FailoverRecord[] = [];
  const problems: CatalogProblem[] = [];
  for (const key of keys.sort()) {
    let db: string | null = null;
    try {
      db = decodeURIComponent(key.split('/')[1]!);
    } catch {
      // reported below with database null
    }
    const problem = (kind: CatalogProblem['problem'], message: string) =>
      problems.push({ key, database: db, backupId: null, problem: kind, message });
    let json: unknown;
    try {
      json = JSON.parse((await repository.read(key)).toString('utf8'));
    } catch (err) {
      problem('unreadable', `could not be read as JSON: ${errorMessage(err)}`);
      continue;
    }
    // Fields added by a later version are ignored, not a reason to lose the evidence.
    const parsed = FailoverRecord.loose().safeParse(json);
    if (!parsed.success) {
      problem(
        'invalid',
        `not a failover record: ${parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`)
          .join('; ')}`,
      );
      continue;
    }
    if (parsed.data.database !== db) {
      problem('invalid', 'its database does not match its key');
      continue;
    }
    failovers.push(parsed.data);
  }
  return { failovers, problems };
}

/** Reads the repository's catalog and builds the report. */
export async function buildReport(repository: Repository, options: ReportOptions): Promise<EvidenceReport> {
  const now = options.now ?? options.to;
  const catalog = new Catalog(repository, { now: () => now, region: options.region });
  const [reading, failovers] = await Promise.all([catalog.read(), readFailovers(repository)]);
  return assembleReport(reading.backups, failovers.failovers, [...reading.problems, ...failovers.problems], {
    ...options,
    subject: options.subject ?? repository.url,
    now,
    catalog,
  });
}

/** The report from what the catalog holds (pure). */
export function assembleReport(
  backups: readonly BackupSummary[],
  failovers: readonly FailoverRecord[],
  problems: readonly CatalogProblem[],
  options: ReportOptions & { readonly catalog: Catalog },
): EvidenceReport {
  const from = options.from.getTime();
  const to = options.to.getTime();
  if (!(from < to))
    throw new InvalidArgument('the report period must start before it ends (--from before --to)');
  const targets: ReportTargets = { ...DEFAULT_REPORT_TARGETS, ...options.targets };
  const names = new Set(
    options.databases ?? [...backups.map((b) => b.database), ...failovers.map((f) => f.database)],
  );
  const databases = [...names].sort().map((database) =>
    databaseReport(
      database,
      backups.filter((b) => b.database === database),
      failovers.filter((f) => f.database === database),
      problems.filter((p) => p.database === database),
      {
        from,
        to,
        targets,
        retention:
          (options.retention && Object.hasOwn(options.retention, database)
            ? options.retention[database]
            : undefined) ??
          options.defaultRetention ??
          null,
        catalog: options.catalog,
      },
    ),
  );
  const all = <T>(pick: (d: DatabaseReport) => readonly T[]) => databases.flatMap(pick);
  const sum = (pick: (d: DatabaseReport) => number) => databases.reduce((n, d) => n + pick(d), 0);
  const passed = sum((d) => d.verifications.passed);
  const failed = sum((d) => d.verifications.failed);
  const gaps = databases.flatMap((d) => d.gaps.map((g) => ({ ...g, database: d.database })));
  const recoveries = [
    ...databases.flatMap((d) => d.restoreTests.map((r) => ({ database: d.database, ...r }))),
    ...databases.flatMap((d) => d.failovers.map((f) => ({ database: d.database, ...f }))),
  ];
  const slowest = recoveries.reduce<(typeof recoveries)[number] | null>(
    (worst, r) =>
      worst === null || r.rtoSeconds / r.rtoTargetSeconds > worst.rtoSeconds / worst.rtoTargetSeconds
        ? r
        : worst,
    null,
  );
  return {
    subject: options.subject ?? '',
    generatedAt: (options.now ?? options.to).toISOString(),
    from: options.from.toISOString(),
    to: options.to.toISOString(),
    targets,
    summary: {
      databases: databases.length,
      gaps: gaps.length,
      worstGap: gaps.reduce<(typeof gaps)[number] | null>(
        (w, g) => (w === null || g.seconds > w.seconds ? g : w),
        null,
      ),
      backupsCompleted: sum((d) => d.backups.completed),
      backupsFailed: sum((d) => d.backups.failed),
      verificationsPassed: passed,
      verificationsFailed: failed,
      verificationPassRate: passed + failed === 0 ? null : passed / (passed + failed),
      restoreTests: all((d) => d.restoreTests).length,
      restoreTestsWithinRto: all((d) => d.restoreTests).filter((r) => r.rtoMet).length,
      failovers: all((d) => d.failovers).length,
      failoversWithinRto: all((d) => d.failovers).filter((f) => f.rtoMet).length,
      slowestRecovery: slowest && {
        database: slowest.database,
        kind: slowest.kind,
        rtoSeconds: slowest.rtoSeconds,
        rtoTargetSeconds: slowest.rtoTargetSeconds,
      },
    },
    databases,
    problems,
  };
}

interface DatabaseContext {
  readonly from: number;
  readonly to: number;
  readonly targets: ReportTargets;
  readonly retention: DatabaseRetention | null;
  readonly catalog: Catalog;
}

const inPeriod = (at: string, ctx: DatabaseContext) => {
  const t = Date.parse(at);
  return t >= ctx.from && t <= ctx.to;
};

function databaseReport(
  database: string,
  backups: readonly BackupSummary[],
  failovers: readonly FailoverRecord[],
  problems: readonly CatalogProblem[],
  ctx: DatabaseContext,
): DatabaseReport {
  const { targets } = ctx;
  const taken = backups.filter((b) => inPeriod(b.startedAt, ctx));
  const count = (pred: (b: BackupSummary) => boolean) => taken.filter(pred).length;

  const verifications = backups
    .flatMap((b) =>
      ctx.catalog
        .verificationsOfThisCopy(b.records.filter((r): r is VerificationRecord => r.kind === 'verification'))
        .map((v) => ({ backup: b, v })),
    )
    .filter(({ v }) => inPeriod(v.at, ctx))
    .sort((a, b) => a.v.at.localeCompare(b.v.at));
  const passed = verifications.filter(({ v }) => v.passed).length;
  const failedCount = verifications.length - passed;

  const restoreTests = verifications
    .filter(({ v }) => v.method === 'restore' || v.method === 'snapshot-restore-test')
    .map(({ backup, v }): RestoreTestEntry => {
      const finished = Date.parse(v.at);
      const started = finished - v.totalDurationMs;
      const rtoSeconds = v.totalDurationMs / 1000;
      const rpoSeconds = Math.max(0, (started - Date.parse(backup.startedAt)) / 1000);
      const rpoTarget = targets.verifiedAgeHours * 3600;
      return {
        kind: 'restore-test',
        backupId: backup.id,
        method: v.method,
        startedAt: new Date(started).toISOString(),
        finishedAt: v.at,
        passed: v.passed,
        rtoSeconds,
        rpoSeconds,
        rtoTargetSeconds: targets.restoreRtoSeconds,
        rpoTargetSeconds: rpoTarget,
        rtoMet: v.passed && rtoSeconds <= targets.restoreRtoSeconds,
        rpoMet: rpoSeconds <= rpoTarget,
      };
    });

  const failoverEntries = failovers
    .filter((f) => inPeriod(f.startedAt, ctx))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt))
    .map((f): FailoverEntry => ({
      kind: 'failover',
      executionId: f.executionId,
      drill: (f.executionId.split(':').at(-1) ?? '').startsWith('drill-'),
      mode: f.mode,
      trigger: f.trigger,
      reason: f.reason,
      from: `${f.from.identifier} (${f.from.region})`,
      to: `${f.to.identifier} (${f.to.region})`,
      startedAt: f.startedAt,
      rtoSeconds: f.rtoSeconds,
      rpoSeconds: f.rpoSeconds,
      rtoTargetSeconds: targets.failoverRtoSeconds,
      rpoTargetSeconds: targets.failoverRpoSeconds,
      rtoMet: f.rtoSeconds <= targets.failoverRtoSeconds,
      rpoMet: f.rpoSeconds === null ? null : f.rpoSeconds <= targets.failoverRpoSeconds,
    }));

  const snapshots = backups.filter(
    (b): b is BackupSummary & { manifest: { kind: 'rds-snapshot' } } => b.manifest?.kind === 'rds-snapshot',
  );
  const copies = snapshots.filter(
    (b) => b.manifest.kind === 'rds-snapshot' && b.manifest.copiedFrom !== null,
  );
  const copiedArns = new Set(
    copies.map((c) => (c.manifest.kind === 'rds-snapshot' ? c.manifest.copiedFrom : null)),
  );
  const sources = snapshots.filter(
    (b) => b.manifest.kind === 'rds-snapshot' && b.manifest.copiedFrom === null && inPeriod(b.startedAt, ctx),
  );
  const copyList = copies
    .filter((c) => inPeriod(c.manifest.kind === 'rds-snapshot' ? c.manifest.finishedAt : c.startedAt, ctx))
    .map((c): SnapshotCopyEntry => {
      const m = c.manifest as Extract<BackupSummary['manifest'], { kind: 'rds-snapshot' }>;
      return {
        backupId: c.id,
        snapshotIdentifier: m.snapshotIdentifier,
        region: m.region,
        copiedFrom: m.copiedFrom!,
        takenAt: m.startedAt,
        arrivedAt: m.finishedAt,
        lagSeconds: Math.max(0, (Date.parse(m.finishedAt) - Date.parse(m.startedAt)) / 1000),
      };
    })
    .sort((a, b) => a.arrivedAt.localeCompare(b.arrivedAt));

  const history = restorePoints(backups, ctx.catalog);
  const first = backups.reduce((t, b) => Math.min(t, Date.parse(b.startedAt)), Number.POSITIVE_INFINITY);
  const start = Math.max(ctx.from, Number.isFinite(first) ? first : ctx.to);
  const newestCompleted = ageSeries(history, 'completed', start, ctx.to, targets.backupAgeCritHours * 3600);
  const newestVerified = ageSeries(history, 'verified', start, ctx.to, targets.verifiedAgeHours * 3600);

  return {
    database,
    gaps: newestVerified.over,
    backups: {
      taken: taken.length,
      completed: count((b) => b.manifest !== null && b.state !== 'unreadable'),
      failed: count((b) => b.state === 'failed'),
      abandoned: count((b) => b.state === 'abandoned'),
      inProgress: count((b) => b.state === 'in-progress'),
      unreadable: count((b) => b.state === 'unreadable'),
      byKind: {
        'logical-dump': count((b) => b.kind === 'logical-dump'),
        'rds-snapshot': count((b) => b.kind === 'rds-snapshot'),
      },
    },
    age: { newestCompleted, newestVerified },
    verifications: {
      passed,
      failed: failedCount,
      passRate: verifications.length === 0 ? null : passed / verifications.length,
      list: verifications.map(({ backup, v }) => ({
        backupId: backup.id,
        backupKind: backup.kind,
        at: v.at,
        method: v.method,
        passed: v.passed,
        checks: v.checks,
        restoreSeconds: v.restoreDurationMs === null ? null : v.restoreDurationMs / 1000,
        totalSeconds: v.totalDurationMs / 1000,
        region: v.region ?? null,
        error: v.error,
      })),
    },
    restoreTests,
    failovers: failoverEntries,
    snapshotCopies: {
      sources: sources.length,
      copied: sources.filter(
        (s) => s.manifest.kind === 'rds-snapshot' && copiedArns.has(s.manifest.snapshotArn),
      ).length,
      list: copyList,
    },
    retention: retentionView(history, backups, ctx),
    problems: problems.map((p) => `${p.key}: ${p.problem}: ${p.message}`),
  };
}

/** A completed backup as a restore point over time. */
interface RestorePoint {
  readonly backup: BackupSummary;
  /** The data's point in time. */
  readonly at: number;
  /** From when it could be restored. */
  readonly available: number;
  readonly deletedAt: number | null;
  /** Its verifications, oldest first: [time, passed]. */
  readonly verdicts: ReadonlyArray<readonly [number, boolean]>;
}

function restorePoints(backups: readonly BackupSummary[], catalog: Catalog): RestorePoint[] {
  return backups
    .filter((b) => b.manifest !== null && b.state !== 'unreadable')
    .map((b) => {
      const deleted = b.records.find(
        (r): r is DeletedRecord => r.kind === 'deleted' && catalog.appliesHere(r.region),
      );
      return {
        backup: b,
        at: Date.parse(b.startedAt),
        available: Date.parse(b.finishedAt ?? b.startedAt),
        deletedAt: deleted ? Date.parse(deleted.at) : null,
        verdicts: catalog
          .verificationsOfThisCopy(
            b.records.filter((r): r is VerificationRecord => r.kind === 'verification'),
          )
          .map((v) => [Date.parse(v.at), v.passed] as const)
          .sort((x, y) => x[0] - y[0]),
      };
    });
}

function restorableAt(p: RestorePoint, t: number): boolean {
  return p.available <= t && (p.deletedAt === null || p.deletedAt > t);
}

function verifiedAt(p: RestorePoint, t: number): boolean {
  if (!restorableAt(p, t)) return false;
  let last: boolean | null = null;
  for (const [at, ok] of p.verdicts) {
    if (at > t) break;
    last = ok;
  }
  return last === true;
}

/**
 * The age of the newest restore point (completed: since it finished, as the backup-age alarm
 * counts; verified: since its data's point in time) as an exact sawtooth: it changes only at
 * events (a backup finishing, a verification, a deletion), and grows linearly in between.
 */
function ageSeries(
  history: readonly RestorePoint[],
  which: 'completed' | 'verified',
  start: number,
  end: number,
  targetSeconds: number,
): AgeSeries {
  const times = new Set<number>([start]);
  for (const p of history) {
    for (const t of [p.available, p.deletedAt ?? Number.NaN, ...p.verdicts.map((v) => v[0])]) {
      if (t > start && t < end) times.add(t);
    }
  }
  const breaks = [...times].sort((a, b) => a - b);
  const points: AgePoint[] = [];
  const over: Interval[] = [];
  let open: { from: number; worst: number | null } | null = null;
  let max: number | null = null;
  const closeAt = (t: number) => {
    if (open) {
      over.push({
        from: new Date(open.from).toISOString(),
        to: new Date(t).toISOString(),
        seconds: (t - open.from) / 1000,
        open: t === end,
        worstAgeSeconds: open.worst,
      });
      open = null;
    }
  };
  let endSeconds: number | null = null;
  breaks.forEach((a, i) => {
    const b = breaks[i + 1] ?? end;
    let newest: number | null = null;
    for (const p of history) {
      const ok = which === 'completed' ? restorableAt(p, a) : verifiedAt(p, a);
      if (!ok) continue;
      const ref = which === 'completed' ? p.available : p.at;
      if (newest === null || ref > newest) newest = ref;
    }
    if (newest === null) {
      // No restore point yet (or none left): the clock runs from the start of the history, so a
      // new database is in a gap once the target has passed without one.
      points.push([a, null], [b, null]);
      endSeconds = null;
      if ((b - start) / 1000 > targetSeconds) {
        if (!open) open = { from: Math.max(a, start + targetSeconds * 1000), worst: null };
        else open.worst = null;
      } else closeAt(a);
      return;
    }
    const ageA = (a - newest) / 1000;
    const ageB = (b - newest) / 1000;
    points.push([a, ageA], [b, ageB]);
    max = max === null ? ageB : Math.max(max, ageB);
    endSeconds = ageB;
    const overFrom = newest + targetSeconds * 1000;
    if (ageB > targetSeconds) {
      if (!open) open = { from: Math.max(a, overFrom), worst: ageB };
      else if (open.worst !== null) open.worst = Math.max(open.worst, ageB);
    } else {
      closeAt(a);
    }
  });
  closeAt(end);
  return { points, endSeconds, maxSeconds: max, targetSeconds, over };
}

function retentionView(
  history: readonly RestorePoint[],
  backups: readonly BackupSummary[],
  ctx: DatabaseContext,
): RetentionView {
  const live = history.filter((p) => restorableAt(p, ctx.to)).sort((a, b) => a.at - b.at);
  const verified = live.filter((p) => verifiedAt(p, ctx.to));
  const ref = (p: RestorePoint | undefined) => (p ? { id: p.backup.id, at: p.backup.startedAt } : null);
  let tiers: RetentionView['tiers'] = null;
  if (ctx.retention) {
    const candidates: RetentionBackup[] = backups
      .filter((b) => b.state !== 'unreadable' && Date.parse(b.startedAt) <= ctx.to)
      .map((b) => ({
        id: b.id,
        kind: b.kind === 'logical-dump' ? 'dump' : 'snapshot',
        region:
          b.manifest?.kind === 'rds-snapshot' ? b.manifest.region : (ctx.catalog.region ?? 'repository'),
        takenAt: b.startedAt,
        state: b.state === 'unreadable' ? 'in-progress' : b.state,
        verified: b.verification === 'verified',
        verifiedAt: b.verifiedAt,
      }));
    const { timeZone, ...policy } = ctx.retention;
    const decisions = planRetention(candidates, policy, { now: new Date(ctx.to), timeZone }).filter(
      (d) => d.action === 'keep' && d.backup.state === 'completed',
    );
    const holding = (prefix: string) =>
      decisions.filter((d) => d.reasons.some((r) => r.startsWith(prefix))).length;
    tiers = {
      daily: holding('daily slot'),
      weekly: holding('weekly slot'),
      monthly: holding('monthly slot'),
      yearly: holding('yearly slot'),
      verifiedGuard: holding('newest verified (guard'),
    };
  }
  return {
    restorable: live.length,
    oldestRestorable: ref(live[0]),
    oldestVerified: ref(verified[0]),
    tiers,
    policy: ctx.retention,
  };
}

/** For the JSON format: the report as written, with the chart points left out unless asked. */
export function reportJson(report: EvidenceReport, options: { points?: boolean } = {}): string {
  const strip = options.points
    ? report
    : {
        ...report,
        databases: report.databases.map((d) => ({
          ...d,
          age: {
            newestCompleted: { ...d.age.newestCompleted, points: undefined },
            newestVerified: { ...d.age.newestVerified, points: undefined },
          },
        })),
      };
  return `${JSON.stringify(strip, null, 2)}\n`;
}

export const ReportFormat = z.enum(['html', 'md', 'json']);
export type ReportFormat = z.infer<typeof ReportFormat>;
