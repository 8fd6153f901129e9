import { describe, expect, it } from 'vitest';
import { faultError, faultFor, integrationOf } from './faults.ts';
import { retryDelay } from './runner.ts';
import { FakeAws } from './world.ts';

/** The fake AWS itself: what the workflows' property suites rely on it to do. */

const rds = (action: string) => `arn:aws:states:::aws-sdk:rds:${action}`;
const tags = (execution: string) => [{ Key: 'lifeboat:created-by', Value: execution }];

describe('FakeAws', () => {
  it('a restored instance is creating, then available with an endpoint; a second create is refused', () => {
    const world = new FakeAws({ restoreSeconds: 600 });
    world.addSnapshot('snap', 'instance');
    const params = { DbInstanceIdentifier: 'r1', DbSnapshotIdentifier: 'snap', Tags: tags('run-1') };

    expect(world.sfn(rds('restoreDBInstanceFromDBSnapshot'), params)).toMatchObject({
      DbInstance: { DbInstanceIdentifier: 'r1', DbInstanceStatus: 'creating' },
    });
    expect(() => world.sfn(rds('restoreDBInstanceFromDBSnapshot'), params)).toThrow(
      expect.objectContaining({ name: 'Rds.DbInstanceAlreadyExistsException' }),
    );
    world.advance(600);
    expect(world.sfn(rds('describeDBInstances'), { DbInstanceIdentifier: 'r1' })).toMatchObject({
      DbInstances: [
        {
          DbInstanceStatus: 'available',
          Endpoint: { Address: world.endpointOf('r1') },
          TagList: tags('run-1'),
        },
      ],
    });
  });

  it('a deletion takes time, is logged with the creator, and then the instance is gone', () => {
    const world = new FakeAws({ deleteSeconds: 300 });
    world.addInstance('theirs');

    world.sfn(rds('deleteDBInstance'), { DbInstanceIdentifier: 'theirs' });
    expect(world.instanceStatus('theirs')).toBe('deleting');
    expect(() => world.sfn(rds('deleteDBInstance'), { DbInstanceIdentifier: 'theirs' })).toThrow(
      expect.objectContaining({ name: 'Rds.InvalidDbInstanceStateException' }),
    );
    world.advance(300);
    expect(world.instanceStatus('theirs')).toBeNull();
    expect(world.removals).toEqual([{ kind: 'instance', id: 'theirs', createdBy: 'operator', at: 1 }]);
  });

  it('a cluster with instances cannot be deleted', () => {
    const world = new FakeAws();
    world.addCluster('c1');
    world.addInstance('c1-1', { clusterId: 'c1' });

    expect(() => world.sfn(rds('deleteDBCluster'), { DbClusterIdentifier: 'c1' })).toThrow(
      expect.objectContaining({ name: 'Rds.InvalidDbClusterStateException' }),
    );
  });

  it('promotes a read replica once; a second promote says it is not a replica', () => {
    const world = new FakeAws();
    world.addInstance('primary');
    world.addInstance('replica', { replicaOf: 'primary' });

    world.sfn(rds('promoteReadReplica'), { DbInstanceIdentifier: 'replica' });
    expect(world.instanceStatus('replica')).toBe('modifying');
    expect(() => world.sfn(rds('promoteReadReplica'), { DbInstanceIdentifier: 'replica' })).toThrow(
      expect.objectContaining({ name: 'Rds.InvalidDbInstanceStateException' }),
    );
    world.advance(120);
    expect(world.instanceStatus('replica')).toBe('available');
  });

  it('switches a global cluster writer, busy for a while', () => {
    const world = new FakeAws();
    world.addGlobalCluster('g', 'east', ['east', 'west']);
    const target = 'arn:aws:rds:eu-west-1:111111111111:cluster:west';

    world.sfn(rds('failoverGlobalCluster'), {
      GlobalClusterIdentifier: 'g',
      TargetDbClusterIdentifier: target,
      AllowDataLoss: true,
    });
    expect(world.globalClusters.get('g')!.writer).toBe('west');
    expect(world.globalStatus('g')).toBe('failing-over');
    expect(() =>
      world.sfn(rds('switchoverGlobalCluster'), {
        GlobalClusterIdentifier: 'g',
        TargetDbClusterIdentifier: target,
      }),
    ).toThrow(expect.objectContaining({ name: 'Rds.InvalidGlobalClusterStateException' }));
    world.advance(120);
    expect(world.globalStatus('g')).toBe('available');
    expect(world.promotions).toEqual([{ how: 'failing-over', id: 'west', at: 1 }]);
  });

  it('a switchover needs the writer region; a failover with data loss does not', () => {
    const world = new FakeAws({ region: 'eu-central-1' });
    world.addCluster('east', { region: 'eu-west-1' });
    world.addCluster('west', { region: 'eu-central-1' });
    world.addGlobalCluster('g', 'east', ['east', 'west']);
    world.unreachable.add('eu-west-1');
    const params = { GlobalClusterIdentifier: 'g', TargetDbClusterIdentifier: world.clusterArn('west') };

    expect(() => world.sfn(rds('switchoverGlobalCluster'), params)).toThrow(
      expect.objectContaining({ name: 'Rds.InvalidGlobalClusterStateException' }),
    );
    world.sfn(rds('failoverGlobalCluster'), { ...params, AllowDataLoss: true });
    expect(world.globalClusters.get('g')!.writer).toBe('west');
  });

  it('describes global clusters through the SDK face, members by ARN, with the writer', async () => {
    const world = new FakeAws({ region: 'eu-central-1' });
    world.addCluster('east', { region: 'eu-west-1' });
    world.addCluster('west', { region: 'eu-central-1' });
    world.addGlobalCluster('g', 'east', ['east', 'west']);
    class DescribeGlobalClustersCommand {
      constructor(readonly input: Record<string, string>) {}
    }

    await expect(
      world.rdsClient().send(new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: 'g' })),
    ).resolves.toMatchObject({
      GlobalClusters: [
        {
          Status: 'available',
          GlobalClusterMembers: [
            { DBClusterArn: 'arn:aws:rds:eu-west-1:111111111111:cluster:east', IsWriter: true },
            { DBClusterArn: 'arn:aws:rds:eu-central-1:111111111111:cluster:west', IsWriter: false },
          ],
        },
      ],
    });
  });

  it('creates a cross-region read replica through the SDK face, in the client region, tagged', async () => {
    const world = new FakeAws({ region: 'eu-central-1', restoreSeconds: 600 });
    world.addInstance('src');
    const client = world.rdsClient({ region: 'eu-west-1' });
    class CreateDBInstanceReadReplicaCommand {
      constructor(readonly input: Record<string, unknown>) {}
    }
    const create = () =>
      client.send(
        new CreateDBInstanceReadReplicaCommand({
          DBInstanceIdentifier: 'rep',
          SourceDBInstanceIdentifier: 'arn:aws:rds:eu-central-1:111111111111:db:src',
          Tags: tags('run-1'),
        }),
      );

    await create();
    expect(world.instances.get('rep')).toMatchObject({
      region: 'eu-west-1',
      replicaOf: 'src',
      createdBy: 'run-1',
    });
    expect(world.instanceStatus('rep')).toBe('creating');
    await expect(create()).rejects.toMatchObject({ name: 'DBInstanceAlreadyExistsFault' });
  });

  it('SDK-face faults: a lost answer is applied and retried by the SDK; an unreachable region stays cut off', async () => {
    const world = new FakeAws();
    world.addInstance('db');
    class ModifyDBInstanceCommand {
      constructor(readonly input: Record<string, unknown>) {}
    }
    class DescribeDBInstancesCommand {
      constructor(readonly input: Record<string, unknown>) {}
    }
    world.sdkFaults = [
      { task: 'sdk:ModifyDBInstance', attempt: 0, kind: 'lost', applied: true },
      { task: 'sdk:DescribeDBInstances', attempt: 0, kind: 'unreachable', applied: false },
    ];

    await world
      .rdsClient({ maxAttempts: 2 })
      .send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'db', VpcSecurityGroupIds: ['sg-fence'] }));
    expect(world.instances.get('db')!.securityGroups).toEqual(['sg-fence']);
    expect(world.sdkCalls['sdk:ModifyDBInstance']).toBe(2);
    await expect(
      world
        .rdsClient({ maxAttempts: 6 })
        .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'db' })),
    ).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(world.unreachable.has(world.region)).toBe(true);
    // Counted per call, as the runner counts faults at Task states: the lost answer, and the
    // unreachable region at each of the SDK's six attempts.
    expect(world.sdkInjected).toBe(7);
  });

  it("the approval gate: the token is stored in the holder's lock item, then approved, aborted or timed out", () => {
    const approve = (decision: 'approve' | 'abort' | 'none') => {
      const world = new FakeAws();
      world.approval = { decision, afterSeconds: 3600 };
      world.tables.set('locks', new Map([['failover#orders', { executionId: { S: 'me' } }]]));
      const call = () =>
        world.sfn('arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken', {
          TableName: 'locks',
          Key: { lockId: { S: 'failover#orders' } },
          ExpressionAttributeValues: { ':token': { S: 'tok' }, ':me': { S: 'me' } },
        });
      return { world, call };
    };

    const granted = approve('approve');
    expect(granted.call()).toMatchObject({ approvedBy: 'on-call' });
    expect(granted.world.tables.get('locks')!.get('failover#orders')).toMatchObject({
      approvalToken: { S: 'tok' },
    });
    expect(approve('abort').call).toThrow(expect.objectContaining({ name: 'FailoverAborted' }));
    const nobody = approve('none');
    expect(nobody.call).toThrow(expect.objectContaining({ name: 'States.Timeout' }));
    expect(nobody.world.now).toBeGreaterThanOrEqual(3600);
  });

  it('Route 53 changes are PENDING, then INSYNC; the record points where the UPSERT said', () => {
    const world = new FakeAws({ dnsSyncSeconds: 60 });
    const change = world.sfn('arn:aws:states:::aws-sdk:route53:changeResourceRecordSets', {
      HostedZoneId: 'Z1',
      ChangeBatch: {
        Changes: [
          {
            Action: 'UPSERT',
            ResourceRecordSet: { Name: 'db.example.com', ResourceRecords: [{ Value: 'new' }] },
          },
        ],
      },
    }) as { ChangeInfo: { Id: string; Status: string } };

    expect(change.ChangeInfo.Status).toBe('PENDING');
    world.advance(60);
    expect(world.sfn('arn:aws:states:::aws-sdk:route53:getChange', { Id: change.ChangeInfo.Id })).toEqual({
      ChangeInfo: { Id: change.ChangeInfo.Id, Status: 'INSYNC' },
    });
    expect(world.records.get('db.example.com')).toBe('new');
  });

  it('the lock table: a second putItem is refused; only the holder deletes it', () => {
    const world = new FakeAws();
    const put = (execution: string) =>
      world.sfn('arn:aws:states:::dynamodb:putItem', {
        TableName: 'locks',
        Item: { lockId: { S: 'failover#orders' }, executionId: { S: execution } },
        ConditionExpression: 'attribute_not_exists(lockId)',
      });
    const release = (execution: string) =>
      world.sfn('arn:aws:states:::dynamodb:deleteItem', {
        TableName: 'locks',
        Key: { lockId: { S: 'failover#orders' } },
        ConditionExpression: 'executionId = :me',
        ExpressionAttributeValues: { ':me': { S: execution } },
      });

    put('a');
    expect(() => put('b')).toThrow(
      expect.objectContaining({ name: 'DynamoDB.ConditionalCheckFailedException' }),
    );
    expect(() => release('b')).toThrow(
      expect.objectContaining({ name: 'DynamoDB.ConditionalCheckFailedException' }),
    );
    release('a');
    expect(world.tables.get('locks')!.size).toBe(0);
  });

  it('records SNS publishes with the parsed message', () => {
    const world = new FakeAws();
    world.sfn('arn:aws:states:::sns:publish', { TopicArn: 't', Message: { type: 'restore.completed' } });

    expect(world.published).toEqual([{ topicArn: 't', message: { type: 'restore.completed' }, at: 1 }]);
  });

  it('answers the SDK v3 face with SDK v3 names', async () => {
    const world = new FakeAws();
    const client = world.rdsClient();
    class DescribeDBInstancesCommand {
      constructor(readonly input: Record<string, string>) {}
    }

    await expect(
      client.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'nope' })),
    ).rejects.toMatchObject({
      name: 'DBInstanceNotFoundFault',
    });
  });
});

describe('faults', () => {
  it('names each fault as Step Functions does for the integration', () => {
    expect(faultError('throttle', 'rds', 'T').name).toBe('Rds.RdsException');
    expect(faultError('timeout', 'rds', 'T').name).toBe('Rds.RdsException');
    expect(faultError('lambda-throttle', 'lambda', 'T').name).toBe('Lambda.TooManyRequestsException');
    expect(faultError('5xx', 'lambda', 'T').name).toBe('Lambda.ServiceException');
    expect(faultError('timeout', 'lambda', 'T').name).toBe('States.Timeout');
    expect(faultError('throttle', 'route53', 'T').name).toBe('Route53.ThrottlingException');
  });

  it('persistent faults (unreachable, denied) hold from their attempt on; others hit one attempt', () => {
    const schedule = [
      { task: 'A', attempt: 1, kind: 'denied' as const, applied: false },
      { task: 'B', attempt: 0, kind: 'lost' as const, applied: true },
    ];

    expect([0, 1, 2, 5].map((n) => faultFor(schedule, 'A', n)?.kind)).toEqual([
      undefined,
      'denied',
      'denied',
      'denied',
    ]);
    expect([0, 1].map((n) => faultFor(schedule, 'B', n)?.kind)).toEqual(['lost', undefined]);
  });

  it('tells integrations apart by the Task resource', () => {
    expect(integrationOf('arn:aws:lambda:eu-central-1:111111111111:function:f')).toBe('lambda');
    expect(integrationOf('arn:aws:states:::aws-sdk:rds:describeDBInstances')).toBe('rds');
    expect(integrationOf('arn:aws:states:::sns:publish')).toBe('sns');
    expect(integrationOf('arn:aws:states:::dynamodb:putItem')).toBe('dynamodb');
  });

  it('a retry waits what its retrier says: interval × backoff^n, capped', () => {
    const retriers = [
      { ErrorEquals: ['Rds.RdsException'], IntervalSeconds: 5, BackoffRate: 2, MaxDelaySeconds: 120 },
      { ErrorEquals: ['States.ALL'], IntervalSeconds: 1 },
    ];

    expect([0, 1, 2, 5].map((n) => retryDelay(retriers, 'Rds.RdsException', n))).toEqual([5, 10, 20, 120]);
    expect(retryDelay(retriers, 'Other', 1)).toBe(2);
    expect(retryDelay(undefined, 'Other', 0)).toBe(0);
  });
});
