import { primaryUnwritableAlarmName as coreAlarmName } from '../functions/core/failover/canary.ts';

/**
 * Deterministic physical names. The primary stack must name resources of the DR stack (replication
 * destination bucket, DR key) without a cross-region reference, so both sides derive the same names
 * from environment, account and region.
 */

/**
 * Environment names become part of bucket and resource names: lowercase letters, digits and
 * hyphens, starting with a letter and not ending with a hyphen (S3 bucket names are DNS labels).
 * How long one may be depends on the names derived from it (`environmentNameProblem`).
 */
export const ENVIRONMENT_NAME = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

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

// Names the functions share with the infrastructure: the snapshot prefix, the key prefixes of the
// backup repository, the SSM parameters of workflows and on-demand targets.
export {
  dumpTargetParameterName,
  REPOSITORY_PREFIXES,
  SNAPSHOT_PREFIX,
  snapshotTargetParameterName,
  verifyTargetParameterName,
  type WorkflowName,
  workflowParameterName,
} from '../functions/core/contracts/index.ts';

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

/**
 * Explicit names of the per-database alarms, `lifeboat-<env>-<database>-<what>-<severity>`: readable
 * in Slack and the console; the replica-lag ones are replicaLagAlarmName's.
 */
export function databaseAlarmName(
  environment: string,
  database: string,
  what: 'backup-age' | 'verified-age' | 'copy-age' | 'replica-lag',
  severity: AlarmSeverity,
): string {
  if (what === 'replica-lag') return replicaLagAlarmName(environment, database, severity);
  return `lifeboat-${environment}-${database}-${what}-${severity}`;
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

/** What the names derived from an environment's name are made of besides it. */
export interface DerivedNameInputs {
  readonly account: string;
  /** The environment's regions (primary and DR). */
  readonly regions: readonly string[];
  /** The configured databases' logical names. */
  readonly databases: readonly string[];
}

/** A name derived from the environment's name, and the most characters AWS allows in it. */
export interface DerivedName {
  readonly what: string;
  readonly limit: number;
  /** Every such name of an environment (one per region, per database ...). */
  readonly names: (environment: string, inputs: DerivedNameInputs) => string[];
}

const perRegion =
  (f: (s: NameScope) => string) =>
  (environment: string, i: DerivedNameInputs): string[] =>
    i.regions.map((region) => f({ environment, account: i.account, region }));

/** Every alarm lifeboat names after a database. */
function databaseAlarmNames(environment: string, database: string): string[] {
  const whats = ['backup-age', 'verified-age', 'copy-age', 'replica-lag'] as const;
  const severities = ['warning', 'critical'] as const;
  const canary = ['write-failed', 'heartbeat-age', 'canary-silent'] as const;
  return [
    ...whats.flatMap((what) => severities.map((s) => databaseAlarmName(environment, database, what, s))),
    primaryUnwritableAlarmName(environment, database),
    ...canary.map((what) => canaryAlarmName(environment, database, what)),
  ];
}

/**
 * The physical names lifeboat derives from an environment's name, each with AWS's limit. Names
 * CloudFormation generates (functions, roles, state machines, log groups) it shortens itself.
 */
export const DERIVED_NAMES: readonly DerivedName[] = [
  { what: 'backup bucket', limit: 63, names: perRegion(backupBucketName) },
  { what: 'access log bucket', limit: 63, names: perRegion(accessLogBucketName) },
  { what: 'schedule group', limit: 64, names: (e) => [scheduleGroupName(e)] },
  { what: 'stack', limit: 128, names: (e) => [stackName(e, 'primary'), stackName(e, 'dr')] },
  { what: 'lock table', limit: 255, names: (e) => [lockTableName(e)] },
  { what: 'events topic', limit: 256, names: (e) => [eventsTopicName(e)] },
  { what: 'dashboard', limit: 255, names: (e) => [dashboardName(e, 'primary'), dashboardName(e, 'dr')] },
  { what: 'KMS alias', limit: 256, names: (e) => [backupKeyAlias(e)] },
  { what: 'alarm', limit: 255, names: (e, i) => i.databases.flatMap((db) => databaseAlarmNames(e, db)) },
];

/** The schedule group of an environment's schedules (each region has its own). */
export function scheduleGroupName(environment: string): string {
  return `lifeboat-${environment}`;
}

/** The events topic of an environment (each region has its own). */
export function eventsTopicName(environment: string): string {
  return `lifeboat-${environment}-events`;
}

/** The dashboard of an environment in one region. */
export function dashboardName(environment: string, role: 'primary' | 'dr'): string {
  return role === 'dr' ? `lifeboat-${environment}-dr` : `lifeboat-${environment}`;
}

/**
 * The most characters an environment's name may have: the bound its longest derived name sets,
 * given the account, regions and databases (`binding` is that name).
 */
export function maxEnvironmentNameLength(inputs: DerivedNameInputs): {
  length: number;
  binding: DerivedName;
} {
  let best: { length: number; binding: DerivedName } | undefined;
  for (const derived of DERIVED_NAMES) {
    for (const name of derived.names('', inputs)) {
      const length = derived.limit - name.length;
      if (!best || length < best.length) best = { length, binding: derived };
    }
  }
  return best!;
}

/** What an environment's name must look like, as an error says it. */
export const ENVIRONMENT_NAME_RULE =
  'expected lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (it is part of bucket names)';

/**
 * Why `name` is too long for an environment with `inputs`, naming the derived name that would not
 * fit; undefined when every derived name fits.
 */
export function environmentNameTooLong(name: string, inputs: DerivedNameInputs): string | undefined {
  const { length, binding } = maxEnvironmentNameLength(inputs);
  if (name.length <= length) return undefined;
  const longest = binding.names(name, inputs).reduce((a, b) => (b.length > a.length ? b : a));
  return `at most ${length} characters with this account, regions and databases: the ${binding.what} ${longest} would have ${longest.length} (AWS allows ${binding.limit})`;
}
