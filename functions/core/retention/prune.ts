import { DeleteDBClusterSnapshotCommand, DeleteDBSnapshotCommand, type RDSClient } from '@aws-sdk/client-rds';
import * as z from 'zod';
import {
  artifactKey,
  type BackupSummary,
  type Catalog,
  type CatalogProblem,
  type CatalogReading,
  type VerificationRecord,
} from '../catalog/catalog.ts';
import { ConfigError, errorMessage, InvalidArgument } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { artifactKeysOf, type DumpManifest } from '../catalog/manifest.ts';
import {
  isRdsError,
  listLifeboatSnapshots,
  manualSnapshotQuotas,
  mapRdsError,
  type Quota,
  type RdsSnapshot,
  snapshotSharedWith,
} from '../snapshots/rds.ts';
import {
  planRetention,
  type RetentionBackup,
  RetentionPolicy,
  type RetentionState,
  seriesName,
} from './retention.ts';
import {
  arnRegion,
  parseSlotTag,
  type SnapshotType,
  snapshotBackupId,
  snapshotIdentifier,
  TAG,
} from '../snapshots/snapshot-naming.ts';

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

/**
 * Parses and validates retention policies by name. The result has no prototype, and is only ever
 * read with `policyOf`: a database called `constructor` or `__proto__` is a name like any other.
 */
export function parseRetentionPolicies(json: string, variable: string): RetentionPolicies {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${variable} is not JSON: ${errorMessage(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${variable}: (root): expected an object of policies by name`);
  }
  const policies = Object.create(null) as RetentionPolicies;
  const problems: string[] = [];
  for (const [database, value] of Object.entries(raw)) {
    if (database === '') {
      problems.push('(root): a policy name is empty');
      continue;
    }
    const parsed = DatabaseRetention.safeParse(value);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${[database, ...i.path].join('.')}: ${i.message}`));
      continue;
    }
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: parsed.data.timeZone });
    } catch {
      throw new ConfigError(`${variable}: ${database}.timeZone: unknown time zone "${parsed.data.timeZone}"`);
    }
    Object.defineProperty(policies, database, { value: parsed.data, enumerable: true });
  }
  if (problems.length > 0) throw new ConfigError(`${variable}: ${problems.join('; ')}`);
  return policies;
}

/** The policy of a name, only if it is one of the object's own. */
export function policyOf(policies: RetentionPolicies, name: string): DatabaseRetention | undefined {
  return Object.hasOwn(policies, name) ? policies[name] : undefined;
}

/** Deletions across all databases of one prune. */
export const PruneLimits = z.strictObject({
  maxDeletionsPerRun: z.number().int().min(0).max(100_000),
  /** Counted over the last 24 hours, from the catalog's `deleted` records. */
  maxDeletionsPerDay: z.number().int().min(0).max(100_000),
});
export type PruneLimits = z.infer<typeof PruneLimits>;
export const DEFAULT_PRUNE_LIMITS: PruneLimits = { maxDeletionsPerRun: 200, maxDeletionsPerDay: 200 };

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
  /** e.g. "snapshot in eu-west-1 of orders-db (db-ABC123)". */
  readonly series: string;
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

/** A database prune did not judge: everything of it was kept. */
export interface PruneRefusal {
  readonly database: string;
  readonly reason: string;
  /** The catalog documents that could not be read, when that is the reason. */
  readonly problems: readonly CatalogProblem[];
}

/** A snapshot listed with lifeboat's environment tag that is not one prune may judge. */
export interface PruneIgnored {
  readonly region: string;
  readonly resource: string;
  readonly reason: string;
}

/** One catalog name, more than one source in a region: judged as separate series. */
export interface PruneConflict {
  readonly database: string;
  readonly kind: 'dump' | 'snapshot';
  readonly region: string;
  readonly sources: readonly string[];
}

export interface PruneReport {
  readonly environment: string;
  readonly dryRun: boolean;
  readonly at: string;
  readonly kept: PruneItem[];
  readonly deleted: PruneItem[];
  readonly wouldDelete: PruneItem[];
  readonly errors: PruneError[];
  readonly refused: PruneRefusal[];
  readonly ignored: PruneIgnored[];
  readonly conflicts: PruneConflict[];
  /** The caps across databases, and the deletions of the last 24 hours counted against them. */
  readonly limits: PruneLimits & { readonly deletedInLast24h: number };
  /** Manual snapshot quotas per region after this run's deletions (null where unreadable). */
  readonly quotas: Record<string, { instance: Quota | null; cluster: Quota | null } | null>;
}

/** RDS of both regions, for the primary region's prune. */
export interface SnapshotClients {
  readonly primary: RDSClient;
  readonly dr: RDSClient;
  readonly drRegion: string;
}

/** Figures prune reports for alarms (Powertools Metrics in Lambda). */
export interface PruneGauges {
  /** Databases not judged (unreadable history, an error while judging). */
  refused(count: number): void;
  /** Deletions that failed, listings that failed. */
  errors(count: number): void;
}

export interface PruneDeps {
  readonly catalog: Catalog;
  readonly policies: RetentionPolicies;
  /**
   * Retention by policy name, for databases found by discovery (not in `policies`): their
   * snapshots carry the policy in their lifeboat:policy tag. @default {}
   */
  readonly policiesByName?: RetentionPolicies;
  /** The retention of every database that has none in `policies` (the CLI's). @default - none */
  readonly defaultPolicy?: DatabaseRetention;
  /** Only this database's backups are read and judged. @default - every database */
  readonly database?: string;
  readonly environment: string;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** @default DEFAULT_PRUNE_LIMITS */
  readonly limits?: PruneLimits;
  /** The snapshots to prune too; without them, only the repository's dumps. */
  readonly snapshots?: SnapshotClients;
  /**
   * The region of the repository's copy of the dumps (the catalog's region), as reports name it.
   * @default the catalog's region, or "repository"
   */
  readonly region?: string;
  readonly gauges?: PruneGauges;
}

export const NO_POLICY = 'no retention policy for this database: untouched';
export const COPY_IN_FLIGHT = 'its DR copy is in flight: deleting the source now would fail the copy';
export const PRUNE_REASON = {
  notRead: (database: string, n: number) =>
    `catalog of ${database} not read completely (${n} document${n === 1 ? '' : 's'}): not judged this run`,
  notJudged: (message: string) => `could not be judged: ${message}`,
  notListed: (type: SnapshotType, region: string) =>
    `${type} snapshots of ${region} could not be listed: not judged this run`,
  ambiguousTest:
    'its catalog entry is shared with another snapshot of the same name and slot: kept and not counted',
  futureTest: 'a verification of it is dated after now (clock skew?): kept and not counted',
  copySourceUnknown: 'a DR copy without a test of its own whose source cannot be told: kept and not counted',
  noArtifact: (state: string) => `${state}: no artifact to delete`,
  envCap: (max: number, per: 'run' | 'day') => `environment deletion cap reached (max ${max} per ${per})`,
  shared: (accounts: readonly string[]) => `shared with other accounts (${accounts.join(', ')}): not deleted`,
  sharingUnknown: (message: string) => `sharing could not be read: not deleted (${message})`,
} as const;

/** What each backup is, beside the retention view of it. */
interface Candidate {
  readonly database: string;
  readonly backup: RetentionBackup;
  readonly resource: string;
  /** The objects a deletion removes, when the manifest names them (a compressed or directory dump). */
  readonly artifactKeys?: readonly string[];
  readonly snapshot: RdsSnapshot | null;
}

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

interface Listed {
  readonly snapshot: RdsSnapshot;
  /** The region whose listing returned it. */
  readonly region: string;
}

/** Both regions, both types. A listing that fails leaves its type unjudged in every region. */
async function listSnapshots(
  clients: SnapshotClients,
  primaryRegion: string,
  deps: PruneDeps,
  errors: PruneError[],
  unlisted: Map<SnapshotType, string>,
): Promise<Listed[]> {
  const listed: Listed[] = [];
  for (const [region, client] of [
    [primaryRegion, clients.primary],
    [clients.drRegion, clients.dr],
  ] as const) {
    for (const type of ['instance', 'cluster'] as const) {
      try {
        const found = await listLifeboatSnapshots(client, type, deps.environment);
        listed.push(...found.map((snapshot) => ({ snapshot, region })));
      } catch (err) {
        if (!unlisted.has(type)) unlisted.set(type, region);
        errors.push({ database: null, backupId: null, region, error: errorInfo(err) });
        deps.logger.error('could not list snapshots: that type is not judged in any region this run', {
          region,
          type,
          error: errorMessage(err),
        });
      }
    }
  }
  return listed;
}

/** Why a listed snapshot is not one prune may judge, or null when it is. */
function notOurs(s: RdsSnapshot, listedIn: string): string | null {
  if (s.snapshotType !== 'manual') return `a ${s.snapshotType} snapshot, not a manual one`;
  const region = arnRegion(s.arn);
  if (region !== listedIn) return `its ARN (${s.arn}) is not of ${listedIn}`;
  const slot = parseSlotTag(s.tags[TAG.slot]);
  if (!slot) return `no valid ${TAG.slot} tag`;
  const database = s.tags[TAG.database];
  if (!database) return `no ${TAG.database} tag`;
  let expected: string;
  try {
    expected = snapshotIdentifier(s.sourceIdentifier, slot, s.type);
  } catch {
    expected = '';
  }
  if (s.identifier !== expected) {
    return `"${s.identifier}" is not a name lifeboat gives a snapshot of ${s.sourceIdentifier || 'an unknown source'} at ${slot.toISOString()}${expected ? ` (that is "${expected}")` : ''}`;
  }
  return null;
}

function snapshotCandidates(
  listed: readonly Listed[],
  reading: CatalogReading,
  primaryRegion: string,
  drRegion: string,
  now: Date,
  unlisted: ReadonlyMap<SnapshotType, string>,
  ignored: PruneIgnored[],
): Candidate[] {
  const catalog = new Map(reading.backups.map((b) => [`${b.database}/${b.id}`, b]));
  const ours: { s: RdsSnapshot; database: string; region: string; id: string }[] = [];
  for (const { snapshot: s, region } of listed) {
    const why = notOurs(s, region);
    if (why !== null) {
      ignored.push({ region, resource: s.identifier, reason: why });
      continue;
    }
    const database = s.tags[TAG.database]!;
    ours.push({ s, database, region, id: snapshotBackupId(parseSlotTag(s.tags[TAG.slot])!, region) });
  }
  // How many listed snapshots each catalog entry could be of: more than one, and its tests are nobody's.
  const claims = new Map<string, number>();
  for (const o of ours) claims.set(`${o.database}/${o.id}`, (claims.get(`${o.database}/${o.id}`) ?? 0) + 1);

  return ours.map(({ s, database, region, id }) => {
    const slot = parseSlotTag(s.tags[TAG.slot])!;
    const own = entryOf(catalog, claims, database, id, s.arn);
    let verdict = own.verdict;
    if (region === drRegion && verdict.tests === 0 && !verdict.hold) {
      // A DR copy without a test of its own: its source's tests vouch for it (the same bytes,
      // copied and checked by RDS), if the catalog entry is of the snapshot it was copied from.
      const manifest = own.summary?.manifest;
      const from = s.copiedFrom ?? (manifest?.kind === 'rds-snapshot' ? manifest.copiedFrom : null);
      verdict =
        from === null
          ? { ...UNTESTED, hold: PRUNE_REASON.copySourceUnknown }
          : entryOf(catalog, claims, database, snapshotBackupId(slot, primaryRegion), from).verdict;
    }
    const unlistedIn = unlisted.get(s.type);
    const hold =
      unlistedIn !== undefined
        ? PRUNE_REASON.notListed(s.type, unlistedIn)
        : slot.getTime() > now.getTime()
          ? undefined // retention keeps it, as taken after now
          : (verdict.hold ?? futureTest(verdict.records, now));
    return {
      database,
      resource: s.identifier,
      snapshot: s,
      backup: {
        id,
        kind: 'snapshot',
        region,
        source: sourceLabel(s),
        takenAt: slot.toISOString(),
        state: retentionState(s.status),
        verified: verdict.verified,
        verifiedAt: verdict.verifiedAt,
        ...(hold === undefined ? {} : { hold }),
      },
    };
  });
}

interface Verdict {
  readonly verified: boolean;
  readonly verifiedAt: string | null;
  /** Verification records that speak for the backup. */
  readonly tests: number;
  readonly records: readonly VerificationRecord[];
  readonly hold?: string;
}

const UNTESTED: Verdict = { verified: false, verifiedAt: null, tests: 0, records: [] };

/**
 * The catalog entry `database/id` as evidence about the snapshot `arn`: its tests count only when
 * its manifest is of that very snapshot and no other listed snapshot claims the entry. An entry
 * that holds tests but cannot be tied to the snapshot makes it held (kept, not counted).
 */
function entryOf(
  catalog: ReadonlyMap<string, BackupSummary>,
  claims: ReadonlyMap<string, number>,
  database: string,
  id: string,
  arn: string,
): { summary: BackupSummary | undefined; verdict: Verdict } {
  const summary = catalog.get(`${database}/${id}`);
  if (!summary) return { summary, verdict: UNTESTED };
  const tests = summary.records.filter((r): r is VerificationRecord => r.kind === 'verification');
  const mine =
    summary.manifest?.kind === 'rds-snapshot' &&
    summary.manifest.snapshotArn === arn &&
    (claims.get(`${database}/${id}`) ?? 0) <= 1;
  if (!mine) {
    return {
      summary,
      verdict: tests.length > 0 ? { ...UNTESTED, hold: PRUNE_REASON.ambiguousTest } : UNTESTED,
    };
  }
  return {
    summary,
    verdict: {
      verified: summary.verification === 'verified',
      verifiedAt: summary.verifiedAt,
      tests: tests.length,
      records: tests,
    },
  };
}

function futureTest(records: readonly { at: string }[], now: Date): string | undefined {
  return records.some((r) => Date.parse(r.at) > now.getTime()) ? PRUNE_REASON.futureTest : undefined;
}

/**
 * The objects a dump's manifest names (its artifact and the roles beside it), kept to the backup's
 * own names (`<id>.dump`, `<id>.dump.zst`, `<id>.dir/…`, `<id>.roles.json`): a manifest can never
 * make prune delete another backup's objects.
 */
function ownKeys(database: string, id: string, manifest: DumpManifest): string[] {
  const base = artifactKey(database, id).replace(/\.dump$/, '.');
  const named = [...artifactKeysOf(manifest), ...(manifest.roles ? [manifest.roles.key] : [])];
  const keys = named.filter((k) => k.startsWith(base) && !k.includes('/../'));
  return keys.length > 0 ? keys : [artifactKey(database, id)];
}

function dumpCandidates(reading: CatalogReading, region: string, now: Date): Candidate[] {
  return reading.backups
    .filter((b) => b.kind === 'logical-dump')
    .map((b): Candidate => {
      const tests = b.records.filter((r): r is VerificationRecord => r.kind === 'verification');
      // Only a completed dump has an artifact: a failed or unfinished one (it may still be running,
      // however long) is never "deleted", so its record can never hide a dump that completes later.
      // One whose manifest cannot be read is listed (kept) with its database, which is not judged.
      const hold =
        b.state === 'unreadable'
          ? 'its manifest could not be read'
          : b.state === 'failed' || b.state === 'abandoned'
            ? PRUNE_REASON.noArtifact(b.state === 'failed' ? 'failed' : 'never finished')
            : Date.parse(b.startedAt) > now.getTime()
              ? undefined // retention keeps it, as taken after now
              : futureTest(tests, now);
      const source = b.manifest?.kind === 'logical-dump' ? b.manifest.source : null;
      return {
        database: b.database,
        resource: artifactKey(b.database, b.id),
        ...(b.manifest?.kind === 'logical-dump'
          ? { artifactKeys: ownKeys(b.database, b.id, b.manifest) }
          : {}),
        snapshot: null,
        backup: {
          id: b.id,
          kind: 'dump',
          region,
          takenAt: b.startedAt,
          state: b.state === 'unreadable' ? 'in-progress' : b.state,
          verified: b.verification === 'verified',
          verifiedAt: b.verifiedAt,
          ...(source ? { source: `${source.database}@${source.host}:${source.port}` } : {}),
          ...(hold === undefined ? {} : { hold }),
        },
      };
    });
}

/** Deletions this prune made in the last 24 hours, as its catalog records them. */
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
function policyFromTags(list: readonly Candidate[], byName: RetentionPolicies) {
  const tagged = list
    .filter((c) => c.snapshot?.tags[TAG.policy] !== undefined)
    .sort((a, b) => b.backup.takenAt.localeCompare(a.backup.takenAt));
  const name = tagged[0]?.snapshot?.tags[TAG.policy];
  return name === undefined ? undefined : policyOf(byName, name);
}

/** "orders-db (db-ABC123)": the instance or cluster, by name and by RDS's resource id. */
function sourceLabel(s: RdsSnapshot): string {
  return s.resourceId ? `${s.sourceIdentifier} (${s.resourceId})` : s.sourceIdentifier;
}

/** RDS status → retention state. Anything unknown counts as in progress: kept. */
export function retentionState(status: string): RetentionState {
  if (status === 'available') return 'completed';
  if (status === 'failed' || status.startsWith('incompatible')) return 'failed';
  if (status === 'deleting' || status === 'deleted') return 'deleted';
  return 'in-progress';
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function item(c: Candidate, series: string, reasons: readonly string[]): PruneItem {
  return {
    database: c.database,
    backupId: c.backup.id,
    kind: c.backup.kind,
    region: c.backup.region,
    series,
    resource: c.resource,
    takenAt: c.backup.takenAt,
    reasons,
  };
}

function problemError(p: CatalogProblem): { name: string; message: string } {
  return { name: 'CatalogProblem', message: `${p.key}: ${p.problem}: ${p.message}` };
}

function errorInfo(err: unknown): { name: string; message: string } {
  return { name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
}
