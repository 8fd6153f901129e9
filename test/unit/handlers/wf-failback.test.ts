import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  RDSClient,
  RemoveFromGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { failbackCommands } from '../../../functions/core/failover/failback.ts';
import { handler as deleteReplica } from '../../../functions/wf-delete-replica/index.ts';
import { handler as describeReplica } from '../../../functions/wf-describe-replica/index.ts';
import { handler as planFailback } from '../../../functions/wf-plan-failback/index.ts';
import { awsError, captureStdout, lambdaContext } from './support.ts';

/**
 * The failback workflow's RDS tasks as deployed (middy, Powertools, event schema, cached clients),
 * with RDS mocked: what each returns, what it refuses, and what a throttled or lost answer does.
 */

const rds = mockClient(RDSClient);

/** The region of the client the `index`th RDS call went through. */
async function regionOfCall(index: number): Promise<string> {
  return (rds.call(index).thisValue as RDSClient).config.region();
}

const instanceReplica = { kind: 'instance', region: 'eu-west-1', identifier: 'orders-db-rp-abc123' };
const clusterReplica = {
  kind: 'cluster',
  region: 'eu-west-1',
  identifier: 'orders-rp-abc123',
  instanceIdentifier: 'orders-rp-abc123-1',
  clusterArn: 'arn:aws:rds:eu-west-1:111111111111:cluster:orders-rp-abc123',
  globalClusterIdentifier: 'orders-global',
};

beforeEach(() => {
  rds.reset();
  vi.stubEnv('AWS_REGION', 'eu-central-1');
  captureStdout();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('wf-delete-replica', () => {
  const context = lambdaContext('wf-delete-replica');
  const ours = [{ Key: 'lifeboat:created-by', Value: 'fb-1' }];
  const planOf = (kind: 'instance' | 'cluster') => {
    const replica = {
      region: 'eu-west-1',
      identifier: kind === 'instance' ? 'orders-db-rp-abc123' : 'orders-rp-abc123',
    };
    const globalClusterIdentifier = kind === 'instance' ? null : 'orders-global';
    return {
      database: 'orders',
      kind,
      source: {
        region: 'eu-central-1',
        identifier: 'orders-dr',
        arn: 'arn:aws:rds:eu-central-1:1:db:orders-dr',
      },
      replica,
      globalClusterIdentifier,
      engineVersion: '16.4',
      commands: failbackCommands(kind, replica, globalClusterIdentifier),
    };
  };

  it('deletes the instance replica this execution created (found by its planned name, its tag read first), in its region, without a final snapshot', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceStatus: 'failed', TagList: ours }] });
    rds.on(DeleteDBInstanceCommand).resolves({});

    await expect(
      deleteReplica({ plan: planOf('instance'), executionName: 'fb-1' }, context),
    ).resolves.toMatchObject({
      status: 'deleted',
      deleted: ['orders-db-rp-abc123'],
      identifier: 'orders-db-rp-abc123',
      cleanup: expect.stringContaining('aws rds delete-db-instance --region eu-west-1'),
    });

    expect(rds.commandCalls(DeleteDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db-rp-abc123',
      SkipFinalSnapshot: true,
      DeleteAutomatedBackups: true,
    });
    expect(await regionOfCall(0)).toBe('eu-west-1');
    expect(rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
  });

  it('an Aurora secondary: its instance, then out of the global database, then the cluster', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceStatus: 'available', TagList: ours }] });
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ Status: 'available', DBClusterArn: clusterReplica.clusterArn, TagList: ours }],
    });
    rds.on(DeleteDBInstanceCommand).resolves({});
    rds.on(RemoveFromGlobalClusterCommand).resolves({});
    rds.on(DeleteDBClusterCommand).resolves({});

    await expect(
      deleteReplica({ plan: planOf('cluster'), executionName: 'fb-1' }, context),
    ).resolves.toMatchObject({
      status: 'deleted',
      deleted: ['orders-rp-abc123-1', 'orders-rp-abc123'],
    });

    expect(rds.calls().map((c) => (c.args[0] as object).constructor.name)).toEqual([
      'DescribeDBInstancesCommand',
      'DeleteDBInstanceCommand',
      'DescribeDBClustersCommand',
      'RemoveFromGlobalClusterCommand',
      'DeleteDBClusterCommand',
    ]);
    expect(rds.commandCalls(RemoveFromGlobalClusterCommand)[0]!.args[0].input).toEqual({
      GlobalClusterIdentifier: 'orders-global',
      DbClusterIdentifier: clusterReplica.clusterArn,
    });
  });

  it('the cluster cannot go while its instance is deleting: ReplicaDeletionPending (the workflow retries)', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceStatus: 'deleting', TagList: ours }] });
    rds.on(DescribeDBClustersCommand).resolves({
      DBClusters: [{ Status: 'available', DBClusterArn: clusterReplica.clusterArn, TagList: ours }],
    });
    rds.on(RemoveFromGlobalClusterCommand).resolves({});
    rds.on(DeleteDBClusterCommand).rejects(awsError('InvalidDBClusterStateFault', 'has instances'));

    await expect(
      deleteReplica({ plan: planOf('cluster'), executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({
      name: 'ReplicaDeletionPending',
    });
    expect(rds.commandCalls(DeleteDBInstanceCommand)).toHaveLength(0);
  });

  it('refuses an event without the planned replica, naming the field, before any RDS call', async () => {
    const plan = planOf('instance');
    await expect(
      deleteReplica({ plan: { ...plan, replica: { region: 'eu-west-1' } }, executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('plan.replica.identifier'),
    });
    expect(rds.calls()).toHaveLength(0);
  });

  it('a throttled delete fails with its name (the workflow retries it); nothing else is deleted', async () => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ DBInstanceStatus: 'available', TagList: ours }] });
    rds.on(DeleteDBInstanceCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));

    await expect(
      deleteReplica({ plan: planOf('cluster'), executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
    expect(rds.commandCalls(DeleteDBClusterCommand)).toHaveLength(0);
    expect(rds.commandCalls(RemoveFromGlobalClusterCommand)).toHaveLength(0);
  });
});

describe('wf-describe-replica', () => {
  const context = lambdaContext('wf-describe-replica');

  it('an available instance replica is available', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'available' }] });

    await expect(describeReplica({ replica: instanceReplica }, context)).resolves.toEqual({
      status: 'available',
      available: true,
      hopeless: false,
    });
    expect(await regionOfCall(0)).toBe('eu-west-1');
  });

  it('an Aurora secondary is available only when its cluster is too', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'available' }] });
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ Status: 'creating' }] });

    await expect(describeReplica({ replica: clusterReplica }, context)).resolves.toEqual({
      status: 'creating/available',
      available: false,
      hopeless: false,
    });
  });

  it('a replica that failed, or that is gone, is hopeless: waiting does not help', async () => {
    rds.on(DescribeDBInstancesCommand).resolvesOnce({ DBInstances: [{ DBInstanceStatus: 'failed' }] });
    await expect(describeReplica({ replica: instanceReplica }, context)).resolves.toEqual({
      status: 'failed',
      available: false,
      hopeless: true,
    });

    rds.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault', 'not found'));
    await expect(describeReplica({ replica: instanceReplica }, context)).resolves.toEqual({
      status: 'missing',
      available: false,
      hopeless: true,
    });
  });

  it('a throttled describe fails with its name: it is not read as a missing replica', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));

    await expect(describeReplica({ replica: instanceReplica }, context)).rejects.toMatchObject({
      name: 'ThrottlingException',
    });
  });

  it('refuses a replica of an unknown kind, naming the field', async () => {
    await expect(
      describeReplica({ replica: { ...instanceReplica, kind: 'proxy' } }, context),
    ).rejects.toMatchObject({ name: 'InvalidArgument', message: expect.stringContaining('replica.kind') });
    expect(rds.calls()).toHaveLength(0);
  });
});

describe('wf-plan-failback', () => {
  const context = lambdaContext('wf-plan-failback');
  const instanceTarget = {
    database: 'orders',
    kind: 'instance',
    primary: { region: 'eu-west-1', identifier: 'orders-db' },
    replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
    engineVersion: '16.4',
  };
  const clusterTarget = {
    database: 'billing',
    kind: 'cluster',
    primary: { region: 'eu-west-1', identifier: 'billing' },
    replica: { region: 'eu-central-1', identifier: 'billing-dr' },
    globalClusterIdentifier: 'billing-global',
    engineVersion: '16.4',
  };
  const drArn = 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr';

  beforeEach(() => {
    vi.stubEnv('LIFEBOAT_FAILOVER_TARGETS', JSON.stringify([instanceTarget, clusterTarget]));
  });

  it('the promoted DR instance is the source; the new replica goes to the region it failed away from', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceArn: drArn, DBInstanceStatus: 'available' }],
    });

    const plan = await planFailback({ input: { database: 'orders' }, executionName: 'fb-1' }, context);

    expect(plan).toEqual({
      database: 'orders',
      kind: 'instance',
      source: { region: 'eu-central-1', identifier: 'orders-db-dr', arn: drArn },
      replica: { region: 'eu-west-1', identifier: expect.stringMatching(/^orders-db-rp-[0-9a-f]{6}$/) },
      globalClusterIdentifier: null,
      engineVersion: '16.4',
      commands: {
        check: expect.stringMatching(
          /^aws rds describe-db-instances --region eu-west-1 --db-instance-identifier orders-db-rp-/,
        ),
        cleanup: expect.stringMatching(
          /^aws rds delete-db-instance --region eu-west-1 --db-instance-identifier orders-db-rp-/,
        ),
      },
    });
    expect(rds.commandCalls(DescribeDBInstancesCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db-dr',
    });
    expect(await regionOfCall(0)).toBe('eu-central-1');
  });

  it('an Aurora DR cluster is the source once it is the global writer', async () => {
    const arn = 'arn:aws:rds:eu-central-1:111111111111:cluster:billing-dr';
    rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterArn: arn, Status: 'available' }] });
    rds.on(DescribeGlobalClustersCommand).resolves({
      GlobalClusters: [{ GlobalClusterMembers: [{ DBClusterArn: arn, IsWriter: true }] }],
    });

    const plan = await planFailback({ input: { database: 'billing' }, executionName: 'fb-2' }, context);

    expect(plan).toMatchObject({
      kind: 'cluster',
      source: { arn },
      globalClusterIdentifier: 'billing-global',
      replica: { region: 'eu-west-1' },
    });
  });

  it('refuses when the DR side still replicates (no failover happened): SourceNotPrimary', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        { DBInstanceArn: drArn, DBInstanceStatus: 'available', ReadReplicaSourceDBInstanceIdentifier: 'x' },
      ],
    });

    await expect(
      planFailback({ input: { database: 'orders' }, executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({ name: 'SourceNotPrimary', message: expect.stringContaining('orders-db-dr') });
  });

  it('refuses when the promoted instance already has a replica in the recovered region: ReplicaExists', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [
        {
          DBInstanceArn: drArn,
          DBInstanceStatus: 'available',
          // A replica in its own region is listed by name, one in another region by its ARN.
          ReadReplicaDBInstanceIdentifiers: [
            'orders-db-dr-read',
            'arn:aws:rds:eu-west-1:111111111111:db:orders-db-rp-0e0e0e',
          ],
        },
      ],
    });

    await expect(
      planFailback({ input: { database: 'orders' }, executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({
      name: 'ReplicaExists',
      message: expect.stringContaining(
        'already has a replica in eu-west-1: arn:aws:rds:eu-west-1:111111111111:db:orders-db-rp-0e0e0e',
      ),
    });
  });

  it('bad input is refused naming the field, before RDS is asked', async () => {
    await expect(
      planFailback({ input: { database: 'orders', extra: 1 }, executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({ name: 'InvalidFailoverInput' });
    await expect(planFailback({ input: { database: 'orders' } }, context)).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('executionName'),
    });
    expect(rds.calls()).toHaveLength(0);
  });

  it('a throttled describe fails with its name; it is not taken for "not the primary"', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));

    await expect(
      planFailback({ input: { database: 'orders' }, executionName: 'fb-1' }, context),
    ).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});
