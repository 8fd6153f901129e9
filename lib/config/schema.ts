import { z } from 'zod';
import { CompressionSetting } from '../../functions/core/dumps/compression.ts';
import { COMPLETE_SECRET_ARN, SECRET_ARN_EXPECTED, TAG } from '../../functions/core/contracts/index.ts';

/**
 * The configuration of one lifeboat environment (dev, staging, prod ...). Every object is strict:
 * a misspelt key is an error, not a silently ignored setting. Defaults live here, in the schema,
 * so that the stacks only ever see a complete, validated `EnvironmentConfig`.
 */

/** PostgreSQL majors whose pg_dump/pg_restore the logical-dump image carries. */
export const SUPPORTED_PG_MAJORS = [15, 16, 17] as const;

const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

const accountId = z.string().regex(/^\d{12}$/, { error: 'expected a 12-digit AWS account id' });

const region = z
  .string()
  .regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { error: 'expected an AWS region such as eu-west-1' });

export const secretArn = z
  .string()
  // The complete ARN: IAM then names exactly this secret rather than every secret whose name
  // starts the same.
  .regex(COMPLETE_SECRET_ARN, { error: SECRET_ARN_EXPECTED });

const kmsKeyArn = z
  .string()
  .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/, { error: 'expected a KMS key ARN' });

const rdsIdentifier = z
  .string()
  .regex(/^[a-zA-Z][a-zA-Z0-9-]{0,62}$/, { error: 'expected an RDS instance or cluster identifier' });

/** Region of an ARN (its fourth field), or undefined when it is not an ARN. */
function regionOfArn(arn: string | undefined): string | undefined {
  return arn?.split(':')[3];
}

const vpcId = z.string().regex(/^vpc-[0-9a-f]{8,17}$/, { error: 'expected a VPC id (vpc-...)' });
const subnetId = z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'expected a subnet id (subnet-...)' });
const securityGroupId = z
  .string()
  .regex(/^sg-[0-9a-f]{8,17}$/, { error: 'expected a security group id (sg-...)' });

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * An EventBridge Scheduler cron expression: `cron(minutes hours day-of-month month day-of-week year)`.
 * Only the shape is checked here; Scheduler itself rejects impossible combinations at deploy.
 */
const cronExpression = z.string().regex(/^cron\((\S+ ){5}\S+\)$/, {
  error: 'expected an EventBridge Scheduler cron expression, cron(m h dom mon dow y)',
});

export const ScheduleSchema = z
  .object({
    /** e.g. `cron(0 3 * * ? *)` */
    cron: cronExpression,
    /** IANA time zone the cron expression is read in; daylight saving is handled by Scheduler. */
    timeZone: z
      .string()
      .refine(isTimeZone, { error: 'expected an IANA time zone such as Europe/Berlin' })
      .default('UTC'),
  })
  .strict();
export type Schedule = z.infer<typeof ScheduleSchema>;

const count = z.number().int().min(0);

/** A Lambda function's memory in MB, from `min` (and why not less) to Lambda's largest. */
const lambdaMemoryMB = (min: number, why: string) =>
  z
    .number()
    .int({ error: 'expected whole MB' })
    .min(min, { error: `at least ${min} MB: ${why}` })
    .max(10240, { error: "at most 10240 MB, Lambda's largest function" });

export const RetentionSchema = z
  .object({
    daily: count,
    weekly: count,
    monthly: count,
    yearly: count,
    /** The newest this many verified backups are never deleted, whatever the GFS counts say. */
    minVerified: z.number().int().min(1).default(2),
    /** Upper bound on deletions in one prune run, so a bad policy cannot wipe a database's history at once. */
    maxDeletionsPerRun: z.number().int().min(1).default(20),
  })
  .strict();
export type Retention = z.infer<typeof RetentionSchema>;

export const PolicySchema = z
  .object({
    /** When RDS/Aurora snapshots are taken. */
    snapshot: ScheduleSchema,
    /** When logical dumps are taken; omit for snapshot-only protection. */
    dump: ScheduleSchema.optional(),
    /** When the newest backups are restore-tested. */
    verification: ScheduleSchema,
    retention: RetentionSchema,
    /**
     * How logical dumps are compressed: `{ method, level }`, method one of zstd, gzip (compressed
     * beside pg_dump, on other cores), pg_dump-gzip, pg_dump-lz4, pg_dump-zstd (pg_dump's own; lz4
     * and zstd need PostgreSQL 16+), none. @default { method: 'zstd', level: 2 } (bench/README.md)
     */
    compression: z.optional(CompressionSetting),
  })
  .strict();
export type Policy = z.infer<typeof PolicySchema>;

export const FailoverSchema = z
  .object({
    /**
     * The DR replica in `drRegion`: the DB instance identifier of the cross-region read replica
     * (kind instance), or the identifier of the Aurora global database's secondary cluster (kind cluster).
     */
    replicaIdentifier: rdsIdentifier,
    /** The Aurora global database (kind cluster only). */
    globalClusterIdentifier: rdsIdentifier.optional(),
    /**
     * Largest replica lag, in seconds, at which an unforced failover may go ahead.
     * @default alarms.replicaLagCritSeconds
     */
    maxLagSeconds: z.number().nonnegative().optional(),
    /**
     * Route 53 CNAME the applications connect through; a failover points it at the promoted replica.
     * @default - DNS is not switched
     */
    dns: z
      .object({
        hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, { error: 'expected a hosted zone id (Z...)' }),
        recordName: z.string().min(1).max(255),
        ttl: z.number().int().min(0).max(86400).default(60),
      })
      .strict()
      .optional(),
    /**
     * A security group of the primary region that lets nothing in: fencing moves the old primary
     * into it where that region still answers. @default - the old primary is not fenced
     */
    fenceSecurityGroupId: securityGroupId.optional(),
  })
  .strict();
export type FailoverSettings = z.infer<typeof FailoverSchema>;

export const DatabaseSchema = z
  .object({
    /** Logical name used in events, the catalog and resource names. */
    name: z.string().regex(NAME, { error: 'expected a lowercase name of 2-32 letters, digits and dashes' }),
    kind: z.enum(['instance', 'cluster']),
    /** DB instance identifier (kind instance) or DB cluster identifier (kind cluster). */
    identifier: rdsIdentifier,
    engine: z.enum(['postgres', 'aurora-postgresql']),
    /** e.g. `16.4`; the major picks the pg_dump used for dumps. */
    engineVersion: z.string().regex(/^\d+(\.\d+)*$/, { error: 'expected an engine version such as 16.4' }),
    secretArn,
    /** The PostgreSQL database to dump. @default - the secret's `dbname` */
    dbname: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/, { error: 'expected a PostgreSQL database name' })
      .optional(),
    /**
     * The customer-managed KMS key the secret is encrypted with, if any (the dump may then decrypt
     * with it, through Secrets Manager only). @default - the AWS managed key aws/secretsmanager
     */
    secretKmsKeyArn: kmsKeyArn.optional(),
    /**
     * The customer-managed KMS key the database's storage, and so its snapshots, are encrypted with
     * (primary region). Restores and restore tests of its snapshots need it.
     * @default - the snapshots use the AWS managed key aws/rds (or none)
     */
    storageKmsKeyArn: kmsKeyArn.optional(),
    /**
     * Secrets Manager ARN, in the DR region, of the database's credentials (a replica of `secretArn`:
     * secrets are regional). The DR workflows connect with it: the failover's write check on the
     * promoted replica, checks of a restore in the DR region. Required with `failover`.
     */
    drSecretArn: secretArn.optional(),
    /** The customer-managed key of `drSecretArn`, if any (DR region). */
    drSecretKmsKeyArn: kmsKeyArn.optional(),
    /**
     * The customer-managed KMS key (DR region) the DR replica's storage is encrypted with — a
     * cross-region replica of an encrypted database needs a key of its own region. Point-in-time
     * restores in the DR region (from the replica, or the promoted database) and a failback's new
     * replica need it. `lifeboat doctor` compares it with the replica's.
     * @default - the replica uses the AWS managed key aws/rds (or none)
     */
    drStorageKmsKeyArn: kmsKeyArn.optional(),
    /** How this database fails over to the DR region. @default - it does not (no failover workflow target) */
    failover: FailoverSchema.optional(),
    /** VPC the dump function (or Fargate task) that reaches the database runs in. */
    vpcId,
    subnetIds: z.array(subnetId).min(1, { error: 'expected at least one subnet id' }),
    /** Security group the dump runs with; the database must accept connections from it. */
    securityGroupId,
    /** Name of an entry of `policies`. */
    policy: z.string(),
    /** The dump takes longer than Lambda's 15 minutes: run it as a Fargate task. @default false */
    large: z.boolean().default(false),
    /**
     * pg_dump workers of a `large` database's dump (`pg_dump -Fd -j N`, each file stored as it
     * completes). @default 2 (the task's vCPUs)
     */
    dumpJobs: z.number().int().min(1).max(16).optional(),
    /**
     * Memory of the database's logical-dump function, in MB. Lambda gives a function CPU in
     * proportion to its memory (one vCPU-second a second at 1,769 MB), and the dump's pipeline
     * (pg_dump, the compressor's threads, the hash and upload) runs on as much CPU as it is given.
     * Above 3,008 MB an account may need Lambda's memory limit raised first.
     * @default 3008 (docs/deploy.md, the dump function's CPU)
     */
    dumpMemoryMB: lambdaMemoryMB(1024, 'below that the dump gets under 0.58 of a vCPU').optional(),
  })
  .strict()
  .superRefine((db, ctx) => {
    if (db.engine === 'aurora-postgresql' && db.kind !== 'cluster') {
      ctx.addIssue({
        code: 'custom',
        path: ['kind'],
        message: 'an aurora-postgresql database must be of kind cluster',
      });
    }
    if (db.failover) {
      if (db.kind === 'cluster' && db.engine !== 'aurora-postgresql') {
        ctx.addIssue({
          code: 'custom',
          path: ['failover'],
          message:
            'only RDS instances (cross-region read replica) and Aurora global databases fail over; a Multi-AZ DB cluster cannot',
        });
      }
      if (db.kind === 'cluster' && !db.failover.globalClusterIdentifier) {
        ctx.addIssue({
          code: 'custom',
          path: ['failover', 'globalClusterIdentifier'],
          message: 'required for kind cluster (the Aurora global database)',
        });
      }
      if (db.kind === 'instance' && db.failover.globalClusterIdentifier) {
        ctx.addIssue({
          code: 'custom',
          path: ['failover', 'globalClusterIdentifier'],
          message: 'only for kind cluster: an instance fails over to its read replica',
        });
      }
      if (!db.drSecretArn) {
        ctx.addIssue({
          code: 'custom',
          path: ['drSecretArn'],
          message: 'required with failover: the write check on the promoted replica connects with it',
        });
      }
    }
    const major = Number(db.engineVersion.split('.')[0]);
    if (!(SUPPORTED_PG_MAJORS as readonly number[]).includes(major)) {
      ctx.addIssue({
        code: 'custom',
        path: ['engineVersion'],
        message: `PostgreSQL ${major} is not supported; supported majors: ${SUPPORTED_PG_MAJORS.join(', ')}`,
      });
    }
  });
/**
 * A database as the stacks see it: its policy resolved (`policy` stays the policy's name) and the
 * failover defaults (from the environment's alarms) filled in.
 */
export type Database = Omit<z.infer<typeof DatabaseSchema>, 'failover'> & {
  /** The settings of the policy `policy` names. */
  readonly policySettings: Policy;
  readonly failover?: FailoverSettings & { readonly maxLagSeconds: number };
};

export const DiscoverySchema = z
  .object({
    /**
     * Databases tagged `<tagKey>=<policy name>` in the primary region get that policy's snapshots,
     * copies and retention at run time. Dumps need a secret and a network, so they are only taken of
     * databases listed in `databases`.
     */
    tagKey: z.string().min(1).default(TAG.policy),
  })
  .strict();
export type Discovery = z.infer<typeof DiscoverySchema>;

export const BucketSchema = z
  .object({
    /**
     * Default Object Lock retention of every new object version. GOVERNANCE lets a principal with
     * s3:BypassGovernanceRetention remove a version early; COMPLIANCE lets nobody, not even root.
     */
    objectLockMode: z.enum(['GOVERNANCE', 'COMPLIANCE']).default('GOVERNANCE'),
    objectLockDays: z.number().int().min(1).default(35),
    /** Overwritten or deleted versions are expired this long after they stop being current. */
    noncurrentVersionExpirationDays: z.number().int().min(1).default(90),
    /** Dump artifacts move to Glacier Flexible Retrieval after this many days. */
    glacierAfterDays: z.number().int().min(1).default(30),
    /** ... and to Glacier Deep Archive after this many days (years-long keeping). */
    deepArchiveAfterDays: z.number().int().min(1).default(180),
    /** Server access logs are expired after this many days. */
    accessLogRetentionDays: z.number().int().min(1).default(365),
  })
  .strict()
  .refine((b) => b.deepArchiveAfterDays >= b.glacierAfterDays + 90, {
    // S3 rejects a DEEP_ARCHIVE transition less than 90 days after a GLACIER one.
    path: ['deepArchiveAfterDays'],
    error: 'must be at least 90 days after glacierAfterDays',
  });
export type BucketSettings = z.infer<typeof BucketSchema>;

/**
 * CloudWatch evaluates an alarm over at most 7 days (period × evaluation periods ≤ 604,800 s), so
 * an age alarm, built on the absence of a metric over the window, cannot look back further.
 */
export const MAX_ALARM_WINDOW_HOURS = 168;

const ageHours = z
  .number()
  .positive()
  .max(MAX_ALARM_WINDOW_HOURS, {
    error: `at most ${MAX_ALARM_WINDOW_HOURS} h: CloudWatch evaluates an alarm over 7 days at most`,
  });

/** Alarm thresholds of an environment (docs/deploy.md, "Alarms"). */
export const AlarmsSchema = z
  .object({
    /** No completed logical backup of a database for this long: warning, then critical. */
    backupAgeWarnHours: ageHours.default(26),
    backupAgeCritHours: ageHours.default(48),
    /**
     * No passed verification of a database for this long: warning, then critical. `null` turns the
     * level off, e.g. for a weekly verification schedule, which a 7-day window cannot cover with margin.
     */
    verifiedAgeWarnHours: ageHours.nullable().default(48),
    verifiedAgeCritHours: ageHours.nullable().default(96),
    /**
     * No snapshot copy of a database arrived in the DR region for this long: warning, then critical
     * (a copy that has not finished in time). `null` turns a level off, e.g. for weekly snapshots.
     */
    copyAgeWarnHours: ageHours.nullable().default(30),
    copyAgeCritHours: ageHours.nullable().default(54),
    /** Lag of the DR replica of each database with `failover`, in seconds. */
    replicaLagWarnSeconds: z.number().positive().default(10),
    replicaLagCritSeconds: z.number().positive().default(60),
    /** Alarm when this share of the account's manual snapshot quota is used. */
    snapshotQuotaPercent: z.number().min(1).max(100).default(80),
    /**
     * The failover trigger of each database with `failover`: the primary canary (DR region, every
     * minute) saw no write accepted through the endpoint record for this many minutes in a row.
     * Longer than the primary's own recoveries (a Multi-AZ failover takes 1-2 minutes), short
     * enough to matter. Alarm-started failovers still wait for approval unless `automaticFailover`.
     */
    primaryUnwritableMinutes: z
      .number()
      .int({ error: 'expected whole minutes' })
      .min(2, { error: 'at least 2 minutes: one failed heartbeat is noise, not an outage' })
      .max(60, { error: 'at most 60 minutes: a longer outage should not wait for its failover' })
      .default(5),
    /**
     * The primary canary published nothing for this many minutes (the failover trigger is blind):
     * a warning, never a trigger.
     */
    canarySilentMinutes: z
      .number()
      .int({ error: 'expected whole minutes' })
      .min(2, { error: 'at least 2 minutes (the canary runs once a minute)' })
      .max(60, { error: 'at most 60 minutes' })
      .default(5),
  })
  .strict()
  .refine((a) => a.backupAgeCritHours > a.backupAgeWarnHours, {
    path: ['backupAgeCritHours'],
    error: 'must be greater than backupAgeWarnHours',
  })
  .refine(
    (a) =>
      a.verifiedAgeCritHours === null ||
      a.verifiedAgeWarnHours === null ||
      a.verifiedAgeCritHours > a.verifiedAgeWarnHours,
    { path: ['verifiedAgeCritHours'], error: 'must be greater than verifiedAgeWarnHours' },
  )
  .refine(
    (a) =>
      a.copyAgeCritHours === null || a.copyAgeWarnHours === null || a.copyAgeCritHours > a.copyAgeWarnHours,
    { path: ['copyAgeCritHours'], error: 'must be greater than copyAgeWarnHours' },
  )
  .refine((a) => a.replicaLagCritSeconds > a.replicaLagWarnSeconds, {
    path: ['replicaLagCritSeconds'],
    error: 'must be greater than replicaLagWarnSeconds',
  });
export type AlarmSettings = z.infer<typeof AlarmsSchema>;

export const NotificationsSchema = z
  .object({
    /** Addresses subscribed to the topic of each region, alarms included (each confirms by mail). */
    emails: z.array(z.email({ error: 'expected an e-mail address' })).default([]),
    /**
     * Secrets Manager secret (primary region) with the Slack incoming-webhook URLs,
     * `{"default": "https://hooks.slack.com/...", "critical": "..."}`: deploys the events topic and
     * the notifier that posts lifeboat's events to Slack (docs/notifications.md).
     * @default - no events topic
     */
    slackWebhookSecretArn: secretArn.optional(),
    /**
     * The same secret in the DR region (secrets are regional: a replica of the one above, or another
     * one): the DR stack's own events topic and notifier, which announce failovers and DR alarms
     * without the primary region. Required with `slackWebhookSecretArn`, and only with it.
     */
    drSlackWebhookSecretArn: secretArn.optional(),
    /** Also show the events in Slack through AWS Chatbot (read-only guardrails). */
    chatbot: z
      .object({
        slackWorkspaceId: z.string().regex(/^[A-Z0-9]{9,}$/, { error: 'expected a Slack workspace id' }),
        slackChannelId: z.string().regex(/^[A-Z0-9]{9,}$/, { error: 'expected a Slack channel id' }),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine((n) => !n.chatbot || n.slackWebhookSecretArn, {
    path: ['chatbot'],
    error: 'needs slackWebhookSecretArn (Chatbot subscribes to the events topic)',
  })
  .refine((n) => !n.slackWebhookSecretArn || n.drSlackWebhookSecretArn, {
    path: ['drSlackWebhookSecretArn'],
    error:
      'required with slackWebhookSecretArn: the DR region posts to Slack on its own (failovers), with a secret of that region',
  })
  .refine((n) => !n.drSlackWebhookSecretArn || n.slackWebhookSecretArn, {
    path: ['slackWebhookSecretArn'],
    error: 'required with drSlackWebhookSecretArn',
  });
export type NotificationSettings = z.infer<typeof NotificationsSchema>;

export const SnapshotCopiesSchema = z
  .object({
    /** Cross-region copies in flight at once, per snapshot type; AWS allows 5 per destination region. */
    maxInFlight: z.number().int().min(1).max(5).default(4),
    /** How long a copy may wait for its turn (or its source) before its event goes to the DLQ. */
    maxWaitHours: z.number().int().min(1).max(336).default(48),
  })
  .strict();
export type SnapshotCopySettings = z.infer<typeof SnapshotCopiesSchema>;

export const NetworkSchema = z
  .object({
    vpcId,
    subnetIds: z.array(subnetId).min(1, { error: 'expected at least one subnet id' }),
    /** Security group the functions run with; the databases they check must accept PostgreSQL from it. */
    securityGroupId,
  })
  .strict();
export type Network = z.infer<typeof NetworkSchema>;

export const WorkflowNetworkSchema = z
  .object({
    /** Primary region: restore checks, dump restores, restore-test checks. */
    primary: NetworkSchema,
    /** DR region: the failover's write check, restore checks and dump restores there. */
    dr: NetworkSchema,
  })
  .strict();
export type WorkflowNetwork = z.infer<typeof WorkflowNetworkSchema>;

export const RestoreTestSchema = z
  .object({
    /** DB subnet group (primary region) of isolated subnets: no route to production or the internet. */
    subnetGroupName: z
      .string()
      .regex(/^[a-zA-Z0-9 ._-]{1,255}$/, { error: 'expected a DB subnet group name' })
      .refine((n) => n.toLowerCase() !== 'default', { error: 'must not be the default subnet group' }),
    /**
     * Security groups of the temporary instance: they should let in PostgreSQL from
     * `workflowNetwork.primary.securityGroupId` (the check function) and nothing else.
     */
    securityGroupIds: z.array(securityGroupId).min(1, { error: 'expected at least one security group id' }),
    /** Instance class of the temporary instance. */
    instanceClass: z
      .string()
      .regex(/^db\.[a-z0-9-]+\.[a-z0-9]+$/, { error: 'expected a DB instance class such as db.t4g.medium' })
      .default('db.t4g.medium'),
  })
  .strict();
export type RestoreTestSettings = z.infer<typeof RestoreTestSchema>;

export const FailbackSchema = z
  .object({
    /** DB subnet group, in the primary region, of the new replica a failback creates there. */
    subnetGroupName: z
      .string()
      .regex(/^[a-zA-Z0-9 ._-]{1,255}$/, { error: 'expected a DB subnet group name' }),
    /**
     * KMS key (primary region) the new replica is encrypted with; needed when the databases are
     * encrypted (RDS requires a key of the replica's region). @default - none (unencrypted source)
     */
    kmsKeyArn: kmsKeyArn.optional(),
    /** Instance class of an Aurora secondary's instance. @default db.r6g.large */
    instanceClass: z
      .string()
      .regex(/^db\.[a-z0-9-]+\.[a-z0-9]+$/, { error: 'expected a DB instance class such as db.r6g.large' })
      .default('db.r6g.large'),
  })
  .strict();
export type FailbackSettings = z.infer<typeof FailbackSchema>;

/**
 * The DR evidence report (docs/report.md): when it is written to the bucket's `reports/` and
 * announced, what it covers, and the recovery targets it holds restore tests and failovers to.
 */
export const ReportSchema = z
  .object({
    /** When the report runs; at most once a day. @default the 1st of each month, 06:00 UTC */
    schedule: ScheduleSchema.refine((s) => /^cron\(\d{1,2} \d{1,2} /.test(s.cron), {
      error:
        'a report runs at most once a day: minutes and hours must be single numbers, e.g. cron(0 6 1 * ? *)',
    }).default({ cron: 'cron(0 6 1 * ? *)', timeZone: 'UTC' }),
    /** Days each report looks back. */
    periodDays: z.number().int().min(1).max(400).default(90),
    /** A restore test (restore and checks) should take at most this long. */
    restoreRtoMinutes: z.number().positive().max(10_080).default(240),
    /** A failover (start to verified write on the new primary) should take at most this long. */
    failoverRtoMinutes: z.number().positive().max(1440).default(15),
    /** A failover should lose at most this much. @default alarms.replicaLagCritSeconds */
    failoverRpoSeconds: z.number().nonnegative().max(86_400).optional(),
    /**
     * How long the link in the Slack summary is requested to stay valid (SigV4 allows 7 days at
     * most; a link signed with the function's temporary credentials ends with them, and the message
     * says when).
     */
    linkExpiryDays: z.number().int().min(1).max(7).default(7),
    /**
     * Secrets Manager secret (primary region), `{"accessKeyId": "...", "secretAccessKey": "..."}`, of
     * an IAM user allowed only to read `reports/*` (and decrypt with the bucket's key): the link is
     * signed with it and lasts `linkExpiryDays`. @default - signed with the function's role: the link
     * ends with its session, hours later (docs/report.md)
     */
    linkSignerSecretArn: secretArn.optional(),
  })
  .strict();
export type ReportSettings = z.infer<typeof ReportSchema>;

export const TracingSchema = z
  .object({
    /**
     * Trace every Lambda function's AWS SDK calls with the Powertools Tracer: a subsegment per call
     * (service, operation, region, retries, errors) in the invocation's X-Ray trace. Off, the
     * bundles carry no tracer code; on, each function's cold start loads it (docs/deploy.md,
     * "Tracing", has the cost). The container images (logical-dump, verify-backup) are not traced.
     * @default false
     */
    sdkCalls: z.boolean({ error: 'expected true or false' }).default(false),
  })
  .strict();
export type TracingSettings = z.infer<typeof TracingSchema>;

export const EnvironmentConfigSchema = z
  .object({
    account: accountId,
    primaryRegion: region,
    drRegion: region,
    policies: z.record(z.string().regex(NAME, { error: 'expected a lowercase policy name' }), PolicySchema),
    databases: z.array(DatabaseSchema).default([]),
    discovery: DiscoverySchema.optional(),
    bucket: BucketSchema.default(BucketSchema.parse({})),
    snapshotCopies: SnapshotCopiesSchema.default(SnapshotCopiesSchema.parse({})),
    /** When prune runs (the primary region's, and the DR region's over its own bucket). */
    pruneSchedule: ScheduleSchema.default({ cron: 'cron(0 4 * * ? *)', timeZone: 'UTC' }),
    /** Prune only lists what it would delete, and why. @default false */
    pruneDryRun: z.boolean().default(false),
    /**
     * Deletions of one prune run across all databases (each region's prune), on top of each
     * policy's own `maxDeletionsPerRun`: a mistake in the configuration removes a bounded number
     * of backups a day, not a history. Size it to the environment: each database adds about one
     * snapshot per region and one dump a day to delete. @default 200
     */
    pruneMaxDeletionsPerRun: z.number().int().min(1).max(100_000).default(200),
    /** The same across any 24 hours (a second run the same day counts the first one's). @default 200 */
    pruneMaxDeletionsPerDay: z.number().int().min(1).max(100_000).default(200),
    alarms: AlarmsSchema.default(AlarmsSchema.parse({})),
    notifications: NotificationsSchema.default(NotificationsSchema.parse({})),
    /** Whether an alarm may start a failover without a person approving it. @default false */
    automaticFailover: z.boolean().default(false),
    /**
     * The most memory any lifeboat function is given, in MB, for an account whose Lambda limit is
     * below 10,240 MB (some new accounts may configure 3,008 MB at most until the limit is raised).
     * Functions that ask for more get this much, and less CPU with it: the logical-dump functions
     * (3,008 MB unless `dumpMemoryMB`), verify-backup and the restore workflow's dump restore
     * (4,096 MB). @default - no limit
     */
    functionMemoryLimitMB: lambdaMemoryMB(3008, 'the limit of the most restricted accounts').optional(),
    /**
     * Where the temporary instances of restore tests run. Required when any database is
     * restore-tested (its policy has a verification schedule).
     */
    restoreTest: RestoreTestSchema.optional(),
    /**
     * Networks of the workflow functions that connect to databases, per region. Required when
     * databases are listed.
     */
    workflowNetwork: WorkflowNetworkSchema.optional(),
    /** Where a failback re-creates the replica (the primary region). Required with any `failover`. */
    failback: FailbackSchema.optional(),
    report: ReportSchema.default(ReportSchema.parse({})),
    /** CloudWatch Logs retention of every function and workflow, in days. */
    logRetentionDays: z.number().int().min(1).default(90),
    /** X-Ray tracing beyond Lambda's own invocation segments. @default { sdkCalls: false } */
    tracing: TracingSchema.default(TracingSchema.parse({})),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.primaryRegion === cfg.drRegion) {
      ctx.addIssue({ code: 'custom', path: ['drRegion'], message: 'must differ from primaryRegion' });
    }
    const slackSecrets = [
      ['slackWebhookSecretArn', cfg.notifications.slackWebhookSecretArn, cfg.primaryRegion, 'primary'],
      ['drSlackWebhookSecretArn', cfg.notifications.drSlackWebhookSecretArn, cfg.drRegion, 'DR'],
    ] as const;
    for (const [field, arn, expected, which] of slackSecrets) {
      if (arn !== undefined && arn.split(':')[3] !== expected) {
        ctx.addIssue({
          code: 'custom',
          path: ['notifications', field],
          message: `expected a secret in the ${which} region ${expected}`,
        });
      }
    }
    if (cfg.report.linkSignerSecretArn && regionOfArn(cfg.report.linkSignerSecretArn) !== cfg.primaryRegion) {
      ctx.addIssue({
        code: 'custom',
        path: ['report', 'linkSignerSecretArn'],
        message: `expected a secret in the primary region ${cfg.primaryRegion}`,
      });
    }
    const seen = new Set<string>();
    cfg.databases.forEach((db, i) => {
      if (seen.has(db.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'name'],
          message: `duplicate database name "${db.name}"`,
        });
      }
      seen.add(db.name);
      if (db.dumpJobs !== undefined && !db.large) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'dumpJobs'],
          message:
            'applies to large databases only (their Fargate dump); the Lambda dump streams one archive',
        });
      }
      if (
        db.dumpMemoryMB !== undefined &&
        cfg.functionMemoryLimitMB !== undefined &&
        db.dumpMemoryMB > cfg.functionMemoryLimitMB
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'dumpMemoryMB'],
          message: `above functionMemoryLimitMB (${cfg.functionMemoryLimitMB})`,
        });
      }
      if (db.dumpMemoryMB !== undefined && db.large) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'dumpMemoryMB'],
          message: 'applies to the Lambda dump only; a large database is dumped by a Fargate task',
        });
      }
      const policy = Object.hasOwn(cfg.policies, db.policy) ? cfg.policies[db.policy] : undefined;
      const method = policy?.compression?.method;
      const major = Number(db.engineVersion.split('.')[0]);
      if ((method === 'pg_dump-lz4' || method === 'pg_dump-zstd') && major < 16) {
        ctx.addIssue({
          code: 'custom',
          path: ['policies', db.policy, 'compression', 'method'],
          message: `${method} needs pg_dump 16 or newer, and database "${db.name}" runs PostgreSQL ${db.engineVersion}: use zstd or pg_dump-gzip`,
        });
      }
      if (!policy) {
        ctx.addIssue({
          code: 'custom',
          path: ['databases', i, 'policy'],
          message: `unknown policy "${db.policy}" of database "${db.name}"; known: ${Object.keys(cfg.policies).join(', ') || '(none)'}`,
        });
      }
      const inRegion: [keyof typeof db, string | undefined, string][] = [
        ['secretArn', db.secretArn, cfg.primaryRegion],
        ['storageKmsKeyArn', db.storageKmsKeyArn, cfg.primaryRegion],
        ['drSecretArn', db.drSecretArn, cfg.drRegion],
        ['drSecretKmsKeyArn', db.drSecretKmsKeyArn, cfg.drRegion],
        ['drStorageKmsKeyArn', db.drStorageKmsKeyArn, cfg.drRegion],
      ];
      for (const [field, arn, expected] of inRegion) {
        // A malformed ARN is reported by its own field's check.
        if (arn?.startsWith('arn:') && regionOfArn(arn) !== expected) {
          ctx.addIssue({
            code: 'custom',
            path: ['databases', i, field],
            message: `expected a ${field.endsWith('KmsKeyArn') ? 'key' : 'secret'} in the ${expected === cfg.primaryRegion ? 'primary' : 'DR'} region ${expected}`,
          });
        }
      }
    });
    const tested = cfg.databases
      .filter((db) => Object.hasOwn(cfg.policies, db.policy) && cfg.policies[db.policy]?.verification)
      .map((db) => db.name);
    if (tested.length > 0 && !cfg.restoreTest) {
      ctx.addIssue({
        code: 'custom',
        path: ['restoreTest'],
        message: `required: ${tested.join(', ')} ${tested.length === 1 ? 'is' : 'are'} restore-tested on the policy's verification schedule, into an isolated subnet group`,
      });
    }
    if (cfg.databases.length > 0 && !cfg.workflowNetwork) {
      ctx.addIssue({
        code: 'custom',
        path: ['workflowNetwork'],
        message:
          'required: the restore, restore-test and failover functions that connect to databases run in it (primary and dr)',
      });
    }
    const failingOver = cfg.databases.filter((db) => db.failover).map((db) => db.name);
    if (failingOver.length > 0 && !cfg.failback) {
      ctx.addIssue({
        code: 'custom',
        path: ['failback'],
        message: `required with failover (${failingOver.join(', ')}): where a failback re-creates the replica`,
      });
    }
    if (cfg.failback?.kmsKeyArn && regionOfArn(cfg.failback.kmsKeyArn) !== cfg.primaryRegion) {
      ctx.addIssue({
        code: 'custom',
        path: ['failback', 'kmsKeyArn'],
        message: `expected a key in the primary region ${cfg.primaryRegion}`,
      });
    }
    if (cfg.automaticFailover && failingOver.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['automaticFailover'],
        message: 'no database has failover configured',
      });
    }
    if (cfg.databases.length === 0 && !cfg.discovery) {
      ctx.addIssue({
        code: 'custom',
        path: ['databases'],
        message: 'list at least one database or set discovery',
      });
    }
  })
  .transform((cfg) => ({
    ...cfg,
    databases: cfg.databases.map((db): Database => ({
      ...db,
      // Known: zod runs a transform only on input without issues, and an unknown policy is one.
      policySettings: cfg.policies[db.policy] as Policy,
      // The failover bound defaults to the critical replica-lag alarm: what pages people also bounds RPO.
      failover: db.failover && {
        ...db.failover,
        maxLagSeconds: db.failover.maxLagSeconds ?? cfg.alarms.replicaLagCritSeconds,
      },
    })),
  }));

/** What a configuration file is written as (defaults may be left out). */
export type EnvironmentConfigInput = z.input<typeof EnvironmentConfigSchema>;
/** A validated configuration with every default filled in. */
export type EnvironmentConfig = z.output<typeof EnvironmentConfigSchema>;
