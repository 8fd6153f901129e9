/**
 * `npm run bench:backup [-- --sizes 0.4] [--repeat 3] [--only a,b] [--fresh] [--node PATH]`
 *
 * Times, in one run and on the same database: raw `pg_dump -Fc` (default compression), raw
 * `pg_dump -Fc -Z1` (what a streamed Lambda dump tool runs), the bare off-thread pipeline
 * `pg_dump -Fc -Z0 | zstd -T<cores> -3`, and `lifeboat backup` with each compression setting to
 * s3rver (and its default to a file repository, and a directory dump with -j 2), and measures the
 * peak RSS of lifeboat's Node process (and of its pg_dump child). Where the Node that runs lifeboat
 * has zlib's zstd (22.15+; `--node PATH` runs lifeboat with another Node than the bench's), also
 * the default with no zstd program (`LIFEBOAT_ZSTD=none`): zlib's zstd in the Node process, the path
 * Lambda and the container images run. Prints figures; asserts none.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as S3Module from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { DEFAULT_COMPRESSION, formatCompression } from '#core/dumps/compression.ts';
import { libpqConnString, libpqEnv } from '#core/shared/pg.ts';
import type { S3Server } from '../test/support/s3rver.ts';
import { type CpuLimit, createCpuLimit } from './lib/cpu-limit.ts';
import { backendOf, type BenchDatabase, ensureBenchDatabase, postmasterPid, warmUp } from './lib/db.ts';
import {
  cpuSeconds,
  flag,
  gib,
  type Measured,
  type MeasureOptions,
  measure,
  mib,
  option,
  summarize,
  table,
} from './lib/measure.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RSS_GOAL = 150 * 1024 * 1024;
const SPEED_GOAL = 2.5;

interface Variant {
  readonly id: string;
  readonly label: string;
  /** A raw tool run (a shell command line) or lifeboat backup with these arguments and repository. */
  readonly raw?: (file: string, db: BenchDatabase) => [string, string[]];
  readonly repo?: 'file' | 's3';
  readonly args?: string[];
  /** Environment of the lifeboat run, over the bench's. */
  readonly env?: Record<string, string>;
  /** Runs only where lifeboat's Node has zlib's zstd. */
  readonly needsZlibZstd?: boolean;
}

const CORES = availableParallelism();
const DEFAULT_LABEL = formatCompression(DEFAULT_COMPRESSION);

/** `pg_dump -Fc -Z0 | zstd -T<cores> -<level>`: no Node, no hashing, no upload; the limit to aim at. */
function barePipeline(id: string, level: number): Variant {
  return {
    id,
    label: `pg_dump -Fc -Z0 | zstd -T${CORES} -${level}`,
    // bash's pipefail: a pg_dump that fails fails the run (sh would report only zstd's status).
    raw: (file, db) => [
      'bash',
      [
        '-o',
        'pipefail',
        '-c',
        `"$0" --format=custom --compress=0 "$1" "$2" | zstd -q -${level} -T${CORES} > "$3"`,
        db.pgDump.path,
        ...dbArgs(db),
        file,
      ],
    ],
  };
}
const VARIANTS: Variant[] = [
  {
    id: 'raw',
    label: 'pg_dump -Fc',
    raw: (file, db) => [db.pgDump.path, ['--format=custom', `--file=${file}`, ...dbArgs(db)]],
  },
  {
    id: 'raw-z1',
    label: 'pg_dump -Fc -Z1',
    raw: (file, db) => [db.pgDump.path, ['--format=custom', '--compress=1', `--file=${file}`, ...dbArgs(db)]],
  },
  barePipeline('raw-pipe', DEFAULT_COMPRESSION.level),
  // The bare pipeline at zstd's own default level (-3), the limit the issue of faster dumps named.
  barePipeline('raw-pipe3', 3),
  { id: 'zstd', label: `lifeboat ${DEFAULT_LABEL} (default) → s3rver`, repo: 's3', args: [] },
  { id: 'zstd-file', label: `lifeboat ${DEFAULT_LABEL} (default) → file://`, repo: 'file', args: [] },
  {
    id: 'zstd-zlib',
    label: `lifeboat ${DEFAULT_LABEL} in-process zlib zstd → s3rver`,
    repo: 's3',
    args: [],
    // As the logical-dump image runs it (functions/logical-dump/Dockerfile): one malloc arena.
    env: { LIFEBOAT_ZSTD: 'none', MALLOC_ARENA_MAX: '1' },
    needsZlibZstd: true,
  },
  { id: 'zstd1', label: 'lifeboat zstd:1 → s3rver', repo: 's3', args: ['--compression', 'zstd:1'] },
  { id: 'zstd3', label: 'lifeboat zstd:3 → s3rver', repo: 's3', args: ['--compression', 'zstd:3'] },
  { id: 'gzip', label: 'lifeboat gzip:1 → s3rver', repo: 's3', args: ['--compression', 'gzip:1'] },
  {
    id: 'pgz6',
    label: 'lifeboat pg_dump-gzip:6 → s3rver',
    repo: 's3',
    args: ['--compression', 'pg_dump-gzip:6'],
  },
  {
    id: 'pgz1',
    label: 'lifeboat pg_dump-gzip:1 → s3rver',
    repo: 's3',
    args: ['--compression', 'pg_dump-gzip:1'],
  },
  { id: 'none', label: 'lifeboat none → s3rver', repo: 's3', args: ['--compression', 'none'] },
  { id: 'dir', label: `lifeboat -Fd -j2 ${DEFAULT_LABEL} → s3rver`, repo: 's3', args: ['--jobs', '2'] },
];

const dbArgs = (db: BenchDatabase): string[] => [
  '--no-password',
  `--dbname=${libpqConnString(db.connection)}`,
];

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
  /**
   * Seconds s3rver's CompleteMultipartUpload took to assemble the object (s3 only): it re-reads
   * every part and writes the whole object again, with its MD5, while the client waits.
   */
  readonly serverAssembly?: number | null;
  /** Where the run's CPU went (null where /usr/bin/time or /proc could not say). */
  readonly cpu: RunCpu | null;
}

/** CPU seconds of one run, by where they were spent. */
interface RunCpu {
  /** The command and what it ran (GNU time): pg_dump, the compressor, lifeboat's Node. */
  readonly tree: number;
  /** The PostgreSQL backends of the bench database that served the run (the dump's COPY, lifeboat's queries). */
  readonly backends: number;
  /**
   * The most any one thread used of the work that cannot spread (pg_dump, a backend, Node's main
   * thread; not Node's thread pool): a floor on the time.
   */
  readonly serial: number;
}

/** Lambda's memory for one vCPU-second a second: CPU is given in proportion to memory. */
const LAMBDA_MB_PER_VCPU = 1769;

/** Cores of the machine an estimate is given for: a 4-vCPU task or function. */
const ESTIMATE_CORES = 4;

/**
 * A run's time on `cores` cores with S3 elsewhere, from its CPU: at least its busiest single-threaded
 * process, and at least all its CPU spread over every core. A floor, not a forecast: it leaves out
 * the pipeline's waits, so it is compared only with other runs' floors. `dbApart`: the database's
 * backends run on a server of their own, as RDS's do beside a Lambda function or a Fargate task;
 * the dump's COPY backend still bounds the stream (it stays in `serial`), but its CPU is not the
 * dumping machine's.
 */
const floorOn = (cpu: RunCpu, cores: number, dbApart = false): number =>
  Math.max(cpu.serial, (cpu.tree + (dbApart ? 0 : cpu.backends)) / cores);

/** The processes whose work cannot spread over cores. */
const SERIAL = new Set(['pg_dump', 'postgres backend', 'node']);

function runCpu(m: Measured): RunCpu | null {
  if (m.treeCpu === null) return null;
  const backends = m.processCpu.filter((p) => p.name === 'postgres backend');
  return {
    tree: m.treeCpu,
    backends: backends.reduce((sum, p) => sum + p.cpu, 0),
    serial: Math.max(0, ...m.processCpu.filter((p) => SERIAL.has(p.name)).map((p) => p.mainThread)),
  };
}

let s3commands: typeof S3Module;
/** The Node that runs lifeboat (`--node`; null: the first on PATH, as `npx lifeboat` finds it). */
let lifeboatNode: { path: string | null; version: string; zlibZstd: boolean } = {
  path: null,
  version: process.version,
  zlibZstd: false,
};
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
  /** Where bench/lib/s3rver-completion.mjs writes the duration of each CompleteMultipartUpload. */
  readonly completionLog: string;
  /** The PostgreSQL postmaster, when it runs here: its backends' CPU is counted. */
  readonly postmaster: number | null;
  /** `--cpu-limit`: every run's processes share this CPU quota (s3rver and the database do not). */
  readonly cpuLimit: CpuLimit | null;
}

async function main(argv: string[]): Promise<number> {
  const sizes = (option(argv, 'sizes') ?? '0.4').split(',').map((s) => Number(s.trim()));
  if (sizes.some((s) => !(s >= 0.1) || (s > 1 && !Number.isInteger(s)))) {
    process.stderr.write('--sizes expects GiB (whole, or a fraction below 1), e.g. --sizes 0.4,1\n');
    return 2;
  }
  const only = option(argv, 'only')?.split(',');
  const node = option(argv, 'node');
  let nodeInfo: { version: string; zlibZstd: boolean };
  try {
    nodeInfo = JSON.parse(
      execFileSync(
        node ?? process.execPath,
        [
          '-e',
          "console.log(JSON.stringify({ version: process.version, zlibZstd: typeof require('node:zlib').zstdCompress === 'function' }))",
        ],
        { encoding: 'utf8' },
      ),
    ) as typeof nodeInfo;
  } catch (err) {
    process.stderr.write(
      `--node expects a Node executable; ${node} did not run: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 2;
  }
  lifeboatNode = { path: node ?? null, ...nodeInfo };
  const chosen = only ? VARIANTS.filter((v) => only.includes(v.id)) : VARIANTS;
  const variants = chosen.filter((v) => !v.needsZlibZstd || nodeInfo.zlibZstd);
  if (variants.length < chosen.length) {
    log(
      `Node ${nodeInfo.version} has no zlib zstd: ${chosen
        .filter((v) => !variants.includes(v))
        .map((v) => v.id)
        .join(', ')} left out (--node PATH: a Node 22.15+, bench/README.md)`,
    );
  }
  if (variants.length === 0 && chosen.length > 0) return 2;
  if (variants.length === 0) {
    process.stderr.write(`--only names none of ${VARIANTS.map((v) => v.id).join(', ')}\n`);
    return 2;
  }
  const repeat = Number(option(argv, 'repeat') ?? '3');
  if (!Number.isInteger(repeat) || repeat < 1) {
    process.stderr.write('--repeat expects a positive whole number\n');
    return 2;
  }
  const fresh = flag(argv, 'fresh');
  const limitOption = option(argv, 'cpu-limit');
  const cpuLimitVcpus = limitOption === undefined ? null : Number(limitOption);
  if (cpuLimitVcpus !== null && !(cpuLimitVcpus > 0 && cpuLimitVcpus <= CORES)) {
    process.stderr.write(
      `--cpu-limit expects the vCPUs the runs may use in all, above 0 and at most this machine's ${CORES} (e.g. 0.58 for a 1,024 MB Lambda function, 2 for 3,538 MB)\n`,
    );
    return 2;
  }

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
  let cpuLimit: CpuLimit | null = null;
  const cleanup = async () => {
    await s3?.stop().catch(() => undefined);
    await cpuLimit?.remove();
    await rm(work, { recursive: true, force: true });
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const completionLog = path.join(work, 's3rver-completions.log');
    s3 = await startS3rver({
      preload: [path.join(ROOT, 'bench', 'lib', 's3rver-completion.mjs')],
      env: { S3RVER_COMPLETION_LOG: completionLog },
    });
    const s3client = s3support.s3Client(s3.endpoint);
    const bucket = await s3support.createBucket(s3client, 'lifeboat-bench');
    const postmaster = databases[0] ? await postmasterPid(databases[0].connection) : null;
    if (cpuLimitVcpus !== null) cpuLimit = await createCpuLimit(cpuLimitVcpus);
    const ctx: Context = { work, s3, s3client, bucket, completionLog, postmaster, cpuLimit };
    const results: Array<{ db: BenchDatabase; runs: Map<Variant, Run[]> }> = [];
    const loads: number[] = [];
    for (const db of databases) {
      log(
        `\n${db.connection.database}: ${gib(db.bytes)}${db.reused ? ' (reused)' : ''}, ${db.pgDump.path} ${db.pgDump.version}`,
      );
      log('  warming the page cache …');
      await warmUp(db.connection);
      const runs = new Map<Variant, Run[]>(variants.map((v) => [v, []]));
      for (let i = 0; i < repeat; i++) {
        // Alternate the order, so no variant always runs first (cache, neighbours' load).
        const order = i % 2 === 0 ? variants : [...variants].reverse();
        for (const variant of order) {
          loads.push(loadavg()[0]!);
          const run = await runVariant(variant, db, ctx, i);
          runs.get(variant)!.push(run);
          log(
            `  #${i + 1} ${variant.label.padEnd(38)} ${run.seconds.toFixed(1).padStart(6)} s  ${mib(run.bytes)}  RSS ${mib(run.rss)}${variant.raw ? '' : ` (pg_dump ${mib(run.pgDumpRss)}, tree max ${mib(run.treeMaxRss)})`}${run.serverCpu != null ? `, s3rver used ${run.serverCpu.toFixed(1)} s CPU` : ''}${run.serverAssembly != null ? ` (${run.serverAssembly.toFixed(1)} s assembling the object)` : ''}  load ${loadavg()[0]!.toFixed(1)}`,
          );
        }
      }
      results.push({ db, runs });
    }
    loads.push(loadavg()[0]!);
    printReport(results, repeat, loads, cpuLimitVcpus);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

async function runVariant(variant: Variant, db: BenchDatabase, ctx: Context, i: number): Promise<Run> {
  const dir = path.join(ctx.work, `${variant.id}-${i}`);
  await mkdir(dir, { recursive: true });
  try {
    if (variant.raw) {
      const file = path.join(dir, 'dump');
      const [cmd, args] = variant.raw(file, db);
      const m = await measure(cmd, args, {
        env: { ...process.env, ...libpqEnv(db.connection) },
        describeChild: (a) => (a.some((x) => x.startsWith('--format=')) ? 'pg_dump' : null),
        ...watchBackends(ctx, db),
        ...(ctx.cpuLimit ? { cpuLimit: ctx.cpuLimit } : {}),
      });
      ensureOk(m, variant.label);
      return {
        seconds: m.seconds,
        bytes: (await stat(file)).size,
        rss: m.peakRss,
        pgDumpRss: m.childPeakRss.get('pg_dump') ?? m.peakRss,
        treeMaxRss: m.treeMaxRss,
        cpu: runCpu(m),
      };
    }
    const prefix = `${db.sizeGb}gb-${variant.id}-${i}`;
    const repo =
      variant.repo === 'file' ? pathToFileURL(path.join(dir, 'repo')).href : `s3://${ctx.bucket}/${prefix}`;
    const args = [
      path.join(ROOT, 'bin', 'lifeboat.mjs'),
      'backup',
      '--database-url',
      db.url,
      '--repo',
      repo,
      '--json',
      ...(variant.args ?? []),
    ];
    if (variant.repo === 's3') args.push('--s3-endpoint', ctx.s3.endpoint);
    // Run as users run it (`npx lifeboat`): the executable, with the Node options of its #! line.
    const [bin, ...rest] = args;
    const serverCpuBefore = variant.repo === 's3' ? await cpuSeconds(ctx.s3.pid) : null;
    await writeFile(ctx.completionLog, '');
    const m = await measure(bin!, rest, {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_REGION: 'us-east-1',
        // bin/lifeboat.mjs runs the `node` on PATH (its #! line).
        ...(lifeboatNode.path
          ? { PATH: `${path.dirname(lifeboatNode.path)}:${process.env.PATH ?? ''}` }
          : {}),
        ...variant.env,
      },
      // The pg_dump that dumps; not lifeboat's `pg_dump --version` probes.
      describeChild: (a) => (a.some((x) => x.startsWith('--format=')) ? 'pg_dump' : null),
      ...watchBackends(ctx, db),
      ...(ctx.cpuLimit ? { cpuLimit: ctx.cpuLimit } : {}),
    });
    ensureOk(m, 'lifeboat backup');
    const serverCpuAfter = variant.repo === 's3' ? await cpuSeconds(ctx.s3.pid) : null;
    const assemblies = (await readFile(ctx.completionLog, 'utf8')).split('\n').filter(Boolean);
    const manifest = JSON.parse(m.stdout) as DumpManifest;
    if (variant.repo === 's3') await emptyPrefix(ctx, `${prefix}/`);
    return {
      seconds: m.seconds,
      bytes: manifest.artifact.bytes,
      rss: m.peakRss,
      pgDumpRss: m.childPeakRss.get('pg_dump') ?? null,
      treeMaxRss: m.treeMaxRss,
      serverCpu:
        serverCpuBefore !== null && serverCpuAfter !== null ? serverCpuAfter - serverCpuBefore : null,
      serverAssembly:
        variant.repo === 's3' ? assemblies.reduce((sum, ms) => sum + Number(ms), 0) / 1000 : null,
      cpu: runCpu(m),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** measure()'s option that counts the CPU of the bench database's backends. */
function watchBackends(ctx: Context, db: BenchDatabase): Pick<MeasureOptions, 'watch'> {
  return ctx.postmaster === null
    ? {}
    : { watch: { parent: ctx.postmaster, name: backendOf(db.connection.database) } };
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
  results: Array<{ db: BenchDatabase; runs: Map<Variant, Run[]> }>,
  repeat: number,
  loads: number[],
  cpuLimit: number | null,
): void {
  const rows: string[][] = [];
  const cpuRows: string[][] = [];
  const verdicts: string[] = [];
  const median = (xs: number[]) => summarize(xs).median;
  for (const { db, runs } of results) {
    // Each variant's CPU, and its floor on ESTIMATE_CORES cores (median over its runs).
    const floors = new Map<string, number>();
    // …and on this machine's cores with the database on a server of its own (as on AWS).
    const apartFloors = new Map<string, number>();
    for (const [variant, list] of runs) {
      const cpus = list.map((r) => r.cpu).filter((c): c is RunCpu => c !== null);
      if (cpus.length === 0) continue;
      const floor = median(cpus.map((c) => floorOn(c, ESTIMATE_CORES)));
      floors.set(variant.id, floor);
      const apart = median(cpus.map((c) => floorOn(c, CORES, true)));
      apartFloors.set(variant.id, apart);
      cpuRows.push([
        gib(db.bytes),
        variant.label,
        median(cpus.map((c) => c.tree)).toFixed(1),
        median(cpus.map((c) => c.backends)).toFixed(1),
        variant.repo === 's3' ? median(list.map((r) => r.serverCpu ?? 0)).toFixed(1) : '-',
        median(cpus.map((c) => c.serial)).toFixed(1),
        median(cpus.map((c) => floorOn(c, CORES))).toFixed(1),
        apart.toFixed(1),
        floor.toFixed(1),
      ]);
    }
    const defaultApart = apartFloors.get('zstd') ?? apartFloors.get('zstd-file');
    for (const [id, what, goal] of [
      ['raw', 'raw pg_dump -Fc', SPEED_GOAL],
      ['pgz1', 'pg_dump -Fc -Z1 streamed', 2],
    ] as const) {
      const other = apartFloors.get(id);
      if (other !== undefined && defaultApart !== undefined) {
        verdicts.push(
          `${gib(db.bytes)} on ${CORES} cores with the database on its own server (as RDS), estimated from CPU (S3 elsewhere): lifeboat default ${(other / defaultApart).toFixed(2)} × ${what} (goal ≥ ${goal})`,
        );
      }
    }
    const rawFloor = floors.get('raw');
    const defaultFloor = floors.get('zstd') ?? floors.get('zstd-file');
    if (rawFloor !== undefined && defaultFloor !== undefined) {
      verdicts.push(
        `${gib(db.bytes)} on ${ESTIMATE_CORES} cores, estimated from CPU (S3 elsewhere): lifeboat default ${(rawFloor / defaultFloor).toFixed(2)} × raw pg_dump -Fc (goal ≥ ${SPEED_GOAL})`,
      );
    }
    const pgz1Floor = floors.get('pgz1');
    if (pgz1Floor !== undefined && defaultFloor !== undefined) {
      verdicts.push(
        `${gib(db.bytes)} on ${ESTIMATE_CORES} cores, estimated from CPU (S3 elsewhere): lifeboat default ${(pgz1Floor / defaultFloor).toFixed(2)} × pg_dump -Fc -Z1 streamed (goal ≥ 2)`,
      );
    }
    const baseline = [...runs].find(([v]) => v.id === 'raw')?.[1];
    const rawMedian = baseline ? summarize(baseline.map((r) => r.seconds)).median : null;
    const rawBytes = baseline?.[0]?.bytes ?? null;
    for (const [variant, list] of runs) {
      const t = summarize(list.map((r) => r.seconds));
      const rss = Math.max(...list.map((r) => r.rss ?? 0));
      const pgDumpRss = Math.max(...list.map((r) => r.pgDumpRss ?? 0));
      const bytes = list[0]!.bytes;
      rows.push([
        gib(db.bytes),
        variant.label,
        mib(bytes),
        rawBytes ? (bytes / rawBytes).toFixed(2) : '-',
        t.median.toFixed(1),
        t.best.toFixed(1),
        `${(db.bytes / 1024 / 1024 / t.median).toFixed(0)} MiB/s`,
        rawMedian ? (rawMedian / t.median).toFixed(2) : '-',
        variant.raw ? '-' : mib(rss),
        mib(pgDumpRss),
      ]);
      if (variant.id === 'zstd' && rawMedian && rawBytes) {
        const speed = rawMedian / t.median;
        verdicts.push(
          `${gib(db.bytes)} lifeboat default: ${speed.toFixed(2)} × raw pg_dump -Fc (goal ≥ ${SPEED_GOAL}: ${speed >= SPEED_GOAL ? 'meets' : 'misses'}), ` +
            `size ${(bytes / rawBytes).toFixed(2)} × raw (goal ≤ 1: ${bytes <= rawBytes ? 'meets' : 'misses'}), RSS ${mib(rss)} (goal ≤ ${mib(RSS_GOAL)}: ${rss <= RSS_GOAL ? 'meets' : 'misses'})`,
        );
        // s3rver assembles the object on CompleteMultipartUpload's clock, on the same cores as the
        // dump. The same run without that wait is what lifeboat itself took; how long S3 takes to
        // complete an upload (its documentation allows minutes) cannot be measured here.
        const lessAssembly = (l: Run[]) =>
          summarize(l.map((r) => r.seconds - (r.serverAssembly ?? 0))).median;
        const own = lessAssembly(list);
        verdicts.push(
          `${gib(db.bytes)} lifeboat default → s3rver less s3rver's assembly of the object (median ${summarize(list.map((r) => r.serverAssembly ?? 0)).median.toFixed(1)} s a run): ${own.toFixed(1)} s, ${(rawMedian / own).toFixed(2)} × raw pg_dump -Fc (goal ≥ ${SPEED_GOAL}: ${rawMedian / own >= SPEED_GOAL ? 'meets' : 'misses'})`,
        );
        // The bare pipeline (no Node, no hash, no upload) is the limit: where it misses a goal
        // against -Z1, so must lifeboat, which does that work and more.
        const bare = [...runs].find(([v]) => v.id === 'raw-pipe')?.[1];
        const z1Runs = [...runs].find(([v]) => v.id === 'raw-z1')?.[1];
        if (bare && z1Runs) {
          const ratio =
            summarize(z1Runs.map((r) => r.seconds)).median / summarize(bare.map((r) => r.seconds)).median;
          verdicts.push(
            `${gib(db.bytes)} the bare pipeline (pg_dump -Fc -Z0 | zstd, to a file; no Node, no hash) vs pg_dump -Fc -Z1 to a file: ${ratio.toFixed(2)} × its speed — the most lifeboat's default can reach against -Z1 on these ${CORES} cores`,
          );
        }
        // Both to a local file: lifeboat's default to a file repository against raw -Z1's file.
        const z1 = [...runs].find(([v]) => v.id === 'raw-z1')?.[1];
        const toFile = [...runs].find(([v]) => v.id === 'zstd-file')?.[1];
        if (z1 && toFile) {
          const z1Median = summarize(z1.map((r) => r.seconds)).median;
          const fileMedian = summarize(toFile.map((r) => r.seconds)).median;
          verdicts.push(
            `${gib(db.bytes)} lifeboat default → file:// vs pg_dump -Fc -Z1 to a local file: ${(z1Median / fileMedian).toFixed(2)} × its speed (goal ≥ 2: ${z1Median / fileMedian >= 2 ? 'meets' : 'misses'}), size ${(bytes / z1[0]!.bytes).toFixed(2)} × its size`,
          );
        }
        // The streamed -Z1 method (pg_dump -Fc -Z1 piped into an S3 upload) with the same uploader,
        // to the same server: the comparison the goal names, free of the file-versus-S3 difference.
        const streamed = [...runs].find(([v]) => v.id === 'pgz1')?.[1];
        if (streamed) {
          const sMedian = summarize(streamed.map((r) => r.seconds)).median;
          verdicts.push(
            `${gib(db.bytes)} lifeboat default vs pg_dump -Fc -Z1 streamed to the same S3 server: ${(sMedian / t.median).toFixed(2)} × its speed (goal ≥ 2: ${sMedian / t.median >= 2 ? 'meets' : 'misses'}), size ${(bytes / streamed[0]!.bytes).toFixed(2)} × its size`,
          );
          const sOwn = lessAssembly(streamed);
          verdicts.push(
            `${gib(db.bytes)} the same, both less s3rver's assembly of the object: ${(sOwn / own).toFixed(2)} × its speed (goal ≥ 2: ${sOwn / own >= 2 ? 'meets' : 'misses'})`,
          );
        }
      }
    }
  }
  process.stdout.write(
    `\nbackup benchmark — ${repeat} runs each, alternating order; time = median (best beside it); speed = raw pg_dump -Fc median / median; ` +
      `RSS = peak VmHWM of lifeboat's Node process (goal ≤ ${mib(RSS_GOAL)}); lifeboat on Node ${lifeboatNode.version}; ${CORES} cores${
        cpuLimit === null
          ? ''
          : `, each run's processes limited to ${cpuLimit} vCPU-seconds a second in all (a CFS quota; as a Lambda function of ${Math.round(cpuLimit * LAMBDA_MB_PER_VCPU)} MB is given; the database and s3rver outside it)`
      }; 1-minute load average during the run ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}\n\n`,
  );
  process.stdout.write(
    `${table(
      [
        'DB SIZE',
        'RUN',
        'DUMP',
        'SIZE ×RAW',
        'MEDIAN S',
        'BEST S',
        'DB RATE',
        'SPEED ×RAW',
        'LIFEBOAT RSS',
        'PG_DUMP RSS',
      ],
      rows,
    )}\n`,
  );
  if (cpuRows.length > 0) {
    process.stdout.write(
      `\nCPU seconds, median run: the command's process tree (GNU time), the bench database's PostgreSQL backends, s3rver; ` +
        `SERIAL = the most one thread used of the work that cannot spread (pg_dump, a backend, the main thread of lifeboat's Node); ` +
        `FLOOR = max(SERIAL, (tree + backends) / cores): the least time those cores need for that work with S3 elsewhere, ` +
        `on this machine's ${CORES} and on ${ESTIMATE_CORES} (an estimate: it leaves out the pipeline's waits); ` +
        `DB APART = max(SERIAL, tree / ${CORES}): the same on ${CORES} cores with the database's backends on a server of their own, as RDS's are\n\n`,
    );
    process.stdout.write(
      `${table(
        [
          'DB SIZE',
          'RUN',
          'TREE',
          'BACKENDS',
          'S3RVER',
          'SERIAL',
          `FLOOR ${CORES}`,
          `FLOOR ${CORES} DB APART`,
          `FLOOR ${ESTIMATE_CORES}`,
        ],
        cpuRows,
      )}\n`,
    );
  }
  const serverCpu = results.flatMap(({ runs }) =>
    [...runs]
      .filter(([v]) => v.repo === 's3')
      .map(([v, list]) => `${v.id} ${Math.max(...list.map((r) => r.serverCpu ?? 0)).toFixed(1)} s`),
  );
  if (serverCpu.length > 0) {
    verdicts.push(
      `s3rver's own CPU (most of one run), on the same cores as pg_dump and lifeboat (real S3 does this work elsewhere): ${serverCpu.join(', ')}`,
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
