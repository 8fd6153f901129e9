import { spawn } from 'node:child_process';
import path from 'node:path';
import {
  type ConnectionInfo,
  connect,
  libpqConnString,
  libpqEnv,
  parseDatabaseUrl,
} from '#core/shared/pg.ts';
import { type InstalledTool, majorOf, toolForServer } from '#core/shared/pgtools.ts';
import { parentOf } from './measure.ts';

/**
 * Bumped whenever the contents the bench generates change, so an older database is not reused
 * under a layout it does not have.
 */
const LAYOUT = 2;

/** Share of the target size that pgbench's tables (with their indexes) take; the rest is random text. */
const PGBENCH_SHARE = 0.4;
/** About how many bytes one pgbench scale unit takes (tables and indexes). */
const PGBENCH_BYTES_PER_SCALE = 15.5 * 1024 * 1024;
/** Rows of random text inserted per statement while growing the database to its size. */
const TEXT_BATCH_ROWS = 500_000;

export const GIB = 1024 ** 3;

/** The server to benchmark against: BENCH_DATABASE_URL names its maintenance database. */
export function adminConnection(): ConnectionInfo {
  return parseDatabaseUrl(process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
}

export function benchDatabaseName(sizeGb: number): string {
  return Number.isInteger(sizeGb)
    ? `lifeboat_bench_${sizeGb}gb`
    : `lifeboat_bench_${Math.round(sizeGb * 1024)}mb`;
}

export function databaseUrl(c: ConnectionInfo): string {
  const password = c.password === undefined ? '' : `:${encodeURIComponent(c.password)}`;
  return `postgres://${encodeURIComponent(c.user)}${password}@${c.host}:${c.port}/${encodeURIComponent(c.database)}`;
}

export interface BenchDatabase {
  readonly connection: ConnectionInfo;
  readonly url: string;
  readonly sizeGb: number;
  /** pg_database_size now. */
  readonly bytes: number;
  readonly reused: boolean;
  readonly serverMajor: number;
  /** The pg_dump lifeboat picks for this server (the same rule: toolForServer). */
  readonly pgDump: InstalledTool;
  readonly pgRestore: InstalledTool;
}

/**
 * The benchmark database of `sizeGb` GiB: reused when it exists with a bench_meta row of the same
 * size and layout (a database whose creation was interrupted has none), created otherwise.
 * Contents: pgbench tables (about 40 %) and `bench_text` with md5-based random text, so the dump
 * does not compress absurdly well.
 */
export async function ensureBenchDatabase(
  sizeGb: number,
  options: { fresh?: boolean; log?: (line: string) => void } = {},
): Promise<BenchDatabase> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const admin = adminConnection();
  const name = benchDatabaseName(sizeGb);
  const connection: ConnectionInfo = { ...admin, database: name };

  const client = await connect(admin);
  let serverMajor: number;
  let exists: boolean;
  try {
    serverMajor = majorOf(
      Number(
        (await client.query<{ n: string }>(`SELECT current_setting('server_version_num') AS n`)).rows[0]!.n,
      ),
    );
    exists = (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount !== 0;
  } finally {
    await client.end();
  }
  const pgDump = await toolForServer('pg_dump', serverMajor);
  const pgRestore = await toolForServer('pg_restore', serverMajor);

  let reused = false;
  if (exists && !options.fresh && (await hasMarker(connection, sizeGb))) {
    reused = true;
  } else {
    const started = performance.now();
    log(`creating ${name} (${sizeGb} GiB)${exists ? ', replacing the existing one' : ''} …`);
    await recreate(admin, name);
    await populate(connection, sizeGb, pgDump, log);
    log(`created ${name} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  const bytes = await databaseSize(connection);
  return {
    connection,
    url: databaseUrl(connection),
    sizeGb,
    bytes,
    reused,
    serverMajor,
    pgDump,
    pgRestore,
  };
}

async function hasMarker(connection: ConnectionInfo, sizeGb: number): Promise<boolean> {
  const client = await connect(connection);
  try {
    const table = await client.query(`SELECT to_regclass('public.bench_meta') AS t`);
    if (table.rows[0]?.t === null) return false;
    const meta = await client.query('SELECT 1 FROM bench_meta WHERE size_gb = $1 AND layout = $2', [
      sizeGb,
      LAYOUT,
    ]);
    return meta.rowCount !== 0;
  } finally {
    await client.end();
  }
}

async function recreate(admin: ConnectionInfo, name: string): Promise<void> {
  const client = await connect(admin);
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

export async function databaseSize(connection: ConnectionInfo): Promise<number> {
  const client = await connect(connection);
  try {
    return Number(
      (await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n,
    );
  } finally {
    await client.end();
  }
}

async function populate(
  connection: ConnectionInfo,
  sizeGb: number,
  pgDump: InstalledTool,
  log: (line: string) => void,
): Promise<void> {
  const target = sizeGb * GIB;
  const scale = Math.max(1, Math.round((target * PGBENCH_SHARE) / PGBENCH_BYTES_PER_SCALE));
  // pgbench of the same installation as the pg_dump lifeboat picks; server-side data generation.
  const pgbench = path.join(path.dirname(pgDump.path), 'pgbench');
  log(`  pgbench -i -s ${scale} …`);
  await runQuiet(pgbench, ['-i', '-s', String(scale), '-I', 'dtGvp', '-q', libpqConnString(connection)], {
    env: libpqEnv(connection),
  });

  const client = await connect(connection);
  try {
    await client.query(`CREATE TABLE bench_text (
      id bigint NOT NULL,
      label text NOT NULL,
      payload text NOT NULL,
      created_at timestamptz NOT NULL
    )`);
    let next = 1;
    for (;;) {
      const size = Number(
        (await client.query<{ n: string }>('SELECT pg_database_size(current_database()) AS n')).rows[0]!.n,
      );
      // The primary key added below brings the database over the target.
      if (size >= target * 0.97) break;
      log(`  bench_text: ${(size / GIB).toFixed(2)} of ${sizeGb} GiB …`);
      // Six md5 values of random numbers per row: hex text that zlib only halves.
      await client.query(
        `INSERT INTO bench_text
         SELECT g, 'row-' || g || '-' || md5(random()::text),
                md5(random()::text) || md5(random()::text) || md5(random()::text) ||
                md5(random()::text) || md5(random()::text) || md5(random()::text),
                now() - random() * interval '365 days'
         FROM generate_series($1::bigint, $2::bigint) AS g`,
        [next, next + TEXT_BATCH_ROWS - 1],
      );
      next += TEXT_BATCH_ROWS;
    }
    log('  bench_text: primary key, vacuum …');
    await client.query('ALTER TABLE bench_text ADD PRIMARY KEY (id)');
    await client.query('CREATE INDEX bench_text_created_at ON bench_text (created_at)');
    // Sets hint bits now, so the first timed dump does not write the whole table back.
    await client.query('VACUUM (FREEZE, ANALYZE) bench_text');
    await client.query(`CREATE TABLE bench_meta (
      size_gb numeric NOT NULL,
      layout int NOT NULL,
      pgbench_scale int NOT NULL,
      text_rows bigint NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await client.query(
      'INSERT INTO bench_meta (size_gb, layout, pgbench_scale, text_rows) VALUES ($1, $2, $3, $4)',
      [sizeGb, LAYOUT, scale, next - 1],
    );
    await client.query('CHECKPOINT').catch(() => undefined);
  } finally {
    await client.end();
  }
}

/** Reads every table once, so the first timed run does not pay for a cold page cache alone. */
/**
 * The PostgreSQL server's postmaster (the parent of every backend), when it runs on this machine:
 * the benchmarks count its backends' CPU. Null when it cannot be found here.
 */
export async function postmasterPid(connection: ConnectionInfo): Promise<number | null> {
  const client = await connect(connection);
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return await parentOf(rows[0]!.pid);
  } finally {
    await client.end();
  }
}

/** Names a backend of `database` from its process title (`postgres: [cluster: ]user database host …`). */
export function backendOf(database: string): (argv: string[]) => string | null {
  const title = new RegExp(`^postgres: (?:\\S+: )?\\S+ ${database.replace(/[^\w]/g, '\\$&')} `);
  return (argv) => (argv.length > 0 && title.test(argv.join(' ')) ? 'postgres backend' : null);
}

export async function warmUp(connection: ConnectionInfo): Promise<void> {
  const client = await connect(connection);
  try {
    const tables = await client.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, relname) AS t FROM pg_stat_user_tables`,
    );
    for (const { t } of tables.rows) await client.query(`SELECT count(*) FROM ${t}`);
  } finally {
    await client.end();
  }
}

function runQuiet(file: string, args: string[], options: { env: NodeJS.ProcessEnv }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-8192);
    });
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(file)} exited ${code}: ${stderr.trim()}`)),
    );
  });
}
