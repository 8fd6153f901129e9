import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  DeleteDBClusterCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import type { FailbackPlan } from '../../functions/core/failover/failover.ts';
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
