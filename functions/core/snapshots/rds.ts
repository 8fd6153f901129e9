import {
  type AccountQuota,
  type DBClusterSnapshot,
  type DBSnapshot,
  DescribeAccountAttributesCommand,
  DescribeDBClusterSnapshotAttributesCommand,
  DescribeDBClusterSnapshotsCommand,
  DescribeDBSnapshotAttributesCommand,
  DescribeDBSnapshotsCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import {
  DatabaseBusy,
  DatabaseNotFound,
  errorMessage,
  KmsKeyNotAccessible,
  LifeboatError,
  SnapshotError,
  SnapshotQuotaExceeded,
  Throttled,
} from '../shared/errors.ts';
import { type SnapshotType, TAG, tagRecord } from './snapshot-naming.ts';

/** What lifeboat needs of an RDS instance or cluster snapshot, the same for both kinds. */
export interface RdsSnapshot {
  readonly type: SnapshotType;
  readonly identifier: string;
  readonly arn: string;
  /** The DB instance or cluster it was taken of. */
  readonly sourceIdentifier: string;
  /**
   * RDS's id of that instance or cluster (DbiResourceId / DbClusterResourceId), which is never
   * reused when a database of the same name is created again; null where RDS did not give it.
   */
  readonly resourceId?: string | null;
  /** creating, available, copying, failed, deleting, … */
  readonly status: string;
  /** How far RDS is with creating or copying it, 0–100, where RDS says. */
  readonly percentProgress?: number | null;
  /** manual, automated, … */
  readonly snapshotType: string;
  readonly engine: string;
  readonly engineVersion: string | null;
  readonly createdAt: Date | null;
  readonly allocatedStorageGiB: number | null;
  readonly encrypted: boolean;
  readonly kmsKeyId: string | null;
  /** Set on a copy: the ARN (or identifier) of the snapshot it was copied from. */
  readonly copiedFrom: string | null;
  readonly tags: Record<string, string>;
}

export function fromDbSnapshot(s: DBSnapshot): RdsSnapshot {
  return {
    type: 'instance',
    identifier: s.DBSnapshotIdentifier ?? '',
    arn: s.DBSnapshotArn ?? '',
    sourceIdentifier: s.DBInstanceIdentifier ?? '',
    resourceId: s.DbiResourceId ?? null,
    status: s.Status ?? 'unknown',
    percentProgress: s.PercentProgress ?? null,
    snapshotType: s.SnapshotType ?? 'unknown',
    engine: s.Engine ?? 'postgres',
    engineVersion: s.EngineVersion ?? null,
    createdAt: s.OriginalSnapshotCreateTime ?? s.SnapshotCreateTime ?? null,
    allocatedStorageGiB: s.AllocatedStorage ?? null,
    encrypted: s.Encrypted ?? false,
    kmsKeyId: s.KmsKeyId ?? null,
    copiedFrom: s.SourceDBSnapshotIdentifier ?? null,
    tags: tagRecord(s.TagList),
  };
}

export function fromDbClusterSnapshot(s: DBClusterSnapshot): RdsSnapshot {
  return {
    type: 'cluster',
    identifier: s.DBClusterSnapshotIdentifier ?? '',
    arn: s.DBClusterSnapshotArn ?? '',
    sourceIdentifier: s.DBClusterIdentifier ?? '',
    resourceId: s.DbClusterResourceId ?? null,
    status: s.Status ?? 'unknown',
    percentProgress: s.PercentProgress ?? null,
    snapshotType: s.SnapshotType ?? 'unknown',
    engine: s.Engine ?? 'aurora-postgresql',
    engineVersion: s.EngineVersion ?? null,
    createdAt: s.SnapshotCreateTime ?? null,
    allocatedStorageGiB: s.AllocatedStorage ?? null,
    encrypted: s.StorageEncrypted ?? false,
    kmsKeyId: s.KmsKeyId ?? null,
    copiedFrom: s.SourceDBClusterSnapshotArn ?? null,
    tags: tagRecord(s.TagList),
  };
}

/** One snapshot by identifier (or ARN), or null when there is none. */
export async function describeSnapshot(
  rds: RDSClient,
  type: SnapshotType,
  identifier: string,
): Promise<RdsSnapshot | null> {
  try {
    if (type === 'instance') {
      const out = await rds.send(new DescribeDBSnapshotsCommand({ DBSnapshotIdentifier: identifier }));
      const found = out.DBSnapshots?.[0];
      return found ? fromDbSnapshot(found) : null;
    }
    const out = await rds.send(
      new DescribeDBClusterSnapshotsCommand({ DBClusterSnapshotIdentifier: identifier }),
    );
    const found = out.DBClusterSnapshots?.[0];
    return found ? fromDbClusterSnapshot(found) : null;
  } catch (err) {
    if (isRdsError(err, 'DBSnapshotNotFound', 'DBClusterSnapshotNotFound')) return null;
    throw mapRdsError(err, `describing ${type} snapshot ${identifier}`);
  }
}

/** Pages a listing may take at most: 1,000 pages of 100 are far beyond any snapshot quota. */
export const MAX_PAGES = 1000;

/**
 * Follows a paginated Describe* listing to its end, or fails: a marker that comes back a second
 * time, or more than MAX_PAGES pages, means the listing would never end or is not what RDS holds.
 * A listing is either complete or an error, never a part taken for the whole.
 */
export async function paginate<T>(
  what: string,
  page: (marker: string | undefined) => Promise<{ items: readonly T[]; marker: string | undefined }>,
  maxPages: number = MAX_PAGES,
): Promise<T[]> {
  const all: T[] = [];
  const seen = new Set<string>();
  let marker: string | undefined;
  for (let pages = 0; ; pages++) {
    if (pages >= maxPages) {
      throw new SnapshotError(`${what}: more than ${maxPages} pages; the listing is not complete`);
    }
    const out = await page(marker);
    all.push(...out.items);
    if (!out.marker) return all;
    if (seen.has(out.marker)) {
      throw new SnapshotError(
        `${what}: pagination marker "${out.marker.slice(0, 40)}" repeated; the listing is not complete`,
      );
    }
    seen.add(out.marker);
    marker = out.marker;
  }
}

/** Every manual snapshot of one kind that lifeboat took for this environment. */
export async function listLifeboatSnapshots(
  rds: RDSClient,
  type: SnapshotType,
  environment: string,
): Promise<RdsSnapshot[]> {
  const what = `listing manual ${type} snapshots`;
  let all: RdsSnapshot[];
  try {
    all = await paginate(what, async (marker) => {
      if (type === 'instance') {
        const out = await rds.send(
          new DescribeDBSnapshotsCommand({ SnapshotType: 'manual', MaxRecords: 100, Marker: marker }),
        );
        return { items: (out.DBSnapshots ?? []).map(fromDbSnapshot), marker: out.Marker };
      }
      const out = await rds.send(
        new DescribeDBClusterSnapshotsCommand({ SnapshotType: 'manual', MaxRecords: 100, Marker: marker }),
      );
      return { items: (out.DBClusterSnapshots ?? []).map(fromDbClusterSnapshot), marker: out.Marker };
    });
  } catch (err) {
    throw mapRdsError(err, what);
  }
  // Describe*Snapshots cannot filter on tags: the environment tag is checked here.
  return all.filter((s) => s.tags[TAG.environment] === environment);
}

/**
 * The accounts a manual snapshot is shared with: the values of its `restore` attribute (account
 * ids, or `all` when it is public). Empty when it is shared with nobody.
 */
export async function snapshotSharedWith(rds: RDSClient, snapshot: RdsSnapshot): Promise<string[]> {
  try {
    const attributes =
      snapshot.type === 'instance'
        ? (
            await rds.send(
              new DescribeDBSnapshotAttributesCommand({ DBSnapshotIdentifier: snapshot.identifier }),
            )
          ).DBSnapshotAttributesResult?.DBSnapshotAttributes
        : (
            await rds.send(
              new DescribeDBClusterSnapshotAttributesCommand({
                DBClusterSnapshotIdentifier: snapshot.identifier,
              }),
            )
          ).DBClusterSnapshotAttributesResult?.DBClusterSnapshotAttributes;
    if (attributes === undefined) {
      throw new SnapshotError(
        `RDS returned no attributes for ${snapshot.type} snapshot ${snapshot.identifier}`,
      );
    }
    return attributes.filter((a) => a.AttributeName === 'restore').flatMap((a) => a.AttributeValues ?? []);
  } catch (err) {
    throw mapRdsError(err, `reading who ${snapshot.type} snapshot ${snapshot.identifier} is shared with`);
  }
}

export interface Quota {
  readonly used: number;
  readonly max: number;
}

/** The account's manual snapshot quotas in the client's region (null where RDS did not say). */
export async function manualSnapshotQuotas(
  rds: RDSClient,
): Promise<{ instance: Quota | null; cluster: Quota | null }> {
  let quotas: AccountQuota[];
  try {
    quotas = (await rds.send(new DescribeAccountAttributesCommand({}))).AccountQuotas ?? [];
  } catch (err) {
    throw mapRdsError(err, 'reading the account quotas');
  }
  const find = (name: string): Quota | null => {
    const q = quotas.find((a) => a.AccountQuotaName === name);
    return q?.Used !== undefined && q.Max !== undefined && q.Max > 0 ? { used: q.Used, max: q.Max } : null;
  };
  return { instance: find('ManualSnapshots'), cluster: find('ManualClusterSnapshots') };
}

export function quotaPercent(q: Quota): number {
  return Math.round((q.used / q.max) * 1000) / 10;
}

/** The RDS error name, with or without the SDK's `Fault` suffix: DBSnapshotAlreadyExists. */
export function rdsErrorName(err: unknown): string {
  const e = err as { name?: string; Code?: string };
  return (e.name ?? e.Code ?? '').replace(/Fault$/, '');
}

/**
 * Whether `err` is one of the named RDS errors. Both sides are compared without the `Fault`
 * suffix, so `DBClusterNotFoundFault` (the SDK's class name) and `DBClusterNotFound` (the API's
 * error code) match each other, whichever one a caller lists.
 */
export function isRdsError(err: unknown, ...names: string[]): boolean {
  const name = rdsErrorName(err);
  return name !== '' && names.some((n) => n.replace(/Fault$/, '') === name);
}

/** The instance or cluster asked about does not exist (any spelling RDS or the SDK uses). */
export function isRdsNotFound(err: unknown): boolean {
  return isRdsError(err, 'DBInstanceNotFoundFault', 'DBClusterNotFoundFault');
}

/**
 * How a failed call to a region's control plane reads during a failover:
 * - `not-found`: the instance or cluster does not exist there;
 * - `degraded`: the region or the database did not give a usable answer — timeouts, network errors,
 *   5xx, throttling, a database in a state that refuses the change. In an outage this is the
 *   expected answer, and the request may or may not have been applied;
 * - `refused`: a definite refusal (access denied, invalid parameter): nothing was applied by this call.
 */
export type RegionErrorKind = 'not-found' | 'degraded' | 'refused';

const NETWORK =
  /ECONNRESET|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|EPIPE|EHOSTUNREACH|ENETUNREACH|socket hang up|timed? ?out/i;
const DEGRADED_NAMES = [
  ...['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'NetworkingError', 'AbortError'],
  ...['InternalFailure', 'InternalError', 'ServiceUnavailable', 'ServiceUnavailableException'],
  ...['InvalidDBInstanceState', 'InvalidDBClusterState', 'InvalidGlobalClusterState'],
  ...['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException'],
];

export function classifyRegionError(err: unknown): RegionErrorKind {
  if (isRdsNotFound(err)) return 'not-found';
  const e = err as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
    $fault?: string;
    $retryable?: unknown;
  };
  const name = rdsErrorName(err);
  const status = e?.$metadata?.httpStatusCode;
  if (
    DEGRADED_NAMES.includes(name) ||
    (e?.code !== undefined && NETWORK.test(e.code)) ||
    NETWORK.test(name) ||
    NETWORK.test(errorMessage(err)) ||
    (status !== undefined && (status >= 500 || status === 429)) ||
    e?.$fault === 'server' ||
    e?.$retryable !== undefined
  ) {
    return 'degraded';
  }
  return 'refused';
}

const THROTTLING = ['Throttling', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException'];
const KMS = [
  'KMSKeyNotAccessible',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
];

export interface ErrorContext {
  /** The KMS key involved, to name it when KMS refuses. */
  readonly kmsKeyId?: string | null | undefined;
}

/** Turns an RDS SDK error into a named lifeboat error that says what was being done. */
export function mapRdsError(err: unknown, doing: string, context: ErrorContext = {}): LifeboatError {
  if (err instanceof LifeboatError) return err;
  const name = rdsErrorName(err);
  const message = errorMessage(err);
  const key = context.kmsKeyId ? `KMS key ${context.kmsKeyId}` : 'the KMS key of the snapshot';
  if (
    KMS.includes(name) ||
    (/KMS/.test(message) && /access|disabled|not accessible|pending deletion|denied/i.test(message))
  ) {
    return new KmsKeyNotAccessible(
      `${doing}: ${key} is not accessible (disabled, scheduled for deletion, or its key policy does not allow this account/role): ${name}: ${message}`,
      { cause: err },
    );
  }
  if (name === 'InvalidDBInstanceState' || name === 'InvalidDBClusterState') {
    return new DatabaseBusy(`${doing}: the database is busy (${message}); retry later`, { cause: err });
  }
  if (name === 'SnapshotQuotaExceeded') {
    return new SnapshotQuotaExceeded(
      `${doing}: the account's manual snapshot quota is used up; raise the quota or delete snapshots (${message})`,
      { cause: err },
    );
  }
  if (THROTTLING.includes(name)) {
    return new Throttled(`${doing}: RDS kept throttling after the SDK's retries (${name})`, { cause: err });
  }
  if (name === 'DBInstanceNotFound' || name === 'DBClusterNotFound') {
    return new DatabaseNotFound(`${doing}: ${message}`, { cause: err });
  }
  return new SnapshotError(`${doing}: ${name || 'Error'}: ${message}`, { cause: err });
}
