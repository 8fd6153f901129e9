import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  planRetention,
  type RetentionBackup,
  type RetentionDecision,
  type RetentionPolicy,
  type RetentionState,
} from '../../functions/core/retention/retention.ts';

/**
 * Property tests of the retention policy over random histories. The expected outcome is computed
 * here a second, simpler way (group by calendar bucket, sort labels; a different ISO-week
 * algorithm; toLocaleDateString instead of formatToParts), so a shared mistake is unlikely.
 */

const NUM_RUNS = 400;
const ZONES = [
  'UTC',
  'Europe/Paris',
  'America/New_York',
  'Asia/Kolkata',
  'Australia/Lord_Howe',
  'America/Santiago',
  'Pacific/Chatham',
];
const REGIONS = ['eu-west-1', 'eu-central-1'];
const START = Date.UTC(2024, 0, 1);
const SPAN = 3 * 365 * 86_400_000;
const NOW = new Date(START + SPAN);

const policyArb: fc.Arbitrary<RetentionPolicy> = fc.record({
  daily: fc.nat({ max: 10 }),
  weekly: fc.nat({ max: 6 }),
  monthly: fc.nat({ max: 6 }),
  yearly: fc.nat({ max: 3 }),
  minVerified: fc.integer({ min: 1, max: 4 }),
  maxDeletionsPerRun: fc.nat({ max: 30 }),
});

const stateArb: fc.Arbitrary<RetentionState> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<RetentionState>('completed') },
  { weight: 1, arbitrary: fc.constant<RetentionState>('in-progress') },
  { weight: 1, arbitrary: fc.constant<RetentionState>('failed') },
  { weight: 1, arbitrary: fc.constant<RetentionState>('abandoned') },
  { weight: 1, arbitrary: fc.constant<RetentionState>('deleted') },
);

// Times cluster (many per day, bursts around midnight) as well as spread over years; a few lie
// after "now" and some share an instant, to exercise the tie-breaks.
const timeArb = fc.oneof(
  fc.integer({ min: START, max: START + SPAN + 86_400_000 }),
  fc.integer({ min: START + SPAN - 40 * 86_400_000, max: START + SPAN }),
  fc.constantFrom(START + SPAN - 86_400_000, Date.UTC(2026, 11, 31, 23, 30)),
);

const backupArb = fc.record({
  kind: fc.constantFrom<'dump' | 'snapshot'>('dump', 'snapshot'),
  region: fc.constantFrom(...REGIONS),
  at: timeArb,
  state: stateArb,
  verified: fc.boolean(),
});

const historyArb: fc.Arbitrary<RetentionBackup[]> = fc.array(backupArb, { maxLength: 60 }).map((items) =>
  items.map((b, i) => ({
    id: `b${String(i).padStart(3, '0')}`,
    kind: b.kind,
    region: b.region,
    takenAt: new Date(b.at).toISOString(),
    state: b.state,
    verified: b.verified,
    verifiedAt: b.verified ? new Date(b.at + 3_600_000).toISOString() : null,
  })),
);

const caseArb = fc.record({ history: historyArb, policy: policyArb, timeZone: fc.constantFrom(...ZONES) });

// --- the independent model -------------------------------------------------------------------

const series = (b: RetentionBackup) => `${b.kind} in ${b.region}`;
const newer = (a: RetentionBackup, b: RetentionBackup) =>
  Date.parse(a.takenAt) > Date.parse(b.takenAt) || (a.takenAt === b.takenAt && a.id > b.id);
const isFuture = (b: RetentionBackup) => Date.parse(b.takenAt) > NOW.getTime();
const isVerified = (b: RetentionBackup) => b.state === 'completed' && b.verified;

const days = new Map<string, string>();
function localDay(at: string, timeZone: string): string {
  const key = `${at}|${timeZone}`;
  let day = days.get(key);
  if (day === undefined) {
    day = new Date(at).toLocaleDateString('sv-SE', { timeZone }); // "2026-11-20"
    days.set(key, day);
  }
  return day;
}

/** ISO week by counting from the Monday of week 1 (the week holding 4 January). */
function isoWeekLabel(day: string): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const date = Date.UTC(y, m - 1, d);
  const mondayOfWeek1 = (year: number) => {
    const jan4 = Date.UTC(year, 0, 4);
    return jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * 86_400_000;
  };
  let year = y + 1;
  while (mondayOfWeek1(year) > date) year--;
  const week = Math.floor((date - mondayOfWeek1(year)) / (7 * 86_400_000)) + 1;
  return `${year}-W${String(week).padStart(2, '0')}`;
}

function label(
  period: 'daily' | 'weekly' | 'monthly' | 'yearly',
  b: RetentionBackup,
  timeZone: string,
): string {
  const day = localDay(b.takenAt, timeZone);
  if (period === 'daily') return day;
  if (period === 'weekly') return isoWeekLabel(day);
  if (period === 'monthly') return day.slice(0, 7);
  return day.slice(0, 4);
}

interface Expected {
  /** Never deletable whatever the cap says. */
  protectedIds: Set<string>;
  /** What the policy would delete with no cap. */
  candidates: RetentionBackup[];
}

function expected(history: RetentionBackup[], policy: RetentionPolicy, timeZone: string): Expected {
  const protectedIds = new Set<string>();
  const candidates: RetentionBackup[] = [];
  for (const s of new Set(history.map(series))) {
    const all = history.filter((b) => series(b) === s && b.state !== 'deleted');
    // Backups dated after now are kept and count for nothing.
    const keep = new Set(all.filter(isFuture).map((b) => b.id));
    const members = all.filter((b) => !isFuture(b));
    const verified = members.filter(isVerified).sort((a, b) => (newer(a, b) ? -1 : 1));
    if (verified.length === 0) for (const b of members) keep.add(b.id);
    for (const b of verified.slice(0, policy.minVerified)) keep.add(b.id);
    const newest = verified[0];
    for (const b of members) {
      if (newest && newer(b, newest)) keep.add(b.id);
      if (b.state === 'in-progress') keep.add(b.id);
    }
    const completed = members.filter((b) => b.state === 'completed');
    for (const period of ['daily', 'weekly', 'monthly', 'yearly'] as const) {
      const buckets = new Map<string, RetentionBackup>();
      for (const b of completed) {
        const key = label(period, b, timeZone);
        const holder = buckets.get(key);
        if (!holder || newer(b, holder)) buckets.set(key, b);
      }
      const newestLabels = [...buckets.keys()].sort().reverse().slice(0, policy[period]);
      for (const key of newestLabels) keep.add(buckets.get(key)!.id);
    }
    for (const id of keep) protectedIds.add(id);
    candidates.push(...all.filter((b) => !keep.has(b.id)));
  }
  return { protectedIds, candidates };
}

const deletedIds = (decisions: RetentionDecision[]) =>
  new Set(decisions.filter((d) => d.action === 'delete').map((d) => d.backup.id));

// --- properties --------------------------------------------------------------------------------

describe('planRetention properties', () => {
  it('deletes exactly what the policy says: the oldest candidates, up to the cap', () => {
    fc.assert(
      fc.property(caseArb, ({ history, policy, timeZone }) => {
        const decisions = planRetention(history, policy, { now: NOW, timeZone });
        const { candidates, protectedIds } = expected(history, policy, timeZone);
        const oldestFirst = [...candidates].sort((a, b) => (newer(a, b) ? 1 : -1));
        const want = new Set(oldestFirst.slice(0, policy.maxDeletionsPerRun).map((b) => b.id));
        expect(deletedIds(decisions)).toEqual(want);
        for (const d of decisions) if (protectedIds.has(d.backup.id)) expect(d.action).toBe('keep');
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never breaks a guard', () => {
    fc.assert(
      fc.property(caseArb, ({ history, policy, timeZone }) => {
        const decisions = planRetention(history, policy, { now: NOW, timeZone });
        const deleted = decisions.filter((d) => d.action === 'delete').map((d) => d.backup);

        expect(decisions).toHaveLength(history.length);
        expect(decisions.every((d) => d.reasons.length > 0)).toBe(true);
        expect(deleted.length).toBeLessThanOrEqual(policy.maxDeletionsPerRun);
        for (const b of deleted) {
          const peers = history.filter(
            (p) => series(p) === series(b) && p.state !== 'deleted' && !isFuture(p),
          );
          expect(isFuture(b)).toBe(false);
          const verified = peers.filter(isVerified).sort((x, y) => (newer(x, y) ? -1 : 1));
          expect(b.state).not.toBe('in-progress');
          expect(b.state).not.toBe('deleted');
          expect(verified.length).toBeGreaterThan(0); // no verified backup: nothing goes
          expect(verified.slice(0, policy.minVerified).map((v) => v.id)).not.toContain(b.id);
          expect(newer(b, verified[0]!)).toBe(false);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('is idempotent: a second run over what is left deletes only what the cap held back', () => {
    fc.assert(
      fc.property(caseArb, ({ history, policy, timeZone }) => {
        const first = planRetention(history, policy, { now: NOW, timeZone });
        const gone = deletedIds(first);
        const heldByCap = new Set(
          first
            .filter((d) => d.reasons.some((r) => r.startsWith('deletion cap reached')))
            .map((d) => d.backup.id),
        );
        const left = history.filter((b) => !gone.has(b.id));

        const second = deletedIds(planRetention(left, policy, { now: NOW, timeZone }));

        for (const id of second) expect(heldByCap.has(id)).toBe(true);
        if (heldByCap.size === 0) expect(second.size).toBe(0);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('does not depend on the order of its input', () => {
    fc.assert(
      fc.property(
        caseArb.chain((c) =>
          fc.record({
            c: fc.constant(c),
            shuffled: fc.shuffledSubarray(c.history, { minLength: c.history.length }),
          }),
        ),
        ({ c, shuffled }) => {
          const a = planRetention(c.history, c.policy, { now: NOW, timeZone: c.timeZone });
          const b = planRetention(shuffled, c.policy, { now: NOW, timeZone: c.timeZone });
          expect(b).toEqual(a);
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
