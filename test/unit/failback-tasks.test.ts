import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { FailoverTarget } from '../../functions/core/failover/failover.ts';
import { type FailbackPlan, failbackCommands, planFailback } from '../../functions/core/failover/failback.ts';
import { deleteReplica } from '../../functions/wf-delete-replica/index.ts';
import { createReplica } from '../../functions/wf-create-replica/index.ts';

function rdsError(name: string): Error {
  return Object.assign(new Error(name), { name });
}

const plan: FailbackPlan = {
  database: 'orders',
  kind: 'instance',
  source: {
    region: 'eu-central-1',
    identifier: 'orders-db-dr',
    arn: 'arn:aws:rds:eu-central-1:1:db:orders-db-dr',
  },
  replica: { region: 'eu-west-1', identifier: 'orders-db-rp-abc123' },
  globalClusterIdentifier: null,
  engineVersion: '16.4',
  commands: failbackCommands('instance', { region: 'eu-west-1', identifier: 'orders-db-rp-abc123' }, null),
};
const ours = [
  { Key: 'lifeboat:workflow', Value: 'failback' },
  { Key: 'lifeboat:created-by', Value: 'fb-1' },
];

describe('wf-create-replica: a create whose answer was lost', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());

  it("an existing replica carrying this execution's tag is this execution's: the create is done", async () => {
    rds.on(CreateDBInstanceReadReplicaCommand).rejects(rdsError('DBInstanceAlreadyExistsFault'));
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceIdentifier: plan.replica.identifier, TagList: ours }] });

    const created = await createReplica({ plan, executionName: 'fb-1' }, new RDSClient({}), {});

    expect(created).toEqual({ kind: 'instance', region: 'eu-west-1', identifier: 'orders-db-rp-abc123' });
  });

  it('one that another execution created is refused and left alone', async () => {
    rds.on(CreateDBInstanceReadReplicaCommand).rejects(rdsError('DBInstanceAlreadyExistsFault'));
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ TagList: [{ Key: 'lifeboat:created-by', Value: 'fb-other' }] }],
    });

    await expect(createReplica({ plan, executionName: 'fb-1' }, new RDSClient({}), {})).rejects.toMatchObject(
      {
        name: 'ReplicaNameTaken',
        message: expect.stringContaining('was not created by this execution (lifeboat:created-by: fb-other)'),
      },
    );
    expect(rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  it('an Aurora secondary made by an earlier attempt is adopted, its instance created', async () => {
    const clusterPlan: FailbackPlan = { ...plan, kind: 'cluster', globalClusterIdentifier: 'orders-global' };
    rds.on(CreateDBClusterCommand).rejects(rdsError('DBClusterAlreadyExistsFault'));
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ DBClusterArn: 'arn:aws:rds:eu-west-1:1:cluster:orders-db-rp-abc123', TagList: ours }],
    });
    rds.on(CreateDBInstanceCommand).resolves({});

    const created = await createReplica({ plan: clusterPlan, executionName: 'fb-1' }, new RDSClient({}), {});

    expect(created).toMatchObject({
      kind: 'cluster',
      clusterArn: 'arn:aws:rds:eu-west-1:1:cluster:orders-db-rp-abc123',
      instanceIdentifier: 'orders-db-rp-abc123-1',
    });
    expect(rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });
});

describe('planFailback', () => {
  const target = FailoverTarget.parse({
    database: 'orders',
    kind: 'instance',
    primary: { region: 'eu-west-1', identifier: 'orders-db' },
    replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
    engineVersion: '16.4',
  });
  const facts = {
    executionName: 'fb-1',
    sourceArn: 'arn:aws:rds:eu-central-1:1:db:orders-db-dr',
    sourceIsPrimary: true,
  };

  it('refuses when the new primary already has a replica in the recovered region, naming it', () => {
    expect(() =>
      planFailback({ database: 'orders' }, [target], {
        ...facts,
        existingReplica: 'arn:aws:rds:eu-west-1:1:db:orders-db-rp-0e0e0e',
      }),
    ).toThrow(
      'orders-db-dr (eu-central-1) already has a replica in eu-west-1: arn:aws:rds:eu-west-1:1:db:orders-db-rp-0e0e0e; nothing was created',
    );
  });

  it('carries the commands that show and remove the planned replica (Aurora: instance, detach, cluster)', () => {
    const plan = planFailback({ database: 'orders' }, [target], facts);
    expect(plan.commands.check).toBe(
      `aws rds describe-db-instances --region eu-west-1 --db-instance-identifier ${plan.replica.identifier} --query 'DBInstances[0].[DBInstanceStatus,TagList]'`,
    );
    const aurora = failbackCommands(
      'cluster',
      { region: 'eu-west-1', identifier: 'orders-aurora-rp-1' },
      'orders-global',
    );
    expect(aurora.cleanup.split(' && ').map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual([
      'aws rds delete-db-instance',
      'aws rds remove-from-global-cluster',
      'aws rds wait',
      'aws rds delete-db-cluster',
    ]);
  });
});

describe('wf-delete-replica: removes only what this execution created', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());

  it('a database under the planned name made by another execution is left alone', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        { DBInstanceStatus: 'available', TagList: [{ Key: 'lifeboat:created-by', Value: 'fb-other' }] },
      ],
    });

    const result = await deleteReplica({ plan, executionName: 'fb-1' }, new RDSClient({}));

    expect(result).toMatchObject({ status: 'not-ours', detail: expect.stringContaining('fb-other') });
    expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
  });

  it('one already being deleted (a retry after a lost answer) counts as deleted, without a second delete', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceStatus: 'deleting', TagList: ours }] });

    const result = await deleteReplica({ plan, executionName: 'fb-1' }, new RDSClient({}));

    expect(result).toMatchObject({ status: 'deleted', deleted: ['orders-db-rp-abc123'] });
    expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
  });

  it('nothing under the planned name: none', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(rdsError('DBInstanceNotFoundFault'));

    const result = await deleteReplica({ plan, executionName: 'fb-1' }, new RDSClient({}));

    expect(result).toMatchObject({
      status: 'none',
      check: plan.commands.check,
      cleanup: plan.commands.cleanup,
    });
  });
});
