import { execFileSync } from 'node:child_process';
import pg from 'pg';

/** The machine's local PostgreSQL (trust auth). Overridable for other setups. */
export const ADMIN_URL = process.env.LIFEBOAT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Creates an empty database with a unique name; returns its name. */
export async function createDatabase(prefix: string): Promise<string> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${quote(name)}`));
  return name;
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${quote(name)} WITH (FORCE)`));
}

export async function query<T extends pg.QueryResultRow = pg.QueryResultRow>(
  database: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl(database) });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** Starts the machine's PostgreSQL cluster if it is not accepting connections. */
export function ensureLocalPostgres(): void {
  try {
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-t', '3'], { stdio: 'ignore' });
  } catch {
    execFileSync(
      'sh',
      [
        '-c',
        'pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start',
      ],
      {
        stdio: 'inherit',
      },
    );
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-t', '30'], { stdio: 'inherit' });
  }
}
