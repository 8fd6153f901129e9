import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

import type { CpuLimit } from './cpu-limit.ts';

/** How often /proc is read for the peak RSS of the process and its children. */
const POLL_MS = 50;

export interface Measured {
  readonly seconds: number;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Peak RSS (VmHWM) in bytes of the process itself, or null if it could not be read. */
  readonly peakRss: number | null;
  /** Peak RSS in bytes of descendants, by the name `describeChild` gives them. */
  readonly childPeakRss: ReadonlyMap<string, number>;
  /** GNU time's "Maximum resident set size": the largest single process of the tree. */
  readonly treeMaxRss: number | null;
  /** GNU time's user + system seconds: the command and every descendant it waited for. */
  readonly treeCpu: number | null;
  /**
   * CPU seconds of each process seen while polling: the command and its descendants (named by their program), and the
   * watched processes outside the tree (named by `watch`); up to one poll interval of each
   * process's last CPU is missed.
   */
  readonly processCpu: ReadonlyArray<ProcessCpu>;
}

/** CPU seconds of one process: all its threads, and its main thread alone. */
export interface ProcessCpu {
  readonly name: string;
  readonly cpu: number;
  /**
   * The main thread's: what cannot spread over cores. Less than `cpu` for a process with threads
   * of its own (Node's thread pool compressing, zstd's workers).
   */
  readonly mainThread: number;
}

export interface MeasureOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Names a descendant from its command line, or returns null to ignore it (e.g. only the pg_dump
   * that dumps, not the `pg_dump --version` probes).
   */
  readonly describeChild?: (argv: string[]) => string | null;
  /**
   * Processes outside the tree whose CPU counts too: children of `parent` (e.g. the PostgreSQL
   * postmaster: its backends), named by `name` from their command line (null: not one to count,
   * asked again at every poll).
   */
  readonly watch?: { readonly parent: number; readonly name: (argv: string[]) => string | null };
  /** Runs the command and its descendants under this CPU quota (GNU time itself outside it). */
  readonly cpuLimit?: CpuLimit;
}

/**
 * Runs a command under `/usr/bin/time -v` (when present) and polls the VmHWM of the command and of
 * its descendants. VmHWM is the kernel's high-water mark of resident memory, so a poll shortly
 * before exit already holds the peak.
 */
export async function measure(file: string, args: string[], options: MeasureOptions = {}): Promise<Measured> {
  const gnuTime = await hasGnuTime();
  const [limitedFile, limitedArgs] = options.cpuLimit ? options.cpuLimit.wrap(file, args) : [file, args];
  const [cmd, argv] = gnuTime
    ? ['/usr/bin/time', ['-v', limitedFile, ...limitedArgs]]
    : [limitedFile, limitedArgs];
  const started = performance.now();
  const child = spawn(cmd, argv, {
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-256 * 1024);
  });

  let peakRss: number | null = null;
  const childPeaks = new Map<string, number>();
  const names = new Map<number, string>();
  let target: number | undefined = gnuTime ? undefined : child.pid;
  // Last CPU seen of every process counted, by pid.
  const cpuSeen = new Map<number, { name: string; cpu: number; mainThread: number }>();
  const preexisting = new Set(options.watch ? await childrenOf(options.watch.parent) : []);
  const trackCpu = async (pid: number, name: () => Promise<string | null>) => {
    let entry = cpuSeen.get(pid);
    if (entry === undefined) {
      const n = await name();
      // Not (yet) a process to count: ask again at the next poll.
      if (n === null) return;
      entry = { name: n, cpu: 0, mainThread: 0 };
      cpuSeen.set(pid, entry);
    }
    const cpu = await cpuSeconds(pid);
    if (cpu !== null) entry.cpu = cpu;
    const mainThread = await cpuSeconds(pid, pid);
    if (mainThread !== null) entry.mainThread = mainThread;
  };
  let polling = true;
  const poll = async () => {
    while (polling) {
      if (options.watch) {
        for (const pid of await childrenOf(options.watch.parent)) {
          if (preexisting.has(pid)) continue;
          // Judged again at every poll until it is one to count: a PostgreSQL backend shows the
          // postmaster's command line until it sets its title, and rewrites that title in place.
          await trackCpu(pid, async () => {
            const argv = await settledCmdline(pid);
            return argv.length === 0 ? null : options.watch!.name(argv);
          });
        }
      }
      if (target === undefined && child.pid !== undefined) {
        // Under GNU time, the command is time's only child.
        target = (await childrenOf(child.pid))[0];
      }
      if (target !== undefined) {
        const self = target;
        await trackCpu(self, async () => {
          const argv = await settledCmdline(self);
          // Under a CPU limit the command starts as the shell that joins the cgroup, then execs.
          if (argv.length === 0 || (options.cpuLimit && argv[0] === '/bin/sh')) return null;
          return baseName(argv[0]!);
        });
        const own = await vmHwm(target);
        if (own !== null) peakRss = Math.max(peakRss ?? 0, own);
        for (const pid of await descendantsOf(target)) {
          // A child between fork and exec still shows its parent's command line: ask again later.
          let name: string | null | undefined = names.get(pid);
          if (name === undefined) {
            const argv = await settledCmdline(pid);
            name =
              argv.length === 0
                ? null
                : options.describeChild
                  ? options.describeChild(argv)
                  : baseName(argv[0]!);
            if (name) names.set(pid, name);
          }
          await trackCpu(pid, async () => {
            const argv = await settledCmdline(pid);
            return argv.length === 0 ? null : baseName(argv[0]!);
          });
          if (!name) continue;
          const hwm = await vmHwm(pid);
          if (hwm !== null) childPeaks.set(name, Math.max(childPeaks.get(name) ?? 0, hwm));
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  const polled = poll();

  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    },
  );
  const seconds = (performance.now() - started) / 1000;
  polling = false;
  await polled;

  let treeMaxRss: number | null = null;
  let treeCpu: number | null = null;
  let exitCode = code;
  const processCpu = [...cpuSeen.values()];
  if (gnuTime) {
    const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
    if (m) treeMaxRss = Number(m[1]) * 1024;
    const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
    const system = /System time \(seconds\): ([\d.]+)/.exec(stderr);
    if (user && system) treeCpu = Number(user[1]) + Number(system[1]);
    const exit = /Exit status: (\d+)/.exec(stderr);
    if (exit) exitCode = Number(exit[1]);
    stderr = stderr.replace(/\n?\s*Command being timed:[\s\S]*$/, '');
  }
  return {
    seconds,
    code: exitCode,
    signal,
    stdout,
    stderr,
    peakRss,
    childPeakRss: childPeaks,
    treeMaxRss,
    treeCpu,
    processCpu,
  };
}

/**
 * The fields of /proc/<pid>/stat (or of one of its threads, /proc/<pid>/task/<tid>/stat) after the
 * command name (the 3rd field on), or null.
 */
async function statFields(pid: number, tid?: number): Promise<string[] | null> {
  const file = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`;
  try {
    return (await readFile(file, 'utf8')).split(') ')[1]!.split(' ');
  } catch {
    return null;
  }
}

/**
 * User + system CPU seconds of a process so far, or of its thread `tid` (/proc/<pid>/stat, clock
 * ticks of 1/100 s).
 */
export async function cpuSeconds(pid: number | undefined, tid?: number): Promise<number | null> {
  const fields = pid === undefined ? null : await statFields(pid, tid);
  return fields ? (Number(fields[11]) + Number(fields[12])) / 100 : null;
}

/** The parent process of `pid` (/proc/<pid>/stat), or null. */
export async function parentOf(pid: number): Promise<number | null> {
  const fields = await statFields(pid);
  return fields ? Number(fields[1]) : null;
}

let gnuTimeAvailable: Promise<boolean> | undefined;
function hasGnuTime(): Promise<boolean> {
  gnuTimeAvailable ??= readFile('/usr/bin/time').then(
    () => true,
    () => false,
  );
  return gnuTimeAvailable;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

async function vmHwm(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

async function cmdline(pid: number): Promise<string[]> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * The command line of `pid`, or none while it is still its parent's: between fork and exec (or a
 * PostgreSQL backend before it sets its title) a process shows the command line it was forked from.
 */
async function settledCmdline(pid: number): Promise<string[]> {
  const argv = await cmdline(pid);
  const parent = await parentOf(pid);
  if (argv.length === 0 || parent === null) return argv;
  const parentArgv = await cmdline(parent);
  return argv.join('\0') === parentArgv.join('\0') ? [] : argv;
}

async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  try {
    for (const task of await readdir(`/proc/${pid}/task`)) {
      const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
      for (const p of text.split(/\s+/)) if (p) out.push(Number(p));
    }
  } catch {
    // gone
  }
  return out;
}

async function descendantsOf(pid: number): Promise<number[]> {
  const all: number[] = [];
  let level = await childrenOf(pid);
  while (level.length > 0) {
    all.push(...level);
    const next: number[] = [];
    for (const p of level) next.push(...(await childrenOf(p)));
    level = next;
  }
  return all;
}

/** Best (smallest) and median of a list of seconds. */
export function summarize(seconds: readonly number[]): { best: number; median: number } {
  const sorted = [...seconds].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { best: sorted[0]!, median };
}

export function mib(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : `${(n / 1024 / 1024).toFixed(0)} MiB`;
}

export function gib(n: number): string {
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Left-aligned columns separated by two spaces. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** `--name value` options of a bench script. */
export function option(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

export function flag(argv: readonly string[], name: string): boolean {
  return argv.includes(`--${name}`);
}
