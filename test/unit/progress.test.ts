import { describe, expect, it } from 'vitest';
import { backupProgressText, entriesReporter, progressReporter } from '../../bin/cli/progress.ts';

/** A stream that says it is a terminal (or not), keeping what is written. */
function stream(isTTY: boolean) {
  const writes: string[] = [];
  return {
    isTTY,
    writes,
    write(text: string) {
      writes.push(text);
      return true;
    },
  };
}

const MiB = 1024 * 1024;
const previous = { id: '20261130T020000Z-ab12cd', bytes: 100 * MiB, durationMs: 10_000 };

describe('backup progress', () => {
  it('shows bytes, rate, the share of the previous backup and an ETA from it', () => {
    // Before 2 s the rate is the previous backup's (10 MiB/s): 95 MiB left, 9.5 s.
    expect(backupProgressText(5 * MiB, 1000, previous)).toBe(
      '5.0 MiB of ~100.0 MiB (5 %)  5.0 MiB/s  ETA 9.5 s',
    );
    // Then the current one: 40 MiB in 8 s is 5 MiB/s, 60 MiB left, 12 s.
    expect(backupProgressText(40 * MiB, 8000, previous)).toBe(
      '40.0 MiB of ~100.0 MiB (40 %)  5.0 MiB/s  ETA 12.0 s',
    );
    expect(backupProgressText(120 * MiB, 12_000, previous)).toBe(
      "120.0 MiB  10.0 MiB/s  past the previous backup's 100.0 MiB",
    );
    expect(backupProgressText(3 * MiB, 1000, null)).toBe('3.0 MiB  3.0 MiB/s');
  });

  it('draws on a terminal at most every interval, clears the line when done, and writes nothing elsewhere', () => {
    let t = 0;
    const tty = stream(true);
    const r = progressReporter('backing up orders:', tty, { previous, now: () => t, intervalMs: 200 });
    t = 1000;
    r.update(10 * MiB);
    t = 1100;
    r.update(11 * MiB); // within 200 ms of the last line: not drawn
    t = 4000;
    r.update(40 * MiB);
    r.done();
    expect(tty.writes).toEqual([
      '\r\x1b[Kbacking up orders: 10.0 MiB of ~100.0 MiB (10 %)  10.0 MiB/s  ETA 9.0 s',
      '\r\x1b[Kbacking up orders: 40.0 MiB of ~100.0 MiB (40 %)  10.0 MiB/s  ETA 6.0 s',
      '\r\x1b[K',
    ]);

    const pipe = stream(false);
    const quiet = progressReporter('backing up orders:', pipe, { previous, now: () => t });
    quiet.update(10 * MiB);
    quiet.done();
    expect(pipe.writes).toEqual([]);
  });
});

describe('backup progress while the catalog is still being read', () => {
  it('has no ETA until the previous backup is known, then has one', async () => {
    let t = 0;
    const tty = stream(true);
    let resolve!: (p: typeof previous) => void;
    const later = new Promise<typeof previous>((r) => (resolve = r));
    const r = progressReporter('backing up orders:', tty, { previous: later, now: () => t, intervalMs: 0 });
    t = 1000;
    r.update(5 * MiB);
    resolve(previous);
    await later;
    r.update(5 * MiB);
    expect(tty.writes).toEqual([
      '\r\x1b[Kbacking up orders: 5.0 MiB  5.0 MiB/s',
      '\r\x1b[Kbacking up orders: 5.0 MiB of ~100.0 MiB (5 %)  5.0 MiB/s  ETA 9.5 s',
    ]);
  });
});

describe('restore progress', () => {
  it('shows table-of-contents entries done out of the total, the last one always', () => {
    let t = 0;
    const tty = stream(true);
    const r = entriesReporter('restoring:', tty, { now: () => t, intervalMs: 200 });
    r.update(0, 1500);
    t = 100;
    r.update(700, 1500); // too soon: skipped
    t = 2500;
    r.update(900, 1500);
    t = 2600;
    r.update(1500, 1500); // the end is drawn however soon
    expect(tty.writes).toEqual([
      '\r\x1b[Krestoring: 0/1,500 entries (0 %)  0 ms',
      '\r\x1b[Krestoring: 900/1,500 entries (60 %)  2.5 s',
      '\r\x1b[Krestoring: 1,500/1,500 entries (100 %)  2.6 s',
    ]);
    const pipe = stream(false);
    entriesReporter('restoring:', pipe).update(1, 2);
    expect(pipe.writes).toEqual([]);
  });
});
