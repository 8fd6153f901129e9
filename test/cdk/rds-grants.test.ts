import { App, Stack } from 'aws-cdk-lib';
import type { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import {
  createRdsReplicas,
  deleteCreatedRds,
  describeRds,
  modifyRds,
  promoteOnly,
  RdsTargets,
} from '../../lib/constructs/workflows/rds-grants.ts';

// The grants helper of the failover and failback workflows: each step names its targets, and the
// helper writes the actions of the kinds among them (RDS instance, Aurora cluster, global cluster).

const stack = new Stack(new App(), 'Grants', { env: { account: '123456789012', region: 'us-west-2' } });
const arn = (region: string, type: string, name: string) =>
  `arn:aws:rds:${region}:123456789012:${type}:${name}`;

/** Statements as IAM JSON, partition resolved to `aws`. */
function json(statements: PolicyStatement[]): Record<string, unknown>[] {
  const text = JSON.stringify(stack.resolve(statements.map((s) => s.toStatementJson())));
  return JSON.parse(
    text.replace(/\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},"(.*?)"\]\]\}/g, '"arn:aws$1"'),
  );
}

const instance = { kind: 'instance', identifier: 'billing' } as const;
const cluster = { kind: 'cluster', identifier: 'orders', globalClusterIdentifier: 'orders-global' } as const;
const replicas = (...t: (typeof instance | typeof cluster)[]) => new RdsTargets(stack, 'us-west-2', t);
const primaries = (...t: (typeof instance | typeof cluster)[]) => new RdsTargets(stack, 'us-east-1', t);

describe('RDS grants by target kind', () => {
  it('describes instances only with the instance action, clusters with the cluster and global cluster ones', () => {
    expect(json(describeRds(replicas(instance)))).toEqual([
      { Effect: 'Allow', Action: 'rds:DescribeDBInstances', Resource: arn('us-west-2', 'db', 'billing') },
    ]);
    expect(json(describeRds(replicas(cluster), primaries(cluster)))).toEqual([
      {
        Effect: 'Allow',
        Action: 'rds:DescribeDBClusters',
        Resource: [arn('us-west-2', 'cluster', 'orders'), arn('us-east-1', 'cluster', 'orders')],
      },
      {
        Effect: 'Allow',
        Action: 'rds:DescribeGlobalClusters',
        Resource: arn('', 'global-cluster', 'orders-global'),
      },
    ]);
  });

  it('modifies each kind with its own action, and nothing for no target', () => {
    expect(json(modifyRds(primaries(instance, cluster))).map((s) => [s.Action, s.Resource])).toEqual([
      ['rds:ModifyDBInstance', arn('us-east-1', 'db', 'billing')],
      ['rds:ModifyDBCluster', arn('us-east-1', 'cluster', 'orders')],
    ]);
    expect(modifyRds(primaries())).toEqual([]);
  });

  it('promotes only the configured read replicas; a global switchover only of the configured members', () => {
    expect(json(promoteOnly(replicas(instance), primaries(instance)))).toEqual([
      {
        Effect: 'Deny',
        Action: 'rds:PromoteReadReplica',
        NotResource: arn('us-west-2', 'db', 'billing'),
      },
      {
        Effect: 'Deny',
        Action: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
        Resource: '*',
      },
    ]);
    const members = [
      arn('', 'global-cluster', 'orders-global'),
      arn('us-west-2', 'cluster', 'orders'),
      arn('us-east-1', 'cluster', 'orders'),
    ];
    expect(json(promoteOnly(replicas(cluster), primaries(cluster)))).toEqual([
      { Effect: 'Deny', Action: 'rds:PromoteReadReplica', Resource: '*' },
      {
        Effect: 'Allow',
        Action: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
        Resource: members,
      },
      {
        Effect: 'Deny',
        Action: ['rds:SwitchoverGlobalCluster', 'rds:FailoverGlobalCluster'],
        NotResource: members,
      },
    ]);
  });

  it('creates a replica of an instance, or a secondary cluster and its instance, and tags only with the workflow tag', () => {
    const created = new RdsTargets(
      stack,
      'us-east-1',
      [
        { kind: 'instance', identifier: 'billing-rp-*' },
        { kind: 'cluster', identifier: 'orders-rp-*' },
      ],
      { members: true },
    );
    const statements = json(
      createRdsReplicas(created, replicas(instance, cluster), ['<settings>'], 'failback'),
    );
    expect(statements.map((s) => [s.Action, s.Resource, s.Condition])).toEqual([
      [
        'rds:CreateDBInstanceReadReplica',
        [arn('us-east-1', 'db', 'billing-rp-*'), arn('us-west-2', 'db', 'billing'), '<settings>'],
        undefined,
      ],
      [
        'rds:CreateDBCluster',
        [
          arn('us-east-1', 'cluster', 'orders-rp-*'),
          arn('', 'global-cluster', 'orders-global'),
          '<settings>',
        ],
        undefined,
      ],
      [
        'rds:CreateDBInstance',
        [arn('us-east-1', 'db', 'orders-rp-*'), arn('us-east-1', 'cluster', 'orders-rp-*'), '<settings>'],
        undefined,
      ],
      [
        'rds:AddTagsToResource',
        [
          arn('us-east-1', 'db', 'billing-rp-*'),
          arn('us-east-1', 'db', 'orders-rp-*'),
          arn('us-east-1', 'cluster', 'orders-rp-*'),
        ],
        { StringEquals: { 'aws:RequestTag/lifeboat:workflow': 'failback' } },
      ],
    ]);
    // Deletes only what carries the tag; a secondary leaves its global database first.
    expect(json(deleteCreatedRds(created, replicas(cluster), 'failback')).map((s) => s.Action)).toEqual([
      ['rds:DeleteDBInstance', 'rds:DeleteDBCluster'],
      'rds:RemoveFromGlobalCluster',
    ]);
    const instancesOnly = new RdsTargets(
      stack,
      'us-east-1',
      [{ kind: 'instance', identifier: 'billing-rp-*' }],
      {
        members: true,
      },
    );
    expect(
      json(createRdsReplicas(instancesOnly, replicas(instance), [], 'failback')).map((s) => s.Action),
    ).toEqual(['rds:CreateDBInstanceReadReplica', 'rds:AddTagsToResource']);
  });
});
