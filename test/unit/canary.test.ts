import 'aws-sdk-client-mock-vitest/extend';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import type pg from 'pg';
import { beforeEach, describe, expect, it, type Mock, vi } from 'vitest';
import {
  CANARY_WRITER,
  CanaryFailed,
  classifyHeartbeatFailure,
  parseCanaryTargets,
} from '#core/failover/canary.ts';
import { heartbeatFromItem, heartbeatToItem } from '#core/failover/heartbeat.ts';
import type { Heartbeat } from '#core/failover/heartbeat.ts';
import type { ConnectionInfo } from '#core/shared/pg.ts';
import { CANARY_ENV } from '../../functions/canary/env.ts';
import { runCanary } from '../../functions/canary/index.ts';
import { spyLogger } from './handlers/support.ts';

const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:lifeboat/orders-AbCdEf';
const PASSWORD = 's3cr3t-never-logged';
const env = {
  [CANARY_ENV.environment]: 'prod',
  [CANARY_ENV.lockTable]: 'lifeboat-prod-locks',
  [CANARY_ENV.targets]: JSON.stringify([
    { database: 'orders', endpoint: 'orders.db.example.internal', secretArn: SECRET },
  ]),
};
const now = new Date('2026-12-01T10:05:00Z');

const beat = (seq: number, writtenAt: string): Heartbeat => ({
  writer: CANARY_WRITER,
  seq,
  writtenAt,
  walLsn: '0/3000148',
  xactCommit: 1000 + seq,
  rowsChanged: 5000 + seq,
});

/**
 * A node-postgres stand-in that answers the heartbeat's statements (core/failover/heartbeat.ts) like a
 * writable primary, or fails where a test says. It records the connection it was opened with.
 */
function fakeServer(behaviour: { connect?: Error; write?: Error; beat?: Heartbeat }) {
  const opened: unknown[] = [];
  const statements: string[] = [];
  const row = (b: Heartbeat) => ({
    writer: b.writer,
    seq: String(b.seq),
    written_at: new Date(b.writtenAt),
    wal_lsn: b.walLsn,
    xact_commit: String(b.xactCommit),
    rows_changed: String(b.rowsChanged),
  });
  const open = (info: unknown) => {
    opened.push(info);
    return {
      connect: async () => {
        if (behaviour.connect) throw behaviour.connect;
      },
      end: vi.fn(async () => undefined),
      query: async (text: string) => {
        statements.push(text.trim().split(/\s+/).slice(0, 2).join(' '));
        if (text.includes('to_regclass')) return { rows: [{ t: 'lifeboat.heartbeat' }] };
        if (text.startsWith('INSERT')) {
          if (behaviour.write) throw behaviour.write;
          return { rows: [row(behaviour.beat!)] };
        }
        if (text.startsWith('SELECT')) return { rows: [row(behaviour.beat!)] };
        return { rows: [] };
      },
    } as unknown as pg.Client;
  };
  return { open, opened, statements };
}

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

describe('the primary canary', () => {
  const ddb = mockClient(DynamoDBClient);
  const sm = mockClient(SecretsManagerClient);
  let metrics: { addMetric: Mock<Metrics['addMetric']>; addDimensions: Mock<Metrics['addDimensions']> };
  let logger: ReturnType<typeof spyLogger>;

  beforeEach(() => {
    ddb.reset();
    sm.reset();
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        username: 'canary',
        password: PASSWORD,
        host: 'orders-prod.abc.eu-west-1.rds.amazonaws.com',
        port: 5432,
        dbname: 'orders',
      }),
    });
    metrics = { addMetric: vi.fn<Metrics['addMetric']>(), addDimensions: vi.fn<Metrics['addDimensions']>() };
    logger = spyLogger();
  });

  const deps = (open: (info: ConnectionInfo) => pg.Client) => ({
    secrets: new SecretsManagerClient({}),
    dynamodb: new DynamoDBClient({}),
    metrics,
    logger,
    env,
    client: open,
    now: () => now,
  });

  it('writes the heartbeat through the endpoint record, keeps it in the lock table, publishes writable 1 and its age', async () => {
    // Prepare
    ddb
      .on(GetItemCommand)
      .resolves({ Item: heartbeatToItem('orders', beat(6, '2026-12-01T10:04:00Z'), now) });
    ddb.on(PutItemCommand).resolves({});
    const server = fakeServer({ beat: beat(7, '2026-12-01T10:04:59.500Z') });

    // Act
    const result = await runCanary({ database: 'orders' }, deps(server.open));

    // Assess
    expect(server.opened[0]).toMatchObject({
      host: 'orders.db.example.internal',
      user: 'canary',
      database: 'orders',
      sslmode: 'require',
    });
    expect(server.statements).toEqual(
      expect.arrayContaining(['BEGIN', 'INSERT INTO', 'COMMIT', 'SELECT writer,']),
    );
    expect(result).toMatchObject({ writable: true, failure: null, heartbeatAgeSeconds: 0.5 });
    expect(ddb).toHaveReceivedCommandWith(GetItemCommand, {
      TableName: 'lifeboat-prod-locks',
      Key: { lockId: { S: 'heartbeat#orders' } },
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedCommandWith(PutItemCommand, {
      TableName: 'lifeboat-prod-locks',
      Item: heartbeatToItem('orders', beat(7, '2026-12-01T10:04:59.500Z'), now),
      ConditionExpression: 'attribute_not_exists(writtenAt) OR writtenAt < :at',
    });
    expect(metrics.addDimensions).toHaveBeenCalledWith({ Environment: 'prod', Database: 'orders' });
    expect(metrics.addMetric).toHaveBeenCalledWith('PrimaryWritable', 'Count', 1);
    expect(metrics.addMetric).toHaveBeenCalledWith('HeartbeatAgeSeconds', 'Seconds', 0.5);
    expect(JSON.stringify([logger.info.mock.calls, logger.warn.mock.calls, result])).not.toContain(PASSWORD);
  });

  it.each([
    [
      'connection refused (the primary is gone)',
      { connect: pgError('ECONNREFUSED', 'connect ECONNREFUSED') },
      'unreachable',
    ],
    ['the name does not resolve', { connect: pgError('ENOTFOUND', 'getaddrinfo ENOTFOUND') }, 'unreachable'],
    [
      'connect timeout (a black hole)',
      { connect: new Error('Connection terminated due to connection timeout') },
      'hung',
    ],
    [
      'read-only (a standby, or writes turned off)',
      { write: pgError('25006', 'cannot execute INSERT in a read-only transaction') },
      'read-only',
    ],
    [
      'shutting down',
      { write: pgError('57P01', 'terminating connection due to administrator command') },
      'unavailable',
    ],
    [
      'disk full',
      { write: pgError('53100', 'could not extend file: No space left on device') },
      'unavailable',
    ],
    [
      'statement timeout',
      { write: pgError('57014', 'canceling statement due to statement timeout') },
      'hung',
    ],
  ] as const)(
    '%s: writable 0, the age of the last acknowledged heartbeat, nothing kept',
    async (_what, behaviour, reason) => {
      ddb
        .on(GetItemCommand)
        .resolves({ Item: heartbeatToItem('orders', beat(6, '2026-12-01T10:02:00Z'), now) });
      const server = fakeServer(behaviour);

      const result = await runCanary({ database: 'orders' }, deps(server.open));

      expect(result).toMatchObject({ writable: false, heartbeat: null, heartbeatAgeSeconds: 180 });
      expect(result.failure?.reason).toBe(reason);
      expect(result.lastAcknowledged?.seq).toBe(6);
      expect(ddb).not.toHaveReceivedCommand(PutItemCommand);
      expect(metrics.addMetric).toHaveBeenCalledWith('PrimaryWritable', 'Count', 0);
      expect(metrics.addMetric).toHaveBeenCalledWith('HeartbeatAgeSeconds', 'Seconds', 180);
      expect(logger.warn).toHaveBeenCalledWith(
        'primary not writable',
        expect.objectContaining({ writable: false }),
      );
    },
  );

  it('with no heartbeat yet acknowledged, a failure publishes writable 0 and no age', async () => {
    ddb.on(GetItemCommand).resolves({});
    const server = fakeServer({ connect: pgError('ECONNREFUSED', 'refused') });

    const result = await runCanary({ database: 'orders' }, deps(server.open));

    expect(result).toMatchObject({ writable: false, heartbeatAgeSeconds: null, lastAcknowledged: null });
    expect(metrics.addMetric.mock.calls).toEqual([['PrimaryWritable', 'Count', 0]]);
  });

  it.each([
    [
      'its password is refused',
      { connect: pgError('28P01', 'password authentication failed for user "canary"') },
    ],
    [
      'it may not create the heartbeat table',
      { write: pgError('42501', 'permission denied for schema lifeboat') },
    ],
  ] as const)(
    'when %s, it fails as the canary (CanaryFailed) and publishes nothing about the primary',
    async (_w, behaviour) => {
      ddb.on(GetItemCommand).resolves({});
      const server = fakeServer(behaviour);

      await expect(runCanary({ database: 'orders' }, deps(server.open))).rejects.toThrow(CanaryFailed);
      expect(metrics.addMetric).not.toHaveBeenCalled();
    },
  );

  it('an unreadable lock table or secret is the canary failing, never the primary', async () => {
    ddb.on(GetItemCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(runCanary({ database: 'orders' }, deps(fakeServer({}).open))).rejects.toThrow(
      /reading the last acknowledged heartbeat of orders failed/,
    );
    ddb.reset();
    ddb.on(GetItemCommand).resolves({});
    sm.reset();
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('denied'), { name: 'AccessDeniedException' }),
    );
    const otherSecret = {
      ...env,
      [CANARY_ENV.targets]: JSON.stringify([{ database: 'orders', secretArn: `${SECRET}x` }]),
    };
    await expect(
      runCanary({ database: 'orders' }, { ...deps(fakeServer({}).open), env: otherSecret }),
    ).rejects.toThrow(/the canary of orders has no credentials: not allowed to read secret/);
    await expect(runCanary({ database: 'other' }, deps(fakeServer({}).open))).rejects.toThrow(
      /no target "other"/,
    );
    expect(metrics.addMetric).not.toHaveBeenCalled();
  });

  it('a heartbeat acknowledged but not kept still counts as writable, and the run fails loudly', async () => {
    ddb.on(GetItemCommand).resolves({});
    ddb.on(PutItemCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    const server = fakeServer({ beat: beat(1, '2026-12-01T10:05:00Z') });

    await expect(runCanary({ database: 'orders' }, deps(server.open))).rejects.toThrow(
      /heartbeat 1 of orders was acknowledged but could not be kept/,
    );
    expect(metrics.addMetric).toHaveBeenCalledWith('PrimaryWritable', 'Count', 1);
  });

  it('a newer heartbeat already kept (a late run) is not an error', async () => {
    ddb.on(GetItemCommand).resolves({});
    ddb.on(PutItemCommand).rejects(
      Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
      }),
    );
    const result = await runCanary(
      { database: 'orders' },
      deps(fakeServer({ beat: beat(2, '2026-12-01T10:05:00Z') }).open),
    );
    expect(result.writable).toBe(true);
  });

  it('refuses a bad event or configuration, naming the field', async () => {
    await expect(runCanary({}, deps(fakeServer({}).open))).rejects.toThrow(/canary event: .*database/);
    await expect(
      runCanary(
        { database: 'orders' },
        { ...deps(fakeServer({}).open), env: { ...env, [CANARY_ENV.targets]: '[{}]' } },
      ),
    ).rejects.toThrow(/LIFEBOAT_CANARY_TARGETS: field 0\.database/);
    await expect(
      runCanary(
        { database: 'orders' },
        { ...deps(fakeServer({}).open), env: { ...env, [CANARY_ENV.lockTable]: '' } },
      ),
    ).rejects.toThrow(/LIFEBOAT_LOCK_TABLE/);
    expect(() => parseCanaryTargets('nope')).toThrow(/is not JSON/);
  });
});

describe('heartbeat items and failure classes', () => {
  it('a kept heartbeat reads back as the same heartbeat; anything else reads as none', () => {
    const b = beat(42, '2026-12-01T10:00:00.123Z');
    const item = heartbeatToItem('orders', b, now);
    expect(item.lockId).toEqual({ S: 'heartbeat#orders' });
    expect(heartbeatFromItem(item)).toEqual(b);
    expect(heartbeatFromItem(undefined)).toBeNull();
    // A failover lock item under the same table is not a heartbeat.
    expect(heartbeatFromItem({ lockId: { S: 'failover#orders' }, executionId: { S: 'x' } })).toBeNull();
    expect(item.heartbeat).toEqual({ S: JSON.stringify(b) });
    expect(heartbeatFromItem({ ...item, heartbeat: { S: '{"seq":"x"}' } })).toBeNull();
    expect(heartbeatFromItem({ ...item, heartbeat: { S: 'not json' } })).toBeNull();
  });

  it('classifies lifeboat’s own connection errors by their cause', () => {
    const wrapped = Object.assign(new Error('cannot connect'), { cause: pgError('ECONNREFUSED', 'refused') });
    expect(classifyHeartbeatFailure(wrapped)).toBe('unreachable');
    expect(classifyHeartbeatFailure(pgError('08006', 'connection failure'))).toBe('unreachable');
    expect(classifyHeartbeatFailure(pgError('3D000', 'database "x" does not exist'))).toBeNull();
    expect(classifyHeartbeatFailure(new TypeError('x is not a function'))).toBeNull();
  });
});
