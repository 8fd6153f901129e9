import { primaryUnwritableAlarmName as coreAlarmName } from '../functions/core/failover/canary.ts';

/**
 * Deterministic physical names. The primary stack must name resources of the DR stack (replication
 * destination bucket, DR key) without a cross-region reference, so both sides derive the same names
 * from environment, account and region.
 */

/** Environment names become part of bucket names: keep them short and DNS-safe. */
export const ENVIRONMENT_NAME = /^[a-z][a-z0-9-]{0,14}[a-z0-9]$/;

export interface NameScope {
  /** lifeboat environment, e.g. `prod`. */
  readonly environment: string;
  readonly account: string;
  readonly region: string;
}

/** The backup bucket of a region: `lifeboat-<env>-<account>-<region>` (at most 63 characters). */
export function backupBucketName(s: NameScope): string {
  return `lifeboat-${s.environment}-${s.account}-${s.region}`;
}

/** The server access log bucket of a region's backup bucket. */
export function accessLogBucketName(s: NameScope): string {
  return `lifeboat-${s.environment}-logs-${s.account}-${s.region}`;
}

/**
 * Alias of the backup key of a region. Key ids are random, so other stacks and functions refer to
 * the key by alias (S3 replication and RDS CopyDBSnapshot both accept an alias ARN).
 */
export function backupKeyAlias(environment: string): string {
  return `alias/lifeboat-${environment}-backup`;
}

export function aliasArn(s: NameScope, alias: string, partition = 'aws'): string {
  return `arn:${partition}:kms:${s.region}:${s.account}:${alias}`;
}

/** Prefix of every snapshot lifeboat creates; IAM scopes snapshot actions to it. */
export const SNAPSHOT_PREFIX = 'lifeboat-';

/** Key prefixes of the backup repository (see functions/core/repository). */
export const REPOSITORY_PREFIXES = ['artifacts/', 'catalog/'] as const;

/** Stack name of an environment's stack in one role. */
export function stackName(environment: string, role: 'primary' | 'dr'): string {
  return `Lifeboat-${environment}-${role === 'primary' ? 'Primary' : 'Dr'}`;
}

/**
 * Name of a database's critical replica-lag alarm (DR stack). It pages; it starts nothing (lag says
 * a failover would lose data, not that one is needed).
 */
export function replicaLagCriticalAlarmName(environment: string, database: string): string {
  return replicaLagAlarmName(environment, database, 'critical');
}

/** The failover lock table of an environment (DR region): one item per running failover. */
export function lockTableName(environment: string): string {
  return `lifeboat-${environment}-locks`;
}

export type AlarmSeverity = 'warning' | 'critical';

/**
 * Name of a database's replica-lag alarm at one severity, in the DR region (where RDS publishes the
 * replica's lag): `lifeboat-<env>-<database>-replica-lag-<severity>`. The monitoring construct
 * builds the alarms with it; the failover rule matches the critical one (replicaLagCriticalAlarmName).
 */
export function replicaLagAlarmName(environment: string, database: string, severity: AlarmSeverity): string {
  return `lifeboat-${environment}-${database}-replica-lag-${severity}`;
}

/** Workflows the CLI finds by name (SSM `/lifeboat/<env>/workflows/<name>`). */
export type WorkflowName = 'restore' | 'restore-test' | 'failover' | 'failback';

/** SSM parameter holding a workflow's state machine ARN: operators never paste ARNs. */
export function workflowParameterName(environment: string, name: WorkflowName): string {
  return `/lifeboat/${environment}/workflows/${name}`;
}

/**
 * SSM parameter (primary region) holding what takes a database's logical dump on demand: the ARN of
 * its logical-dump function, or of the Fargate dump workflow of a `large` database.
 */
export function dumpTargetParameterName(environment: string, database: string): string {
  return `/lifeboat/${environment}/dumps/${database}`;
}

/**
 * SSM parameter (primary region) holding what verifies a database's dumps on demand: the ARN of the
 * verify-backup function, or of the Fargate verification workflow of a `large` database.
 */
export function verifyTargetParameterName(environment: string, database: string): string {
  return `/lifeboat/${environment}/verify/${database}`;
}

/**
 * Name of a database's failover trigger (DR stack): the composite alarm "the primary has not
 * accepted writes for `alarms.primaryUnwritableMinutes`", built from the primary canary's metrics.
 * The failover workflow's EventBridge rule matches this exact name, so both sides derive it here.
 */
export function primaryUnwritableAlarmName(environment: string, database: string): string {
  return coreAlarmName(environment, database);
}

/** Names of the canary alarms of one database (DR stack), by what each watches. */
export function canaryAlarmName(
  environment: string,
  database: string,
  what: 'write-failed' | 'heartbeat-age' | 'canary-silent',
): string {
  return `lifeboat-${environment}-${database}-${what}`;
}
