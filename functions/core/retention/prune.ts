import { DeleteDBClusterSnapshotCommand, DeleteDBSnapshotCommand, type RDSClient } from '@aws-sdk/client-rds';
import { type CatalogProblem, type CatalogReading } from '../catalog/catalog.ts';
import { errorMessage } from '../shared/errors.ts';
import {
  isRdsError,
  manualSnapshotQuotas,
  mapRdsError,
  type RdsSnapshot,
  snapshotSharedWith,
} from '../snapshots/rds.ts';
import { planRetention, seriesName } from './retention.ts';
import { type SnapshotType } from '../snapshots/snapshot-naming.ts';
import type { PruneEvent } from './prune-settings.ts';
import { DEFAULT_PRUNE_LIMITS, policyOf } from './prune-settings.ts';
import type { Candidate } from './prune-candidates.ts';
import {
  compare,
  dumpCandidates,
  errorInfo,
  item,
  listSnapshots,
  policyFromTags,
  retentionState,
  snapshotCandidates,
} from './prune-candidates.ts';
import type {
  PruneConflict,
  PruneDeps,
  PruneError,
  PruneIgnored,
  PruneItem,
  PruneRefusal,
  PruneReport,
} from './prune-report.ts';
import { COPY_IN_FLIGHT, NO_POLICY, PRUNE_REASON } from './prune-report.ts';

/**
 * The daily prune of one environment: RDS snapshots (primary and DR region) and logical dumps (the
 * catalog), per database, through the retention policy. Dry-run lists what would go and why.
 * The primary region's prune reaches the DR region's snapshots with a second client; the DR
 * region's bucket is pruned by the DR region's own prune (dumps only, `snapshots` absent), so a
 * deletion in one region never removes the other's copy.
 *
 * It fails safe by construction:
 * - a series is a catalog name *and* a source (the DB instance's resource id, the dump's source):
 *   two databases under one name are judged apart, never merged;
 * - a database whose catalog documents cannot all be read (or are of an unknown major version)
 *   is not judged: everything of it is kept, reported, and counted for an alarm;
 * - a backup dated after now, or whose restore test cannot be told apart from another's, is kept
 *   and never counted;
 * - a listing either is complete or counts as failed; the snapshots it would have judged (and the
 *   copies in flight it would have shown) are then kept;
 * - only manual, lifeboat-named, lifeboat-tagged snapshots that are shared with no other account
 *   are ever deleted, whatever the server-side filter let through;
 * - each database is judged in isolation; the deletions of the whole run are capped per run and
 *   per day across all databases, oldest first;
 * - a deletion removes the artifact (or snapshot) and adds a `deleted` record; no catalog
 *   document is ever removed.
 */

interface Deletion {
  readonly c: Candidate;
  readonly reasons: readonly string[];
  readonly series: string;
}

export async function prune(event: PruneEvent, deps: PruneDeps): Promise<PruneReport> {
  const now = (deps.now ?? (() => new Date()))();
  const limits = deps.limits ?? DEFAULT_PRUNE_LIMITS;
  const snapshotClients = deps.snapshots;
  const primaryRegion = snapshotClients ? await snapshotClients.primary.config.region() : undefined;
  const dumpRegion = deps.region ?? deps.catalog.region ?? primaryRegion ?? 'repository';
  const errors: PruneError[] = [];
  const refused: PruneRefusal[] = [];
  const ignored: PruneIgnored[] = [];

  // Without the catalog nothing is known to be verified: a failed read stops the run.
  const reading = await deps.catalog.read({ database: deps.database });
  const problemsOf = new Map<string, CatalogProblem[]>();
  for (const p of reading.problems) {
    if (p.database === null) {
      errors.push({ database: null, backupId: null, region: dumpRegion, error: problemError(p) });
      continue;
    }
    const list = problemsOf.get(p.database) ?? [];
    list.push(p);
    problemsOf.set(p.database, list);
  }
  const deletedInLast24h = deletionsSince(reading, now, deps, snapshotClients !== undefined);

  const candidates: Candidate[] = [];
  const unlisted = new Map<SnapshotType, string>();
  let inFlightCopies = new Set<string>();
  if (snapshotClients && primaryRegion) {
    const listed = await listSnapshots(snapshotClients, primaryRegion, deps, errors, unlisted);
    inFlightCopies = new Set(
      listed
        .filter(
          (s) => s.region === snapshotClients.drRegion && retentionState(s.snapshot.status) === 'in-progress',
        )
        .map((s) => s.snapshot.identifier),
    );
    candidates.push(
      ...snapshotCandidates(listed, reading, primaryRegion, snapshotClients.drRegion, now, unlisted, ignored),
    );
  }
  candidates.push(...dumpCandidates(reading, dumpRegion, now));

  const byDatabase = new Map<string, Candidate[]>();
  for (const c of candidates) {
    const list = byDatabase.get(c.database) ?? [];
    list.push(c);
    byDatabase.set(c.database, list);
  }
  // A database whose catalog has unreadable documents but nothing else readable is reported too.
  for (const database of problemsOf.keys()) if (!byDatabase.has(database)) byDatabase.set(database, []);

  const kept: PruneItem[] = [];
  const toDelete: Deletion[] = [];
  if (deps.database !== undefined)
    for (const name of [...byDatabase.keys()]) if (name !== deps.database) byDatabase.delete(name);
  for (const [database, list] of [...byDatabase].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const live = list.filter((c) => c.backup.state !== 'deleted');
    const problems = problemsOf.get(database);
    if (problems) {
      const reason = PRUNE_REASON.notRead(database, problems.length);
      refused.push({ database, reason, problems });
      for (const c of live) kept.push(item(c, seriesName(c.backup), [reason]));
      deps.logger.error('catalog documents could not be read: the database is not pruned', {
        database,
        problems,
      });
      continue;
    }
    try {
      const judged = judgeDatabase(database, list, deps, now, primaryRegion, inFlightCopies);
      kept.push(...judged.kept);
      toDelete.push(...judged.delete);
    } catch (err) {
      // One database that cannot be judged never stops the others.
      const reason = PRUNE_REASON.notJudged(errorMessage(err));
      refused.push({ database, reason, problems: [] });
      for (const c of live) kept.push(item(c, seriesName(c.backup), [reason]));
      deps.logger.error('a database could not be judged: it is not pruned', {
        database,
        error: errorMessage(err),
      });
    }
  }

  // The caps across all databases: the oldest go first, the rest wait for a later run.
  const room = Math.max(0, limits.maxDeletionsPerDay - deletedInLast24h);
  const budget = Math.min(limits.maxDeletionsPerRun, room);
  const capReason =
    limits.maxDeletionsPerRun <= room
      ? PRUNE_REASON.envCap(limits.maxDeletionsPerRun, 'run')
      : PRUNE_REASON.envCap(limits.maxDeletionsPerDay, 'day');
  toDelete.sort(
    (a, b) =>
      Date.parse(a.c.backup.takenAt) - Date.parse(b.c.backup.takenAt) ||
      compare(a.c.database, b.c.database) ||
      compare(a.series, b.series) ||
      compare(a.c.backup.id, b.c.backup.id),
  );
  const report: PruneReport = {
    environment: deps.environment,
    dryRun: event.dryRun,
    at: now.toISOString(),
    kept,
    deleted: [],
    wouldDelete: [],
    errors,
    refused,
    ignored,
    conflicts: conflicts(candidates),
    limits: { ...limits, deletedInLast24h },
    quotas: {},
  };
  for (const [index, d] of toDelete.entries()) {
    if (index >= budget) {
      kept.push(item(d.c, d.series, [capReason]));
      continue;
    }
    await execute(d, event.dryRun, deps, now, report);
  }

  // The quota is what runs out when retention is too generous: show it beside the decisions.
  if (snapshotClients && primaryRegion) {
    for (const [region, client] of [
      [primaryRegion, snapshotClients.primary],
      [snapshotClients.drRegion, snapshotClients.dr],
    ] as const) {
      report.quotas[region] = await manualSnapshotQuotas(client).catch((err: unknown) => {
        deps.logger.warn('could not read the manual snapshot quota', { region, error: errorMessage(err) });
        return null;
      });
    }
  }

  deps.gauges?.refused(refused.length);
  deps.gauges?.errors(errors.length);
  for (const conflict of report.conflicts) {
    deps.logger.warn('one catalog name, several sources: judged as separate series', { ...conflict });
  }
  deps.logger.info(event.dryRun ? 'prune dry run' : 'prune done', {
    environment: deps.environment,
    kept: report.kept.length,
    deleted: report.deleted.length,
    wouldDelete: report.wouldDelete.length,
    refused: report.refused.map((r) => r.database),
    ignored: report.ignored.length,
    errors: report.errors.length,
    limits: report.limits,
    quotas: report.quotas,
  });
  return report;
}

/** One database: the policy over its candidates, and the guards that need AWS facts. */
function judgeDatabase(
  database: string,
  list: readonly Candidate[],
  deps: PruneDeps,
  now: Date,
  primaryRegion: string | undefined,
  inFlightCopies: ReadonlySet<string>,
): { kept: PruneItem[]; delete: Deletion[] } {
  const kept: PruneItem[] = [];
  const toDelete: Deletion[] = [];
  const live = list.filter((c) => c.backup.state !== 'deleted');
  const policy =
    policyOf(deps.policies, database) ??
    policyFromTags(list, deps.policiesByName ?? {}) ??
    deps.defaultPolicy;
  if (!policy) {
    for (const c of live) kept.push(item(c, seriesName(c.backup), [NO_POLICY]));
    return { kept, delete: toDelete };
  }
  const { timeZone, ...retention } = policy;
  const decisions = planRetention(
    list.map((c) => c.backup),
    retention,
    { now, timeZone },
  );
  const byKey = new Map(list.map((c) => [`${seriesName(c.backup)}/${c.backup.id}`, c]));
  for (const decision of decisions) {
    const c = byKey.get(`${decision.series}/${decision.backup.id}`)!;
    if (c.backup.state === 'deleted') continue;
    if (decision.action === 'keep') {
      kept.push(item(c, decision.series, decision.reasons));
    } else if (
      c.snapshot !== null &&
      c.backup.region === primaryRegion &&
      inFlightCopies.has(c.snapshot.identifier)
    ) {
      kept.push(item(c, decision.series, [COPY_IN_FLIGHT]));
    } else {
      toDelete.push({ c, reasons: decision.reasons, series: decision.series });
    }
  }
  return { kept, delete: toDelete };
}

async function execute(d: Deletion, dryRun: boolean, deps: PruneDeps, now: Date, report: PruneReport) {
  const { c, reasons, series } = d;
  const at = { database: c.database, backupId: c.backup.id, region: c.backup.region };
  const client =
    c.snapshot && deps.snapshots
      ? c.backup.region === deps.snapshots.drRegion
        ? deps.snapshots.dr
        : deps.snapshots.primary
      : undefined;
  if (c.snapshot && client) {
    // Beside the server filter and IAM: never a snapshot another account may restore.
    let sharedWith: string[];
    try {
      sharedWith = await snapshotSharedWith(client, c.snapshot);
    } catch (err) {
      report.kept.push(item(c, series, [PRUNE_REASON.sharingUnknown(errorMessage(err))]));
      report.errors.push({ ...at, error: errorInfo(err) });
      return;
    }
    if (sharedWith.length > 0) {
      report.kept.push(item(c, series, [PRUNE_REASON.shared(sharedWith)]));
      deps.logger.warn('a lifeboat snapshot is shared with other accounts: not deleted', {
        ...at,
        snapshot: c.snapshot.identifier,
        sharedWith,
      });
      return;
    }
  }
  if (dryRun) {
    report.wouldDelete.push(item(c, series, reasons));
    return;
  }
  try {
    if (c.snapshot && client) {
      await deleteSnapshot(c.snapshot, client);
    } else {
      // A versioned bucket with Object Lock keeps the locked version (DELETE adds a delete marker);
      // a bucket policy that refuses deletes surfaces here and is reported, not fatal.
      // A directory dump owns one object per file; every other dump, one object.
      for (const key of c.artifactKeys ?? [c.resource]) await deps.catalog.repository.remove(key);
    }
  } catch (err) {
    report.errors.push({ ...at, error: errorInfo(err) });
    deps.logger.error('could not delete a backup', { ...at, resource: c.resource, error: errorMessage(err) });
    return;
  }
  report.deleted.push(item(c, series, reasons));
  try {
    await deps.catalog.record({
      kind: 'deleted',
      backupId: c.backup.id,
      database: c.database,
      at: now.toISOString(),
      reason: reasons.join('; '),
      // The copy it was: a snapshot's region, or the region of this repository's copy of a dump.
      ...(c.snapshot
        ? { region: c.backup.region }
        : deps.catalog.region
          ? { region: deps.catalog.region }
          : {}),
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

function deletionsSince(reading: CatalogReading, now: Date, deps: PruneDeps, withSnapshots: boolean): number {
  const since = now.getTime() - 24 * 3600_000;
  const recent = (at: string) => {
    const t = Date.parse(at);
    return t > since && t <= now.getTime();
  };
  let count = 0;
  for (const b of reading.backups) {
    if (b.kind === 'rds-snapshot' && !withSnapshots) continue;
    for (const r of b.records) {
      if (r.kind !== 'deleted' || !recent(r.at)) continue;
      // The dumps of another region's copy are that region's prune's deletions.
      if (b.kind === 'logical-dump' && !deps.catalog.appliesHere(r.region)) continue;
      count++;
    }
  }
  // A record that cannot be read may be one of today's deletions: count it as one.
  for (const p of reading.problems) {
    const name = /\/records\/(\d{8}T\d{6}Z)-([a-z-]+)-[^/]*$/.exec(p.key);
    if (!name) {
      if (p.key.includes('/records/')) count++;
      continue;
    }
    const [, stamp, kind] = name as unknown as [string, string, string];
    const at = `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z`;
    if (kind === 'deleted' && recent(at)) count++;
  }
  return count;
}

function conflicts(candidates: readonly Candidate[]): PruneConflict[] {
  const sources = new Map<string, { c: Candidate; sources: Set<string> }>();
  for (const c of candidates) {
    if (c.backup.source === undefined || c.backup.state === 'deleted') continue;
    const key = `${c.database}\u0000${c.backup.kind}\u0000${c.backup.region}`;
    const entry = sources.get(key) ?? { c, sources: new Set<string>() };
    entry.sources.add(c.backup.source);
    sources.set(key, entry);
  }
  return [...sources.values()]
    .filter((e) => e.sources.size > 1)
    .map((e) => ({
      database: e.c.database,
      kind: e.c.backup.kind,
      region: e.c.backup.region,
      sources: [...e.sources].sort(compare),
    }))
    .sort((a, b) => compare(a.database, b.database) || compare(a.region, b.region));
}

/**
 * The retention of a discovered database: the policy its newest snapshot is tagged with (a
 * database re-tagged to another policy follows its new policy), if that policy is known.
 */

function problemError(p: CatalogProblem): { name: string; message: string } {
  return { name: 'CatalogProblem', message: `${p.key}: ${p.problem}: ${p.message}` };
}
