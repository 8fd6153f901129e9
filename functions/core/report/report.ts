import * as z from '../shared/zod.ts';
import {
  type BackupSummary,
  CATALOG_PREFIX,
  Catalog,
  type CatalogProblem,
  segment,
  type VerificationRecord,
} from '../catalog/catalog.ts';
import { errorMessage, InvalidArgument } from '../shared/errors.ts';
import { FailoverRecord } from '../failover/record.ts';
import type { DatabaseRetention } from '../retention/prune-settings.ts';
import type { Repository } from '../repository/types.ts';
import { ageSeries, restorePoints, retentionView } from './report-series.ts';
import type {
  DatabaseReport,
  EvidenceReport,
  FailoverEntry,
  ReportOptions,
  ReportTargets,
  RestoreTestEntry,
  SnapshotCopyEntry,
} from './report-model.ts';
import { DEFAULT_REPORT_TARGETS } from './report-model.ts';

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
    const parsed = z.looseObject(FailoverRecord.shape).safeParse(json);
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

export interface DatabaseContext {
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
