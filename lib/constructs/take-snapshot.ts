import { Duration, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Database } from '../config/schema.ts';
import { TAKE_SNAPSHOT_ENV } from '../function-env.ts';
import { bindBucket, LifeboatFunction, nagResource } from './lifeboat-function.ts';
import { RdsArns } from './rds-arns.ts';
import { CATALOG_PREFIX } from '../../functions/core/contracts/index.ts';

export interface TakeSnapshotProps {
  readonly environment: string;
  /** The databases whose snapshots this function may take. */
  readonly databases: readonly Database[];
  readonly bucket: IBucket;
  readonly deadLetterQueue: IQueue;
  /**
   * Discovery: the function may also snapshot any instance or cluster tagged `<tagKey>=<policy>`
   * with one of these policies (IAM conditions on the tag), and describe all of them to find them.
   */
  readonly discovery?: { readonly tagKey: string; readonly policies: readonly string[] };
}

/**
 * The take-snapshot function: snapshots of the configured instances and clusters, named
 * `lifeboat-...`, and a `started` catalog record. Its role may snapshot exactly those databases,
 * create and tag only `lifeboat-` snapshots, and write only under `catalog/`.
 */
export class TakeSnapshot extends Construct {
  public readonly function: LifeboatFunction;

  constructor(scope: Construct, id: string, props: TakeSnapshotProps) {
    super(scope, id);
    this.function = new LifeboatFunction(this, 'Function', {
      entry: 'take-snapshot/index.ts',
      description: `lifeboat ${props.environment}: scheduled RDS/Aurora snapshots`,
      // Discovery snapshots every tagged database of a policy in one invocation.
      timeout: props.discovery ? Duration.minutes(10) : Duration.minutes(2),
      // A handful of databases per slot; more concurrency would only meet RDS throttling.
      reservedConcurrentExecutions: 5,
      deadLetterQueue: props.deadLetterQueue,
      // DatabaseBusy (e.g. the instance is backing up) is retried by Lambda's asynchronous retries.
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    bindBucket(this.function, props.bucket, 'append', {
      prefixes: [CATALOG_PREFIX],
      bucketVariable: TAKE_SNAPSHOT_ENV.bucket,
      keyVariable: null,
    });

    const rds = new RdsArns(this);
    const instances = props.databases.filter((db) => db.kind === 'instance');
    const clusters = props.databases.filter((db) => db.kind === 'cluster');
    const statements: PolicyStatement[] = [];
    if (instances.length > 0) {
      const snapshots = rds.lifeboatSnapshots('instance');
      statements.push(
        new PolicyStatement({
          actions: ['rds:DescribeDBInstances'],
          resources: instances.map((db) => rds.database(db)),
        }),
        new PolicyStatement({
          actions: ['rds:CreateDBSnapshot'],
          resources: [...instances.map((db) => rds.database(db)), snapshots],
        }),
        new PolicyStatement({
          actions: ['rds:DescribeDBSnapshots', 'rds:AddTagsToResource'],
          resources: [snapshots],
        }),
      );
    }
    if (clusters.length > 0) {
      const snapshots = rds.lifeboatSnapshots('cluster');
      statements.push(
        new PolicyStatement({
          actions: ['rds:DescribeDBClusters'],
          resources: clusters.map((db) => rds.database(db)),
        }),
        new PolicyStatement({
          actions: ['rds:CreateDBClusterSnapshot'],
          resources: [...clusters.map((db) => rds.database(db)), snapshots],
        }),
        new PolicyStatement({
          actions: ['rds:DescribeDBClusterSnapshots', 'rds:AddTagsToResource'],
          resources: [snapshots],
        }),
      );
    }
    const discovery = props.discovery;
    if (discovery && discovery.policies.length > 0) {
      for (const kind of ['instance', 'cluster'] as const) {
        const snapshots = rds.lifeboatSnapshots(kind);
        const [describe, create, describeSnapshots, tagCondition] =
          kind === 'instance'
            ? ['rds:DescribeDBInstances', 'rds:CreateDBSnapshot', 'rds:DescribeDBSnapshots', 'rds:db-tag']
            : [
                'rds:DescribeDBClusters',
                'rds:CreateDBClusterSnapshot',
                'rds:DescribeDBClusterSnapshots',
                'rds:cluster-tag',
              ];
        statements.push(
          // Finding the tagged databases means listing them all (tags come with the description).
          new PolicyStatement({ actions: [describe], resources: [rds.allDatabases(kind)] }),
          // Snapshotting: only a database that carries one of the policies' tags ...
          new PolicyStatement({
            actions: [create],
            resources: [rds.allDatabases(kind)],
            conditions: {
              StringEquals: { [`${tagCondition}/${discovery.tagKey}`]: [...discovery.policies] },
            },
          }),
          // ... into a lifeboat- snapshot.
          new PolicyStatement({
            actions: [create, describeSnapshots, 'rds:AddTagsToResource'],
            resources: [snapshots],
          }),
        );
      }
    }
    // The quota figures (ManualSnapshots / ManualClusterSnapshots) are account attributes.
    statements.push(new PolicyStatement({ actions: ['rds:DescribeAccountAttributes'], resources: ['*'] }));
    for (const statement of statements) this.function.addToRolePolicy(statement);

    const policy = this.function.role!.node.findChild('DefaultPolicy');
    const kinds = new Set(props.databases.map((db) => db.kind));
    if (discovery && discovery.policies.length > 0) {
      kinds.add('instance');
      kinds.add('cluster');
      for (const kind of ['instance', 'cluster'] as const) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResource(this.function.stack, rds.allDatabases(kind))}]`,
          reason: `Discovery: databases are found by their ${discovery.tagKey} tag at run time; snapshots are allowed only where the tag names a configured policy (IAM condition).`,
        });
      }
    }
    for (const kind of kinds) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(this.function.stack, rds.lifeboatSnapshots(kind))}]`,
        reason:
          'Snapshot names are derived from database and schedule slot at run time; all start with lifeboat-.',
      });
    }
    // Resource::* is acknowledged for X-Ray by LifeboatFunction; DescribeAccountAttributes has no
    // resource-level permissions either (checked in test/cdk).
  }
}
