import type { BackupSummary } from '#core/catalog/catalog.ts';
import type { ObjectStorage } from '#core/repository/types.ts';

export function bytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function duration(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return `${m} min ${s} s`;
}

export function age(iso: string | null, now: Date = new Date()): string {
  if (!iso) return '-';
  const ms = now.getTime() - Date.parse(iso);
  if (ms < 0) return 'in the future';
  if (ms < 60_000) return `${Math.floor(ms / 1000)}s ago`;
  if (ms < 3600_000) return `${Math.floor(ms / 60_000)}m ago`;
  if (ms < 48 * 3600_000) return `${Math.floor(ms / 3600_000)}h ago`;
  return `${Math.floor(ms / 86_400_000)}d ago`;
}

/** Left-aligned columns separated by two spaces. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Where a backup's artifact is stored, for people: its storage class and whether it reads now. */
export function tierText(s: ObjectStorage | undefined): string {
  if (!s) return '-';
  if (!s.archived) return s.storageClass;
  if (s.restore === 'in-progress') return `${s.storageClass} (restoring)`;
  if (s.restore === 'available')
    return `${s.storageClass} (restored${s.restoredUntil ? ` until ${s.restoredUntil.slice(0, 10)}` : ''})`;
  return `${s.storageClass} (archived)`;
}

/** The catalog as a table; with `tiers` (by backup id) a TIER column says where each artifact is. */
export function backupTable(
  backups: readonly BackupSummary[],
  now = new Date(),
  tiers?: ReadonlyMap<string, ObjectStorage>,
): string {
  const headers = ['ID', 'DATABASE', 'KIND', 'STATE', 'VERIFIED', 'STARTED', 'SIZE', 'NOTE'];
  return table(
    tiers ? [...headers.slice(0, 7), 'TIER', 'NOTE'] : headers,
    backups.map((b) => [
      b.id,
      b.database,
      b.kind,
      b.state,
      b.verification === 'verified'
        ? `yes (${age(b.verifiedAt, now)})`
        : b.verification === 'verification-failed'
          ? `FAILED (${age(b.lastVerification?.at ?? null, now)})`
          : 'no',
      `${b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')} (${age(b.startedAt, now)})`,
      bytes(b.bytes),
      ...(tiers ? [tierText(tiers.get(b.id))] : []),
      b.problems?.length
        ? `${b.problems[0]!.problem}: ${b.problems[0]!.key.split('/').slice(3).join('/')}`.slice(0, 80)
        : b.error
          ? b.error.message.slice(0, 80)
          : '',
    ]),
  );
}
