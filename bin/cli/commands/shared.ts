import { InvalidArgument } from '#core/shared/errors.ts';
import { type Parsed, str } from '../args.ts';

/** Runs `fn` with an AbortSignal that Ctrl-C (SIGINT) and SIGTERM trigger, so work stops cleanly. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await fn(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function sizeTolerance(p: Parsed): number | undefined {
  const v = str(p, 'size-tolerance');
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || n > 10) {
    throw new InvalidArgument(`--size-tolerance expects a fraction such as 0.5 (±50 %), got "${v}"`);
  }
  return n;
}

export function parseTime(option: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) {
    throw new InvalidArgument(
      `--${option} expects an ISO 8601 time such as 2026-11-23T09:00:00Z, got "${value}"`,
    );
  }
  return new Date(t);
}
