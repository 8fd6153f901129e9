import * as z from '../shared/zod.ts';
import { type BackupSummary, CATALOG_PREFIX, Catalog } from './catalog.ts';
import type { Repository } from '../repository/types.ts';

/** Thresholds a database is held to; defaults match the alarms the stacks deploy. */
export interface StatusTargets {
  /** Newest backup older than this is a warning. @default 26 h */
  readonly backupAgeWarningHours: number;
  /** Newest backup older than this is critical. @default 48 h */
  readonly backupAgeCriticalHours: number;
  /** RPO target: the newest *verified* backup must be younger. @default 48 h */
  readonly verifiedAgeTargetHours: number;
  /** Replica lag above this is critical (when lag is known). @default 60 s */
  readonly replicaLagCriticalSeconds: number;
}

export const DEFAULT_TARGETS: StatusTargets = {
  backupAgeWarningHours: 26,
  backupAgeCriticalHours: 48,
  verifiedAgeTargetHours: 48,
  replicaLagCriticalSeconds: 60,
};

export type Health = 'ok' | 'warning' | 'critical';

export interface BackupRef {
  readonly id: string;
  readonly kind: BackupSummary['kind'];
  readonly at: string;
  readonly ageSeconds: number;
}

export interface DatabaseStatus {
  readonly database: string;
  readonly health: Health;
  readonly problems: string[];
  readonly newestBackup: BackupRef | null;
  readonly newestVerified: BackupRef | null;
  /** The newest backup failed its last verification. */
  readonly newestFailedVerification: boolean;
  readonly replicaLagSeconds: number | null;
  readonly lastFailover: { at: string; rtoSeconds: number; rpoSeconds: number | null; mode: string } | null;
}

const FailoverDoc = z.object({
  kind: z.literal('failover'),
  database: z.string(),
  mode: z.string(),
  startedAt: z.string(),
  rtoSeconds: z.number(),
  rpoSeconds: z.nullable(z.number()),
});

const rank: Record<Health, number> = { ok: 0, warning: 1, critical: 2 };

/** Judges one database against the targets. Pure: `now` and the facts are given. */
export function evaluateDatabase(
  database: string,
  backups: readonly BackupSummary[],
  facts: { replicaLagSeconds: number | null; lastFailover: DatabaseStatus['lastFailover'] },
  targets: StatusTargets,
  now: Date,
): DatabaseStatus {
  const problems: Array<{ health: Health; text: string }> = [];
  const ref = (b: BackupSummary, at: string): BackupRef => ({
    id: b.id,
    kind: b.kind,
    at,
    ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000)),
  });
  const completed = backups.filter((b) => b.state === 'completed');
  const newest = completed[0];
  const verified = completed.find((b) => b.verification === 'verified');
  const newestBackup = newest ? ref(newest, newest.finishedAt ?? newest.startedAt) : null;
  // The restore point a verified backup gives is when it was taken, not when it was verified.
  const newestVerified = verified ? ref(verified, verified.startedAt) : null;
  const hours = (s: number) => `${(s / 3600).toFixed(1)} h`;

  if (!newestBackup) problems.push({ health: 'critical', text: 'no completed backup' });
  else if (newestBackup.ageSeconds > targets.backupAgeCriticalHours * 3600) {
    problems.push({
      health: 'critical',
      text: `newest backup is ${hours(newestBackup.ageSeconds)} old (critical over ${targets.backupAgeCriticalHours} h)`,
    });
  } else if (newestBackup.ageSeconds > targets.backupAgeWarningHours * 3600) {
    problems.push({
      health: 'warning',
      text: `newest backup is ${hours(newestBackup.ageSeconds)} old (warning over ${targets.backupAgeWarningHours} h)`,
    });
  }
  if (!newestVerified) {
    if (newestBackup)
      problems.push({ health: 'critical', text: 'no verified backup: nothing is proven to restore' });
  } else if (newestVerified.ageSeconds > targets.verifiedAgeTargetHours * 3600) {
    problems.push({
      health: 'critical',
      text: `newest verified backup is ${hours(newestVerified.ageSeconds)} old (RPO target ${targets.verifiedAgeTargetHours} h)`,
    });
  }
  const newestFailedVerification = newest?.verification === 'verification-failed';
  if (newestFailedVerification)
    problems.push({ health: 'warning', text: `newest backup ${newest!.id} failed verification` });
  const lastAttempt = backups.find((b) => b.state !== 'deleted');
  if (lastAttempt && lastAttempt.state === 'failed') {
    problems.push({
      health: 'warning',
      text: `last backup attempt ${lastAttempt.id} failed: ${lastAttempt.error?.message ?? 'unknown'}`,
    });
  }
  if (facts.replicaLagSeconds !== null && facts.replicaLagSeconds > targets.replicaLagCriticalSeconds) {
    problems.push({
      health: 'critical',
      text: `replica lag ${facts.replicaLagSeconds} s (critical over ${targets.replicaLagCriticalSeconds} s)`,
    });
  }
  const health = problems.reduce<Health>((h, p) => (rank[p.health] > rank[h] ? p.health : h), 'ok');
  return {
    database,
    health,
    problems: problems.map((p) => p.text),
    newestBackup,
    newestVerified,
    newestFailedVerification,
    replicaLagSeconds: facts.replicaLagSeconds,
    lastFailover: facts.lastFailover,
  };
}

/** Status of every database in a repository's catalog (or the ones named). */
export async function repositoryStatus(
  repository: Repository,
  options: { targets?: Partial<StatusTargets>; databases?: readonly string[]; now?: Date } = {},
): Promise<DatabaseStatus[]> {
  const now = options.now ?? new Date();
  const targets = { ...DEFAULT_TARGETS, ...options.targets };
  const all = await new Catalog(repository, { now: () => now }).list();
  const names = new Set(options.databases ?? all.map((b) => b.database));
  const failovers = await lastFailovers(repository);
  for (const db of failovers.keys()) if (!options.databases) names.add(db);
  return [...names].sort().map((database) =>
    evaluateDatabase(
      database,
      all.filter((b) => b.database === database),
      { replicaLagSeconds: null, lastFailover: failovers.get(database) ?? null },
      targets,
      now,
    ),
  );
}

async function lastFailovers(
  repository: Repository,
): Promise<Map<string, NonNullable<DatabaseStatus['lastFailover']>>> {
  const keys = (await repository.list(CATALOG_PREFIX)).filter((k) => k.split('/')[2] === '_failovers');
  const result = new Map<string, NonNullable<DatabaseStatus['lastFailover']>>();
  for (const key of keys) {
    const parsed = FailoverDoc.safeParse(JSON.parse((await repository.read(key)).toString('utf8')));
    if (!parsed.success) continue;
    const doc = parsed.data;
    const current = result.get(doc.database);
    if (!current || current.at < doc.startedAt) {
      result.set(doc.database, {
        at: doc.startedAt,
        rtoSeconds: doc.rtoSeconds,
        rpoSeconds: doc.rpoSeconds,
        mode: doc.mode,
      });
    }
  }
  return result;
}

/** The worst health of all. */
export function overallHealth(statuses: readonly DatabaseStatus[]): Health {
  return statuses.reduce<Health>((h, s) => (rank[s.health] > rank[h] ? s.health : h), 'ok');
}
