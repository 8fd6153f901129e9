import {
  type DBCluster,
  type DBInstance,
  DescribeDBClustersCommand,
  type DescribeDBClustersCommandOutput,
  DescribeDBInstancesCommand,
  type DescribeDBInstancesCommandOutput,
  type RDSClient,
} from '@aws-sdk/client-rds';
import * as z from '../shared/zod.ts';
import {
  DatabaseBusy,
  errorMessage,
  InvalidArgument,
  LifeboatError,
  SnapshotError,
} from '../shared/errors.ts';
import { mapRdsError, paginate } from './rds.ts';
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
    policy: z.string().check(z.minLength(1), z.maxLength(200)),
    tagKey: z.string().check(z.minLength(1), z.maxLength(128)),
    /** Identifiers configured explicitly (their own schedules snapshot them): skipped here. */
    exclude: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(63))), []),
    /** Catalog names of the configured databases: never given to a discovered one. */
    names: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(200))), []),
  }),
  /** `<aws.scheduler.scheduled-time>`: the slot the snapshots belong to. */
  scheduledTime: z.string().check(z.minLength(1)),
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

/** Receives how many databases discovery refused because their catalog name is another's. */
export interface ConflictGauge {
  conflicts(count: number): void;
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
 *
 * A catalog name belongs to one source. A discovered database is refused (in `conflicts`, and
 * not snapshotted) when its name is a configured database's, or when an older instance or cluster
 * tagged for discovery (under any policy) claims the same name: its snapshots would otherwise
 * join that series. The oldest claimant keeps the name, whichever policy's schedule runs first.
 */
export async function discoverDatabases(
  rds: RDSClient,
  options: { tagKey: string; policy: string; exclude?: readonly string[]; names?: readonly string[] },
): Promise<{ databases: DiscoveredDatabase[]; skipped: SkippedDatabase[]; conflicts: SkippedDatabase[] }> {
  const exclude = new Set((options.exclude ?? []).map((e) => e.toLowerCase()));
  const configuredNames = new Set(options.names ?? []);
  const skipped: SkippedDatabase[] = [];
  /** Every eligible database tagged for discovery, whatever its policy: the claimants of names. */
  const eligible: (DiscoveredDatabase & { policy: string; createdAt: number })[] = [];
  const consider = (
    type: SnapshotType,
    db: {
      identifier: string | undefined;
      engine: string | undefined;
      status: string | undefined;
      tagList: { Key?: string | undefined; Value?: string | undefined }[] | undefined;
      memberOf: string | undefined;
      replicaOf: string | undefined;
      createdAt: Date | undefined;
    },
  ) => {
    const { identifier, engine } = db;
    if (!identifier) return;
    const tags = tagsOf(db.tagList);
    const policy = tags[options.tagKey];
    if (!policy) return;
    const ours = policy === options.policy;
    const skip = (reason: string) => {
      if (ours) skipped.push({ identifier, reason });
    };
    if (!engine || !POSTGRES_ENGINES.has(engine))
      return skip(`engine ${engine ?? 'unknown'} is not PostgreSQL`);
    if (db.memberOf) return skip(`member of cluster ${db.memberOf}: the cluster is snapshotted`);
    if (db.replicaOf) return skip(`read replica of ${db.replicaOf}: its source is snapshotted`);
    if (exclude.has(identifier.toLowerCase()))
      return skip('configured explicitly: its own schedule snapshots it');
    if (db.status === 'deleting' || db.status === 'creating')
      return skip(`status ${db.status}: nothing to snapshot yet`);
    eligible.push({
      database: catalogName(tags, identifier),
      identifier,
      type,
      engine,
      policy,
      createdAt: db.createdAt?.getTime() ?? Number.POSITIVE_INFINITY,
    });
  };

  try {
    const instances = await paginate<DBInstance>('listing DB instances', async (marker) => {
      const page: DescribeDBInstancesCommandOutput = await rds.send(
        new DescribeDBInstancesCommand({ Marker: marker, MaxRecords: 100 }),
      );
      return { items: page.DBInstances ?? [], marker: page.Marker };
    });
    for (const db of instances) {
      consider('instance', {
        identifier: db.DBInstanceIdentifier,
        engine: db.Engine,
        status: db.DBInstanceStatus,
        tagList: db.TagList,
        memberOf: db.DBClusterIdentifier,
        replicaOf: db.ReadReplicaSourceDBInstanceIdentifier,
        createdAt: db.InstanceCreateTime,
      });
    }
    const clusters = await paginate<DBCluster>('listing DB clusters', async (marker) => {
      const page: DescribeDBClustersCommandOutput = await rds.send(
        new DescribeDBClustersCommand({ Marker: marker, MaxRecords: 100 }),
      );
      return { items: page.DBClusters ?? [], marker: page.Marker };
    });
    for (const c of clusters) {
      consider('cluster', {
        identifier: c.DBClusterIdentifier,
        engine: c.Engine,
        status: c.Status,
        tagList: c.TagList,
        memberOf: undefined,
        replicaOf: c.ReplicationSourceIdentifier,
        createdAt: c.ClusterCreateTime,
      });
    }
  } catch (err) {
    throw mapRdsError(err, `discovering databases tagged ${options.tagKey}=${options.policy}`);
  }

  // Each name's owner: the oldest claimant (then the first by identifier), never a configured name.
  const owner = new Map<string, (typeof eligible)[number]>();
  for (const db of [...eligible].sort(
    (a, b) =>
      a.createdAt - b.createdAt || (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0),
  )) {
    if (!owner.has(db.database)) owner.set(db.database, db);
  }
  const databases: DiscoveredDatabase[] = [];
  const conflicts: SkippedDatabase[] = [];
  for (const db of eligible) {
    if (db.policy !== options.policy) continue;
    const fix = `tag it ${TAG.database}=<unique name>`;
    if (configuredNames.has(db.database)) {
      conflicts.push({
        identifier: db.identifier,
        reason: `catalog name "${db.database}" is a configured database's: ${fix}`,
      });
      continue;
    }
    const first = owner.get(db.database)!;
    if (first !== db) {
      conflicts.push({
        identifier: db.identifier,
        reason: `catalog name "${db.database}" is already used by ${first.identifier}: ${fix}`,
      });
      continue;
    }
    databases.push({ database: db.database, identifier: db.identifier, type: db.type, engine: db.engine });
  }
  return { databases, skipped, conflicts };
}

export interface DiscoveryResult {
  readonly policy: string;
  readonly snapshots: TakeSnapshotResult[];
  readonly skipped: SkippedDatabase[];
  /** Refused: a catalog name in use by another source. Alarmed (SeriesConflicts). */
  readonly conflicts: SkippedDatabase[];
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
  deps: TakeSnapshotDeps & { readonly conflictGauge?: ConflictGauge | undefined },
): Promise<DiscoveryResult> {
  const { policy, tagKey, exclude, names } = event.discover;
  const found = await discoverDatabases(deps.rds, { tagKey, policy, exclude, names });
  for (const s of found.skipped) deps.logger.warn('tagged database skipped', { policy, ...s });
  for (const c of found.conflicts) {
    deps.logger.error('a second source under a catalog name in use: not snapshotted', { policy, ...c });
  }
  deps.conflictGauge?.conflicts(found.conflicts.length);
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
  const result: DiscoveryResult = {
    policy,
    snapshots,
    skipped: found.skipped,
    conflicts: found.conflicts,
    failed,
  };
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
