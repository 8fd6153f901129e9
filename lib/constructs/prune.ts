import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ARTIFACT_PREFIX, CATALOG_PREFIX } from '../../functions/core/catalog/catalog.ts';
import type { Database, Retention } from '../config/schema.ts';
import { PRUNE_ENV } from '../function-env.ts';
import { bindBucket, LifeboatFunction, nagResource } from './lifeboat-function.ts';
import { RdsArns } from './rds-arns.ts';

export interface PruneProps {
  readonly environment: string;
  /** Retention of each database, by logical name. */
  readonly policies: Readonly<Record<string, Retention>>;
  /** With discovery: retention by policy name, for databases found by their policy tag. */
  readonly policiesByName?: Readonly<Record<string, Retention>>;
  readonly databases: readonly Database[];
  /** The repository (catalog and dumps) this prune reads and prunes: the bucket of its region. */
  readonly bucket: IBucket;
  /**
   * `snapshots-and-dumps`: the primary region's prune (its bucket's dumps, and the `lifeboat-`
   * snapshots of `snapshotRegions`). `dumps`: the DR region's prune of its own bucket's copy of
   * the dumps, which no other region's prune may delete. @default 'snapshots-and-dumps'
   */
  readonly scope?: 'snapshots-and-dumps' | 'dumps';
  /** Regions whose `lifeboat-` snapshots it may delete (scope `snapshots-and-dumps`). */
  readonly snapshotRegions: readonly string[];
  /** The DR region (scope `snapshots-and-dumps`). */
  readonly drRegion?: string;
  /** Deletions across all databases, per run and per 24 hours. */
  readonly limits: { readonly maxDeletionsPerRun: number; readonly maxDeletionsPerDay: number };
  readonly deadLetterQueue: IQueue;
}

/**
 * The prune function: applies each database's GFS retention to its dumps and snapshots. It may
 * delete only `lifeboat-` snapshots and plain-delete (delete marker) dump artifacts; it adds
 * catalog records and never deletes one. Locked versions stay until their Object Lock retention
 * ends.
 */
export class Prune extends Construct {
  public readonly function: LifeboatFunction;

  constructor(scope: Construct, id: string, props: PruneProps) {
    super(scope, id);
    const pruneScope = props.scope ?? 'snapshots-and-dumps';
    const snapshots = pruneScope === 'snapshots-and-dumps';
    this.function = new LifeboatFunction(this, 'Function', {
      entry: 'prune/index.ts',
      description: snapshots
        ? `lifeboat ${props.environment}: daily retention of dumps and snapshots`
        : `lifeboat ${props.environment}: daily retention of this region's copy of the dumps`,
      timeout: Duration.minutes(15),
      memorySize: 1024,
      // One run at a time: two would count the same deletions against the caps twice.
      reservedConcurrentExecutions: 1,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 0,
      environment: {
        [PRUNE_ENV.scope]: pruneScope,
        [PRUNE_ENV.policies]: JSON.stringify(props.policies),
        ...(props.policiesByName ? { [PRUNE_ENV.policiesByName]: JSON.stringify(props.policiesByName) } : {}),
        ...(snapshots && props.drRegion ? { [PRUNE_ENV.drRegion]: props.drRegion } : {}),
        [PRUNE_ENV.maxDeletionsPerRun]: String(props.limits.maxDeletionsPerRun),
        [PRUNE_ENV.maxDeletionsPerDay]: String(props.limits.maxDeletionsPerDay),
      },
    });
    // The catalog: read it and add records (a deletion is a new `deleted` record). Artifacts: only
    // delete (a delete marker under versioning); prune never reads or writes one.
    bindBucket(this.function, props.bucket, 'append', {
      bucketVariable: PRUNE_ENV.bucket,
      keyVariable: null,
      prefixes: [CATALOG_PREFIX],
    });
    const artifacts = props.bucket.arnForObjects(`${ARTIFACT_PREFIX}*`);
    this.function.addToRolePolicy(
      new PolicyStatement({ actions: ['s3:DeleteObject'], resources: [artifacts] }),
    );

    const stack = Stack.of(this);
    const policy = this.function.role!.node.findChild('DefaultPolicy');
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(stack, artifacts)}]`,
      reason: 'Prune deletes dump artifacts, which have generated keys under the artifacts/ prefix.',
    });
    if (!snapshots) return;

    // Discovered databases may be instances or clusters, whatever the configured ones are.
    const kinds = props.policiesByName
      ? (['instance', 'cluster'] as const)
      : [...new Set(props.databases.map((db) => db.kind))];
    const policyStatements: PolicyStatement[] = [];
    for (const kind of kinds) {
      const arns = props.snapshotRegions.map((region) => new RdsArns(this, region).lifeboatSnapshots(kind));
      const instance = kind === 'instance';
      policyStatements.push(
        new PolicyStatement({
          actions: [
            instance ? 'rds:DeleteDBSnapshot' : 'rds:DeleteDBClusterSnapshot',
            // Who a snapshot is shared with: a shared one is never deleted.
            instance ? 'rds:DescribeDBSnapshotAttributes' : 'rds:DescribeDBClusterSnapshotAttributes',
          ],
          resources: arns,
        }),
        // Listing manual snapshots is a list call RDS authorizes against `*`; metadata only.
        new PolicyStatement({
          actions: [instance ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots'],
          resources: ['*'],
        }),
      );
      for (const arn of arns) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResource(stack, arn)}]`,
          reason:
            'Prune deletes only snapshots lifeboat named (lifeboat- prefix), whose names come from database and slot.',
        });
      }
    }
    policyStatements.push(
      new PolicyStatement({ actions: ['rds:DescribeAccountAttributes'], resources: ['*'] }),
    );
    for (const statement of policyStatements) this.function.addToRolePolicy(statement);
  }
}
