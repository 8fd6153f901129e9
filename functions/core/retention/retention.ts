import * as z from '../shared/zod.ts';
import { InvalidArgument } from '../shared/errors.ts';

/**
 * Grandfather-father-son retention, as a pure function: backups in, one decision per backup out,
 * each with the reasons a person reading a prune report needs. Nothing here talks to AWS.
 *
 * A database's backups fall into *series*: one per kind, region and source (its dumps, its
 * snapshots in the primary region, its snapshot copies in the DR region; and, should two
 * databases ever share a catalog name, each one's apart). Slots and guards apply per series, so a
 * verified snapshot never stands in for an unverified dump, the DR copies keep their own dailies
 * even if the primary region's are gone, and one database never takes another's slots. The
 * deletion cap applies to the whole database.
 *
 * A backup taken after "now", or one its caller holds (whose verification cannot be told), is
 * kept and never counted: it holds no slot and is neither verified nor "the newest" of anything.
 */

const count = z.int().check(z.gte(0), z.lte(10_000));

export const RetentionPolicy = z.strictObject({
  /** Newest backup of each of the last `daily` days that have one. */
  daily: count,
  /** Newest backup of each of the last `weekly` ISO weeks that have one. */
  weekly: count,
  monthly: count,
  yearly: count,
  /** The newest `minVerified` verified backups of each series are never deleted. */
  minVerified: z.int().check(z.gte(1), z.lte(10_000)),
  /** At most this many deletions per run for the database; the rest wait for the next run. */
  maxDeletionsPerRun: count,
});
export type RetentionPolicy = z.infer<typeof RetentionPolicy>;

export type RetentionKind = 'dump' | 'snapshot';
export type RetentionState = 'completed' | 'in-progress' | 'failed' | 'abandoned' | 'deleted';

export interface RetentionBackup {
  readonly id: string;
  readonly kind: RetentionKind;
  readonly region: string;
  /** When the backup was taken (ISO 8601); decides its day, week, month and year. */
  readonly takenAt: string;
  readonly state: RetentionState;
  /** Passed verification (its newest verification passed). Only counts when completed. */
  readonly verified: boolean;
  readonly verifiedAt: string | null;
  /**
   * What the backup was taken of (a DB instance, a source database), when a catalog name may hold
   * more than one: part of its series. @default - the series is kind and region only
   */
  readonly source?: string | undefined;
  /**
   * A reason to keep the backup whatever the policy says, and never count it (no slot, not verified,
   * not the newest of anything): set when the caller cannot tell what the backup is.
   */
  readonly hold?: string | undefined;
}

export type RetentionAction = 'keep' | 'delete';

export interface RetentionDecision {
  readonly backup: RetentionBackup;
  readonly action: RetentionAction;
  /** Why: every slot and guard that holds it, or why it may go. Never empty. */
  readonly reasons: readonly string[];
  /** e.g. "snapshot in eu-west-1". */
  readonly series: string;
}

export interface RetentionOptions {
  readonly now: Date;
  /** IANA time zone for day/week/month/year boundaries, e.g. "Europe/Paris". */
  readonly timeZone: string;
}

export type Period = 'daily' | 'weekly' | 'monthly' | 'yearly';
const PERIODS: readonly Period[] = ['daily', 'weekly', 'monthly', 'yearly'];

export const REASON = {
  inProgress: 'in progress',
  newerThanVerified: 'newer than newest verified',
  takenAfterNow: 'taken after now (clock skew?): kept and not counted',
  alreadyDeleted: 'already deleted',
  noVerified: (series: string) => `no verified ${series}: keeping everything (safety first)`,
  verifiedGuard: (rank: number, of: number) => `newest verified (guard ${rank} of ${of})`,
  slot: (period: Period, label: string) => `${period} slot ${label}`,
  cap: (max: number) => `deletion cap reached (max ${max} per run)`,
  noSlot: 'in no daily/weekly/monthly/yearly slot',
  failed: 'failed',
  abandoned: 'abandoned (never finished)',
} as const;

/** Decides, for every backup of one database, whether the policy keeps or deletes it. */
export function planRetention(
  backups: readonly RetentionBackup[],
  policy: RetentionPolicy,
  options: RetentionOptions,
): RetentionDecision[] {
  const parsedPolicy = parsePolicy(policy);
  const calendar = new LocalCalendar(options.timeZone);
  const now = options.now.getTime();
  if (Number.isNaN(now)) throw new InvalidArgument('retention: "now" is not a valid date');

  const seen = new Set<string>();
  const entries: Entry[] = backups.map((backup) => {
    const series = seriesName(backup);
    const key = `${series}/${backup.id}`;
    if (seen.has(key))
      throw new InvalidArgument(`retention: backup ${backup.id} (${series}) is listed twice`);
    seen.add(key);
    const at = Date.parse(backup.takenAt);
    if (Number.isNaN(at))
      throw new InvalidArgument(`retention: backup ${backup.id} has an invalid takenAt "${backup.takenAt}"`);
    return { backup, at, series, keep: [], drop: [] };
  });

  const bySeries = new Map<string, Entry[]>();
  for (const entry of entries) {
    const list = bySeries.get(entry.series) ?? [];
    list.push(entry);
    bySeries.set(entry.series, list);
  }
  for (const [series, list] of bySeries) decideSeries(series, list, parsedPolicy, calendar, now);

  // The cap: the oldest candidates go first; the rest are kept until a later run.
  const candidates = entries.filter((e) => e.keep.length === 0).sort((a, b) => compareOldestFirst(a, b));
  candidates.forEach((entry, index) => {
    if (index >= parsedPolicy.maxDeletionsPerRun)
      entry.keep.push(REASON.cap(parsedPolicy.maxDeletionsPerRun));
  });

  return entries
    .map((e): RetentionDecision => {
      const action: RetentionAction = e.keep.length > 0 ? 'keep' : 'delete';
      return { backup: e.backup, action, series: e.series, reasons: action === 'keep' ? e.keep : e.drop };
    })
    .sort((a, b) => compareNewestFirst(a.backup, b.backup) || a.series.localeCompare(b.series));
}

/** Validates a policy; InvalidArgument names each wrong field. */
export function parsePolicy(policy: unknown, where = 'retention policy'): RetentionPolicy {
  const parsed = RetentionPolicy.safeParse(policy);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`);
    throw new InvalidArgument(`${where}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

interface Entry {
  readonly backup: RetentionBackup;
  readonly at: number;
  readonly series: string;
  /** Reasons to keep; any one is enough. */
  readonly keep: string[];
  /** Reasons it may go, used only when nothing keeps it. */
  readonly drop: string[];
}

/** "snapshot in eu-west-1", or with a source "snapshot in eu-west-1 of orders-db (db-ABC)". */
export function seriesName(backup: Pick<RetentionBackup, 'kind' | 'region' | 'source'>): string {
  return `${backup.kind} in ${backup.region}${backup.source === undefined ? '' : ` of ${backup.source}`}`;
}

function decideSeries(
  series: string,
  list: Entry[],
  policy: RetentionPolicy,
  calendar: LocalCalendar,
  now: number,
): void {
  list.sort((a, b) => compareNewestFirst(a.backup, b.backup));
  for (const e of list) if (e.backup.state === 'deleted') e.keep.push(REASON.alreadyDeleted);
  // Held and future-dated backups are kept with that one reason, and count for nothing else.
  const held = new Set<Entry>();
  for (const e of list) {
    if (e.backup.state === 'deleted') continue;
    const hold = e.backup.hold ?? (e.at > now ? REASON.takenAfterNow : undefined);
    if (hold !== undefined) {
      e.keep.push(hold);
      held.add(e);
    }
  }
  const live = list.filter((e) => e.backup.state !== 'deleted' && !held.has(e));

  const completed = live.filter((e) => e.backup.state === 'completed');
  const verified = completed.filter((e) => e.backup.verified);
  const newestVerified = verified[0];

  if (newestVerified === undefined) {
    for (const e of live) e.keep.push(REASON.noVerified(series));
  } else {
    const newestIndex = live.indexOf(newestVerified);
    live.slice(0, newestIndex).forEach((e) => {
      e.keep.push(REASON.newerThanVerified);
    });
    verified.slice(0, policy.minVerified).forEach((e, i) => {
      e.keep.push(REASON.verifiedGuard(i + 1, policy.minVerified));
    });
  }
  for (const e of live) if (e.backup.state === 'in-progress') e.keep.push(REASON.inProgress);

  // Each period's slots: walking newest first, the first backup met in a bucket holds that
  // bucket's slot, until `count` buckets are held. Only completed backups are restore points.
  for (const period of PERIODS) {
    const slots = policy[period];
    const held = new Set<string>();
    for (const e of completed) {
      if (held.size >= slots) break;
      const label = calendar.bucket(period, e.at);
      if (held.has(label)) continue;
      held.add(label);
      e.keep.push(REASON.slot(period, label));
    }
  }

  for (const e of live) {
    if (e.backup.state === 'failed') e.drop.push(REASON.failed);
    else if (e.backup.state === 'abandoned') e.drop.push(REASON.abandoned);
    else e.drop.push(REASON.noSlot);
  }
}

/** Newest first: by takenAt, then by id so that equal times still order the same way every run. */
export function compareNewestFirst(a: RetentionBackup, b: RetentionBackup): number {
  const d = Date.parse(b.takenAt) - Date.parse(a.takenAt);
  if (d !== 0) return d;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function compareOldestFirst(a: Entry, b: Entry): number {
  return compareNewestFirst(b.backup, a.backup) || a.series.localeCompare(b.series);
}

/** One formatter per time zone for the life of the process: building one is slow. */
const FORMATS = new Map<string, Intl.DateTimeFormat>();

/** Calendar buckets in a time zone: 2026-11-20, 2026-W47 (ISO week), 2026-11, 2026. */
export class LocalCalendar {
  private readonly format: Intl.DateTimeFormat;

  constructor(readonly timeZone: string) {
    let format = FORMATS.get(timeZone);
    if (format === undefined) {
      try {
        format = new Intl.DateTimeFormat('en-US', {
          timeZone,
          calendar: 'iso8601',
          numberingSystem: 'latn',
          year: 'numeric',
          month: 'numeric',
          day: 'numeric',
        });
      } catch (err) {
        throw new InvalidArgument(`retention: unknown time zone "${timeZone}"`, { cause: err });
      }
      FORMATS.set(timeZone, format);
    }
    this.format = format;
  }

  /** Dates already worked out: each backup is bucketed once per period, Intl is slow. */
  private readonly dates = new Map<number, { year: number; month: number; day: number }>();

  /** The local calendar date of an instant. */
  date(at: number): { year: number; month: number; day: number } {
    let date = this.dates.get(at);
    if (date === undefined) {
      const parts = this.format.formatToParts(new Date(at));
      const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
      date = { year: get('year'), month: get('month'), day: get('day') };
      this.dates.set(at, date);
    }
    return date;
  }

  bucket(period: Period, at: number): string {
    const { year, month, day } = this.date(at);
    switch (period) {
      case 'daily':
        return `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
      case 'weekly': {
        const week = isoWeek(year, month, day);
        return `${pad(week.year, 4)}-W${pad(week.week, 2)}`;
      }
      case 'monthly':
        return `${pad(year, 4)}-${pad(month, 2)}`;
      case 'yearly':
        return pad(year, 4);
    }
  }
}

const DAY_MS = 86_400_000;

/** ISO 8601 week: weeks start on Monday; week 1 is the one holding the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = Date.UTC(year, month - 1, day);
  const weekday = (new Date(date).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  const thursday = date + (3 - weekday) * DAY_MS;
  const weekYear = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(weekYear, 0, 1)) / (7 * DAY_MS));
  return { year: weekYear, week };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** Counts for a report line: "keep 14, delete 3". */
export function tally(decisions: readonly RetentionDecision[]): { keep: number; delete: number } {
  let keep = 0;
  for (const d of decisions) if (d.action === 'keep') keep++;
  return { keep, delete: decisions.length - keep };
}
