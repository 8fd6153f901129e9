import { CopyDBClusterSnapshotCommand, CopyDBSnapshotCommand, type RDSClient } from '@aws-sdk/client-rds';
import * as z from '../shared/zod.ts';
import type { Catalog } from '../catalog/catalog.ts';
import { AlreadyExists, errorMessage, InvalidArgument, SnapshotQuotaExceeded } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { DOCUMENT_SCHEMA, type SnapshotManifest } from '../catalog/manifest.ts';
import { describeSnapshot, isRdsError, listLifeboatSnapshots, mapRdsError, type RdsSnapshot } from './rds.ts';
import { arnRegion, parseSlotTag, type SnapshotType, snapshotBackupId, TAG } from './snapshot-naming.ts';

/**
 * Cross-region copies of lifeboat's snapshots, driven by RDS snapshot events delivered through SQS.
 *
 * For each event about a lifeboat snapshot in the primary region:
 *   source not yet available            → wait (SQS redelivers the message later)
 *   source available                    → catalog the source; then
 *   copy exists in the DR region, available  → catalog the copy: done
 *   copy exists, still copying          → wait, so that the copy is cataloged once it is available
 *   no copy, copies in flight at limit  → wait
 *   no copy                             → start the copy (DR CMK, CopyTags), record `started`, wait
 * An event about a snapshot in the DR region (RDS-EVENT-0060, if routed here) catalogs the copy
 * when it is available. Every step is idempotent: catalog documents are write-once (AlreadyExists
 * means done), and a copy that exists is never started again.
 */

export const SNAPSHOT_DETAIL_TYPES = ['RDS DB Snapshot Event', 'RDS DB Cluster Snapshot Event'] as const;

/** The EventBridge event of an RDS snapshot, as it arrives in an SQS message body. */
export const RdsSnapshotEvent = z.looseObject({
  'detail-type': z.enum(SNAPSHOT_DETAIL_TYPES),
  source: z.literal('aws.rds'),
  region: z.string().check(z.minLength(1)),
  time: z.optional(z.string()),
  detail: z.looseObject({
    /** The snapshot identifier. */
    SourceIdentifier: z.string().check(z.minLength(1)),
    SourceArn: z.optional(z.string()),
    EventID: z.optional(z.string()),
    Message: z.optional(z.string()),
  }),
});
export type RdsSnapshotEvent = z.infer<typeof RdsSnapshotEvent>;

export function parseRdsSnapshotEvent(body: unknown): RdsSnapshotEvent {
  const parsed = RdsSnapshotEvent.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
    throw new InvalidArgument(`not an RDS snapshot event: ${problems.join('; ')}`);
  }
  return parsed.data;
}

export type CopyOutcome =
  /** Nothing left to do for this event. */
  | { readonly done: true; readonly what: string }
  /** Come back later: SQS should redeliver the message (never an error). */
  | { readonly done: false; readonly what: string };

export interface CopySnapshotDeps {
  /** RDS in the primary region, where the snapshots are taken. */
  readonly source: RDSClient;
  /** RDS in the DR region, where the copies go. */
  readonly dr: RDSClient;
  readonly drRegion: string;
  /** The DR region's customer-managed KMS key (ARN) that encrypts every copy. */
  readonly drKmsKeyId: string;
  /** Copies in flight to the DR region allowed at once, per snapshot type. AWS's limit is 5. */
  readonly maxInFlight: number;
  readonly environment: string;
  readonly catalog: Catalog;
  readonly logger: Logger;
  readonly runner: string;
  readonly now?: () => Date;
  /** Called once per copy cataloged in the DR region (the handler counts it as a metric). */
  readonly onCopyArrived?: (copy: { readonly database: string; readonly identifier: string }) => void;
}

/** Counts copies in flight in the DR region once per batch, then keeps count as copies start. */
export class InFlightCopies {
  private readonly counts = new Map<SnapshotType, number>();

  constructor(
    private readonly dr: RDSClient,
    private readonly environment: string,
  ) {}

  async count(type: SnapshotType): Promise<number> {
    let n = this.counts.get(type);
    if (n === undefined) {
      const copies = await listLifeboatSnapshots(this.dr, type, this.environment);
      n = copies.filter((s) => IN_FLIGHT.has(s.status)).length;
      this.counts.set(type, n);
    }
    return n;
  }

  started(type: SnapshotType): void {
    this.counts.set(type, (this.counts.get(type) ?? 0) + 1);
  }
}

const IN_FLIGHT = new Set(['creating', 'copying', 'pending']);

export async function copySnapshotForEvent(
  event: RdsSnapshotEvent,
  deps: CopySnapshotDeps,
  inFlight: InFlightCopies,
): Promise<CopyOutcome> {
  const type: SnapshotType =
    event['detail-type'] === 'RDS DB Cluster Snapshot Event' ? 'cluster' : 'instance';
  const identifier = event.detail.SourceIdentifier;
  const region = (event.detail.SourceArn && arnRegion(event.detail.SourceArn)) || event.region;
  const sourceRegion = await deps.source.config.region();
  const log = { snapshotIdentifier: identifier, type, region, eventId: event.detail.EventID };

  // The EventBridge rule should match only lifeboat's snapshots; this keeps others out regardless.
  if (!identifier.startsWith('lifeboat-')) return { done: true, what: 'not a lifeboat snapshot: ignored' };

  if (region === deps.drRegion) {
    const copy = await describeSnapshot(deps.dr, type, identifier);
    if (!copy || !isOurs(copy, deps.environment))
      return { done: true, what: 'no lifeboat copy by that name: ignored' };
    if (copy.status !== 'available')
      return { done: true, what: `copy is ${copy.status}: a later event catalogs it` };
    await catalogSnapshot(copy, deps, null);
    return { done: true, what: 'copy cataloged' };
  }
  if (region !== sourceRegion) {
    deps.logger.warn('snapshot event from a region that is neither primary nor DR: ignored', {
      ...log,
      sourceRegion,
    });
    return { done: true, what: `event from ${region}: ignored` };
  }

  const source = await describeSnapshot(deps.source, type, identifier);
  if (!source) return { done: true, what: 'source snapshot no longer exists: ignored' };
  if (!isOurs(source, deps.environment))
    return { done: true, what: 'not lifeboat-tagged for this environment: ignored' };
  if (source.status === 'creating' || source.status === 'pending') {
    return { done: false, what: `source is ${source.status}: waiting` };
  }
  if (source.status !== 'available') {
    deps.logger.warn('source snapshot is not available: not copied', { ...log, status: source.status });
    return { done: true, what: `source is ${source.status}: not copied` };
  }
  await catalogSnapshot(source, deps, null);

  const existing = await describeSnapshot(deps.dr, type, identifier);
  if (existing) return settleCopy(existing, source, deps, log);

  const inFlightNow = await inFlight.count(type);
  if (inFlightNow >= deps.maxInFlight) {
    deps.logger.info('copy limit reached: will retry', {
      ...log,
      inFlight: inFlightNow,
      limit: deps.maxInFlight,
    });
    return {
      done: false,
      what: `copy limit reached (${inFlightNow} of ${deps.maxInFlight} in flight): waiting`,
    };
  }

  try {
    await startCopy(source, deps);
  } catch (err) {
    if (isRdsError(err, 'DBSnapshotAlreadyExists', 'DBClusterSnapshotAlreadyExists')) {
      return { done: false, what: 'copy already started: waiting for it to be available' };
    }
    const mapped = mapRdsError(err, `copying ${type} snapshot ${identifier} to ${deps.drRegion}`, {
      kmsKeyId: deps.drKmsKeyId,
    });
    // RDS says SnapshotQuotaExceeded both for "more than 5 copies across regions" (wait) and for a
    // full manual snapshot quota (a person must act).
    if (mapped instanceof SnapshotQuotaExceeded && /cop(y|ies)/i.test(errorMessage(err))) {
      deps.logger.info('RDS refused the copy: too many in flight; will retry', {
        ...log,
        error: errorMessage(err),
      });
      return { done: false, what: 'copy limit reached (RDS): waiting' };
    }
    throw mapped;
  }
  inFlight.started(type);
  await deps.catalog.record({
    kind: 'started',
    backupId: backupIdOf(source, deps.drRegion),
    database: databaseOf(source),
    at: (deps.now?.() ?? new Date()).toISOString(),
    backupKind: 'rds-snapshot',
    runner: deps.runner,
  });
  deps.logger.info('copy started', { ...log, drRegion: deps.drRegion, kmsKeyId: deps.drKmsKeyId });
  return { done: false, what: 'copy started: waiting for it to be available' };
}

async function settleCopy(
  copy: RdsSnapshot,
  source: RdsSnapshot,
  deps: CopySnapshotDeps,
  log: object,
): Promise<CopyOutcome> {
  if (copy.status === 'available') {
    await catalogSnapshot(copy, deps, source.arn);
    return { done: true, what: 'copy exists and is cataloged' };
  }
  if (IN_FLIGHT.has(copy.status)) return { done: false, what: `copy is ${copy.status}: waiting` };
  // A failed copy stays failed; retention removes it. Keep the queue moving and say so loudly.
  deps.logger.error('cross-region copy failed', { ...log, status: copy.status, drRegion: deps.drRegion });
  return { done: true, what: `copy is ${copy.status}: not retried` };
}

async function startCopy(source: RdsSnapshot, deps: CopySnapshotDeps): Promise<void> {
  // The source is named by ARN: RDS reads the source region from it, and the SDK's RDS middleware
  // presigns the source-region request from it where one is needed (this SDK version has no
  // SourceRegion input any more). KmsKeyId must be a key of the destination region.
  if (source.type === 'instance') {
    await deps.dr.send(
      new CopyDBSnapshotCommand({
        SourceDBSnapshotIdentifier: source.arn,
        TargetDBSnapshotIdentifier: source.identifier,
        KmsKeyId: deps.drKmsKeyId,
        CopyTags: true,
      }),
    );
    return;
  }
  await deps.dr.send(
    new CopyDBClusterSnapshotCommand({
      SourceDBClusterSnapshotIdentifier: source.arn,
      TargetDBClusterSnapshotIdentifier: source.identifier,
      KmsKeyId: deps.drKmsKeyId,
      CopyTags: true,
    }),
  );
}

function isOurs(snapshot: RdsSnapshot, environment: string): boolean {
  return (
    snapshot.tags[TAG.environment] === environment &&
    snapshot.tags[TAG.database] !== undefined &&
    parseSlotTag(snapshot.tags[TAG.slot]) !== null
  );
}

function databaseOf(snapshot: RdsSnapshot): string {
  return snapshot.tags[TAG.database]!;
}

function backupIdOf(snapshot: RdsSnapshot, region: string): string {
  return snapshotBackupId(parseSlotTag(snapshot.tags[TAG.slot])!, region);
}

/** The catalog document of a snapshot; `copiedFrom` is the source ARN for a DR copy. */
export function snapshotManifest(
  snapshot: RdsSnapshot,
  copiedFrom: string | null,
  now: Date,
): SnapshotManifest {
  const region = arnRegion(snapshot.arn);
  if (!region)
    throw new InvalidArgument(`snapshot ${snapshot.identifier} has no RDS ARN ("${snapshot.arn}")`);
  const slot = parseSlotTag(snapshot.tags[TAG.slot])!;
  return {
    schemaVersion: DOCUMENT_SCHEMA.major,
    schemaMinor: DOCUMENT_SCHEMA.minor,
    kind: 'rds-snapshot',
    id: snapshotBackupId(slot, region),
    database: databaseOf(snapshot),
    engine: snapshot.engine,
    engineVersion: snapshot.engineVersion,
    snapshotType: snapshot.type,
    snapshotArn: snapshot.arn,
    snapshotIdentifier: snapshot.identifier,
    region,
    copiedFrom: copiedFrom ?? snapshot.copiedFrom,
    kmsKeyId: snapshot.kmsKeyId,
    // The data's point in time (for a copy, its source's); RDS does not say when a snapshot
    // finished, so finishedAt is when lifeboat saw it available.
    startedAt: (snapshot.createdAt ?? slot).toISOString(),
    finishedAt: now.toISOString(),
    allocatedStorageGiB: snapshot.allocatedStorageGiB,
    tags: snapshot.tags,
    // With the catalog name, what makes the snapshot's series (prune never merges two sources).
    source: { identifier: snapshot.sourceIdentifier, resourceId: snapshot.resourceId ?? null },
  };
}

async function catalogSnapshot(
  snapshot: RdsSnapshot,
  deps: CopySnapshotDeps,
  copiedFrom: string | null,
): Promise<void> {
  const manifest = snapshotManifest(snapshot, copiedFrom, deps.now?.() ?? new Date());
  try {
    await deps.catalog.writeManifest(manifest);
    deps.logger.info('snapshot cataloged', {
      backupId: manifest.id,
      database: manifest.database,
      region: manifest.region,
    });
    // Counted once, when the copy's manifest is first written (a redelivery finds it there).
    if (manifest.region === deps.drRegion) {
      deps.onCopyArrived?.({ database: manifest.database, identifier: snapshot.identifier });
    }
  } catch (err) {
    if (!(err instanceof AlreadyExists)) throw err;
  }
}

export interface SqsRecordLike {
  readonly messageId: string;
  readonly body: string;
}

export interface CopyBatchResult {
  /** The SQS partial-batch response: these messages come back after the visibility timeout. */
  readonly batchItemFailures: { itemIdentifier: string }[];
  readonly outcomes: { messageId: string; outcome: string }[];
}

/**
 * One SQS batch, one record at a time (the in-flight count must see the copies this batch
 * starts). A record that must wait, or that failed, is returned for redelivery; a failing record
 * never stops the others.
 */
export async function copySnapshotBatch(
  records: readonly SqsRecordLike[],
  deps: CopySnapshotDeps,
): Promise<CopyBatchResult> {
  const inFlight = new InFlightCopies(deps.dr, deps.environment);
  const batchItemFailures: { itemIdentifier: string }[] = [];
  const outcomes: { messageId: string; outcome: string }[] = [];
  for (const record of records) {
    try {
      let body: unknown;
      try {
        body = JSON.parse(record.body);
      } catch {
        throw new InvalidArgument('message body is not JSON');
      }
      const outcome = await copySnapshotForEvent(parseRdsSnapshotEvent(body), deps, inFlight);
      if (!outcome.done) batchItemFailures.push({ itemIdentifier: record.messageId });
      outcomes.push({ messageId: record.messageId, outcome: outcome.what });
    } catch (err) {
      // Redelivered until the queue's maxReceiveCount sends it to the DLQ, where a person looks.
      deps.logger.error('copy-snapshot failed for a message', {
        messageId: record.messageId,
        error: { name: (err as Error).name, message: errorMessage(err) },
      });
      batchItemFailures.push({ itemIdentifier: record.messageId });
      outcomes.push({
        messageId: record.messageId,
        outcome: `error: ${(err as Error).name}: ${errorMessage(err)}`,
      });
    }
  }
  return { batchItemFailures, outcomes };
}
