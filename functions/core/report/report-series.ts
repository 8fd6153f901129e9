import type { Catalog } from '../catalog/catalog.ts';
import { type BackupSummary, type DeletedRecord, type VerificationRecord } from '../catalog/catalog.ts';
import { planRetention, type RetentionBackup } from '../retention/retention.ts';
import type { DatabaseContext } from './report.ts';
import type { AgePoint, AgeSeries, Interval, RetentionView } from './report-model.ts';

/**
 * Restore points over time: when each backup could be restored and was verified, the age series of
 * the newest restore point, and what retention keeps (the definitions are report.ts's).
 */

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

export function restorePoints(backups: readonly BackupSummary[], catalog: Catalog): RestorePoint[] {
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
export function ageSeries(
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

export function retentionView(
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
