/**
 * `npm run bench:backup [-- --sizes 1,4] [--repeat 2] [--fresh]`
 *
 * Times, in one run and on the same database: raw `pg_dump -Fc -f file` (the pg_dump lifeboat
 * picks), `lifeboat backup` to a file repository and `lifeboat backup` to s3rver, and measures
 * the peak RSS of lifeboat's Node process (and of its pg_dump child). Prints figures; asserts none.
 */
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as S3Module from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DumpManifest } from '#core/manifest.ts';
import { libpqConnString, libpqEnv } from '#core/pg.ts';
import type { S3Server } from '../test/support/s3rver.ts';
import { type BenchDatabase, ensureBenchDatabase, warmUp } from './lib/db.ts';
import { flag, gib, type Measured, measure, mib, option, summarize, table } from './lib/measure.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RSS_GOAL = 150 * 1024 * 1024;
const SPEED_GOAL = 0.9;

type Variant = 'raw' | 'file' | 's3';
const LABEL: Record<Variant, string> = {
  raw: 'pg_dump -Fc -f file',
  file: 'lifeboat backup → file://',
  s3: 'lifeboat backup → s3rver',
};

interface Run {
  readonly seconds: number;
  readonly bytes: number;
  /** RSS of the process timed: pg_dump for raw, lifeboat's Node process otherwise. */
  readonly rss: number | null;
  /** pg_dump's RSS under lifeboat. */
  readonly pgDumpRss: number | null;
  readonly treeMaxRss: number | null;
  /** CPU seconds s3rver spent serving this run (s3 only): work real S3 does elsewhere. */
  readonly serverCpu?: number | null;
}

/** User + system CPU seconds of a process so far (/proc/<pid>/stat, clock ticks of 1/100 s). */
async function cpuSeconds(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

let s3commands: typeof S3Module;
let credentials = { accessKeyId: '', secretAccessKey: '' };

/** The AWS SDK warns about Node 20 on load (as bin/lifeboat.mjs also filters): keep stderr for figures. */
function quietNodeVersionWarning(): void {
  const emitWarning = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) =>
    String(warning).includes('NodeVersionSupportWarning')
      ? undefined
      : (emitWarning as (...a: unknown[]) => void)(warning, ...rest)) as typeof process.emitWarning;
}

interface Context {
  readonly work: string;
  readonly s3: S3Server;
  readonly s3client: S3Client;
  readonly bucket: string;
}

async function main(argv: string[]): Promise<number> {
  const sizes = (option(argv, 'sizes') ?? '1,4').split(',').map((s) => Number(s.trim()));
  if (sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    process.stderr.write('--sizes expects whole GiB, e.g. --sizes 1,4\n');
    return 2;
  }
  const repeat = Number(option(argv, 'repeat') ?? '2');
  if (!Number.isInteger(repeat) || repeat < 1) {
    process.stderr.write('--repeat expects a positive whole number\n');
    return 2;
  }
  const fresh = flag(argv, 'fresh');

  quietNodeVersionWarning();
  // The AWS SDK is loaded after the filter above is in place.
  const s3support = await import('../test/support/s3.ts');
  const { startS3rver } = await import('../test/support/s3rver.ts');
  s3commands = await import('@aws-sdk/client-s3');
  credentials = s3support.S3RVER_CREDENTIALS;

  // All databases first, so creating one never overlaps a timing.
  const databases: BenchDatabase[] = [];
  for (const size of sizes) databases.push(await ensureBenchDatabase(size, { fresh }));

  const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-'));
  let s3: S3Server | undefined;
  const cleanup = async () => {
    await s3?.stop().catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    s3 = await startS3rver();
    const s3client = s3support.s3Client(s3.endpoint);
    const bucket = await s3support.createBucket(s3client, 'lifeboat-bench');
    const ctx: Context = { work, s3, s3client, bucket };
    const results: Array<{ db: BenchDatabase; runs: Record<Variant, Run[]> }> = [];
    for (const db of databases) {
      log(
        `\n${db.connection.database}: ${gib(db.bytes)}${db.reused ? ' (reused)' : ''}, ${db.pgDump.path} ${db.pgDump.version}`,
      );
      log('  warming the page cache …');
      await warmUp(db.connection);
      const runs: Record<Variant, Run[]> = { raw: [], file: [], s3: [] };
      for (let i = 0; i < repeat; i++) {
        // Alternate the order, so neither side always runs first (cache, neighbours' load).
        const order: Variant[] = i % 2 === 0 ? ['raw', 'file', 's3'] : ['s3', 'file', 'raw'];
        for (const variant of order) {
          const run = await runVariant(variant, db, ctx, i);
          runs[variant].push(run);
          log(
            `  #${i + 1} ${LABEL[variant].padEnd(26)} ${run.seconds.toFixed(1).padStart(6)} s  ${mib(run.bytes)}  RSS ${mib(run.rss)}${variant === 'raw' ? '' : ` (pg_dump ${mib(run.pgDumpRss)}, tree max ${mib(run.treeMaxRss)})`}${run.serverCpu != null ? `, s3rver used ${run.serverCpu.toFixed(1)} s CPU` : ''}`,
          );
        }
      }
      results.push({ db, runs });
    }
    printReport(results, repeat);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

async function runVariant(variant: Variant, db: BenchDatabase, ctx: Context, i: number): Promise<Run> {
  const dir = path.join(ctx.work, `${variant}-${db.sizeGb}gb-${i}`);
  await mkdir(dir, { recursive: true });
  try {
    if (variant === 'raw') {
      const file = path.join(dir, 'dump.pgdump');
      const m = await measure(
        db.pgDump.path,
        ['--format=custom', '--no-password', `--file=${file}`, `--dbname=${libpqConnString(db.connection)}`],
        { env: libpqEnv(db.connection) },
      );
      ensureOk(m, 'pg_dump');
      return {
        seconds: m.seconds,
        bytes: (await stat(file)).size,
        rss: m.peakRss,
        pgDumpRss: m.peakRss,
        treeMaxRss: m.treeMaxRss,
      };
    }
    const prefix = `${db.sizeGb}gb-${i}`;
    const repo =
      variant === 'file' ? pathToFileURL(path.join(dir, 'repo')).href : `s3://${ctx.bucket}/${prefix}`;
    const args = [
      path.join(ROOT, 'bin', 'lifeboat.mjs'),
      'backup',
      '--database-url',
      db.url,
      '--repo',
      repo,
      '--json',
    ];
    if (variant === 's3') args.push('--s3-endpoint', ctx.s3.endpoint);
    // Run as users run it (`npx lifeboat`): the executable, with the Node options of its #! line.
    const [bin, ...rest] = args;
    const serverCpuBefore = variant === 's3' ? await cpuSeconds(ctx.s3.pid) : null;
    const m = await measure(bin!, rest, {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: 'us-east-1',
      },
      // The pg_dump that dumps; not lifeboat's `pg_dump --version` probes.
      describeChild: (a) => (a.some((x) => x.startsWith('--format=custom')) ? 'pg_dump' : null),
    });
    ensureOk(m, 'lifeboat backup');
    const serverCpuAfter = variant === 's3' ? await cpuSeconds(ctx.s3.pid) : null;
    const manifest = JSON.parse(m.stdout) as DumpManifest;
    if (variant === 's3') await emptyPrefix(ctx, `${prefix}/`);
    return {
      seconds: m.seconds,
      bytes: manifest.artifact.bytes,
      rss: m.peakRss,
      pgDumpRss: m.childPeakRss.get('pg_dump') ?? null,
      treeMaxRss: m.treeMaxRss,
      serverCpu:
        serverCpuBefore !== null && serverCpuAfter !== null ? serverCpuAfter - serverCpuBefore : null,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function ensureOk(m: Measured, what: string): void {
  if (m.code !== 0) {
    throw new Error(
      `${what} failed (${m.signal ? `signal ${m.signal}` : `exit ${m.code}`}): ${m.stderr.trim().slice(-2000)}`,
    );
  }
}

/** Removes the run's objects from s3rver, so its directory does not grow by a dump per run. */
async function emptyPrefix(ctx: Context, prefix: string): Promise<void> {
  let token: string | undefined;
  do {
    const out = await ctx.s3client.send(
      new s3commands.ListObjectsV2Command({ Bucket: ctx.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of out.Contents ?? []) {
      if (o.Key)
        await ctx.s3client.send(new s3commands.DeleteObjectCommand({ Bucket: ctx.bucket, Key: o.Key }));
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
}

function printReport(
  results: Array<{ db: BenchDatabase; runs: Record<Variant, Run[]> }>,
  repeat: number,
): void {
  const rows: string[][] = [];
  for (const { db, runs } of results) {
    const raw = summarize(runs.raw.map((r) => r.seconds));
    for (const variant of ['raw', 'file', 's3'] as const) {
      const list = runs[variant];
      const t = summarize(list.map((r) => r.seconds));
      const rss = Math.max(...list.map((r) => r.rss ?? 0));
      const pgDumpRss = Math.max(...list.map((r) => r.pgDumpRss ?? 0));
      rows.push([
        gib(db.bytes),
        LABEL[variant],
        mib(list[0]!.bytes),
        t.best.toFixed(1),
        t.median.toFixed(1),
        `${(db.bytes / 1024 / 1024 / t.best).toFixed(0)} MiB/s`,
        variant === 'raw' ? '1.00' : (raw.best / t.best).toFixed(2),
        variant === 'raw' ? '-' : mib(rss),
        mib(pgDumpRss),
      ]);
    }
  }
  process.stdout.write(
    `\nbackup benchmark — best of ${repeat} runs (median beside it); speed = raw best / lifeboat best (goal ≥ ${SPEED_GOAL}); ` +
      `RSS = peak VmHWM (goal ≤ ${mib(RSS_GOAL)} for lifeboat's Node process)\n\n`,
  );
  process.stdout.write(
    `${table(
      [
        'DB SIZE',
        'RUN',
        'DUMP',
        'BEST S',
        'MEDIAN S',
        'DB RATE',
        'SPEED ×RAW',
        'LIFEBOAT RSS',
        'PG_DUMP RSS',
      ],
      rows,
    )}\n`,
  );
  const verdicts: string[] = [];
  for (const { db, runs } of results) {
    const raw = summarize(runs.raw.map((r) => r.seconds)).best;
    for (const variant of ['file', 's3'] as const) {
      const best = summarize(runs[variant].map((r) => r.seconds)).best;
      const rss = Math.max(...runs[variant].map((r) => r.rss ?? 0));
      verdicts.push(
        `${gib(db.bytes)} ${LABEL[variant]}: speed ${(raw / best).toFixed(2)} (${raw / best >= SPEED_GOAL ? 'meets' : 'misses'} ≥ ${SPEED_GOAL}), ` +
          `RSS ${mib(rss)} (${rss <= RSS_GOAL ? 'meets' : 'misses'} ≤ ${mib(RSS_GOAL)})`,
      );
    }
  }
  if (results.length > 1) {
    const peaks = results.map(({ db, runs }) => ({
      size: gib(db.bytes),
      rss: Math.max(...[...runs.file, ...runs.s3].map((r) => r.rss ?? 0)),
    }));
    verdicts.push(
      `lifeboat peak RSS by database size: ${peaks.map((p) => `${p.size} → ${mib(p.rss)}`).join(', ')}`,
    );
  }
  const serverCpu = results.flatMap(({ db, runs }) =>
    runs.s3.filter((r) => r.serverCpu != null).map((r) => `${gib(db.bytes)}: ${r.serverCpu!.toFixed(1)} s`),
  );
  if (serverCpu.length > 0) {
    verdicts.push(
      `s3rver's own CPU per s3 run, on the same 2 cores as pg_dump and lifeboat (real S3 does this work elsewhere): ${serverCpu.join(', ')}`,
    );
  }
  process.stdout.write(`\n${verdicts.join('\n')}\n`);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

process.exitCode = await main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`bench:backup failed: ${err instanceof Error ? err.message : String(err)}\n`);
  return 1;
});
