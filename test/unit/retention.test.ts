import { describe, expect, it } from 'vitest';
import { InvalidArgument } from '../../functions/core/shared/errors.ts';
import {
  isoWeek,
  LocalCalendar,
  planRetention,
  REASON,
  type RetentionBackup,
  type RetentionDecision,
  type RetentionPolicy,
} from '../../functions/core/retention/retention.ts';

const policy: RetentionPolicy = {
  daily: 7,
  weekly: 4,
  monthly: 3,
  yearly: 1,
  minVerified: 2,
  maxDeletionsPerRun: 500,
};
const now = new Date('2026-11-23T12:00:00Z');

function snap(id: string, takenAt: string, extra: Partial<RetentionBackup> = {}): RetentionBackup {
  return {
    id,
    kind: 'snapshot',
    region: 'eu-west-1',
    takenAt,
    state: 'completed',
    verified: false,
    verifiedAt: null,
    ...extra,
  };
}

/** One snapshot a day at 03:00 UTC for `days` days up to 2026-11-23; every third one verified. */
function dailyHistory(days: number): RetentionBackup[] {
  return Array.from({ length: days }, (_, i) => {
    const at = new Date(Date.UTC(2026, 10, 23 - i, 3, 0));
    const day = at.toISOString().slice(0, 10);
    return snap(`d${day}`, at.toISOString(), {
      verified: i % 3 === 0,
      verifiedAt: i % 3 === 0 ? at.toISOString() : null,
    });
  });
}

const byId = (decisions: RetentionDecision[]) => new Map(decisions.map((d) => [d.backup.id, d]));

describe('planRetention: slots', () => {
  it('keeps the newest 7 days, 4 ISO weeks, 3 months and 1 year of a 120-day daily history', () => {
    // Prepare
    const history = dailyHistory(120);

    // Act
    const decisions = byId(planRetention(history, policy, { now, timeZone: 'UTC' }));

    // Assess
    const kept = [...decisions.values()].filter((d) => d.action === 'keep').map((d) => d.backup.id);
    expect(kept.sort()).toEqual(
      [
        // daily: 2026-11-17 … 2026-11-23
        'd2026-11-17',
        'd2026-11-18',
        'd2026-11-19',
        'd2026-11-20',
        'd2026-11-21',
        'd2026-11-22',
        'd2026-11-23',
        // weekly: W48 (from Mon 23rd) → 23rd, W47 → Sun 22nd (both daily already), W46 → 15th, W45 → 8th
        'd2026-11-15',
        'd2026-11-08',
        // monthly: November is the 23rd; October → 31st; September → 30th
        'd2026-10-31',
        'd2026-09-30',
      ].sort(),
    );
    expect(decisions.get('d2026-11-23')?.reasons).toEqual([
      REASON.verifiedGuard(1, 2),
      REASON.slot('daily', '2026-11-23'),
      REASON.slot('weekly', '2026-W48'),
      REASON.slot('monthly', '2026-11'),
      REASON.slot('yearly', '2026'),
    ]);
    expect(decisions.get('d2026-11-20')?.reasons).toEqual([
      REASON.verifiedGuard(2, 2),
      REASON.slot('daily', '2026-11-20'),
    ]);
    expect(decisions.get('d2026-11-16')?.action).toBe('delete');
    expect(decisions.get('d2026-11-16')?.reasons).toEqual([REASON.noSlot]);
  });

  it('puts a backup taken at 23:30 UTC on the next day in Europe/Paris', () => {
    // Prepare: 23:30 UTC on the 20th is 00:30 on the 21st in Paris (UTC+1 in November)
    const late = snap('late', '2026-11-20T23:30:00Z', { verified: true });
    const early = snap('early', '2026-11-21T10:00:00Z', { verified: true });
    const oneDay = { ...policy, daily: 1, weekly: 0, monthly: 0, yearly: 0, minVerified: 1 };

    // Act
    const utc = byId(planRetention([late, early], oneDay, { now, timeZone: 'UTC' }));
    const paris = byId(planRetention([late, early], oneDay, { now, timeZone: 'Europe/Paris' }));

    // Assess: in UTC they are two days (only the newest day's slot, 21st, is held: `late` goes);
    // in Paris both are on the 21st and `early` is that day's newest.
    expect(utc.get('late')?.action).toBe('delete');
    expect(paris.get('late')?.action).toBe('delete');
    expect(paris.get('early')?.reasons).toContain(REASON.slot('daily', '2026-11-21'));

    const twoDays = { ...oneDay, daily: 2 };
    const utc2 = byId(planRetention([late, early], twoDays, { now, timeZone: 'UTC' }));
    const paris2 = byId(planRetention([late, early], twoDays, { now, timeZone: 'Europe/Paris' }));
    expect(utc2.get('late')?.reasons).toEqual([REASON.slot('daily', '2026-11-20')]);
    expect(paris2.get('late')?.action).toBe('delete');
  });

  it('labels ISO weeks across the year boundary (2027-01-01 is in 2026-W53)', () => {
    expect(isoWeek(2027, 1, 1)).toEqual({ year: 2026, week: 53 });
    expect(isoWeek(2026, 1, 1)).toEqual({ year: 2026, week: 1 });
    expect(isoWeek(2024, 12, 30)).toEqual({ year: 2025, week: 1 });
    expect(new LocalCalendar('Asia/Tokyo').bucket('weekly', Date.parse('2026-12-31T20:00:00Z'))).toBe(
      '2026-W53',
    );
  });
});

describe('planRetention: guards', () => {
  it('keeps everything, saying why, when no backup of the series is verified', () => {
    // Prepare
    const history = dailyHistory(30).map((b) => ({ ...b, verified: false, verifiedAt: null }));

    // Act
    const decisions = planRetention(
      history,
      { ...policy, daily: 1, weekly: 0, monthly: 0, yearly: 0 },
      {
        now,
        timeZone: 'UTC',
      },
    );

    // Assess
    expect(decisions.every((d) => d.action === 'keep')).toBe(true);
    expect(
      decisions.every((d) =>
        d.reasons.includes('no verified snapshot in eu-west-1: keeping everything (safety first)'),
      ),
    ).toBe(true);
  });

  it('never deletes anything newer than the newest verified backup, nor anything in progress', () => {
    // Prepare: the newest verified is 10 days old; newer ones are unverified, failed or running
    const history = [
      snap('running', '2026-11-23T03:00:00Z', { state: 'in-progress' }),
      snap('failed-new', '2026-11-22T03:00:00Z', { state: 'failed' }),
      snap('unverified', '2026-11-21T03:00:00Z'),
      snap('verified', '2026-11-13T03:00:00Z', { verified: true }),
      snap('old-failed', '2026-11-01T03:00:00Z', { state: 'failed' }),
      snap('old', '2026-10-01T03:00:00Z'),
    ];
    const none = { daily: 0, weekly: 0, monthly: 0, yearly: 0, minVerified: 1, maxDeletionsPerRun: 100 };

    // Act
    const decisions = byId(planRetention(history, none, { now, timeZone: 'UTC' }));

    // Assess
    expect(decisions.get('running')?.reasons).toEqual([REASON.newerThanVerified, REASON.inProgress]);
    expect(decisions.get('failed-new')?.reasons).toEqual([REASON.newerThanVerified]);
    expect(decisions.get('unverified')?.reasons).toEqual([REASON.newerThanVerified]);
    expect(decisions.get('verified')?.reasons).toEqual([REASON.verifiedGuard(1, 1)]);
    expect(decisions.get('old-failed')).toMatchObject({ action: 'delete', reasons: [REASON.failed] });
    expect(decisions.get('old')).toMatchObject({ action: 'delete', reasons: [REASON.noSlot] });
  });

  it('keeps the newest minVerified verified backups even when no slot holds them', () => {
    // Prepare
    const history = [
      snap('v1', '2026-11-20T03:00:00Z', { verified: true }),
      snap('v2', '2026-11-10T03:00:00Z', { verified: true }),
      snap('v3', '2026-11-01T03:00:00Z', { verified: true }),
      snap('v4', '2026-10-01T03:00:00Z', { verified: true }),
    ];

    // Act
    const decisions = byId(
      planRetention(
        history,
        { daily: 0, weekly: 0, monthly: 0, yearly: 0, minVerified: 3, maxDeletionsPerRun: 9 },
        {
          now,
          timeZone: 'UTC',
        },
      ),
    );

    // Assess
    expect(decisions.get('v3')?.reasons).toEqual([REASON.verifiedGuard(3, 3)]);
    expect(decisions.get('v4')?.action).toBe('delete');
  });

  it('stops at maxDeletionsPerRun, deleting the oldest first and keeping the rest with the cap as reason', () => {
    // Prepare
    const history = dailyHistory(20);

    // Act
    const decisions = planRetention(
      history,
      { ...policy, weekly: 0, monthly: 0, yearly: 0, maxDeletionsPerRun: 5 },
      {
        now,
        timeZone: 'UTC',
      },
    );

    // Assess
    const deleted = decisions.filter((d) => d.action === 'delete').map((d) => d.backup.id);
    expect(deleted.sort()).toEqual([
      'd2026-11-04',
      'd2026-11-05',
      'd2026-11-06',
      'd2026-11-07',
      'd2026-11-08',
    ]);
    const capped = decisions.filter((d) => d.reasons.includes(REASON.cap(5)));
    expect(capped.map((d) => d.backup.id).sort()).toEqual([
      'd2026-11-09',
      'd2026-11-10',
      'd2026-11-11',
      'd2026-11-12',
      'd2026-11-13',
      'd2026-11-14',
      'd2026-11-15',
      'd2026-11-16',
    ]);
  });

  it('applies slots per series: a DR copy and a dump do not share the primary snapshots’ slots', () => {
    // Prepare
    const history = [
      snap('p', '2026-11-22T03:00:00Z', { verified: true }),
      snap('p-old', '2026-11-21T03:00:00Z', { verified: true }),
      snap('c', '2026-11-22T03:00:00Z', { region: 'eu-central-1', verified: true }),
      snap('c-old', '2026-11-21T03:00:00Z', { region: 'eu-central-1', verified: true }),
      snap('dump', '2026-11-22T04:00:00Z', { kind: 'dump', verified: true }),
    ];

    // Act
    const decisions = byId(
      planRetention(
        history,
        { daily: 1, weekly: 0, monthly: 0, yearly: 0, minVerified: 1, maxDeletionsPerRun: 9 },
        {
          now,
          timeZone: 'UTC',
        },
      ),
    );

    // Assess
    expect(decisions.get('c')?.reasons).toEqual([
      REASON.verifiedGuard(1, 1),
      REASON.slot('daily', '2026-11-22'),
    ]);
    expect(decisions.get('c')?.series).toBe('snapshot in eu-central-1');
    expect(decisions.get('dump')?.action).toBe('keep');
    expect(decisions.get('p-old')?.action).toBe('delete');
    expect(decisions.get('c-old')?.action).toBe('delete');
  });
});

describe('planRetention: input checks', () => {
  it('refuses an unknown time zone, a bad policy and a duplicate backup, naming them', () => {
    const one = [snap('a', '2026-11-20T03:00:00Z', { verified: true })];
    expect(() => planRetention(one, policy, { now, timeZone: 'Mars/Olympus' })).toThrow(InvalidArgument);
    expect(() => planRetention(one, policy, { now, timeZone: 'Mars/Olympus' })).toThrow(/Mars\/Olympus/);
    expect(() => planRetention(one, { ...policy, minVerified: 0 }, { now, timeZone: 'UTC' })).toThrow(
      /minVerified/,
    );
    expect(() => planRetention([...one, ...one], policy, { now, timeZone: 'UTC' })).toThrow(/listed twice/);
    expect(() => planRetention([snap('x', 'yesterday')], policy, { now, timeZone: 'UTC' })).toThrow(
      /invalid takenAt/,
    );
  });
});
