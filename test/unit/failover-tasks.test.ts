import { type CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeDBInstancesCommand,
  ModifyDBClusterCommand,
  ModifyDBInstanceCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { FailoverTarget, type FailoverTargetInput } from '../../functions/core/failover/failover.ts';
import type { Repository } from '../../functions/core/repository/types.ts';
import { checkWritable, confirmPromotion } from '../../functions/wf-check-writable/index.ts';
import { runPreflightTask } from '../../functions/wf-failover-preflight/index.ts';
import { fence } from '../../functions/wf-fence/index.ts';
import { recordFailover } from '../../functions/wf-record-failover/index.ts';

const targetInput = {
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  maxLagSeconds: 30,
  fenceSecurityGroupId: 'sg-0fe0fe0fe0fe0fe00',
} satisfies FailoverTargetInput;
const target = FailoverTarget.parse(targetInput);

function rdsError(name: string, message = name): Error {
  const err = new Error(message);
  err.name = name;
  return err;
}

describe('wf-fence', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());

  it('moves the old primary into the fence security group', async () => {
    rds.on(ModifyDBInstanceCommand).resolves({});

    const result = await fence({ database: 'orders', mode: 'unplanned', target }, new RDSClient({}));

    expect(result.status).toBe('fenced');
    expect(rds.commandCalls(ModifyDBInstanceCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db',
      VpcSecurityGroupIds: ['sg-0fe0fe0fe0fe0fe00'],
      ApplyImmediately: true,
    });
  });

  /** An SDK error as the v3 clients throw it: name, HTTP status, fault side. */
  function sdkError(name: string, status: number, message = name): Error {
    return Object.assign(rdsError(name, message), {
      $metadata: { httpStatusCode: status },
      $fault: status >= 500 ? 'server' : 'client',
    });
  }
  const econnreset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

  it.each([
    ['a timeout', rdsError('TimeoutError', 'connect ETIMEDOUT')],
    ['a 5xx', sdkError('InternalFailure', 500, 'An internal error occurred')],
    ['a 503', sdkError('ServiceUnavailable', 503)],
    ['throttling', sdkError('Throttling', 400, 'Rate exceeded')],
    ['ECONNRESET', econnreset],
    ['InvalidDBInstanceState', sdkError('InvalidDBInstanceStateFault', 400, 'instance is not available')],
  ])('a degraded region (%s) is reported as fence unknown, with the check, not thrown', async (_l, err) => {
    rds.on(ModifyDBInstanceCommand).rejects(err);

    const result = await fence({ database: 'orders', mode: 'unplanned', target }, new RDSClient({}));

    expect(result).toMatchObject({
      status: 'unknown',
      detail: expect.stringContaining('eu-west-1 did not give a usable answer'),
      check:
        "aws rds describe-db-instances --region eu-west-1 --db-instance-identifier orders-db --query 'DBInstances[0].VpcSecurityGroups'",
    });
  });

  it('a definite refusal is reported as failed (the workflow decides: planned refuses, unplanned goes on)', async () => {
    rds.on(ModifyDBInstanceCommand).rejects(sdkError('AccessDenied', 403, 'not authorized'));

    const result = await fence({ database: 'orders', mode: 'planned', target }, new RDSClient({}));

    expect(result).toMatchObject({ status: 'failed', detail: expect.stringContaining('not authorized') });
  });

  it.each(['DBInstanceNotFoundFault', 'DBClusterNotFoundFault', 'DBClusterNotFound'])(
    'a primary that is gone (%s) is reported as gone',
    async (name) => {
      const cluster = FailoverTarget.parse({ ...targetInput, kind: 'cluster', globalClusterIdentifier: 'g' });
      rds.on(ModifyDBInstanceCommand).rejects(sdkError(name, 404));
      rds.on(ModifyDBClusterCommand).rejects(sdkError(name, 404));

      for (const t of [target, cluster]) {
        const result = await fence({ database: 'orders', mode: 'unplanned', target: t }, new RDSClient({}));
        expect(result.status).toBe('gone');
      }
    },
  );

  it('does nothing for an Aurora switchover, or without a fence group', async () => {
    const cluster = FailoverTarget.parse({ ...targetInput, kind: 'cluster', globalClusterIdentifier: 'g' });

    expect(
      (await fence({ database: 'orders', mode: 'planned', target: cluster }, new RDSClient({}))).status,
    ).toBe('not-needed');
    const unfenced = FailoverTarget.parse({ ...targetInput, fenceSecurityGroupId: undefined });
    expect(
      (await fence({ database: 'orders', mode: 'unplanned', target: unfenced }, new RDSClient({}))).status,
    ).toBe('skipped');
    expect(rds.commandCalls(ModifyDBInstanceCommand)).toHaveLength(0);
    expect(rds.commandCalls(ModifyDBClusterCommand)).toHaveLength(0);
  });
});

describe('wf-check-writable', () => {
  const rds = mockClient(RDSClient);
  beforeEach(() => rds.reset());

  it.each([
    [{ DBInstanceStatus: 'modifying', ReadReplicaSourceDBInstanceIdentifier: 'arn:src' }, false, 'promoting'],
    [{ DBInstanceStatus: 'available', ReadReplicaSourceDBInstanceIdentifier: 'arn:src' }, false, 'replica'],
    [{ DBInstanceStatus: 'rebooting' }, false, 'promoting'],
    [{ DBInstanceStatus: 'available' }, true, 'writer'],
  ])('%j → writable %s, role %s', async (instance, writable, role) => {
    rds
      .on(DescribeDBInstancesCommand)
      .resolves({ DBInstances: [{ ...instance, Endpoint: { Address: 'dr.example' } }] });

    const result = await checkWritable({ database: 'orders', target, attempts: 2 }, new RDSClient({}));

    expect(result).toEqual({
      writable,
      status: instance.DBInstanceStatus,
      endpoint: 'dr.example',
      role,
      attempts: 3,
      waitSeconds: 120,
    });
  });

  it('waits longer after each check: 15 s doubling to at most 2 minutes', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'modifying' }] });
    const waits: number[] = [];
    let attempts = 0;
    for (let i = 0; i < 6; i++) {
      const r = await checkWritable({ database: 'orders', target, attempts }, new RDSClient({}));
      attempts = r.attempts;
      waits.push(r.waitSeconds);
    }
    expect(waits).toEqual([30, 60, 120, 120, 120, 120]);
  });

  describe('ConfirmPromotion (after a failed promote request)', () => {
    const lost = {
      Error: 'Rds.InvalidDbInstanceStateException',
      Cause: 'DB Instance is not a read replica.',
    };

    it('a replica that names no source any more was promoted: a lost answer, not a failure', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceStatus: 'modifying' }] });

      const r = await confirmPromotion({ database: 'orders', target, promoteError: lost }, new RDSClient({}));

      expect(r.status).toBe('promoted');
    });

    it('"not a read replica" while RDS still lists the source is unknown, never "not promoted"', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [{ DBInstanceStatus: 'available', ReadReplicaSourceDBInstanceIdentifier: 'arn:src' }],
      });

      const r = await confirmPromotion({ database: 'orders', target, promoteError: lost }, new RDSClient({}));

      expect(r).toEqual({
        status: 'unknown',
        detail: expect.stringContaining('may follow an applied attempt'),
        check:
          "aws rds describe-db-instances --region eu-central-1 --db-instance-identifier orders-db-dr --query 'DBInstances[0].[DBInstanceStatus,ReadReplicaSourceDBInstanceIdentifier]'",
      });
    });

    it('a definite refusal with the replica untouched is "not promoted"', async () => {
      rds.on(DescribeDBInstancesCommand).resolves({
        DBInstances: [{ DBInstanceStatus: 'available', ReadReplicaSourceDBInstanceIdentifier: 'arn:src' }],
      });

      const r = await confirmPromotion(
        { database: 'orders', target, promoteError: { Error: 'Rds.AccessDeniedException' } },
        new RDSClient({}),
      );

      expect(r.status).toBe('not-promoted');
    });

    it('a replica that cannot be described leaves the promotion unknown', async () => {
      rds.on(DescribeDBInstancesCommand).rejects(rdsError('TimeoutError'));

      const r = await confirmPromotion(
        { database: 'orders', target, promoteError: { Error: 'Rds.AccessDeniedException' } },
        new RDSClient({}),
      );

      expect(r.status).toBe('unknown');
      expect(r.detail).toContain('describing it failed');
    });
  });
});

describe('wf-failover-preflight', () => {
  type Answer = (command: object) => unknown;
  /** A client per region, answering per command class (the RDS prototype is mocked above). */
  function fakeClient<T>(
    answers: Map<abstract new (...args: never[]) => object, Answer>,
    calls: object[],
  ): T {
    return {
      send: async (command: object) => {
        calls.push(command);
        const answer = answers.get(command.constructor as abstract new (...args: never[]) => object);
        if (!answer) throw new Error(`unexpected ${command.constructor.name}`);
        return answer(command);
      },
    } as T;
  }
  const now = new Date('2026-11-23T10:00:00Z');
  const env = { LIFEBOAT_FAILOVER_TARGETS: JSON.stringify([targetInput]) };
  const event = { input: { database: 'orders', mode: 'unplanned', reason: 'outage' }, executionId: 'e' };
  const replicaInstance = {
    DBInstanceStatus: 'available',
    EngineVersion: '16.4',
    ReadReplicaSourceDBInstanceIdentifier: 'arn:aws:rds:eu-west-1:111111111111:db:orders-db',
    DBInstanceArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
    Endpoint: { Address: 'orders-db-dr.example' },
  };

  function setup(answers: { replica: Answer; primary: Answer; lag: Answer }) {
    const cwCalls: object[] = [];
    const deps = {
      rds: (region: string) =>
        fakeClient<RDSClient>(
          new Map([
            [DescribeDBInstancesCommand, region === 'eu-central-1' ? answers.replica : answers.primary],
          ]),
          [],
        ),
      cloudwatch: () =>
        fakeClient<CloudWatchClient>(new Map([[GetMetricStatisticsCommand, answers.lag]]), cwCalls),
      now: () => now,
    };
    return { deps, cwCalls: cwCalls as GetMetricStatisticsCommand[] };
  }

  it('uses the newest lag datapoint and goes ahead when the old primary does not answer', async () => {
    const { deps, cwCalls } = setup({
      replica: () => ({ DBInstances: [replicaInstance] }),
      primary: () => {
        throw rdsError('TimeoutError');
      },
      lag: () => ({
        Datapoints: [
          { Timestamp: new Date('2026-11-23T09:58:00Z'), Maximum: 90 },
          { Timestamp: new Date('2026-11-23T09:59:00Z'), Maximum: 4 },
        ],
      }),
    });

    const out = await runPreflightTask(event, deps, env);

    expect(out.passed).toBe(true);
    expect(out.rpoSeconds).toBe(4);
    expect(out.facts.source).toMatchObject({ reachable: false, engineVersion: null, status: null });
    expect(out.facts.source.detail).toContain('TimeoutError');
    expect(out.replicaArn).toBe('arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr');
    expect(cwCalls[0]!.input).toMatchObject({
      Namespace: 'AWS/RDS',
      MetricName: 'ReplicaLag',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'orders-db-dr' }],
    });
  });

  it('refuses when the primary runs another version, and counts an unknown lag as too high', async () => {
    const { deps } = setup({
      replica: () => ({ DBInstances: [replicaInstance] }),
      primary: () => ({ DBInstances: [{ EngineVersion: '16.6', DBInstanceStatus: 'available' }] }),
      lag: () => ({ Datapoints: [] }),
    });

    const out = await runPreflightTask(event, deps, env);

    expect(out.passed).toBe(false);
    expect(out.refusal?.Error).toBe('EngineVersionMismatch');
    expect(out.checks.find((c) => c.name === 'replica-lag')?.passed).toBe(false);
  });

  it('reports a missing replica as TargetNotFound', async () => {
    const { deps } = setup({
      replica: () => {
        throw rdsError('DBInstanceNotFoundFault');
      },
      primary: () => ({ DBInstances: [] }),
      lag: () => ({ Datapoints: [] }),
    });

    expect((await runPreflightTask(event, deps, env)).refusal?.Error).toBe('TargetNotFound');
  });

  it.each([
    ['5xx', Object.assign(rdsError('InternalFailure'), { $metadata: { httpStatusCode: 500 } })],
    ['throttling', rdsError('Throttling', 'Rate exceeded')],
    ['ECONNRESET', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['InvalidDBInstanceState', rdsError('InvalidDBInstanceStateFault')],
  ])('a degraded primary region (%s) does not block an unplanned failover', async (_l, err) => {
    const { deps } = setup({
      replica: () => ({ DBInstances: [{ ...replicaInstance, EngineVersion: '16.6' }] }),
      primary: () => {
        throw err;
      },
      lag: () => ({ Datapoints: [{ Timestamp: new Date('2026-11-23T09:59:00Z'), Maximum: 3 }] }),
    });

    const out = await runPreflightTask(event, deps, env);

    expect(out.passed).toBe(true);
    expect(out.facts.source.reachable).toBe(false);
    // The configured 16.4 and the replica's 16.6 differ in the minor version only.
    expect(out.checks.find((c) => c.name === 'engine-version')?.detail).toContain('minor versions differ');
  });

  it('gives the exact commands a report needs (promotion check, fence check, clearing the lock)', async () => {
    const { deps } = setup({
      replica: () => ({ DBInstances: [replicaInstance] }),
      primary: () => ({ DBInstances: [{ EngineVersion: '16.4', DBInstanceStatus: 'available' }] }),
      lag: () => ({ Datapoints: [{ Timestamp: new Date('2026-11-23T09:59:00Z'), Maximum: 1 }] }),
    });

    const out = await runPreflightTask(
      {
        ...event,
        executionId: 'arn:aws:states:eu-central-1:1:execution:failover:x',
        lockTable: 'lifeboat-prod-locks',
      },
      deps,
      env,
    );

    expect(out.commands.clearLock).toBe(
      `aws dynamodb delete-item --region eu-central-1 --table-name lifeboat-prod-locks --key '{"lockId":{"S":"failover#orders"}}' --condition-expression 'executionId = :e' --expression-attribute-values '{":e":{"S":"arn:aws:states:eu-central-1:1:execution:failover:x"}}'`,
    );
    expect(out.commands.promotionCheck).toContain('--db-instance-identifier orders-db-dr');
    expect(out.commands.fenceCheck).toContain('--db-instance-identifier orders-db');
  });
});

describe('wf-record-failover', () => {
  it('writes the record once and returns RTO and RPO', async () => {
    const written = new Map<string, string>();
    const repository = {
      putOnce: async (key: string, body: string) => {
        written.set(key, body);
      },
    } as unknown as Repository;

    const out = await recordFailover(
      {
        executionId: 'arn:e',
        executionName: 'failover-1',
        startedAt: '2026-11-23T10:00:00.000Z',
        request: {
          database: 'orders',
          mode: 'planned',
          reason: 'drill',
          force: false,
          dryRun: false,
          trigger: { source: 'manual' },
        },
        target,
        rpoSeconds: 2,
        verifiedWriteAt: '2026-11-23T10:01:30.000Z',
        fence: 'fenced',
      },
      repository,
    );

    expect(out).toEqual({
      recorded: true,
      key: 'catalog/orders/_failovers/20261123T100130Z-failover-1.json',
      rtoSeconds: 90,
      rpoSeconds: 2,
    });
    expect(JSON.parse(written.get(out.key)!)).toMatchObject({
      kind: 'failover',
      rtoSeconds: 90,
      to: { identifier: 'orders-db-dr' },
    });
  });
});
