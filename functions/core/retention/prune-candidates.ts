import {
  artifactKey,
  type BackupSummary,
  type CatalogReading,
  type VerificationRecord,
} from '../catalog/catalog.ts';
import { errorMessage } from '../shared/errors.ts';
import { artifactKeysOf, type DumpManifest } from '../catalog/manifest.ts';
import { listLifeboatSnapshots, type RdsSnapshot } from '../snapshots/rds.ts';
import { type RetentionBackup, type RetentionState } from './retention.ts';
import {
  arnRegion,
  parseSlotTag,
  type SnapshotType,
  snapshotBackupId,
  snapshotIdentifier,
  TAG,
} from '../snapshots/snapshot-naming.ts';
import type { RetentionPolicies } from './prune-settings.ts';
import { policyOf } from './prune-settings.ts';
import type { PruneDeps, PruneError, PruneIgnored, PruneItem, SnapshotClients } from './prune-report.ts';
import { PRUNE_REASON } from './prune-report.ts';

/**
 * What prune judges: every snapshot and dump of a database as a candidate, with its retention view,
 * the resource a deletion removes and why a listed snapshot is not lifeboat's to delete.
 */

/** What each backup is, beside the retention view of it. */
export interface Candidate {
  readonly database: string;
  readonly backup: RetentionBackup;
  readonly resource: string;
  /** The objects a deletion removes, when the manifest names them (a compressed or directory dump). */
  readonly artifactKeys?: readonly string[];
  readonly snapshot: RdsSnapshot | null;
}
interface Listed {
  readonly snapshot: RdsSnapshot;
  /** The region whose listing returned it. */
  readonly region: string;
}

/** Both regions, both types. A listing that fails leaves its type unjudged in every region. */
export async function listSnapshots(
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

export function snapshotCandidates(
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

export function futureTest(records: readonly { at: string }[], now: Date): string | undefined {
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

export function dumpCandidates(reading: CatalogReading, region: string, now: Date): Candidate[] {
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
export function policyFromTags(list: readonly Candidate[], byName: RetentionPolicies) {
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

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function item(c: Candidate, series: string, reasons: readonly string[]): PruneItem {
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

export function errorInfo(err: unknown): { name: string; message: string } {
  return { name: err instanceof Error ? err.name : 'Error', message: errorMessage(err) };
}
