import { describe, expect, it } from 'vitest';
import { estimateRpo, type Heartbeat, heartbeatStateKey } from '#core/failover/heartbeat.ts';

const beat = (seq: number, writtenAt: string, xactCommit: number, rowsChanged: number): Heartbeat => ({
  writer: 'dr-canary',
  seq,
  writtenAt,
  walLsn: '0/1000000',
  xactCommit,
  rowsChanged,
});

describe('estimateRpo', () => {
  const now = new Date('2026-12-01T10:05:00Z');

  it('a replica that replayed the last acknowledged heartbeat is 0 s behind, with the unobserved tail said', () => {
    // Prepare
    const last = beat(7, '2026-12-01T10:04:00Z', 1000, 5000);
    // Act
    const est = estimateRpo(last, last, now);
    // Assess
    expect(est).toMatchObject({ known: true, rpoSeconds: 0, transactionsAtRisk: 0, rowsAtRisk: 0 });
    expect(est.unobservedSeconds).toBe(60);
    expect(est.summary).toContain('replayed the last acknowledged heartbeat');
    expect(est.summary).toContain('60 s since the last acknowledged heartbeat');
  });

  it('counts seconds, transactions and rows between the replayed and the last acknowledged heartbeat, minus the heartbeats themselves', () => {
    const replayed = beat(5, '2026-12-01T10:02:00Z', 1000, 5000);
    const last = beat(7, '2026-12-01T10:04:00Z', 1302, 5902);
    const est = estimateRpo(last, replayed, now);
    expect(est).toMatchObject({ known: true, rpoSeconds: 120, transactionsAtRisk: 300, rowsAtRisk: 900 });
    expect(est.summary).toContain('2 heartbeat(s) and 120.0 s behind');
    expect(est.summary).toContain('about 300 transactions and 900 rows at risk');
  });

  it('a counter reset (restarted primary) gives no row count, never a negative one', () => {
    const replayed = beat(5, '2026-12-01T10:02:00Z', 1000, 5000);
    const last = beat(6, '2026-12-01T10:03:00Z', 10, 40);
    const est = estimateRpo(last, replayed, now);
    expect(est.known).toBe(true);
    expect(est.rpoSeconds).toBe(60);
    expect(est.transactionsAtRisk).toBeNull();
    expect(est.rowsAtRisk).toBeNull();
  });

  it('is unknown, and says why, when either heartbeat is missing', () => {
    const last = beat(6, '2026-12-01T10:03:00Z', 10, 40);
    expect(estimateRpo(null, last, now)).toMatchObject({
      known: false,
      rpoSeconds: null,
      summary: expect.stringContaining('no acknowledged heartbeat'),
    });
    expect(estimateRpo(last, null, now)).toMatchObject({
      known: false,
      unobservedSeconds: 120,
      summary: expect.stringContaining('replayed no heartbeat'),
    });
  });

  it('keys the canary state per database', () => {
    expect(heartbeatStateKey('orders')).toBe('heartbeat#orders');
  });
});
