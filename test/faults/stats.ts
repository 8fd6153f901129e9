import type { WorldRun } from './runner.ts';

/**
 * Counts what the fault layer did (runs, faults that fired, transitions) per workflow, printed at
 * the end of a suite with FAULT_STATS=1: the figures docs/testing.md quotes come from there.
 */
interface Stats {
  runs: number;
  injected: number;
  transitions: number;
  statuses: Record<string, number>;
}

const stats = new Map<string, Stats>();

export function recordRun(workflow: string, run: WorldRun): void {
  let s = stats.get(workflow);
  if (!s) stats.set(workflow, (s = { runs: 0, injected: 0, transitions: 0, statuses: {} }));
  s.runs += 1;
  s.injected += run.injected;
  s.transitions += run.path.length;
  s.statuses[run.status] = (s.statuses[run.status] ?? 0) + 1;
}

export function runStats(workflow: string): Readonly<Stats> {
  return stats.get(workflow) ?? { runs: 0, injected: 0, transitions: 0, statuses: {} };
}

export function printStats(): void {
  if (process.env.FAULT_STATS !== '1') return;
  for (const [workflow, s] of stats)
    console.log(
      `fault world ${workflow}: ${s.runs} runs, ${s.injected} faults fired, ${s.transitions} transitions, ${JSON.stringify(s.statuses)}`,
    );
}
