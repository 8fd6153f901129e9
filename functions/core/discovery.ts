import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  type DescribeDBClustersCommandOutput,
  DescribeDBInstancesCommand,
  type DescribeDBInstancesCommandOutput,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { z } from 'zod';
import { DatabaseBusy, errorMessage, InvalidArgument, LifeboatError, SnapshotError } from './errors.ts';
import { mapRdsError } from './rds.ts';
import { type SnapshotType, TAG } from './snapshot-naming.ts';
import { type TakeSnapshotDeps, type TakeSnapshotResult, takeSnapshot } from './take-snapshot.ts';

/**
 * Discovery: every PostgreSQL instance or Aurora cluster of the region tagged `<tagKey>=<policy>`
 * gets that policy's snapshots, found at run time, so a team protects a new database by tagging
 * it. Dumps need credentials and a network path, so only configured databases are dumped.
 */

/** The Scheduler input of a discovery snapshot schedule (one per policy; see lib/events.ts). */
export const DiscoverSnapshotsEvent = z.strictObject({
  discover: z.strictObject({
    /** The policy whose databases are snapshotted: those tagged `<tagKey>=<policy>`. */
    policy: z.string().min(1).max(200),
    tagKey: z.string().min(1).max(128),
    /** Identifiers configured explicitly (their own schedules snapshot them): skipped here. */
    exclude: z.array(z.string().min(1).max(63)).default([]),
  }),
  /** `<aws.scheduler.scheduled-time>`: the slot the snapshots belong to. */
  scheduledTime: z.string().min(1),
});
export type DiscoverSnapshotsEvent = z.infer<typeof DiscoverSnapshotsEvent>;

export function isDiscoverEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && 'discover' in event;
}

export function parseDiscoverEvent(event: unknown): DiscoverSnapshotsEvent {
  const parsed = DiscoverSnapshotsEvent.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
    throw new InvalidArgument(`take-snapshot discovery event: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export interface DiscoveredDatabase {
  /** Catalog name: the `lifeboat:database` tag when it holds a valid name, else the identifier. */
  readonly database: string;
  readonly identifier: string;
  readonly type: SnapshotType;
  readonly engine: string;
}

export interface SkippedDatabase {
  readonly identifier: string;
  readonly reason: string;
}

const POSTGRES_ENGINES = new Set(['postgres', 'aurora-postgresql']);
const DATABASE_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

function tagsOf(list: { Key?: string | undefined; Value?: string | undefined }[] | undefined) {
  return Object.fromEntries((list ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
}

function catalogName(tags: Record<string, string>, identifier: string): string {
  const tagged = tags[TAG.database];
  return tagged && DATABASE_NAME.test(tagged) ? tagged : identifier.toLowerCase();
}

/**
 * The instances and clusters tagged `<tagKey>=<policy>`, and those tagged but skipped with the
 * reason: not PostgreSQL, a member of an Aurora cluster (the cluster's snapshot covers it), a
 * read replica (its source is the one to snapshot), configured explicitly, or not available.
 */
export async function discoverDatabases(
  rds: RDSClient,
  options: { tagKey: string; policy: string; exclude?: readonly string[] },
): Promise<{ databases: DiscoveredDatabase[]; skipped: SkippedDatabase[] }> {
  const exclude = new Set((options.exclude ?? []).map((e) => e.toLowerCase()));
  const databases: DiscoveredDatabase[] = [];
  const skipped: SkippedDatabase[] = [];
  const consider = (
    type: SnapshotType,
    identifier: string | undefined,
    engine: string | undefined,
    status: string | undefined,
    tagList: { Key?: string | undefined; Value?: string | undefined }[] | undefined,
    memberOf: string | undefined,
    replicaOf: string | undefined,
  ) => {
    if (!identifier) return;
    const tags = tagsOf(tagList);
    if (tags[options.tagKey] !== options.policy) return;
    const skip = (reason: string) => skipped.push({ identifier, reason });
    if (!engine || !POSTGRES_ENGINES.has(engine))
      return skip(`engine ${engine ?? 'unknown'} is not PostgreSQL`);
    if (memberOf) return skip(`member of cluster ${memberOf}: the cluster is snapshotted`);
    if (replicaOf) return skip(`read replica of ${replicaOf}: its source is snapshotted`);
    if (exclude.has(identifier.toLowerCase()))
      return skip('configured explicitly: its own schedule snapshots it');
    if (status === 'deleting' || status === 'creating')
      return skip(`status ${status}: nothing to snapshot yet`);
    databases.push({ database: catalogName(tags, identifier), identifier, type, engine });
  };

  try {
    let marker: string | undefined;
    do {
      const page: DescribeDBInstancesCommandOutput = await rds.send(
        new DescribeDBInstancesCommand({ Marker: marker, MaxRecords: 100 }),
      );
      for (const db of page.DBInstances ?? ([] as DBInstance[])) {
        consider(
          'instance',
          db.DBInstanceIdentifier,
          db.Engine,
          db.DBInstanceStatus,
          db.TagList,
          db.DBClusterIdentifier,
          db.ReadReplicaSourceDBInstanceIdentifier,
        );
      }
      marker = page.Marker;
    } while (marker);
    marker = undefined;
    do {
      const page: DescribeDBClustersCommandOutput = await rds.send(
        new DescribeDBClustersCommand({ Marker: marker, MaxRecords: 100 }),
      );
      for (const c of page.DBClusters ?? ([] as DBCluster[])) {
        consider(
          'cluster',
          c.DBClusterIdentifier,
          c.Engine,
          c.Status,
          c.TagList,
          undefined,
          c.ReplicationSourceIdentifier,
        );
      }
      marker = page.Marker;
    } while (marker);
  } catch (err) {
    throw mapRdsError(err, `discovering databases tagged ${options.tagKey}=${options.policy}`);
  }
  // Two databases claiming one catalog name would mix their histories: keep the names apart.
  const seen = new Map<string, string>();
  const unique: DiscoveredDatabase[] = [];
  for (const db of databases) {
    const other = seen.get(db.database);
    if (other) {
      skipped.push({
        identifier: db.identifier,
        reason: `catalog name "${db.database}" is already used by ${other}: tag it ${TAG.database}=<unique name>`,
      });
      continue;
    }
    seen.set(db.database, db.identifier);
    unique.push(db);
  }
  return { databases: unique, skipped };
}

export interface DiscoveryResult {
  readonly policy: string;
  readonly snapshots: TakeSnapshotResult[];
  readonly skipped: SkippedDatabase[];
  readonly failed: { readonly identifier: string; readonly error: string; readonly name: string }[];
}

/**
 * Takes the slot's snapshot of every discovered database, each independently: one failure does
 * not stop the others. If any failed, the invocation fails after trying all (so it is retried;
 * the retry finds the snapshots already taken and takes only the missing ones). When every failure
 * is a busy database, the error is DatabaseBusy, which is retried later like a single snapshot's.
 */
export async function takeDiscoveredSnapshots(
  event: DiscoverSnapshotsEvent,
  deps: TakeSnapshotDeps,
): Promise<DiscoveryResult> {
  const { policy, tagKey, exclude } = event.discover;
  const found = await discoverDatabases(deps.rds, { tagKey, policy, exclude });
  for (const s of found.skipped) deps.logger.warn('tagged database skipped', { policy, ...s });
  deps.logger.info('databases discovered', {
    policy,
    tagKey,
    databases: found.databases.map((d) => d.identifier),
  });
  const snapshots: TakeSnapshotResult[] = [];
  const failed: DiscoveryResult['failed'][number][] = [];
  const errors: unknown[] = [];
  for (const db of found.databases) {
    try {
      snapshots.push(
        await takeSnapshot(
          {
            database: db.database,
            identifier: db.identifier,
            type: db.type,
            policy,
            scheduledTime: event.scheduledTime,
          },
          deps,
        ),
      );
    } catch (err) {
      errors.push(err);
      const name = err instanceof Error ? err.name : 'Error';
      failed.push({ identifier: db.identifier, error: errorMessage(err), name });
      deps.logger.error('snapshot of a discovered database failed', {
        policy,
        identifier: db.identifier,
        error: errorMessage(err),
      });
    }
  }
  const result: DiscoveryResult = { policy, snapshots, skipped: found.skipped, failed };
  if (failed.length > 0) {
    const summary = failed.map((f) => `${f.identifier}: ${f.error}`).join('; ');
    const message = `${failed.length} of ${found.databases.length} snapshots of policy ${policy} failed (${snapshots.length} taken or already there): ${summary}`;
    if (errors.every((e) => e instanceof DatabaseBusy)) throw new DatabaseBusy(message);
    // A single failure keeps its own class (SnapshotQuotaExceeded, KmsKeyNotAccessible ...).
    if (errors.length === 1 && errors[0] instanceof LifeboatError) {
      const Only = errors[0].constructor as new (m: string, o?: { cause?: unknown }) => LifeboatError;
      throw new Only(message, { cause: errors[0] });
    }
    throw new SnapshotError(message);
  }
  return result;
}
