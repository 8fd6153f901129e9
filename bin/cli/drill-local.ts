import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { EphemeralCluster } from '#core/verify/ephemeral.ts';
import { type ConnectionInfo, clientConfig, connect } from '#core/shared/pg.ts';

/**
 * The drill's local world: the endpoint record applications connect through, the application that
 * writes through it, the delay line between primary and standby, and killing a cluster as a lost
 * region would.
 */

export const DATABASE = 'drill';

/** Where applications connect: the local stand-in for the Route 53 record the workflow switches. */
export class EndpointRecord {
  constructor(public target: { host: string; port: number }) {}
}

/**
 * An application writing a row every few milliseconds through the endpoint record, reconnecting
 * when its connection breaks. It remembers which rows the database acknowledged, by a payload no
 * other row has (ids are not enough: a promoted standby may hand out again ids the lost primary
 * had used), and when.
 */
export class Writer {
  readonly acked: Array<{ readonly payload: string; readonly at: number }> = [];
  private stopped = false;
  private lastOk = 0;
  private counter = 0;
  longestGapMs = 0;
  failuresSinceOk = 0;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly endpoint: EndpointRecord,
    private readonly intervalMs = 5,
  ) {}

  start(): void {
    this.lastOk = performance.now();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let client: pg.Client | null = null;
    while (!this.stopped) {
      try {
        if (!client) {
          const { host, port } = this.endpoint.target;
          client = new pg.Client({
            ...clientConfig({ host, port, user: 'postgres', database: DATABASE }),
            connectionTimeoutMillis: 1000,
          });
          client.on('error', () => undefined);
          await client.connect();
        }
        const payload = `w${++this.counter} ${new Date().toISOString()}`;
        await client.query('INSERT INTO app.writes (payload) VALUES ($1)', [payload]);
        const now = performance.now();
        this.acked.push({ payload, at: Date.now() });
        this.longestGapMs = Math.max(this.longestGapMs, now - this.lastOk);
        this.lastOk = now;
        this.failuresSinceOk = 0;
      } catch {
        this.failuresSinceOk++;
        await client?.end().catch(() => undefined);
        client = null;
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
    await client?.end().catch(() => undefined);
  }

  /** Resolves once `n` more rows have been acknowledged (or rejects after `timeoutMs`). */
  async waitForMore(n: number, timeoutMs: number): Promise<void> {
    const target = this.acked.length + n;
    const deadline = performance.now() + timeoutMs;
    while (this.acked.length < target) {
      if (performance.now() > deadline) throw new Error(`the writer committed no rows for ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * The link between the primary and the standby, `lagMs` long: every byte of WAL reaches the standby
 * that much later (a cross-region link under load). When the primary dies, what is still on the
 * link never arrives. The standby's replies go back at once.
 */
export class DelayLine {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly pending = new Set<NodeJS.Timeout>();
  port = 0;

  constructor(
    private readonly upstreamPort: number,
    private readonly lagMs: number,
  ) {
    this.server = net.createServer((down) => {
      const up = net.connect(this.upstreamPort, '127.0.0.1');
      this.sockets.add(down).add(up);
      const cut = () => {
        // What is on the link when either end goes is lost with it.
        for (const t of this.pending) clearTimeout(t);
        this.pending.clear();
        down.destroy();
        up.destroy();
      };
      up.on('data', (chunk) => {
        const t = setTimeout(() => {
          this.pending.delete(t);
          if (!down.destroyed) down.write(chunk);
        }, this.lagMs);
        this.pending.add(t);
      });
      down.on('data', (chunk) => {
        if (!up.destroyed) up.write(chunk);
      });
      for (const socket of [up, down]) {
        socket.on('error', cut);
        socket.on('close', cut);
      }
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  async close(): Promise<void> {
    for (const t of this.pending) clearTimeout(t);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * Kills every process of a cluster at once with SIGKILL, as a host or region that vanishes would:
 * no shutdown checkpoint, no fence, nothing flushed to the standby. The postmaster leads its own
 * process group (pg_ctl starts it with setsid), so one signal reaches every backend and the WAL sender.
 */
export async function killCluster(cluster: EphemeralCluster): Promise<number> {
  const pid = Number((await readFile(path.join(cluster.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no postmaster pid in ${cluster.dataDir}`);
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    process.kill(pid, 'SIGKILL');
  }
  return pid;
}

export async function sql<T extends pg.QueryResultRow>(
  conn: ConnectionInfo,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = await connect(conn);
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A small database with the shapes that trip tools up: quoted names, a foreign key, RLS, a function. */
export const SAMPLE_SCHEMA = `
  CREATE ROLE drill_app NOLOGIN;
  CREATE SCHEMA app;
  CREATE SCHEMA "Billing Dept";
  CREATE TABLE app.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, tags text[], meta jsonb);
  CREATE TABLE "Billing Dept"."Invoice Lines" (
    id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES app.customers (id),
    amount numeric(12, 2) NOT NULL CHECK (amount >= 0), note text);
  CREATE INDEX ON "Billing Dept"."Invoice Lines" (customer_id);
  CREATE TABLE app.writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), payload text);
  CREATE FUNCTION app.balance(p bigint) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT coalesce(sum(amount), 0) FROM "Billing Dept"."Invoice Lines" WHERE customer_id = p $$;
  ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;
  CREATE POLICY own_rows ON app.customers TO drill_app USING (name = current_user);
`;
