import * as z from '../shared/zod.ts';
import { LifeboatError } from '../shared/errors.ts';
import { failbackReplicaIdentifier } from '../contracts/names.ts';
import type { FailoverTarget } from './failover.ts';
import { InvalidFailoverInput, describeIssue, findTarget } from './failover.ts';

/** Failback: re-protection after a failover, a new replica in the region the database left. */

/** Failback was asked of a database whose DR side is not the primary (no failover happened). */
export class SourceNotPrimary extends LifeboatError {
  override readonly name = 'SourceNotPrimary';
}

/** The new primary already has a replica in the recovered region: it is protected, nothing to do. */
export class ReplicaExists extends LifeboatError {
  override readonly name = 'ReplicaExists';
}

export const FailbackRequest = z.strictObject({
  database: z.string().check(z.minLength(1, { error: 'expected the database name' })),
  reason: z.optional(z.string().check(z.maxLength(500))),
  requestedBy: z.optional(z.string().check(z.maxLength(200))),
});
export type FailbackRequest = z.output<typeof FailbackRequest>;

/** What the PlanFailback task returns; the workflow keeps it at `$.plan`. */
export interface FailbackPlan {
  readonly database: string;
  readonly kind: 'instance' | 'cluster';
  /** The new primary (the former DR replica). */
  readonly source: { readonly region: string; readonly identifier: string; readonly arn: string };
  /** The replica to create in the recovered region. */
  readonly replica: { readonly region: string; readonly identifier: string };
  readonly globalClusterIdentifier: string | null;
  readonly engineVersion: string;
  /**
   * The `aws` commands that show the replica (with its `lifeboat:created-by` tag) and remove it:
   * what a failure notification carries when the workflow cannot tell or could not clean up.
   */
  readonly commands: { readonly check: string; readonly cleanup: string };
}

/** The instance an Aurora secondary of the failback gets: named like its cluster. */
export const failbackInstanceOf = (clusterIdentifier: string): string => `${clusterIdentifier}-1`;

/** The commands that show and remove a failback replica (instance, or Aurora secondary cluster + instance). */
export function failbackCommands(
  kind: 'instance' | 'cluster',
  replica: { readonly region: string; readonly identifier: string },
  globalClusterIdentifier: string | null,
): { check: string; cleanup: string } {
  const r = `--region ${replica.region}`;
  const describeInstance = (id: string) =>
    `aws rds describe-db-instances ${r} --db-instance-identifier ${id} --query 'DBInstances[0].[DBInstanceStatus,TagList]'`;
  const deleteInstance = (id: string) =>
    `aws rds delete-db-instance ${r} --db-instance-identifier ${id} --skip-final-snapshot --delete-automated-backups`;
  if (kind === 'instance')
    return { check: describeInstance(replica.identifier), cleanup: deleteInstance(replica.identifier) };
  const instance = failbackInstanceOf(replica.identifier);
  const account = '$(aws sts get-caller-identity --query Account --output text)';
  return {
    check: `${describeInstance(instance)}; aws rds describe-db-clusters ${r} --db-cluster-identifier ${replica.identifier} --query 'DBClusters[0].[Status,TagList]'`,
    cleanup: [
      deleteInstance(instance),
      ...(globalClusterIdentifier
        ? [
            `aws rds remove-from-global-cluster ${r} --global-cluster-identifier ${globalClusterIdentifier} --db-cluster-identifier arn:aws:rds:${replica.region}:${account}:cluster:${replica.identifier}`,
          ]
        : []),
      `aws rds wait db-instance-deleted ${r} --db-instance-identifier ${instance}`,
      `aws rds delete-db-cluster ${r} --db-cluster-identifier ${replica.identifier} --skip-final-snapshot`,
    ].join(' && '),
  };
}

/**
 * Plans re-protection after a failover: a new replica in the region the database failed away
 * from, named apart from the old (fenced) primary, which may still exist there.
 */
export function planFailback(
  input: unknown,
  targets: readonly FailoverTarget[],
  facts: {
    readonly executionName: string;
    readonly sourceArn: string;
    readonly sourceIsPrimary: boolean;
    /** A replica of the new primary that already exists in the recovered region (its identifier). */
    readonly existingReplica?: string | null;
  },
): FailbackPlan {
  const parsed = FailbackRequest.safeParse(input);
  if (!parsed.success) throw new InvalidFailoverInput(`failback input: ${describeIssue(parsed.error)}`);
  const target = findTarget(targets, parsed.data.database);
  if (!facts.sourceIsPrimary) {
    throw new SourceNotPrimary(
      `${target.replica.identifier} (${target.replica.region}) is not the primary: fail over first, or there is nothing to re-protect`,
    );
  }
  if (facts.existingReplica) {
    throw new ReplicaExists(
      `${target.replica.identifier} (${target.replica.region}) already has a replica in ${target.primary.region}: ${facts.existingReplica}; nothing was created`,
    );
  }
  const replica = {
    region: target.primary.region,
    identifier: failbackReplicaIdentifier(target.primary.identifier, facts.executionName),
  };
  const globalClusterIdentifier = target.globalClusterIdentifier ?? null;
  return {
    database: target.database,
    kind: target.kind,
    source: { ...target.replica, arn: facts.sourceArn },
    replica,
    globalClusterIdentifier,
    engineVersion: target.engineVersion,
    commands: failbackCommands(target.kind, replica, globalClusterIdentifier),
  };
}
