import { InvalidArgument } from '#core/shared/errors.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import type { EnvironmentConfigInput } from '../../lib/config/schema.ts';
import { dumpEvent, snapshotEvent } from '../../lib/events.ts';
import {
  backupBucketName,
  dumpTargetParameterName,
  snapshotTargetParameterName,
  stackName,
  type WorkflowName,
  verifyTargetParameterName,
  workflowParameterName,
} from '../../lib/naming.ts';

/**
 * A deployed environment as the CLI sees it: everything `--env NAME` resolves to, derived from the
 * same configuration `cdk synth -c env=NAME` reads (lib/config/environments.ts) and the same naming
 * rules the stacks use (lib/naming.ts). Nothing here calls AWS: what is only known after a deploy
 * (ARNs of workflows and dump targets) is read from SSM by name, through the names given here.
 */

export type RegionRole = 'primary' | 'dr';
export const REGION_ROLES: readonly RegionRole[] = ['primary', 'dr'];

export interface DeployedDatabase {
  readonly name: string;
  readonly kind: 'instance' | 'cluster';
  readonly identifier: string;
  /** Runs its dumps as a Fargate task (a workflow) rather than a Lambda function. */
  readonly large: boolean;
  /** Its policy takes logical dumps (a snapshot-only database has no dump target). */
  readonly dumps: boolean;
  /** It has a DR replica the failover and failback workflows act on. */
  readonly failover: boolean;
  /** The event its dump function (or Fargate task) takes: the same as lib/events.ts dumpEvent. */
  readonly dumpEvent: ReturnType<typeof dumpEvent>;
  /** take-snapshot's event of one slot: the schedule's (lib/events.ts snapshotEvent) with that time. */
  snapshotEvent(slot: Date): Record<string, string>;
}

export interface DeployedEnvironment {
  readonly name: string;
  readonly account: string;
  readonly regions: Readonly<Record<RegionRole, string>>;
  /** The backup bucket of each region; the DR one is the replica of the primary's. */
  readonly buckets: Readonly<Record<RegionRole, string>>;
  readonly stacks: Readonly<Record<RegionRole, string>>;
  readonly databases: readonly DeployedDatabase[];
  /** A snapshot not copied to the DR region within this long has failed (the copy queue's bound). */
  readonly copyMaxWaitHours: number;
  /** Thresholds the deployed alarms use; `lifeboat status --env` holds databases to the same. */
  readonly alarms: {
    readonly backupAgeWarnHours: number;
    readonly backupAgeCritHours: number;
    readonly verifiedAgeWarnHours: number | null;
    readonly replicaLagCritSeconds: number;
  };
}

/** Resolves `--env NAME`; an unknown or invalid environment is a ConfigError naming what is known. */
export function resolveEnvironment(
  name: string,
  environments?: Readonly<Record<string, EnvironmentConfigInput>>,
): DeployedEnvironment {
  const config = loadEnvironmentConfig(name, environments);
  const regions = { primary: config.primaryRegion, dr: config.drRegion };
  const bucket = (region: string) => backupBucketName({ environment: name, account: config.account, region });
  return {
    name,
    account: config.account,
    regions,
    buckets: { primary: bucket(regions.primary), dr: bucket(regions.dr) },
    stacks: { primary: stackName(name, 'primary'), dr: stackName(name, 'dr') },
    databases: config.databases.map((db) => ({
      name: db.name,
      kind: db.kind,
      identifier: db.identifier,
      large: db.large,
      dumps: db.policySettings.dump !== undefined,
      failover: db.failover !== undefined,
      dumpEvent: dumpEvent(db, db.policySettings),
      snapshotEvent: (slot: Date) => ({ ...snapshotEvent(db), scheduledTime: slot.toISOString() }),
    })),
    copyMaxWaitHours: config.snapshotCopies.maxWaitHours,
    alarms: {
      backupAgeWarnHours: config.alarms.backupAgeWarnHours,
      backupAgeCritHours: config.alarms.backupAgeCritHours,
      verifiedAgeWarnHours: config.alarms.verifiedAgeWarnHours,
      replicaLagCritSeconds: config.alarms.replicaLagCritSeconds,
    },
  };
}

/** A configured database of the environment, or InvalidArgument listing the configured ones. */
export function databaseOf(env: DeployedEnvironment, name: string): DeployedDatabase {
  const db = env.databases.find((d) => d.name === name);
  if (!db) {
    throw new InvalidArgument(
      `--database: environment "${env.name}" has no database "${name}"; configured: ${env.databases.map((d) => d.name).join(', ') || '(none)'}`,
    );
  }
  return db;
}

/** Parses `--region primary|dr` (undefined stays undefined). */
export function regionRoleOption(value: string | undefined): RegionRole | undefined {
  if (value === undefined) return undefined;
  if (value === 'primary' || value === 'dr') return value;
  throw new InvalidArgument(`--region expects primary or dr, got "${value}"`);
}

/** Where each workflow runs: failover and failback in the DR region (they must work when the primary is gone). */
export function workflowRegion(
  env: DeployedEnvironment,
  workflow: WorkflowName,
  override?: RegionRole,
): string {
  if (override) return env.regions[override];
  return workflow === 'failover' || workflow === 'failback' ? env.regions.dr : env.regions.primary;
}

/** `s3://<bucket>` of the environment's backup repository in one region. */
export function repositoryUrl(env: DeployedEnvironment, role: RegionRole): string {
  return `s3://${env.buckets[role]}`;
}

/** SSM parameter names the stacks write and the CLI reads (in the region where the thing runs). */
export function workflowParameter(env: DeployedEnvironment, workflow: WorkflowName): string {
  return workflowParameterName(env.name, workflow);
}

export function dumpTargetParameter(env: DeployedEnvironment, database: string): string {
  return dumpTargetParameterName(env.name, database);
}

export function verifyTargetParameter(env: DeployedEnvironment, database: string): string {
  return verifyTargetParameterName(env.name, database);
}

export function snapshotTargetParameter(env: DeployedEnvironment): string {
  return snapshotTargetParameterName(env.name);
}
