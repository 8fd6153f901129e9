import {
  CreateDBClusterSnapshotCommand,
  CreateDBSnapshotCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import * as z from '../shared/zod.ts';
import type { Catalog } from '../catalog/catalog.ts';
import {
  errorMessage,
  InvalidArgument,
  KmsKeyNotAccessible,
  SnapshotError,
  SnapshotQuotaExceeded,
} from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import {
  describeSnapshot,
  isRdsError,
  manualSnapshotQuotas,
  mapRdsError,
  type Quota,
  quotaPercent,
  type RdsSnapshot,
} from './rds.ts';
import {
  type SnapshotType,
  scheduleSlot,
  snapshotBackupId,
  snapshotIdentifier,
  snapshotTags,
  TAG,
} from './snapshot-naming.ts';

/** The EventBridge Scheduler target input of a snapshot schedule (set by lib/, one per database). */
export const TakeSnapshotEvent = z.strictObject({
  /** Logical database name from the environment's configuration; names the catalog entry. */
  database: z.string().check(z.minLength(1), z.maxLength(200)),
  /** RDS DB instance or Aurora cluster identifier. */
  identifier: z.string().check(z.minLength(1), z.maxLength(63)),
  type: z.enum(['instance', 'cluster']),
  policy: z.string().check(z.minLength(1), z.maxLength(200)),
  /** `<aws.scheduler.scheduled-time>`: the slot the snapshot belongs to. */
  scheduledTime: z.string().check(z.minLength(1)),
});
export type TakeSnapshotEvent = z.infer<typeof TakeSnapshotEvent>;

export function parseTakeSnapshotEvent(event: unknown): TakeSnapshotEvent {
  const parsed = TakeSnapshotEvent.safeParse(event);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
    throw new InvalidArgument(`take-snapshot event: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** Receives the quota figure; Powertools Metrics in Lambda, a spy in tests. */
export interface QuotaGauge {
  usedPercent(percent: number): void;
}

export interface TakeSnapshotDeps {
  readonly rds: RDSClient;
  readonly catalog: Catalog;
  readonly logger: Logger;
  readonly quotaGauge?: QuotaGauge | undefined;
  readonly environment: string;
  /** Where this runs (Lambda request id), for the catalog's started record. */
  readonly runner: string;
  readonly now?: () => Date;
}

export interface TakeSnapshotResult {
  readonly database: string;
  readonly snapshotIdentifier: string;
  readonly snapshotType: SnapshotType;
  readonly snapshotArn: string;
  readonly backupId: string;
  readonly status: string;
  /** false when the snapshot already existed (a repeated or duplicate event). */
  readonly created: boolean;
  readonly quota: { readonly instance: Quota | null; readonly cluster: Quota | null } | null;
}

/**
 * Takes the snapshot of one schedule slot, once. A repeated event finds the snapshot (describe
 * first; CreateDB*Snapshot's AlreadyExists covers two events racing) and succeeds without
 * creating another. On creation it writes a `started` record; the manifest is written by
 * copy-snapshot when RDS says the snapshot is available, because only then is it a restore point.
 */
export async function takeSnapshot(
  event: TakeSnapshotEvent,
  deps: TakeSnapshotDeps,
): Promise<TakeSnapshotResult> {
  const now = deps.now ?? (() => new Date());
  const slot = scheduleSlot(event.scheduledTime);
  const region = await deps.rds.config.region();
  const identifier = snapshotIdentifier(event.identifier, slot, event.type);
  const backupId = snapshotBackupId(slot, region);
  const log = { database: event.database, snapshotIdentifier: identifier, backupId, region };

  const existing = await describeSnapshot(deps.rds, event.type, identifier);
  if (existing) return alreadyThere(existing, event, deps, { identifier, backupId, log, quota: null });

  const quota = await watchQuota(deps, log);

  let created: { arn: string; status: string };
  try {
    created = await create(deps.rds, event, identifier, slot, deps.environment);
  } catch (err) {
    if (isRdsError(err, 'DBSnapshotAlreadyExists', 'DBClusterSnapshotAlreadyExists')) {
      const found = await describeSnapshot(deps.rds, event.type, identifier);
      if (found) return alreadyThere(found, event, deps, { identifier, backupId, log, quota });
    }
    const mapped = mapRdsError(err, `creating ${event.type} snapshot ${identifier} of ${event.identifier}`);
    if (mapped instanceof SnapshotQuotaExceeded) {
      deps.logger.error('manual snapshot quota exceeded: no snapshot taken', {
        ...log,
        quota,
        error: { name: mapped.name, message: mapped.message },
      });
    } else if (mapped instanceof KmsKeyNotAccessible) {
      throw await nameTheKey(deps.rds, event, mapped);
    }
    throw mapped;
  }

  deps.logger.info('snapshot started', { ...log, status: created.status, arn: created.arn });
  try {
    await deps.catalog.record({
      kind: 'started',
      backupId,
      database: event.database,
      at: now().toISOString(),
      backupKind: 'rds-snapshot',
      runner: deps.runner,
    });
  } catch (err) {
    // The snapshot exists and will be cataloged when available; a lost `started` record must not
    // make the scheduler retry (the retry would find the snapshot and write nothing anyway).
    deps.logger.error('could not write the started record', { ...log, error: errorMessage(err) });
  }
  return {
    database: event.database,
    snapshotIdentifier: identifier,
    snapshotType: event.type,
    snapshotArn: created.arn,
    backupId,
    status: created.status,
    created: true,
    quota,
  };
}

async function create(
  rds: RDSClient,
  event: TakeSnapshotEvent,
  identifier: string,
  slot: Date,
  environment: string,
): Promise<{ arn: string; status: string }> {
  const Tags = snapshotTags({ policy: event.policy, slot, environment, database: event.database });
  if (event.type === 'instance') {
    const out = await rds.send(
      new CreateDBSnapshotCommand({
        DBSnapshotIdentifier: identifier,
        DBInstanceIdentifier: event.identifier,
        Tags,
      }),
    );
    return { arn: out.DBSnapshot?.DBSnapshotArn ?? '', status: out.DBSnapshot?.Status ?? 'creating' };
  }
  const out = await rds.send(
    new CreateDBClusterSnapshotCommand({
      DBClusterSnapshotIdentifier: identifier,
      DBClusterIdentifier: event.identifier,
      Tags,
    }),
  );
  return {
    arn: out.DBClusterSnapshot?.DBClusterSnapshotArn ?? '',
    status: out.DBClusterSnapshot?.Status ?? 'creating',
  };
}

function alreadyThere(
  snapshot: RdsSnapshot,
  event: TakeSnapshotEvent,
  deps: TakeSnapshotDeps,
  at: { identifier: string; backupId: string; log: object; quota: TakeSnapshotResult['quota'] },
): TakeSnapshotResult {
  // The identifier holds the database identifier, so a snapshot of another database under this
  // name means someone else made it: refuse rather than report it as ours.
  if (snapshot.sourceIdentifier.toLowerCase() !== event.identifier.toLowerCase()) {
    throw new SnapshotError(
      `snapshot ${at.identifier} exists but is of ${snapshot.sourceIdentifier}, not ${event.identifier}`,
    );
  }
  if (snapshot.tags[TAG.environment] !== undefined && snapshot.tags[TAG.environment] !== deps.environment) {
    throw new SnapshotError(
      `snapshot ${at.identifier} exists but belongs to environment "${snapshot.tags[TAG.environment]}", not "${deps.environment}"`,
    );
  }
  if (snapshot.status === 'failed') {
    // RDS keeps the name of a failed snapshot: this slot has no snapshot, and retaking it would need
    // the failed one deleted first. Say so loudly; the next slot is taken as usual.
    deps.logger.error('the snapshot of this slot failed in RDS; not retaken', {
      ...at.log,
      status: snapshot.status,
    });
  } else {
    deps.logger.info('snapshot already exists: nothing to do', { ...at.log, status: snapshot.status });
  }
  return {
    database: event.database,
    snapshotIdentifier: at.identifier,
    snapshotType: event.type,
    snapshotArn: snapshot.arn,
    backupId: at.backupId,
    status: snapshot.status,
    created: false,
    quota: at.quota,
  };
}

/**
 * Reads the manual snapshot quotas and reports the fuller one (instance and cluster snapshots
 * have separate quotas; one gauge at 80 % catches either). Never stops the snapshot: a failed
 * read is logged and the snapshot is still taken.
 */
async function watchQuota(deps: TakeSnapshotDeps, log: object): Promise<TakeSnapshotResult['quota']> {
  try {
    const quota = await manualSnapshotQuotas(deps.rds);
    const percents = [quota.instance, quota.cluster].filter((q): q is Quota => q !== null).map(quotaPercent);
    if (percents.length > 0) {
      const fullest = Math.max(...percents);
      deps.quotaGauge?.usedPercent(fullest);
      if (fullest >= 80) deps.logger.warn('manual snapshot quota above 80 %', { ...log, quota });
    }
    return quota;
  } catch (err) {
    deps.logger.warn('could not read the manual snapshot quota', { ...log, error: errorMessage(err) });
    return null;
  }
}

/** KMS refused: find which key the database uses, so the message names it. */
async function nameTheKey(
  rds: RDSClient,
  event: TakeSnapshotEvent,
  err: KmsKeyNotAccessible,
): Promise<KmsKeyNotAccessible> {
  let key: string | undefined;
  try {
    if (event.type === 'instance') {
      const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: event.identifier }));
      key = out.DBInstances?.[0]?.KmsKeyId;
    } else {
      const out = await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: event.identifier }));
      key = out.DBClusters?.[0]?.KmsKeyId;
    }
  } catch {
    // Best effort: the original error already says KMS refused.
  }
  if (!key) return err;
  return new KmsKeyNotAccessible(err.message.replace('the KMS key of the snapshot', `KMS key ${key}`), {
    cause: err.cause,
  });
}
