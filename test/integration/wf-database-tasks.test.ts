import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Catalog } from '#core/catalog/catalog.ts';
import { runBackup } from '#core/dumps/backup.ts';
import { openRepository } from '#core/repository/index.ts';
import { createOwnedDatabase, pgServer } from '#core/restore/restore-target.ts';
import { type ConnectionInfo, parseDatabaseUrl } from '#core/shared/pg.ts';
import {
  handler as dropHandler,
  dropRestoredDatabase,
} from '../../functions/wf-drop-restored-database/index.ts';
import { handler as verifyRestoreHandler, verifyRestore } from '../../functions/wf-verify-restore/index.ts';
import { handler as verifyWriteHandler, runVerifyWrite } from '../../functions/wf-verify-write/index.ts';
import {
  ADMIN_URL,
  createDatabase,
  databaseUrl,
  dropDatabase,
  query,
  withAdmin,
} from '../support/postgres.ts';
import { awsError, captureStdout, lambdaContext } from '../unit/handlers/support.ts';

/**
 * The workflow tasks that talk to PostgreSQL (wf-drop-restored-database, wf-verify-restore,
 * wf-verify-write), their logic on the machine's real server with RDS and Secrets Manager mocked,
 * and their deployed handlers (middy, schema, cached clients) for what is refused or fails before
 * a database is reached. (The deployed handlers connect with sslmode=require, which the local
 * server does not offer: the logic takes its connection from the caller.)
 */

const admin = parseDatabaseUrl(ADMIN_URL);
const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:lifeboat/orders-AbCdEf';
const rds = mockClient(RDSClient);
const secrets = mockClient(SecretsManagerClient);
const logger = { info: vi.fn() };

/** Connection details as the secret would give them, pointed at `host` (the local server). */
const at = (host: string, database = admin.database): ConnectionInfo => ({ ...admin, host, database });

beforeEach(() => {
  rds.reset();
  secrets.reset();
  vi.stubEnv('AWS_REGION', 'eu-central-1');
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

async function exists(name: string): Promise<boolean> {
  return withAdmin(
    async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1,
  );
}

describe('wf-drop-restored-database', () => {
  const created: string[] = [];
  afterAll(async () => {
    for (const name of created) await dropDatabase(name);
  });
  const target = {
    kind: 'instance',
    identifier: 'orders-db',
    instanceIdentifier: 'orders-db',
    secretArn: SECRET,
  };
  const deps = {
    rds: new RDSClient({ region: 'eu-central-1' }),
    connect: async (_secret: string, host: string, database: string) => at(host, database),
  };
  const name = () => {
    const n = `lb_drop_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    created.push(n);
    return n;
  };

  beforeEach(() => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ Endpoint: { Address: '127.0.0.1' } }] });
  });

  it('drops the database this execution created, at the instance endpoint RDS names', async () => {
    const database = name();
    await createOwnedDatabase(pgServer(admin), database, 'restore-1', 'orders-db');

    const result = await dropRestoredDatabase(
      { database, target, executionName: 'restore-1' } as never,
      deps,
    );

    expect(result).toMatchObject({ database, dropped: true });
    expect(await exists(database)).toBe(false);
    expect(rds.commandCalls(DescribeDBInstancesCommand)[0]!.args[0].input).toEqual({
      DBInstanceIdentifier: 'orders-db',
    });
  });

  it('refuses one another execution created (NotCreatedByThisExecution) and leaves it, rows and all', async () => {
    const database = name();
    await createOwnedDatabase(pgServer(admin), database, 'restore-other', 'orders-db');
    await query(database, 'CREATE TABLE kept (id int); INSERT INTO kept VALUES (1), (2)');

    await expect(
      dropRestoredDatabase({ database, target, executionName: 'restore-1' } as never, deps),
    ).rejects.toMatchObject({ name: 'NotCreatedByThisExecution' });
    expect(await query(database, 'SELECT count(*)::int AS n FROM kept')).toEqual([{ n: 2 }]);
  });

  it('a database that is not there is nothing to drop', async () => {
    await expect(
      dropRestoredDatabase({ database: name(), target, executionName: 'restore-1' } as never, deps),
    ).resolves.toMatchObject({ dropped: false });
  });

  it('a throttled describe fails with its name and touches nothing; a gone instance is DatabaseNotFound', async () => {
    const database = name();
    await createOwnedDatabase(pgServer(admin), database, 'restore-1', 'orders-db');
    rds.on(DescribeDBInstancesCommand).rejects(awsError('Throttling', 'Rate exceeded'));

    await expect(
      dropRestoredDatabase({ database, target, executionName: 'restore-1' } as never, deps),
    ).rejects.toMatchObject({ name: 'Throttling' });
    expect(await exists(database)).toBe(true);

    rds.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault', 'gone'));
    await expect(
      dropRestoredDatabase({ database, target, executionName: 'restore-1' } as never, deps),
    ).rejects.toMatchObject({ name: 'DatabaseNotFound' });
  });

  it('deployed: a bad event names the field; a throttled secret read is SecretUnavailable', async () => {
    captureStdout();
    const context = lambdaContext('wf-drop-restored-database');
    await expect(
      dropHandler({ database: 'x', target: { kind: 'instance' }, executionName: 'restore-1' }, context),
    ).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('target.identifier'),
    });
    expect(rds.calls()).toHaveLength(0);

    secrets.on(GetSecretValueCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    await expect(
      dropHandler({ database: 'x', target, executionName: 'restore-1' }, context),
    ).rejects.toMatchObject({
      name: 'SecretUnavailable',
      message: expect.stringContaining('ThrottlingException'),
    });
    expect(secrets.commandCalls(GetSecretValueCommand)[0]!.args[0].input).toEqual({ SecretId: SECRET });
  });
});

describe('wf-verify-restore', () => {
  let source: string;
  let dir: string;
  let catalog: Catalog;
  let backupId: string;

  beforeAll(async () => {
    source = await createDatabase('lb_wfverify');
    await query(
      source,
      "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders SELECT g, 'i' || g FROM generate_series(1, 50) g",
    );
    dir = await mkdtemp(path.join(tmpdir(), 'lb-wf-verify-'));
    const repository = openRepository(pathToFileURL(dir).href);
    backupId = (await runBackup({ connection: parseDatabaseUrl(databaseUrl(source)), repository })).id;
    catalog = new Catalog(repository);
  });
  afterAll(async () => {
    await dropDatabase(source);
    await rm(dir, { recursive: true, force: true });
  });

  const event = (extra: object = {}) => ({
    database: source,
    restorePoint: { kind: 'dump' as const, backupId },
    endpoint: '127.0.0.1',
    secretArn: SECRET,
    ...extra,
  });
  const deps = () => ({
    catalog,
    connect: async (database: string) => at('127.0.0.1', database),
    logger,
  });

  it('the restored data matches the dump it came from: passed, row counts compared exactly', async () => {
    const result = await verifyRestore(event(), deps());

    expect(result).toMatchObject({ passed: true, statisticsFrom: backupId, exactRowCounts: true });
    expect(result.checks.map((c) => c.name)).toContain('tables');
  });

  it('a mismatch fails the restore (VerificationFailed naming the check), or is reported when asked', async () => {
    await query(source, 'DELETE FROM orders WHERE id > 40');
    try {
      await expect(verifyRestore(event(), deps())).rejects.toMatchObject({
        name: 'VerificationFailed',
        message: expect.stringContaining('tables'),
      });
      const reported = await verifyRestore(event({ failOnMismatch: false }), deps());
      expect(reported.passed).toBe(false);
      expect(reported.checks.find((c) => c.name === 'tables')?.passed).toBe(false);
    } finally {
      await query(source, "INSERT INTO orders SELECT g, 'i' || g FROM generate_series(41, 50) g");
    }
  });

  it('nothing to check against (no dump of that snapshot): BackupNotFound', async () => {
    await expect(
      verifyRestore(event({ restorePoint: { kind: 'snapshot', backupId: '20260101T000000Z-none' } }), deps()),
    ).rejects.toMatchObject({ name: 'BackupNotFound', message: expect.stringContaining(source) });
  });

  it('a restored database that does not answer is DatabaseUnreachable (the workflow retries it)', async () => {
    await expect(
      verifyRestore(event(), {
        ...deps(),
        connect: async (database) => ({ ...at('127.0.0.1', database), port: 1 }),
      }),
    ).rejects.toMatchObject({ name: 'DatabaseUnreachable' });
  });

  it('deployed: an event without the endpoint is refused naming the field', async () => {
    captureStdout();
    await expect(
      verifyRestoreHandler({ ...event(), endpoint: undefined }, lambdaContext('wf-verify-restore')),
    ).rejects.toMatchObject({ name: 'InvalidArgument', message: expect.stringContaining('endpoint') });
  });
});

describe('wf-verify-write', () => {
  const target = {
    database: 'orders',
    kind: 'instance',
    primary: { region: 'eu-west-1', identifier: 'orders-db' },
    replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
    engineVersion: '16.4',
    maxLagSeconds: 60,
    secretArn: SECRET,
  };
  const deps = { connect: async (_secret: string, host: string) => at(host), logger };

  it('the new primary commits a write: verified, with the commit time', async () => {
    const result = await runVerifyWrite(
      { database: 'orders', target, endpoint: '127.0.0.1', executionName: 'fo-1' } as never,
      deps,
    );

    expect(result).toMatchObject({ ok: true, status: 'verified' });
    expect(Date.parse((result as { at: string }).at)).not.toBeNaN();
  });

  it('refuses what cannot prove anything: no secret (WriteVerificationFailed), no endpoint to catch up (ReplicaNotCaughtUp)', async () => {
    await expect(
      runVerifyWrite(
        {
          database: 'orders',
          target: { ...target, secretArn: undefined },
          endpoint: '127.0.0.1',
          executionName: 'fo-1',
        } as never,
        deps,
      ),
    ).rejects.toMatchObject({
      name: 'WriteVerificationFailed',
      message: expect.stringContaining('no secretArn'),
    });
    await expect(
      runVerifyWrite(
        {
          action: 'catch-up',
          database: 'orders',
          target,
          primaryEndpoint: null,
          replicaEndpoint: '127.0.0.1',
        } as never,
        deps,
      ),
    ).rejects.toMatchObject({ name: 'ReplicaNotCaughtUp', message: expect.stringContaining('old primary') });
  });

  it('without an acknowledged heartbeat the data loss is not known (no guess)', async () => {
    const estimate = await runVerifyWrite(
      {
        action: 'estimate-rpo',
        database: 'orders',
        target,
        replicaEndpoint: '127.0.0.1',
        acknowledged: {},
      } as never,
      deps,
    );

    expect(estimate).toMatchObject({ known: false });
  });

  it('a new primary that does not answer is DatabaseUnreachable (retried), not a verified write', async () => {
    await expect(
      runVerifyWrite({ database: 'orders', target, endpoint: '127.0.0.1', executionName: 'fo-1' } as never, {
        ...deps,
        connect: async (_secret, host) => ({ ...at(host), port: 1 }),
      }),
    ).rejects.toMatchObject({ name: 'DatabaseUnreachable' });
  });

  it('deployed: an unknown action names the field; a throttled secret read is SecretUnavailable', async () => {
    captureStdout();
    const context = lambdaContext('wf-verify-write');
    await expect(
      verifyWriteHandler({ action: 'promote', database: 'orders', target }, context),
    ).rejects.toMatchObject({ name: 'InvalidArgument', message: expect.stringContaining('action') });

    secrets.on(GetSecretValueCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    await expect(
      verifyWriteHandler(
        { database: 'orders', target, endpoint: 'orders.example', executionName: 'fo-1' },
        context,
      ),
    ).rejects.toMatchObject({
      name: 'SecretUnavailable',
      message: expect.stringContaining('ThrottlingException'),
    });
  });
});
