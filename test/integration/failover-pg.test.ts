import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EphemeralCluster } from '#core/verify/ephemeral.ts';
import { ReplicaNotCaughtUp, WriteVerificationFailed } from '#core/failover/failover.ts';
import {
  catchUp,
  estimateDataLoss,
  fencedPrimaryLsn,
  replayLsn,
  verifyWrite,
} from '#core/failover/failover-pg.ts';
import { writeHeartbeat } from '#core/failover/heartbeat.ts';
import { type ConnectionInfo, connect } from '#core/shared/pg.ts';

/**
 * The failover's SQL on real servers: a primary and a streaming standby whose replay is delayed
 * (recovery_min_apply_delay), so "behind" is real.
 */

async function sql<T extends object>(
  conn: ConnectionInfo,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = await connect(conn);
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('failover SQL on a primary and a delayed standby', () => {
  let primary: EphemeralCluster;
  let standby: EphemeralCluster;
  beforeAll(async () => {
    primary = await EphemeralCluster.start();
    await sql(primary.connection(), 'CREATE DATABASE app');
    await sql(primary.connection('app'), 'CREATE TABLE rows (id serial PRIMARY KEY, v text)');
    standby = await EphemeralCluster.standbyOf(primary, { settings: { recovery_min_apply_delay: '1500ms' } });
  }, 60_000);
  afterAll(async () => {
    await standby?.stop();
    await primary?.stop();
  });

  it('estimates the rows at risk from the heartbeat the standby replayed', async () => {
    const primaryApp = await connect(primary.connection('app'));
    let acknowledged;
    try {
      await writeHeartbeat(primaryApp, 'dr-canary');
      // Let the standby replay the first heartbeat, then write behind its delay.
      await new Promise((r) => setTimeout(r, 2500));
      await primaryApp.query("INSERT INTO rows (v) SELECT 'r' || g FROM generate_series(1, 200) g");
      acknowledged = await writeHeartbeat(primaryApp, 'dr-canary');
    } finally {
      await primaryApp.end();
    }
    const item = { Item: { heartbeat: { S: JSON.stringify(acknowledged) } } };

    const estimate = await estimateDataLoss(standby.connection('app'), item, new Date());

    expect(estimate.known).toBe(true);
    expect(estimate.summary).toContain('1 heartbeat(s)');
    expect(estimate.rowsAtRisk).toBeGreaterThanOrEqual(200);
    expect(estimate.lastReplayedHeartbeat).not.toBeNull();
    expect(Date.parse(estimate.lastReplayedHeartbeat!)).toBeLessThan(Date.parse(acknowledged.writtenAt));
  }, 30_000);

  it('planned catch-up: refuses when the standby is still behind at the end of the bounded wait', async () => {
    await sql(primary.connection('app'), "INSERT INTO rows (v) VALUES ('late')");

    await expect(
      catchUp(
        () => fencedPrimaryLsn(primary.connection()),
        () => replayLsn(standby.connection()),
        { timeoutMs: 300, intervalMs: 50 },
      ),
    ).rejects.toThrow(ReplicaNotCaughtUp);
  }, 30_000);

  it('planned catch-up: fences (ends sessions), waits for the standby, and then no committed row is missing', async () => {
    // A session that would keep writing: the fence's own LSN read ends it first.
    const writer = await connect(primary.connection('app'));
    writer.on('error', () => undefined);
    await writer.query("INSERT INTO rows (v) SELECT 'w' || g FROM generate_series(1, 500) g");
    await sql(primary.connection(), 'ALTER SYSTEM SET default_transaction_read_only = on');
    await sql(primary.connection(), 'SELECT pg_reload_conf()');

    const result = await catchUp(
      () => fencedPrimaryLsn(primary.connection()),
      () => replayLsn(standby.connection()),
      { timeoutMs: 20_000, intervalMs: 100 },
    );

    expect(result.caughtUp).toBe(true);
    expect(result.waitedMs).toBeGreaterThan(0);
    await expect(writer.query('SELECT 1')).rejects.toThrow();
    const [onPrimary] = await sql<{ n: string }>(primary.connection('app'), 'SELECT count(*) AS n FROM rows');
    const [onStandby] = await sql<{ n: string }>(standby.connection('app'), 'SELECT count(*) AS n FROM rows');
    expect(onStandby!.n).toBe(onPrimary!.n);

    // Still a standby: the write check refuses it before the promotion, accepts it after.
    await expect(verifyWrite(standby.connection('app'), 'exec-1')).rejects.toThrow(WriteVerificationFailed);
    await sql(standby.connection(), 'SELECT pg_promote(true, 30)');
    const verified = await verifyWrite(standby.connection('app'), 'exec-1');
    expect(verified).toMatchObject({
      ok: true,
      status: 'verified',
      detail: expect.stringMatching(/^committed transaction \d+/),
    });
    expect(await replayLsn(standby.connection())).toBeNull();
  }, 60_000);
});
