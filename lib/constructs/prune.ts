import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
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
  /** The repository (catalog and dumps) this prune reads and prunes. */
  readonly bucket: IBucket;
  /** Regions whose `lifeboat-` snapshots it may delete. */
  readonly snapshotRegions: readonly string[];
  readonly drRegion: string;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  readonly deadLetterQueue: IQueue;
}

/**
 * The prune function: applies each database's GFS retention to its dumps and snapshots. It may
 * delete only `lifeboat-` snapshots and plain-delete (delete marker) objects under the repository
 * prefixes; locked versions stay until their Object Lock retention ends.
 */
export class Prune extends Construct {
  public readonly function: LifeboatFunction;

  constructor(scope: Construct, id: string, props: PruneProps) {
    super(scope, id);
    this.function = new LifeboatFunction(this, 'Function', {
      entry: 'prune/index.ts',
      description: `lifeboat ${props.environment}: daily retention of dumps and snapshots`,
      timeout: Duration.minutes(15),
      memorySize: 1024,
      // One run at a time: two would count the same deletions against the per-run cap twice.
      reservedConcurrentExecutions: 1,
      logRetention: props.logRetention,
      logKey: props.logKey,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 0,
      environment: {
        [PRUNE_ENV.environment]: props.environment,
        [PRUNE_ENV.policies]: JSON.stringify(props.policies),
        ...(props.policiesByName ? { [PRUNE_ENV.policiesByName]: JSON.stringify(props.policiesByName) } : {}),
        [PRUNE_ENV.drRegion]: props.drRegion,
        POWERTOOLS_SERVICE_NAME: 'prune',
      },
    });
    bindBucket(this.function, props.bucket, 'readwrite', {
      bucketVariable: PRUNE_ENV.bucket,
      keyVariable: null,
    });

    const stack = Stack.of(this);
    // Discovered databases may be instances or clusters, whatever the configured ones are.
    const kinds = props.policiesByName
      ? (['instance', 'cluster'] as const)
      : [...new Set(props.databases.map((db) => db.kind))];
    const policyStatements: PolicyStatement[] = [];
    for (const kind of kinds) {
      const snapshots = props.snapshotRegions.map((region) =>
        new RdsArns(this, region).lifeboatSnapshots(kind),
      );
      policyStatements.push(
        new PolicyStatement({
          actions: [kind === 'instance' ? 'rds:DeleteDBSnapshot' : 'rds:DeleteDBClusterSnapshot'],
          resources: snapshots,
        }),
        // Listing manual snapshots is a list call RDS authorizes against `*`; metadata only.
        new PolicyStatement({
          actions: [kind === 'instance' ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots'],
          resources: ['*'],
        }),
      );
      const policy = this.function.role!.node.findChild('DefaultPolicy');
      for (const arn of snapshots) {
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
