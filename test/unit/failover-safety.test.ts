import { describe, expect, it } from 'vitest';
import {
  nextPollWaitSeconds,
  parseLsn,
  pollAttemptsFor,
  promotionAfterError,
  waitForCatchUp,
} from '../../functions/core/failover/promotion.ts';
import { heartbeatFromGetItem } from '../../functions/core/failover/heartbeat.ts';
import { classifyRegionError, isRdsError, isRdsNotFound } from '../../functions/core/snapshots/rds.ts';

function named(name: string, extra: object = {}): Error {
  return Object.assign(new Error(name), { name }, extra);
}

describe('RDS error names with and without Fault', () => {
  it.each(['DBClusterNotFoundFault', 'DBClusterNotFound', 'DBInstanceNotFoundFault', 'DBInstanceNotFound'])(
    '%s is matchable as not found',
    (name) => {
      expect(isRdsNotFound(named(name))).toBe(true);
      expect(classifyRegionError(named(name))).toBe('not-found');
    },
  );

  it('a listed name with Fault matches the SDK error, and the other way round', () => {
    expect(isRdsError(named('DBClusterNotFoundFault'), 'DBClusterNotFoundFault')).toBe(true);
    expect(isRdsError(named('DBClusterNotFound'), 'DBClusterNotFoundFault')).toBe(true);
    expect(isRdsError(named('DBClusterNotFoundFault'), 'DBClusterNotFound')).toBe(true);
    expect(isRdsError(named('DBClusterNotFoundFault'), 'DBInstanceNotFound')).toBe(false);
    expect(isRdsError({}, '')).toBe(false);
  });
});

describe('classifyRegionError: what a degraded region answers', () => {
  it.each([
    ['5xx', named('InternalFailure', { $metadata: { httpStatusCode: 500 } })],
    ['503 without a known name', named('UnknownError', { $metadata: { httpStatusCode: 503 } })],
    ['throttling', named('Throttling')],
    ['ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['socket hang up', new Error('socket hang up')],
    ['timeout', named('TimeoutError')],
    ['InvalidDBInstanceState', named('InvalidDBInstanceStateFault')],
    ['retryable', named('Whatever', { $retryable: {} })],
  ])('%s → degraded', (_label, err) => {
    expect(classifyRegionError(err)).toBe('degraded');
  });

  it.each([
    ['access denied', named('AccessDenied', { $metadata: { httpStatusCode: 403 } })],
    ['invalid parameter', named('InvalidParameterValue', { $metadata: { httpStatusCode: 400 } })],
  ])('%s → refused', (_label, err) => {
    expect(classifyRegionError(err)).toBe('refused');
  });
});

describe('promotionAfterError', () => {
  const replica = { role: 'replica' as const, status: 'available' };

  it('never says not-promoted after an error that may follow an applied attempt', () => {
    for (const Error of [
      'Rds.RdsException',
      'Rds.InvalidDbInstanceStateException',
      'Rds.ThrottlingException',
      'States.Timeout',
      'Rds.SdkClientException',
    ]) {
      expect(promotionAfterError({ Error }, replica).promotion).toBe('unknown');
    }
  });

  it('says promoted when the replica is seen becoming or being a writer', () => {
    expect(
      promotionAfterError({ Error: 'Rds.RdsException' }, { role: 'promoting', status: 'modifying' }),
    ).toMatchObject({
      promotion: 'promoted',
    });
    expect(
      promotionAfterError({ Error: 'Rds.AccessDeniedException' }, { role: 'writer', status: 'available' })
        .promotion,
    ).toBe('promoted');
  });

  it('says not-promoted only for a definite refusal with the replica untouched', () => {
    expect(promotionAfterError({ Error: 'Rds.AccessDeniedException' }, replica).promotion).toBe(
      'not-promoted',
    );
    expect(promotionAfterError({ Error: 'Rds.AccessDeniedException' }, null).promotion).toBe('unknown');
  });
});

describe('writability poll waits', () => {
  it('double from the first wait up to the cap', () => {
    expect([0, 1, 2, 3, 4, 10].map((n) => nextPollWaitSeconds(n))).toEqual([15, 30, 60, 120, 120, 120]);
  });

  it('the bound covers the given time', () => {
    const n = pollAttemptsFor(30 * 60);
    let total = 0;
    for (let i = 0; i < n; i++) total += nextPollWaitSeconds(i);
    expect(n).toBe(18);
    expect(total).toBeGreaterThanOrEqual(1800);
    expect(total - nextPollWaitSeconds(n - 1)).toBeLessThan(1800);
  });
});

describe('waitForCatchUp (planned mode)', () => {
  function clock() {
    let t = 0;
    return { now: () => t, sleep: async (ms: number) => void (t += ms) };
  }

  it('LSNs compare as 64-bit positions', () => {
    expect(parseLsn('1/0') > parseLsn('0/FFFFFFFF')).toBe(true);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(() => parseLsn('nonsense')).toThrow('not a WAL position');
  });

  it("returns once the replica has replayed the fenced primary's last position", async () => {
    const c = clock();
    const replays = ['0/2FFFFF0', '0/3000000', '0/3000060'];
    const result = await waitForCatchUp(
      { ...c, primaryLsn: async () => '0/3000060', replayLsn: async () => replays.shift() ?? '0/3000060' },
      { timeoutMs: 10_000, intervalMs: 1000 },
    );

    expect(result).toMatchObject({
      caughtUp: true,
      primaryLsn: '0/3000060',
      replayLsn: '0/3000060',
      behindBytes: 0,
    });
    expect(result.waitedMs).toBe(2000);
  });

  it('gives up after the bounded wait, saying how far behind', async () => {
    const c = clock();
    const result = await waitForCatchUp(
      { ...c, primaryLsn: async () => '0/3000060', replayLsn: async () => '0/3000000' },
      { timeoutMs: 5000, intervalMs: 1000 },
    );

    expect(result.caughtUp).toBe(false);
    expect(result.behindBytes).toBe(0x60);
    expect(result.waitedMs).toBeLessThanOrEqual(5000);
    expect(result.detail).toContain('96 bytes short');
  });

  it('an unreadable primary position is not caught up (nothing proves it)', async () => {
    const c = clock();
    const result = await waitForCatchUp(
      {
        ...c,
        primaryLsn: async () => {
          throw new Error('connection refused');
        },
        replayLsn: async () => '0/1',
      },
      { timeoutMs: 5000, intervalMs: 1000 },
    );

    expect(result).toMatchObject({ caughtUp: false, primaryLsn: null });
    expect(result.detail).toContain('connection refused');
  });

  it('a replica out of recovery or unreadable until the end is not caught up', async () => {
    const c = clock();
    const result = await waitForCatchUp(
      { ...c, primaryLsn: async () => '0/10', replayLsn: async () => null },
      { timeoutMs: 3000, intervalMs: 1000 },
    );

    expect(result.caughtUp).toBe(false);
    expect(result.detail).toContain('not in recovery');
  });
});

describe('heartbeatFromGetItem', () => {
  const hb = {
    writer: 'dr-canary',
    seq: 41,
    writtenAt: '2026-11-23T09:59:58.000Z',
    walLsn: '0/3000060',
    xactCommit: 1200,
    rowsChanged: 5000,
  };

  it("reads the canary's item from a GetItem result", () => {
    expect(
      heartbeatFromGetItem({
        Item: { lockId: { S: 'heartbeat#orders' }, heartbeat: { S: JSON.stringify(hb) } },
      }),
    ).toEqual(hb);
  });

  it.each([
    [{}],
    [null],
    [{ Item: { heartbeat: { S: '{' } } }],
    [{ Item: { heartbeat: { S: JSON.stringify({ ...hb, seq: 'x' }) } } }],
  ])('is null for %j', (result) => {
    expect(heartbeatFromGetItem(result)).toBeNull();
  });
});
