import { Catalog } from '#core/catalog/catalog.ts';
import type { Repository } from '#core/repository/types.ts';
import { bytes, duration } from './format.ts';

/**
 * One-line progress on a terminal (stderr), redrawn at most every `intervalMs`; silent when the
 * stream is not a terminal, so logs and pipes get none of it. A test hands in a stream that says
 * it is a TTY, and a clock.
 */

export interface ProgressStream {
  readonly isTTY?: boolean | undefined;
  write(text: string): boolean;
}

export interface ProgressOptions {
  /** @default Date.now */
  readonly now?: () => number;
  /** Least time between two redraws. @default 200 */
  readonly intervalMs?: number;
}

/** The previous backup of the same database: its size and how long it took. */
export interface PreviousBackup {
  readonly id: string;
  readonly bytes: number;
  readonly durationMs: number;
}

/**
 * The newest completed dump of `database` in the catalog with a size and a duration, or null (none,
 * or the catalog could not be read: progress never fails a backup).
 */
export async function previousBackup(
  repository: Repository,
  database: string,
): Promise<PreviousBackup | null> {
  try {
    for (const b of await new Catalog(repository).list({ database })) {
      if (b.kind !== 'logical-dump' || b.state !== 'completed' || !b.bytes || !b.finishedAt) continue;
      const durationMs = Date.parse(b.finishedAt) - Date.parse(b.startedAt);
      if (durationMs > 0) return { id: b.id, bytes: b.bytes, durationMs };
    }
  } catch {
    // No estimate then.
  }
  return null;
}

/** Until this much of a backup has run, its rate is taken from the previous backup. */
const WARM_UP_MS = 2000;

/**
 * What a backup's progress line says after `n` bytes in `elapsedMs`: bytes and rate, and with a
 * previous backup of the same database its size as the expected total, the share done and an ETA
 * (at the current rate once it has run a little, at the previous backup's rate before that).
 */
export function backupProgressText(n: number, elapsedMs: number, previous: PreviousBackup | null): string {
  const rate = elapsedMs > 0 ? (n * 1000) / elapsedMs : 0;
  const head = `${bytes(n)}  ${bytes(Math.round(rate))}/s`;
  if (!previous) return head;
  if (n >= previous.bytes) return `${head}  past the previous backup's ${bytes(previous.bytes)}`;
  const previousRate = (previous.bytes * 1000) / previous.durationMs;
  const useRate = elapsedMs >= WARM_UP_MS && rate > 0 ? rate : previousRate;
  const etaMs = ((previous.bytes - n) / useRate) * 1000;
  const percent = Math.floor((n / previous.bytes) * 100);
  return `${bytes(n)} of ~${bytes(previous.bytes)} (${percent} %)  ${bytes(Math.round(rate))}/s  ETA ${duration(Math.round(etaMs))}`;
}

function redrawer(label: string, stream: ProgressStream, options: ProgressOptions) {
  const now = options.now ?? Date.now;
  const interval = options.intervalMs ?? 200;
  let last = -Infinity;
  let shown = false;
  return {
    started: now(),
    now,
    draw(text: string, force = false) {
      if (!stream.isTTY) return;
      const t = now();
      if (!force && t - last < interval) return;
      last = t;
      stream.write(`\r\x1b[K${label} ${text}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** A backup's bytes, rate and (from the previous backup) ETA, on one line. */
export function progressReporter(
  label: string,
  stream: ProgressStream = process.stderr,
  options: ProgressOptions & {
    /** The previous backup, or a promise of it (the line has no ETA until it is known). */
    readonly previous?: PreviousBackup | null | Promise<PreviousBackup | null>;
  } = {},
) {
  const r = redrawer(label, stream, options);
  let previous: PreviousBackup | null = null;
  if (options.previous instanceof Promise) void options.previous.then((p) => (previous = p));
  else previous = options.previous ?? null;
  return {
    update(n: number) {
      r.draw(backupProgressText(n, r.now() - r.started, previous));
    },
    done: r.done,
  };
}

/** A restore's table-of-contents entries done out of the total, with the elapsed time. */
export function entriesReporter(
  label: string,
  stream: ProgressStream = process.stderr,
  options: ProgressOptions = {},
) {
  const r = redrawer(label, stream, options);
  return {
    update(done: number, total: number) {
      const percent = total > 0 ? Math.floor((done / total) * 100) : 0;
      r.draw(
        `${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} entries (${percent} %)  ${duration(r.now() - r.started)}`,
        done === total,
      );
    },
    done: r.done,
  };
}
