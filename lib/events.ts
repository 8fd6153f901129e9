import { ContextAttribute } from 'aws-cdk-lib/aws-scheduler';
import { formatCompression, resolveCompression } from '../functions/core/dumps/compression.ts';
import type { Database, Policy } from './config/schema.ts';

/**
 * The events lifeboat's schedules send, built in one place so that a test can hold each of them
 * against the handler's own schema (test/cdk/events.test.ts).
 */

/**
 * logical-dump's event: the Lambda input, or LIFEBOAT_EVENT of the Fargate task (which alone
 * dumps with several workers).
 */
export function dumpEvent(
  db: Database,
  policy?: Pick<Policy, 'compression'>,
): { database: string; secretArn: string; dbname?: string; compression: string; jobs?: number } {
  return {
    database: db.name,
    secretArn: db.secretArn,
    ...(db.dbname ? { dbname: db.dbname } : {}),
    compression: formatCompression(resolveCompression(policy?.compression)),
    ...(db.large ? { jobs: db.dumpJobs ?? DEFAULT_DUMP_JOBS } : {}),
  };
}

/** pg_dump workers of a large database's dump when the configuration names none: the task's 2 vCPUs. */
export const DEFAULT_DUMP_JOBS = 2;

/** take-snapshot's event; Scheduler puts the slot's time in place of `scheduledTime`. */
export function snapshotEvent(db: Database): Record<string, string> {
  return {
    database: db.name,
    identifier: db.identifier,
    type: db.kind,
    policy: db.policy,
    scheduledTime: ContextAttribute.scheduledTime,
  };
}

/**
 * take-snapshot's discovery event of one policy: every database tagged `<tagKey>=<policy>`,
 * except those configured explicitly (their own schedule snapshots them).
 */
export function discoverEvent(
  policy: string,
  tagKey: string,
  exclude: readonly string[],
  names: readonly string[] = [],
): {
  discover: { policy: string; tagKey: string; exclude: string[]; names: string[] };
  scheduledTime: string;
} {
  return {
    discover: { policy, tagKey, exclude: [...exclude], names: [...names] },
    scheduledTime: ContextAttribute.scheduledTime,
  };
}

/** prune's event. */
export function pruneEvent(dryRun: boolean): { dryRun: boolean } {
  return { dryRun };
}

/** verify-backup's event on the verification schedule: the newest completed dump of the database. */
export function verifyBackupEvent(db: Pick<Database, 'name'>): { database: string; backupId: 'latest' } {
  return { database: db.name, backupId: 'latest' };
}

/** The restore-test workflow's input on the verification schedule. */
export function restoreTestEvent(db: Pick<Database, 'name'>): { database: string } {
  return { database: db.name };
}
