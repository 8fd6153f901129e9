import { createHash } from 'node:crypto';

/**
 * Names the infrastructure grants on and the functions create or read. IAM scopes (lib/) are
 * derived from the same functions that name the resources at run time.
 */

/** Prefix of every snapshot lifeboat creates; IAM scopes snapshot actions to it. */
export const SNAPSHOT_PREFIX = 'lifeboat-';

/** RDS identifiers are at most 63 characters: `<primary (52)>-rp-<6 hex>` is at most 62. */
const REPLICA_SOURCE_LENGTH = 52;
const REPLICA_INFIX = '-rp-';

/**
 * The replica a failback creates in the recovered region: named apart from the old (fenced)
 * primary, which may still exist there, and the same for every attempt of one execution.
 */
export function failbackReplicaIdentifier(primaryIdentifier: string, executionName: string): string {
  const hash = createHash('sha256').update(executionName).digest('hex').slice(0, 6);
  return `${primaryIdentifier.slice(0, REPLICA_SOURCE_LENGTH)}${REPLICA_INFIX}${hash}`;
}

/** The IAM resource name pattern that matches every failback replica of a primary (`...-rp-*`). */
export function failbackReplicaPattern(primaryIdentifier: string): string {
  return `${primaryIdentifier.slice(0, REPLICA_SOURCE_LENGTH)}${REPLICA_INFIX}*`;
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
 * SSM parameter (primary region) holding the ARN of the environment's take-snapshot function, which
 * `lifeboat backup --env E --database D --kind snapshot` invokes with the database's scheduled event.
 */
export function snapshotTargetParameterName(environment: string): string {
  return `/lifeboat/${environment}/snapshots`;
}

/**
 * SSM parameter (primary region) holding what verifies a database's dumps on demand: the ARN of the
 * verify-backup function, or of the Fargate verification workflow of a `large` database.
 */
export function verifyTargetParameterName(environment: string, database: string): string {
  return `/lifeboat/${environment}/verify/${database}`;
}
