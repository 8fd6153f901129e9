import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readHeartbeat, writeHeartbeat } from '#core/failover/heartbeat.ts';
import { createDatabase, databaseUrl, dropDatabase } from '../support/postgres.ts';

describe('heartbeat on a real PostgreSQL', () => {
  let name: string;
  let client: pg.Client;
  beforeAll(async () => {
    name = await createDatabase('lifeboat_heartbeat');
    client = new pg.Client({ connectionString: databaseUrl(name) });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    if (name) await dropDatabase(name);
  });

  it('creates its table on first use, then each heartbeat increments seq and carries the primary position', async () => {
    expect(await readHeartbeat(client, 'dr-canary')).toBeNull();
    const first = await writeHeartbeat(client, 'dr-canary');
    await client.query('CREATE TABLE app_rows (id int)');
    await client.query('INSERT INTO app_rows SELECT generate_series(1, 50)');
    const second = await writeHeartbeat(client, 'dr-canary');
    expect(first.seq).toBe(1);
    expect(second.seq).toBe(2);
    expect(Date.parse(second.writtenAt)).toBeGreaterThanOrEqual(Date.parse(first.writtenAt));
    expect(second.walLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(await readHeartbeat(client, 'dr-canary')).toEqual(second);
    // A second writer has its own row.
    expect((await writeHeartbeat(client, 'other')).seq).toBe(1);
  });

  it('is refused where writes are refused (a read-only session), and leaves the last heartbeat as it was', async () => {
    const before = await readHeartbeat(client, 'dr-canary');
    await client.query('SET default_transaction_read_only = on');
    try {
      await expect(writeHeartbeat(client, 'dr-canary')).rejects.toThrow(/read-only/);
    } finally {
      await client.query('SET default_transaction_read_only = off');
    }
    expect(await readHeartbeat(client, 'dr-canary')).toEqual(before);
  });
});
