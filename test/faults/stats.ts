import type { WorldRun } from './runner.ts';

/**
 * Counts what the fault layer did (runs, faults that fired, transitions, outcomes, and how many
 * runs entered each state) per property, printed at the end of a suite with FAULT_STATS=1: the
 * figures docs/testing.md quotes come from there. A suite names its risky states (the rare paths
 * its invariants are about) with `watchStates`; they are printed with the number of runs that
 * entered each.
 */
interface Stats {
  runs: number;
  injected: number;
  transitions: number;
  statuses: Record<string, number>;
  /** Runs that entered each state (once per run, however often it was entered). */
  entered: Record<string, number>;
}

const stats = new Map<string, Stats>();
const watched = new Map<string, readonly string[]>();

export function recordRun(label: string, run: WorldRun): void {
  let s = stats.get(label);
  if (!s) stats.set(label, (s = { runs: 0, injected: 0, transitions: 0, statuses: {}, entered: {} }));
  s.runs += 1;
  s.injected += run.injected;
  s.transitions += run.path.length;
  s.statuses[run.status] = (s.statuses[run.status] ?? 0) + 1;
  for (const state of new Set(run.path)) s.entered[state] = (s.entered[state] ?? 0) + 1;
}

export function runStats(label: string): Readonly<Stats> {
  return stats.get(label) ?? { runs: 0, injected: 0, transitions: 0, statuses: {}, entered: {} };
}

/** The risky states of the labels starting with `prefix` (printed with the runs that entered them). */
export function watchStates(prefix: string, states: readonly string[]): void {
  watched.set(prefix, states);
}

/** Runs of `label` that entered each of `states`. */
export function enteredCounts(label: string, states: readonly string[]): Record<string, number> {
  const entered = runStats(label).entered;
  return Object.fromEntries(states.map((state) => [state, entered[state] ?? 0]));
}

export function printStats(): void {
  if (process.env.FAULT_STATS !== '1') return;
  for (const [label, s] of stats) {
    const risky = [...watched].find(([prefix]) => label.startsWith(prefix))?.[1] ?? [];
    const counts = risky.length ? `; runs entering ${JSON.stringify(enteredCounts(label, risky))}` : '';
    console.log(
      `fault world ${label}: ${s.runs} runs, ${s.injected} faults fired, ${s.transitions} transitions, ${JSON.stringify(s.statuses)}${counts}`,
    );
  }
}
