/**
 * `npm run bench:parallel [-- --size 1] [--repeat 2] [--level 2]`
 *
 * Where a directory dump (`pg_dump -Fd -j N`, each file compressed beside pg_dump) wins over the
 * single stream (`pg_dump -Fc -Z0 | zstd -T<cores>`), from per-table timings on the bench database:
 *
 * 1. Each table of at least 1 MiB is dumped alone (`pg_dump -Fc -Z0 -t`), `--repeat` times, best
 *    kept: its wall-clock seconds, pg_dump's CPU and its server backend's CPU (read from /proc,
 *    the server is local), then its uncompressed dump compressed by `zstd -T1` (CPU seconds of one
 *    thread).
 * 2. A model gives both forms' time on V vCPUs (below), checked against this machine: the same
 *    model for its own cores next to the single stream and a directory dump measured here.
 * 3. The model's figures for a 4- and 8-vCPU task.
 *
 * The model: pg_dump reads one table at a time per worker, and a table's read cannot go faster than
 * it did alone; every second of CPU (server backend, pg_dump, zstd) needs a vCPU.
 * - single stream on V vCPUs: max(Σ read_i, Σ cpu_i / V)
 * - directory dump with N workers: a table's file is compressed after it is written, so a worker's
 *   item takes read_i + zstd_i / max(1, V / min(N, tables)); the items are scheduled longest first over N
 *   workers (pg_dump orders them by size); the time is max(that schedule, Σ cpu_i / V), plus the
 *   last file's store.
 * Prints figures; asserts none.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { DEFAULT_COMPRESSION } from '#core/dumps/compression.ts';
import { libpqConnString, libpqEnv } from '#core/shared/pg.ts';
import { type BenchDatabase, ensureBenchDatabase, warmUp } from './lib/db.ts';
import { gib, measure, mib, option, table } from './lib/measure.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CORES = availableParallelism();
const CLOCK_TICKS = 100;

interface TableTiming {
  readonly name: string;
  readonly bytes: number;
  /** Wall-clock seconds of the table's dump alone (`pg_dump -Fc -Z0 -t`). */
  readonly read: number;
  /** CPU seconds of pg_dump and of its server backend during that dump. */
  readonly dumpCpu: number;
  readonly backendCpu: number;
  /** CPU seconds `zstd -T1 -<level>` takes over the table's uncompressed dump. */
  readonly zstd: number;
}

/** Runs a command under GNU time: wall-clock and CPU (user + system) seconds. */
function timed(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ wall: number; cpu: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn('/usr/bin/time', ['-f', 'CPU %U %S', file, ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const wall = (performance.now() - started) / 1000;
      const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
      if (code !== 0 || !m) return reject(new Error(`${file} ${args.join(' ')} failed: ${err.slice(-500)}`));
      resolve({ wall, cpu: Number(m[1]) + Number(m[2]) });
    });
  });
}

/** utime + stime of a process in seconds, or null once it has gone. */
async function processCpu(pid: number): Promise<number | null> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (!text) return null;
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/**
 * The CPU seconds the server backend named `app` used while `run` ran: found through
 * pg_stat_activity, read from /proc every 20 ms until it exits (local server only).
 */
async function backendCpuDuring<T>(admin: pg.Client, app: string, run: Promise<T>): Promise<[T, number]> {
  let done = false;
  let pid: number | undefined;
  let last = 0;
  const watch = (async () => {
    while (!done) {
      if (pid === undefined) {
        const r = await admin.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE application_name = $1',
          [app],
        );
        pid = r.rows[0]?.pid;
      } else {
        const cpu = await processCpu(pid);
        if (cpu !== null) last = cpu;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const result = await run.finally(() => {
    done = true;
  });
  await watch;
  return [result, last];
}

async function timeTables(
  db: BenchDatabase,
  repeat: number,
  level: number,
  work: string,
): Promise<TableTiming[]> {
  const admin = new pg.Client({ ...db.connection });
  await admin.connect();
  try {
    const tables = await admin.query<{ name: string; bytes: string }>(
      `SELECT format('%I.%I', n.nspname, c.relname) AS name, pg_table_size(c.oid)::text AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND pg_table_size(c.oid) >= 1048576
        ORDER BY pg_table_size(c.oid) DESC`,
    );
    const out: TableTiming[] = [];
    for (const t of tables.rows) {
      let best: TableTiming | undefined;
      for (let i = 0; i < repeat; i++) {
        const file = path.join(work, 'table.dump');
        const app = `lifeboat-bench-${process.pid}-${i}`;
        const env = { ...libpqEnv(db.connection), PGAPPNAME: app };
        const [dump, backendCpu] = await backendCpuDuring(
          admin,
          app,
          timed(
            db.pgDump.path,
            [
              '--format=custom',
              '--compress=0',
              `--table=${t.name}`,
              `--file=${file}`,
              '--no-password',
              `--dbname=${libpqConnString(db.connection)}`,
            ],
            env,
          ),
        );
        const zstd = await timed(
          'zstd',
          ['-q', '-f', `-${level}`, '-T1', file, '-o', '/dev/null'],
          process.env,
        );
        const timing: TableTiming = {
          name: t.name,
          bytes: (await stat(file)).size,
          read: dump.wall,
          dumpCpu: dump.cpu,
          backendCpu,
          zstd: zstd.cpu,
        };
        if (!best || timing.read < best.read) best = timing;
        await rm(file, { force: true });
      }
      out.push(best!);
      process.stderr.write(
        `  ${t.name}: read ${best!.read.toFixed(2)} s, pg_dump ${best!.dumpCpu.toFixed(2)} + backend ${best!.backendCpu.toFixed(2)} CPU s, zstd -${level} ${best!.zstd.toFixed(2)} CPU s\n`,
      );
    }
    return out;
  } finally {
    await admin.end();
  }
}

const cpuOf = (t: TableTiming) => t.dumpCpu + t.backendCpu + t.zstd;

/** The single stream's time on `v` vCPUs. */
export function singleStream(tables: readonly TableTiming[], v: number): number {
  const read = tables.reduce((s, t) => s + t.read, 0);
  const cpu = tables.reduce((s, t) => s + cpuOf(t), 0);
  return Math.max(read, cpu / v);
}

/** A directory dump's time with `n` workers on `v` vCPUs (longest item first). */
export function directoryDump(tables: readonly TableTiming[], v: number, n: number): number {
  // zstd runs with -T<vCPUs> on each file: the vCPUs are shared by the files in flight.
  const threads = Math.max(1, v / Math.min(n, tables.length));
  const items = tables.map((t) => t.read + t.zstd / threads).sort((a, b) => b - a);
  const workers: number[] = new Array<number>(n).fill(0);
  for (const item of items) {
    const i = workers.indexOf(Math.min(...workers));
    workers[i]! += item;
  }
  const cpu = tables.reduce((s, t) => s + cpuOf(t), 0);
  return Math.max(Math.max(...workers), cpu / v);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const size = Number(option(argv, 'size') ?? '1');
  const repeat = Number(option(argv, 'repeat') ?? '2');
  const level = Number(option(argv, 'level') ?? String(DEFAULT_COMPRESSION.level));
  const db = await ensureBenchDatabase(size, { fresh: false });
  process.stderr.write(
    `${db.connection.database}: ${gib(db.bytes)}, ${db.pgDump.path} ${db.pgDump.version}\n`,
  );
  await warmUp(db.connection);
  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-parallel-'));
  const loads: number[] = [];
  const sample = setInterval(() => loads.push(loadavg()[0]!), 1000);
  try {
    process.stderr.write(`per table (alone, best of ${repeat}):\n`);
    const tables = await timeTables(db, repeat, level, work);

    // What this machine does, next to what the model says of it.
    const file = path.join(work, 'single.dump.zst');
    const singleRuns: number[] = [];
    const dirRuns: number[] = [];
    const lifeboatRuns: number[] = [];
    for (let i = 0; i < repeat; i++) {
      const single = await measure('bash', [
        '-o',
        'pipefail',
        '-c',
        `"$0" --format=custom --compress=0 --no-password "$1" | zstd -q -${level} -T${CORES} > "$2"`,
        db.pgDump.path,
        `--dbname=${libpqConnString(db.connection)}`,
        file,
      ]);
      if (single.code !== 0) throw new Error(`single stream failed: ${single.stderr}`);
      singleRuns.push(single.seconds);
      await rm(file, { force: true });
      const lifeboat = (repo: string, args: string[]) =>
        measure(
          process.execPath,
          [
            path.join(ROOT, 'bin', 'lifeboat.mjs'),
            'backup',
            '--database-url',
            db.url,
            '--repo',
            `file://${repo}`,
            '--compression',
            `zstd:${level}`,
            ...args,
          ],
          { env: { ...process.env, ...libpqEnv(db.connection) } },
        );
      const streamed = await lifeboat(path.join(work, `stream-${i}`), []);
      if (streamed.code !== 0) throw new Error(`lifeboat backup failed: ${streamed.stderr}`);
      lifeboatRuns.push(streamed.seconds);
      await rm(path.join(work, `stream-${i}`), { recursive: true, force: true });
      const repo = path.join(work, `repo-${i}`);
      const dir = await lifeboat(repo, ['--jobs', String(CORES)]);
      if (dir.code !== 0) throw new Error(`lifeboat backup --jobs ${CORES} failed: ${dir.stderr}`);
      dirRuns.push(dir.seconds);
      await rm(repo, { recursive: true, force: true });
    }
    const best = (xs: number[]) => Math.min(...xs);

    const rows = tables.map((t) => [
      t.name,
      mib(t.bytes),
      t.read.toFixed(2),
      t.dumpCpu.toFixed(2),
      t.backendCpu.toFixed(2),
      t.zstd.toFixed(2),
    ]);
    process.stdout.write(
      `\nper table, dumped alone (best of ${repeat}); zstd -${level} -T1 CPU seconds of its uncompressed dump\n\n`,
    );
    process.stdout.write(
      table(['TABLE', 'DUMP -Z0', 'READ S', 'PG_DUMP CPU S', 'BACKEND CPU S', `ZSTD -${level} CPU S`], rows) +
        '\n',
    );

    const model: string[][] = [];
    for (const v of [CORES, 4, 8]) {
      const single = singleStream(tables, v);
      for (const n of [2, 4].filter((x) => x <= v)) {
        const d = directoryDump(tables, v, n);
        const measured =
          v === CORES && n === CORES
            ? `${best(singleRuns).toFixed(1)} / ${best(lifeboatRuns).toFixed(1)} / ${best(dirRuns).toFixed(1)}`
            : '—';
        model.push([
          `${v} vCPU${v === CORES ? ' (this machine)' : ''}`,
          `-j ${n}`,
          single.toFixed(1),
          d.toFixed(1),
          (single / d).toFixed(2),
          measured,
        ]);
      }
    }
    process.stdout.write(
      `\nmodel (bench/parallel.ts): single stream pg_dump -Fc -Z0 | zstd -T<V> -${level} vs pg_dump -Fd -j N with each file compressed beside it; load average ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}\n\n`,
    );
    process.stdout.write(
      table(
        [
          'TASK',
          'WORKERS',
          'SINGLE S',
          'DIRECTORY S',
          'SINGLE / DIRECTORY',
          `MEASURED HERE, BEST OF ${repeat} (BARE STREAM / LIFEBOAT STREAM / LIFEBOAT -Fd -j ${CORES})`,
        ],
        model,
      ) + '\n',
    );
  } finally {
    clearInterval(sample);
    await rm(work, { recursive: true, force: true });
  }
}

await main();
