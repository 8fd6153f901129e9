import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { createDatabase, databaseUrl, withAdmin } from './postgres.ts';

const FIXTURE = new URL('../fixtures/awkward.sql', import.meta.url);

/** The role the fixture's RLS policies name; global to the cluster, so created once. */
export async function ensureAppRole(): Promise<void> {
  await withAdmin(async (c) => {
    await c.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lifeboat_app') THEN CREATE ROLE lifeboat_app NOLOGIN; END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
  });
}

/** Creates a fresh database loaded with test/fixtures/awkward.sql; returns its name. */
export async function createAwkwardDatabase(prefix = 'lb_awkward'): Promise<string> {
  await ensureAppRole();
  const name = await createDatabase(prefix);
  const client = new pg.Client({ connectionString: databaseUrl(name) });
  await client.connect();
  try {
    await client.query(await readFile(FIXTURE, 'utf8'));
  } finally {
    await client.end();
  }
  return name;
}
