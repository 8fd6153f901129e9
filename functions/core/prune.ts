import { DeleteDBClusterSnapshotCommand, DeleteDBSnapshotCommand, type RDSClient } from '@aws-sdk/client-rds';
import { z } from 'zod';
import { artifactKey, type BackupSummary, type Catalog } from './catalog.ts';
import { ConfigError, errorMessage, InvalidArgument } from './errors.ts';
import type { Logger } from './logger.ts';
import {
  isRdsError,
  listLifeboatSnapshots,
  manualSnapshotQuotas,
  mapRdsError,
  type Quota,
  type RdsSnapshot,
} from './rds.ts';
import {
  planRetention,
  type RetentionBackup,
  type RetentionDecision,
  RetentionPolicy,
  type RetentionState,
} from './retention.ts';
import { arnRegion, parseSlotTag, snapshotBackupId, TAG } from './snapshot-naming.ts';

/**
 * The daily prune of one environment: RDS snapshots (primary and DR region) and logical dumps (the
 * catalog), per database, through the retention policy. Dry-run lists what would go and why.
 * It runs in the primary region only; the DR region's snapshots are reached with a second client.
 */

/** One database's retention, with the time zone its day/week/month/year boundaries are in. */
export const DatabaseRetention = z.strictObject({
  ...RetentionPolicy.shape,
  /** IANA zone, usually the snapshot schedule's. @default UTC */
  timeZone: z.string().min(1).default('UTC'),
});
export type DatabaseRetention = z.infer<typeof DatabaseRetention>;

/** LIFEBOAT_POLICIES: `{ "<database>": { daily, weekly, monthly, yearly, minVerified, maxDeletionsPerRun, timeZone } }`. */
export const RetentionPolicies = z.record(z.string().min(1), DatabaseRetention);
export type RetentionPolicies = z.infer<typeof RetentionPolicies>;

export function parseRetentionPolicies(json: string, variable: string): RetentionPolicies {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${variable} is not JSON: ${errorMessage(err)}`);
  }
  const parsed = RetentionPolicies.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`${variable}: ${problems.join('; ')}`);
  }
  for (const [database, policy] of Object.entries(parsed.data)) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: policy.timeZone });
    } catch {
      throw new ConfigError(`${variable}: ${database}.timeZone: unknown time zone "${policy.timeZone}"`);
    }
  }
  return parsed.data;
}

export const PruneEvent = z.strictObject({
  /** List what would be deleted and why; delete nothing. @default false */
  dryRun: z.boolean().default(false),
});
export type PruneEvent = z.infer<typeof PruneEvent>;

export function parsePruneEvent(event: unknown): PruneEvent {
  const parsed = PruneEvent.safeParse(event ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
    throw new InvalidArgument(`prune event: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export interface PruneItem {
  readonly database: string;
  readonly backupId: string;
  readonly kind: 'dump' | 'snapshot';
  readonly region: string;
  /** The RDS snapshot identifier, or the dump's artifact key. */
  readonly resource: string;
  readonly takenAt: string;
  readonly reasons: readonly string[];
}

export interface PruneError {
  readonly database: string | null;
  readonly backupId: string | null;
  readonly region: string | null;
  readonly error: { readonly name: string; readonly message: string };
}

export interface PruneReport {
  readonly environment: string;
  readonly dryRun: boolean;
  readonly at: string;
  readonly kept: PruneItem[];
  readonly deleted: PruneItem[];
  readonly wouldDelete: PruneItem[];
  readonly errors: PruneError[];
  /** Manual snapshot quotas per region after this run's deletions (null where unreadable). */
  readonly quotas: Record<string, { instance: Quota | null; cluster: Quota | null } | null>;
}

export interface PruneDeps {
  readonly primary: RDSClient;
  readonly dr: RDSClient;
  readonly drRegion: string;
  readonly catalog: Catalog;
  readonly policies: RetentionPolicies;
  /**
   * Retention by policy name, for databases found by discovery (not in `policies`): their
   * snapshots carry the policy in their lifeboat:policy tag. @default {}
   */
  readonly policiesByName?: RetentionPolicies;
  readonly environment: string;
  readonly logger: Logger;
  readonly now?: () => Date;
}

export const NO_POLICY = 'no retention policy for this database: untouched';
export const COPY_IN_FLIGHT = 'its DR copy is in flight: deleting the source now would fail the copy';

/** What each backup is, beside the retention view of it. */
interface Candidate {
  readonly database: string;
  readonly backup: RetentionBackup;
  readonly resource: string;
  readonly snapshot: RdsSnapshot | null;
}

export async function prune(event: PruneEvent, deps: PruneDeps): Promise<PruneReport> {
  const now = (deps.now ?? (() => new Date()))();
  const primaryRegion = await deps.primary.config.region();
  const errors: PruneError[] = [];
  const report: PruneReport = {
    environment: deps.environment,
    dryRun: event.dryRun,
    at: now.toISOString(),
    kept: [],
    deleted: [],
    wouldDelete: [],
    errors,
    quotas: {},
  };

  // Without the catalog nothing is known to be verified; stop rather than guess.
  const catalogued = await deps.catalog.list();
  const byId = new Map(catalogued.map((b) => [`${b.database}/${b.id}`, b]));

  const snapshots: RdsSnapshot[] = [];
  for (const [region, client] of [
    [primaryRegion, deps.primary],
    [deps.drRegion, deps.dr],
  ] as const) {
    for (const type of ['instance', 'cluster'] as const) {
      try {
        snapshots.push(...(await listLifeboatSnapshots(client, type, deps.environment)));
      } catch (err) {
        // That region's series is simply not evaluated this run; the others are independent.
        errors.push({ database: null, backupId: null, region, error: errorInfo(err) });
        deps.logger.error('could not list snapshots: they are left alone this run', {
          region,
          type,
          error: errorMessage(err),
        });
      }
    }
  }

  const candidates = [
    ...snapshots.flatMap((s) => snapshotCandidate(s, byId, primaryRegion)),
    ...catalogued.filter((b) => b.kind === 'logical-dump').map((b) => dumpCandidate(b, primaryRegion)),
  ];
  const inFlightCopies = new Set(
    snapshots
      .filter((s) => regionOf(s) === deps.drRegion && retentionState(s.status) === 'in-progress')
      .map((s) => s.identifier),
  );

  const byDatabase = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const list = byDatabase.get(c.database) ?? [];
    list.push(c);
    byDatabase.set(c.database, list);
  }

  for (const [database, list] of [...byDatabase].sort(([a], [b]) => a.localeCompare(b))) {
    const policy = deps.policies[database] ?? policyFromTags(list, deps.policiesByName ?? {});
    if (!policy) {
      for (const c of list) if (c.backup.state !== 'deleted') report.kept.push(item(c, [NO_POLICY]));
      continue;
    }
    const { timeZone, ...retention } = policy;
    const decisions = planRetention(
      list.map((c) => c.backup),
      retention,
      { now, timeZone },
    );
    const byKey = new Map(list.map((c) => [keyOf(c.backup), c]));
    for (const decision of decisions) {
      const c = byKey.get(keyOf(decision.backup))!;
      if (c.backup.state === 'deleted') continue;
      const verdict = extraGuard(decision, c, inFlightCopies, primaryRegion);
      if (verdict.action === 'keep') {
        report.kept.push(item(c, verdict.reasons));
      } else if (event.dryRun) {
        report.wouldDelete.push(item(c, verdict.reasons));
      } else {
        await remove(c, verdict.reasons, deps, now, report);
      }
    }
  }

  // The quota is what runs out when retention is too generous: show it beside the decisions.
  for (const [region, client] of [
    [primaryRegion, deps.primary],
    [deps.drRegion, deps.dr],
  ] as const) {
    report.quotas[region] = await manualSnapshotQuotas(client).catch((err: unknown) => {
      deps.logger.warn('could not read the manual snapshot quota', { region, error: errorMessage(err) });
      return null;
    });
  }

  deps.logger.info(event.dryRun ? 'prune dry run' : 'prune done', {
    environment: deps.environment,
    kept: report.kept.length,
    deleted: report.deleted.length,
    wouldDelete: report.wouldDelete.length,
    errors: report.errors.length,
    quotas: report.quotas,
  });
  return report;
}

/** Guards that need AWS facts retention.ts does not have. */
function extraGuard(
  decision: RetentionDecision,
  c: Candidate,
  inFlightCopies: Set<string>,
  primaryRegion: string,
): { action: 'keep' | 'delete'; reasons: readonly string[] } {
  if (
    decision.action === 'delete' &&
    c.snapshot !== null &&
    c.backup.region === primaryRegion &&
    inFlightCopies.has(c.snapshot.identifier)
  ) {
    return { action: 'keep', reasons: [COPY_IN_FLIGHT] };
  }
  return { action: decision.action, reasons: decision.reasons };
}

async function remove(
  c: Candidate,
  reasons: readonly string[],
  deps: PruneDeps,
  now: Date,
  report: PruneReport,
) {
  const at = { database: c.database, backupId: c.backup.id, region: c.backup.region };
  try {
    if (c.snapshot) {
      await deleteSnapshot(c.snapshot, c.backup.region === deps.drRegion ? deps.dr : deps.primary);
    } else {
      // A versioned bucket with Object Lock keeps the locked version (DELETE adds a delete marker);
      // a bucket policy that refuses deletes surfaces here and is reported, not fatal.
      await deps.catalog.repository.remove(c.resource);
    }
  } catch (err) {
    report.errors.push({ ...at, error: errorInfo(err) });
    deps.logger.error('could not delete a backup', { ...at, resource: c.resource, error: errorMessage(err) });
    return;
  }
  report.deleted.push(item(c, reasons));
  try {
    await deps.catalog.record({
      kind: 'deleted',
      backupId: c.backup.id,
      database: c.database,
      at: now.toISOString(),
      reason: reasons.join('; '),
    });
  } catch (err) {
    report.errors.push({ ...at, error: errorInfo(err) });
    deps.logger.error('deleted a backup but could not record it in the catalog', {
      ...at,
      error: errorMessage(err),
    });
  }
}

async function deleteSnapshot(snapshot: RdsSnapshot, client: RDSClient): Promise<void> {
  try {
    if (snapshot.type === 'instance') {
      await client.send(new DeleteDBSnapshotCommand({ DBSnapshotIdentifier: snapshot.identifier }));
    } else {
      await client.send(
        new DeleteDBClusterSnapshotCommand({ DBClusterSnapshotIdentifier: snapshot.identifier }),
      );
    }
  } catch (err) {
    // Gone already (another run, a person): the goal is met.
    if (isRdsError(err, 'DBSnapshotNotFound', 'DBClusterSnapshotNotFound')) return;
    throw mapRdsError(err, `deleting ${snapshot.type} snapshot ${snapshot.identifier}`, {
      kmsKeyId: snapshot.kmsKeyId,
    });
  }
}

/**
 * The retention of a discovered database: the policy its newest snapshot is tagged with (a
 * database re-tagged to another policy follows its new policy), if that policy is known.
 */
function policyFromTags(list: readonly Candidate[], byName: RetentionPolicies) {
  const tagged = list
    .filter((c) => c.snapshot?.tags[TAG.policy] !== undefined)
    .sort((a, b) => b.backup.takenAt.localeCompare(a.backup.takenAt));
  const name = tagged[0]?.snapshot?.tags[TAG.policy];
  return name === undefined ? undefined : byName[name];
}

function snapshotCandidate(
  s: RdsSnapshot,
  catalog: Map<string, BackupSummary>,
  primaryRegion: string,
): Candidate[] {
  const slot = parseSlotTag(s.tags[TAG.slot]);
  const database = s.tags[TAG.database];
  const region = regionOf(s);
  if (!slot || !database || !region) return []; // not one of ours after all: never touched
  const id = snapshotBackupId(slot, region);
  // A DR copy holds the same data as its source: a passed restore test of the source vouches for it.
  const own = catalog.get(`${database}/${id}`);
  const source = catalog.get(`${database}/${snapshotBackupId(slot, primaryRegion)}`);
  const vouching = [own, source].find((b) => b?.verification === 'verified');
  return [
    {
      database,
      resource: s.identifier,
      snapshot: s,
      backup: {
        id,
        kind: 'snapshot',
        region,
        takenAt: slot.toISOString(),
        state: retentionState(s.status),
        verified: vouching !== undefined,
        verifiedAt: vouching?.verifiedAt ?? null,
      },
    },
  ];
}

function dumpCandidate(b: BackupSummary, region: string): Candidate {
  return {
    database: b.database,
    resource: artifactKey(b.database, b.id),
    snapshot: null,
    backup: {
      id: b.id,
      kind: 'dump',
      region,
      takenAt: b.startedAt,
      state: b.state,
      verified: b.verification === 'verified',
      verifiedAt: b.verifiedAt,
    },
  };
}

/** RDS status → retention state. Anything unknown counts as in progress: kept. */
export function retentionState(status: string): RetentionState {
  if (status === 'available') return 'completed';
  if (status === 'failed' || status.startsWith('incompatible')) return 'failed';
  if (status === 'deleting' || status === 'deleted') return 'deleted';
  return 'in-progress';
}

function regionOf(s: RdsSnapshot): string | null {
  return arnRegion(s.arn);
}

function keyOf(b: RetentionBackup): string {
  return `${b.kind}@${b.region}/${b.id}`;
}

function item(c: Candidate, reasons: readonly string[]): PruneItem {
  return {
    database: c.database,
    backupId: c.backup.id,
    kind: c.backup.kind,
    region: c.backup.region,
    resource: c.resource,
    takenAt: c.backup.takenAt,
    reasons,
  };
}

function errorInfo(err: unknown): { name: string; message: string } {
  return { name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
}
