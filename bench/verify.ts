/**
 * `npm run bench:verify [-- --size 1] [--repeat 2] [--jobs 2] [--fresh]`
 *
 * Backs the benchmark database up once with lifeboat (file repository), then times in the same
 * run: (a) `lifeboat verify <id> --jobs 2` as a CLI child process and (b) the raw equivalent —
 * an ephemeral cluster with the same settings, createdb, `pg_restore -j2` of the same artifact,
 * and the same catalog queries (captureStatistics in one transaction). Prints figures only.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { CheckResult } from '#core/catalog/catalog.ts';
import type { EphemeralCluster as Cluster } from '#core/verify/ephemeral.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { connect, libpqConnString, libpqEnv } from '#core/shared/pg.ts';
import { type BenchDatabase, ensureBenchDatabase } from './lib/db.ts';
import { flag, gib, measure, mib, option, summarize, table } from './lib/measure.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RATIO_GOAL = 1.2;

interface LifeboatRun {
  readonly seconds: number;
  readonly passed: boolean;
  readonly restoreMs: number | null;
  readonly totalMs: number;
  readonly checks: CheckResult[];
  readonly rss: number | null;
}

interface RawRun {
  readonly seconds: number;
  /** Cluster start and decompression, side by side. */
  readonly startMs: number;
  readonly decompressMs: number;
  readonly createdbMs: number;
  readonly restoreMs: number;
  readonly statsMs: number;
  readonly stopMs: number;
}

interface VerifyJson {
  passed: boolean;
  checks: CheckResult[];
  restoreDurationMs: number | null;
  totalDurationMs: number;
}

async function main(argv: string[]): Promise<number> {
  const size = Number(option(argv, 'size') ?? '1');
  const compression = option(argv, 'compression');
  const repeat = Number(option(argv, 'repeat') ?? '2');
  const jobs = Number(option(argv, 'jobs') ?? '2');
  if (
    ![repeat, jobs].every((n) => Number.isInteger(n) && n >= 1) ||
    !(size >= 0.1) ||
    (size > 1 && !Number.isInteger(size))
  ) {
    process.stderr.write(
      '--repeat and --jobs expect positive whole numbers, --size GiB (whole, or a fraction below 1)\n',
    );
    return 2;
  }
  const db = await ensureBenchDatabase(size, { fresh: flag(argv, 'fresh') });
  const { EphemeralCluster } = await import('#core/verify/ephemeral.ts');

  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-'));
  const onSignal = () => {
    void rm(work, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const repoDir = path.join(work, 'repo');
    const repo = pathToFileURL(repoDir).href;
    log(`${db.connection.database}: ${gib(db.bytes)}${db.reused ? ' (reused)' : ''}; backing it up once …`);
    const backup = await measure(
      process.execPath,
      [
        path.join(ROOT, 'bin', 'lifeboat.mjs'),
        'backup',
        '--database-url',
        db.url,
        '--repo',
        repo,
        '--json',
        ...(compression ? ['--compression', compression] : []),
      ],
      { cwd: ROOT },
    );
    if (backup.code !== 0) throw new Error(`lifeboat backup failed: ${backup.stderr.trim().slice(-2000)}`);
    const manifest = JSON.parse(backup.stdout) as DumpManifest;
    const stored = path.join(repoDir, manifest.artifact.key);
    // The raw side restores a stock archive: one compressed beside pg_dump is decompressed to a
    // file first (pg_restore -j needs one), within its time and beside the cluster's start, as
    // lifeboat's verify does.
    const archive = stored.replace(/\.(zst|gz)$/, '');
    const decompress = archive === stored ? null : stored.endsWith('.zst') ? 'zstd -q -d' : 'gunzip';
    log(`  backup ${manifest.id}: ${mib(manifest.artifact.bytes)} in ${backup.seconds.toFixed(1)} s`);

    const lifeboat: LifeboatRun[] = [];
    const raw: RawRun[] = [];
    for (let i = 0; i < repeat; i++) {
      const order = i % 2 === 0 ? (['lifeboat', 'raw'] as const) : (['raw', 'lifeboat'] as const);
      for (const which of order) {
        if (which === 'lifeboat') {
          const run = await lifeboatVerify(manifest.id, repo, jobs);
          lifeboat.push(run);
          log(
            `  #${i + 1} lifeboat verify  ${run.seconds.toFixed(1).padStart(6)} s  (restore ${sec(run.restoreMs)} s, total ${sec(run.totalMs)} s, ${run.passed ? 'passed' : 'FAILED'}, RSS ${mib(run.rss)})`,
          );
        } else {
          const run = await rawVerify(EphemeralCluster, db, { stored, archive, decompress }, jobs);
          raw.push(run);
          log(
            `  #${i + 1} raw              ${run.seconds.toFixed(1).padStart(6)} s  (start ${sec(run.startMs)} beside decompressing ${sec(run.decompressMs)}, createdb ${sec(run.createdbMs)}, pg_restore ${sec(run.restoreMs)}, statistics ${sec(run.statsMs)}, stop ${sec(run.stopMs)} s)`,
          );
        }
      }
    }
    printReport(db, manifest, jobs, lifeboat, raw);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await rm(work, { recursive: true, force: true });
  }
}

async function lifeboatVerify(id: string, repo: string, jobs: number): Promise<LifeboatRun> {
  const m = await measure(
    process.execPath,
    [path.join(ROOT, 'bin', 'lifeboat.mjs'), 'verify', id, '--repo', repo, '--jobs', String(jobs), '--json'],
    { cwd: ROOT },
  );
  // 0: passed, 1: a check failed (still a timing, reported as FAILED), 2: could not check.
  if (m.code !== 0 && m.code !== 1)
    throw new Error(`lifeboat verify failed: ${m.stderr.trim().slice(-2000)}`);
  const report = JSON.parse(m.stdout) as VerifyJson;
  return {
    seconds: m.seconds,
    passed: report.passed,
    restoreMs: report.restoreDurationMs,
    totalMs: report.totalDurationMs,
    checks: report.checks,
    rss: m.peakRss,
  };
}

/** What lifeboat verify does at its core, done by hand: cluster, createdb, pg_restore, statistics. */
async function rawVerify(
  EphemeralCluster: typeof Cluster,
  db: BenchDatabase,
  { stored, archive, decompress }: { stored: string; archive: string; decompress: string | null },
  jobs: number,
): Promise<RawRun> {
  const t0 = performance.now();
  let decompressMs = 0;
  const decompressed = decompress
    ? run('sh', ['-c', `${decompress} < "$0" > "$1"`, stored, archive]).then(() => {
        decompressMs = performance.now() - t0;
      })
    : Promise.resolve();
  decompressed.catch(() => undefined);
  const cluster = await EphemeralCluster.start({ minMajor: db.serverMajor });
  try {
    await decompressed;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
  const t1 = performance.now();
  let t2: number;
  let t3: number;
  let t4: number;
  try {
    const target = cluster.connection('bench_restore');
    await run(path.join(cluster.bin, 'createdb'), [
      '-h',
      target.host,
      '-p',
      String(target.port),
      '-U',
      target.user,
      target.database,
    ]);
    t2 = performance.now();
    await run(
      db.pgRestore.path,
      ['--no-password', `--dbname=${libpqConnString(target)}`, `--jobs=${jobs}`, archive],
      libpqEnv(target),
    );
    t3 = performance.now();
    const { captureStatistics } = await import('#core/verify/stats.ts');
    const client = await connect(target);
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await captureStatistics(client);
      await client.query('COMMIT');
    } finally {
      await client.end();
    }
    t4 = performance.now();
  } finally {
    await cluster.stop();
    if (decompress) await rm(archive, { force: true });
  }
  const t5 = performance.now();
  return {
    seconds: (t5 - t0) / 1000,
    startMs: t1 - t0,
    decompressMs,
    createdbMs: t2 - t1,
    restoreMs: t3 - t2,
    statsMs: t4 - t3,
    stopMs: t5 - t4,
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
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

function printReport(
  db: BenchDatabase,
  manifest: DumpManifest,
  jobs: number,
  lifeboat: LifeboatRun[],
  raw: RawRun[],
): void {
  const lb = summarize(lifeboat.map((r) => r.seconds));
  const rw = summarize(raw.map((r) => r.seconds));
  const bestLb = lifeboat.find((r) => r.seconds === lb.best)!;
  const bestRaw = raw.find((r) => r.seconds === rw.best)!;
  const restoreLb = summarize(lifeboat.map((r) => (r.restoreMs ?? 0) / 1000));
  const restoreRaw = summarize(raw.map((r) => r.restoreMs / 1000));
  process.stdout.write(
    `\nverify benchmark — ${db.connection.database} (${gib(db.bytes)}), artifact ${mib(manifest.artifact.bytes)} (${manifest.artifact.compression ? `${manifest.artifact.compression.method}:${manifest.artifact.compression.level}` : 'pg_dump default'}, decompressed within both sides' time), ` +
      `pg_restore -j${jobs}; best of ${lifeboat.length} runs (median beside it); ratio = lifeboat best / raw best (goal ≤ ${RATIO_GOAL})\n\n`,
  );
  process.stdout.write(
    `${table(
      ['RUN', 'BEST S', 'MEDIAN S', 'RESTORE S (best)', 'RATIO', 'BREAKDOWN OF THE BEST RUN'],
      [
        [
          `lifeboat verify --jobs ${jobs}`,
          lb.best.toFixed(1),
          lb.median.toFixed(1),
          restoreLb.best.toFixed(1),
          (lb.best / rw.best).toFixed(2),
          `totalDurationMs ${bestLb.totalMs}, restoreDurationMs ${bestLb.restoreMs}, ${bestLb.passed ? 'passed' : 'FAILED'}, RSS ${mib(bestLb.rss)}`,
        ],
        [
          `raw: cluster + createdb + pg_restore -j${jobs} + statistics`,
          rw.best.toFixed(1),
          rw.median.toFixed(1),
          restoreRaw.best.toFixed(1),
          '1.00',
          `start ${sec(bestRaw.startMs)} s beside decompressing ${sec(bestRaw.decompressMs)} s, createdb ${sec(bestRaw.createdbMs)} s, pg_restore ${sec(bestRaw.restoreMs)} s, statistics ${sec(bestRaw.statsMs)} s, stop ${sec(bestRaw.stopMs)} s`,
        ],
      ],
    )}\n`,
  );
  process.stdout.write(
    `\nlifeboat's checks (best run): ${bestLb.checks.map((c) => `${c.passed ? '✓' : '✗'} ${c.name}: ${c.detail}`).join('; ')}\n`,
  );
  const ratio = lb.best / rw.best;
  process.stdout.write(
    `lifeboat/raw = ${ratio.toFixed(2)} (${ratio <= RATIO_GOAL ? 'meets' : 'misses'} ≤ ${RATIO_GOAL}); ` +
      `outside pg_restore: lifeboat ${(lb.best - (bestLb.restoreMs ?? 0) / 1000).toFixed(1)} s, raw ${(rw.best - bestRaw.restoreMs / 1000).toFixed(1)} s\n`,
  );
}

const sec = (ms: number | null) => (ms === null ? '-' : (ms / 1000).toFixed(1));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench:verify failed: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
