import { createHash } from 'node:crypto';
import * as z from '../shared/zod.ts';
import type { BackupSummary, CheckResult, VerificationRecord } from '../catalog/catalog.ts';
import { LifeboatError } from '../shared/errors.ts';
import { describeIssue, Route53Record } from '../failover/failover.ts';
import type { DumpManifest, SnapshotManifest } from '../catalog/manifest.ts';
import { SECRET_ARN, SECRET_ARN_EXPECTED } from '../contracts/secrets-arn.ts';

/**
 * The pure part of the restore and restore-test workflows (state-machines/restore.ts,
 * state-machines/restore-test.ts): what a restore request is, which route it takes, which restore
 * point of the catalog it uses, and the names of what a restore test creates.
 */

/** The restore request is malformed; the message names the field. */
export class InvalidRestoreInput extends LifeboatError {
  override readonly name = 'InvalidRestoreInput';
}
/** No restore point in the catalog fits the request. */
export class NoRestorePoint extends LifeboatError {
  override readonly name = 'NoRestorePoint';
}
/** The target already exists: a restore never touches (or removes) something it did not create. */
export class TargetAlreadyExists extends LifeboatError {
  override readonly name = 'TargetAlreadyExists';
}
/** Restored data did not pass the data checks. */
export class VerificationFailed extends LifeboatError {
  override readonly name = 'VerificationFailed';
}

const identifier = z.string().check(
  z.regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, {
    error: 'expected an RDS identifier: a letter, then letters, digits and dashes (at most 63)',
  }),
);
const subnetGroup = z
  .string()
  .check(z.regex(/^[a-zA-Z0-9 ._-]{1,255}$/, { error: 'expected a DB subnet group name' }));
const securityGroupId = z
  .string()
  .check(z.regex(/^sg-[0-9a-f]{8,17}$/, { error: 'expected a security group id (sg-...)' }));
const secretArn = z.string().check(z.regex(SECRET_ARN, { error: SECRET_ARN_EXPECTED }));

export const RestorePointSelector = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('latest-verified') }),
  z.strictObject({ kind: z.literal('backup'), backupId: z.string().check(z.minLength(1)) }),
  z.strictObject({ kind: z.literal('time'), time: z.iso.datetime({ offset: true }) }),
]);
export type RestorePointSelector = z.infer<typeof RestorePointSelector>;

export const RestoreRequest = z
  .strictObject({
    database: z.string().check(z.minLength(1, { error: 'expected the database name' })),
    source: z.enum(['snapshot', 'point-in-time', 'dump']),
    restorePoint: z._default(RestorePointSelector, { kind: 'latest-verified' }),
    /** Point in time only: the instance or cluster whose automated backups are restored. */
    sourceIdentifier: z.optional(identifier),
    target: z.strictObject({
      /** instance or cluster; ignored for a dump (restored into an existing server). */
      kind: z._default(z.enum(['instance', 'cluster']), 'instance'),
      /** New instance or cluster to create; for a dump, the existing server's instance identifier. */
      identifier,
      /** Aurora only: the instance created in the new cluster. @default `<identifier>-1` */
      instanceIdentifier: z.optional(identifier),
      instanceClass: z.optional(
        z.string().check(
          z.regex(/^db\.[a-z0-9]+\.[a-z0-9]+$/, {
            error: 'expected an instance class such as db.r6g.large',
          }),
        ),
      ),
      subnetGroupName: z.optional(subnetGroup),
      securityGroupIds: z._default(z.array(securityGroupId), []),
      /** Dump only: the database to create on the target server (must not exist). */
      databaseName: z.optional(z.string().check(z.minLength(1), z.maxLength(63))),
      /** Secret to connect with for verification and dump restores (an ARN, never the secret). */
      secretArn: z.optional(secretArn),
    }),
    /** Route 53 record switched to the restored database once it is verified. */
    cutover: z.optional(Route53Record),
    verify: z._default(z.boolean(), true),
    /**
     * Dump only: when the dump's artifacts are archived (GLACIER, DEEP_ARCHIVE), the S3 restore the
     * workflow asks for: its tier (Expedited: GLACIER only) and how many days the copy stays.
     * @default { tier: 'Standard', days: 7 }
     */
    archive: z.optional(
      z.strictObject({
        tier: z._default(z.enum(['Standard', 'Bulk', 'Expedited']), 'Standard'),
        // z.number() checked for int, not z.int({ error }): the message is for fractions only, a
        // string or null still reads "expected number".
        days: z._default(
          z
            .number()
            .check(
              z.int({ error: 'expected a whole number of days' }),
              z.gte(1, { error: 'at least 1 day' }),
              z.lte(30, { error: 'at most 30 days' }),
            ),
          7,
        ),
      }),
    ),
    requestedBy: z.optional(z.string().check(z.maxLength(200))),
  })
  .check(
    z.superRefine((r, ctx) => {
      const issue = (path: (string | number)[], message: string) =>
        ctx.addIssue({ code: 'custom', path, message });
      if (r.source === 'point-in-time') {
        if (r.restorePoint.kind !== 'time')
          issue(['restorePoint'], 'a point-in-time restore needs { kind: "time", time }');
        if (!r.sourceIdentifier)
          issue(['sourceIdentifier'], 'a point-in-time restore needs the source instance or cluster');
      }
      if (r.source === 'dump') {
        if (!r.target.databaseName)
          issue(['target', 'databaseName'], 'a dump restore needs the database to create');
        if (!r.target.secretArn)
          issue(['target', 'secretArn'], 'a dump restore needs a secret to connect with');
      } else {
        if (r.archive) issue(['archive'], 'applies to dump restores only (snapshots are never archived)');
        if (!r.target.instanceClass) issue(['target', 'instanceClass'], 'required to create an instance');
        if (!r.target.subnetGroupName) issue(['target', 'subnetGroupName'], 'required to create an instance');
        if (r.target.securityGroupIds.length === 0)
          issue(['target', 'securityGroupIds'], 'name at least one security group');
      }
      if (r.verify && !r.target.secretArn)
        issue(['target', 'secretArn'], 'verification needs a secret to connect with (or set verify: false)');
      if (r.restorePoint.kind === 'time' && Date.parse(r.restorePoint.time) > Date.now() + 60_000) {
        issue(['restorePoint', 'time'], 'is in the future');
      }
    }),
  );
export type RestoreRequest = z.output<typeof RestoreRequest>;

export type RestoreRoute =
  'instance-snapshot' | 'cluster-snapshot' | 'instance-pitr' | 'cluster-pitr' | 'dump';

/** The validated request with what the workflow's Choice states branch on. */
export interface PlannedRestore extends RestoreRequest {
  readonly route: RestoreRoute;
  /** Dump only: the S3 restore asked for when its artifacts are archived (defaults filled in). */
  readonly archive?: { readonly tier: 'Standard' | 'Bulk' | 'Expedited'; readonly days: number };
  readonly target: RestoreRequest['target'] & { readonly instanceIdentifier: string };
}

/** Validates the execution input of the restore workflow; InvalidRestoreInput names the bad field. */
export function planRestore(input: unknown): PlannedRestore {
  const parsed = RestoreRequest.safeParse(input);
  if (!parsed.success) throw new InvalidRestoreInput(`restore input: ${describeIssue(parsed.error)}`);
  const r = parsed.data;
  const route: RestoreRoute =
    r.source === 'dump' ? 'dump' : `${r.target.kind}-${r.source === 'snapshot' ? 'snapshot' : 'pitr'}`;
  const instanceIdentifier =
    r.target.kind === 'cluster' && r.source !== 'dump'
      ? (r.target.instanceIdentifier ?? `${r.target.identifier}-1`.slice(0, 63))
      : r.target.identifier;
  return {
    ...r,
    route,
    target: { ...r.target, instanceIdentifier },
    ...(route === 'dump' && { archive: r.archive ?? { tier: 'Standard', days: 7 } }),
  };
}

/** Where the restore comes from; the workflow keeps it at `$.restorePoint`. */
export type RestorePoint =
  | {
      readonly kind: 'snapshot';
      readonly backupId: string;
      readonly snapshotIdentifier: string;
      readonly snapshotArn: string;
      readonly snapshotType: 'instance' | 'cluster';
      readonly engine: string;
      readonly takenAt: string;
      readonly verified: boolean;
    }
  | { readonly kind: 'point-in-time'; readonly restoreTime: string; readonly sourceIdentifier: string }
  | {
      readonly kind: 'dump';
      readonly backupId: string;
      readonly artifactKey: string;
      readonly takenAt: string;
      readonly verified: boolean;
    };

type Completed<M> = BackupSummary & { manifest: M };

/**
 * Picks the restore point from the database's backups (newest first, as Catalog.list returns
 * them). Snapshots must be in `region` and of the target's kind. `latest-verified` takes the
 * newest backup whose last verification passed; `time` the newest finished at or before it.
 */
export function chooseRestorePoint(
  plan: PlannedRestore,
  backups: readonly BackupSummary[],
  region: string,
): RestorePoint {
  if (plan.route === 'instance-pitr' || plan.route === 'cluster-pitr') {
    const selector = plan.restorePoint as { kind: 'time'; time: string };
    return {
      kind: 'point-in-time',
      restoreTime: new Date(selector.time).toISOString(),
      sourceIdentifier: plan.sourceIdentifier!,
    };
  }
  const wantDump = plan.route === 'dump';
  const what = wantDump ? 'logical dump' : `${plan.target.kind} snapshot in ${region}`;
  const usable = backups.filter((b): b is Completed<DumpManifest | SnapshotManifest> => {
    if (b.database !== plan.database || b.state !== 'completed' || !b.manifest) return false;
    if (wantDump) return b.manifest.kind === 'logical-dump';
    return (
      b.manifest.kind === 'rds-snapshot' &&
      b.manifest.region === region &&
      b.manifest.snapshotType === plan.target.kind
    );
  });
  const sel = plan.restorePoint;
  let chosen: Completed<DumpManifest | SnapshotManifest> | undefined;
  if (sel.kind === 'backup') {
    chosen = usable.find((b) => b.id === sel.backupId);
    if (!chosen) {
      const any = backups.find((b) => b.id === sel.backupId);
      throw new NoRestorePoint(
        any
          ? `backup ${sel.backupId} of "${plan.database}" is ${any.state}${any.manifest ? ` (${any.manifest.kind})` : ''}, not a completed ${what}`
          : `no backup ${sel.backupId} of "${plan.database}"`,
      );
    }
    if (chosen.verification === 'verification-failed') {
      throw new NoRestorePoint(`backup ${sel.backupId} failed its last verification: restore another one`);
    }
  } else if (sel.kind === 'latest-verified') {
    chosen = usable.find((b) => b.verification === 'verified');
    if (!chosen) {
      throw new NoRestorePoint(
        `no verified ${what} of "${plan.database}"${usable.length ? ` (${usable.length} unverified: name one by backup id)` : ''}`,
      );
    }
  } else {
    const limit = Date.parse(sel.time);
    chosen = usable.find(
      (b) => Date.parse(b.finishedAt ?? b.startedAt) <= limit && b.verification !== 'verification-failed',
    );
    if (!chosen)
      throw new NoRestorePoint(`no ${what} of "${plan.database}" finished at or before ${sel.time}`);
  }
  const m = chosen.manifest;
  if (m.kind === 'logical-dump') {
    return {
      kind: 'dump',
      backupId: chosen.id,
      artifactKey: m.artifact.key,
      takenAt: m.startedAt,
      verified: chosen.verification === 'verified',
    };
  }
  return {
    kind: 'snapshot',
    backupId: chosen.id,
    snapshotIdentifier: m.snapshotIdentifier,
    snapshotArn: m.snapshotArn,
    snapshotType: m.snapshotType,
    engine: m.engine,
    takenAt: m.startedAt,
    verified: chosen.verification === 'verified',
  };
}

/**
 * The logical dump whose statistics a restore-tested snapshot is checked against: the newest
 * completed dump that started no later than the snapshot finished, within `maxAgeMs` before it.
 */
export function matchingDump(
  snapshot: BackupSummary,
  backups: readonly BackupSummary[],
  maxAgeMs = 36 * 3600_000,
): Completed<DumpManifest> | null {
  const snapshotAt = Date.parse(snapshot.finishedAt ?? snapshot.startedAt);
  for (const b of backups) {
    if (b.database !== snapshot.database || b.state !== 'completed' || b.manifest?.kind !== 'logical-dump')
      continue;
    const at = Date.parse(b.startedAt);
    if (at <= snapshotAt && snapshotAt - at <= maxAgeMs) return b as Completed<DumpManifest>;
  }
  return null;
}

/**
 * Identifier of a restore test's temporary instance or cluster: recognisable, unique per
 * execution, at most 63 characters, starts with a letter.
 */
export function restoreTestIdentifier(database: string, executionName: string): string {
  const hash = createHash('sha256').update(executionName).digest('hex').slice(0, 8);
  const db = database
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30);
  return `lifeboat-rt-${db}-${hash}`.replace(/--+/g, '-');
}

/** Milliseconds between two ISO timestamps, never negative. */
export function elapsedMs(from: string, to: string): number {
  const a = Date.parse(from);
  const b = Date.parse(to);
  if (Number.isNaN(a) || Number.isNaN(b))
    throw new InvalidRestoreInput(`not a timestamp: ${Number.isNaN(a) ? from : to}`);
  return Math.max(0, b - a);
}

/** What the restore-test plan step returns; the workflow keeps it at `$.plan`. */
export interface RestoreTestPlan {
  readonly database: string;
  readonly route: 'instance-snapshot' | 'cluster-snapshot';
  /** The snapshot's backup id: the verification record is written against it. */
  readonly backupId: string;
  readonly snapshotIdentifier: string;
  readonly engine: string;
  /** The dump whose statistics the restored data is checked against; null when none matches. */
  readonly statisticsBackupId: string | null;
  /** Temporary instance (or cluster) identifier, unique to the execution. */
  readonly identifier: string;
  /** The instance that is polled and checked (the cluster's instance for Aurora). */
  readonly instanceIdentifier: string;
  /** Secret of the source database: a restored snapshot keeps its master credentials. */
  readonly secretArn: string;
}

/**
 * Plans a restore test: the newest completed snapshot of the database in `region`, the dump
 * matching it, and the temporary identifiers. NoRestorePoint when there is no snapshot.
 */
export function planRestoreTest(args: {
  readonly database: string;
  readonly backups: readonly BackupSummary[];
  readonly region: string;
  readonly executionName: string;
  readonly secretArn: string;
}): RestoreTestPlan {
  const snapshot = args.backups.find(
    (b): b is Completed<SnapshotManifest> =>
      b.database === args.database &&
      b.state === 'completed' &&
      b.manifest?.kind === 'rds-snapshot' &&
      b.manifest.region === args.region,
  );
  if (!snapshot)
    throw new NoRestorePoint(`no completed snapshot of "${args.database}" in ${args.region} to restore-test`);
  const identifier = restoreTestIdentifier(args.database, args.executionName);
  const cluster = snapshot.manifest.snapshotType === 'cluster';
  return {
    database: args.database,
    route: cluster ? 'cluster-snapshot' : 'instance-snapshot',
    backupId: snapshot.id,
    snapshotIdentifier: snapshot.manifest.snapshotIdentifier,
    engine: snapshot.manifest.engine,
    statisticsBackupId: matchingDump(snapshot, args.backups)?.id ?? null,
    identifier,
    instanceIdentifier: cluster ? `${identifier}-1` : identifier,
    secretArn: args.secretArn,
  };
}

/**
 * When the statistics come from a dump taken at another moment than the restored data (a snapshot
 * or a point in time), row counts legitimately differ: the tables check then fails only for
 * structural differences (missing, unexpected, wrong kind or partition), and reports the row
 * count differences in its detail.
 */
export function relaxRowCounts(check: CheckResult): CheckResult {
  if (check.name !== 'tables' || check.passed) return check;
  const rowDiffs = check.failures.filter((f) => /: [\d,]+ rows, expected [\d,]+$/.test(f));
  const structural = check.failures.filter((f) => !rowDiffs.includes(f));
  return {
    ...check,
    passed: structural.length === 0,
    failures: structural,
    detail: `${check.detail}; ${rowDiffs.length} row count difference(s) not compared exactly (statistics are from a dump of another moment)`,
  };
}

/** The verification record of a restore test (method snapshot-restore-test). */
export function restoreTestRecord(args: {
  readonly plan: Partial<RestoreTestPlan>;
  readonly database: string;
  readonly startedAt: string;
  readonly restoredAt: string | undefined;
  readonly finishedAt: string;
  readonly checks: { readonly passed: boolean; readonly checks: readonly CheckResult[] } | undefined;
  readonly error: { readonly Error: string; readonly Cause?: string } | undefined;
}): VerificationRecord | null {
  if (!args.plan.backupId) return null;
  return {
    kind: 'verification',
    backupId: args.plan.backupId,
    database: args.database,
    at: new Date(args.finishedAt).toISOString(),
    passed: args.error === undefined && args.checks?.passed === true,
    method: 'snapshot-restore-test',
    checks: [...(args.checks?.checks ?? [])],
    restoreDurationMs: args.restoredAt ? elapsedMs(args.startedAt, args.restoredAt) : null,
    totalDurationMs: elapsedMs(args.startedAt, args.finishedAt),
    error: args.error ? { name: args.error.Error, message: args.error.Cause ?? '' } : null,
  };
}
