import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { RDSClient } from '@aws-sdk/client-rds';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../../functions/core/catalog/catalog.ts';
import { EphemeralCluster } from '../../functions/core/verify/ephemeral.ts';
import { connect } from '../../functions/core/shared/pg.ts';
import { S3Repository } from '../../functions/core/repository/s3.ts';
import type { WorkflowName } from '../../state-machines/render.ts';
import { type Asl, checkErrorNames, type State } from '../support/asl-checks.ts';
import { functionOf } from '../support/environment-asl.ts';
import { type FakeAws, startFakeAws } from '../support/fake-aws-http.ts';
import { type S3Server, startS3rver } from '../support/s3rver.ts';
import { bundleErrorNames, LAMBDA_SERVICE_ERRORS } from '../support/shipped-errors.ts';
import { type ShippedEnvironment, type ShippedStack, synthesizeShipped } from '../support/shipped.ts';
import { dumpBackup } from './catalog-fixtures.ts';
import { bundledHandlers, type Handlers, runWorkflow } from './harness.ts';

/**
 * Test what ships: the prod environment synthesized with real bundling (minified, as deployed),
 * and each workflow run with its Lambda tasks bound to the shipped bundles (docs/workflows.md,
 * "What the tests check against AWS's rules"). The bundles carry their own AWS SDK, so their AWS
 * calls go over HTTP to a fake control plane (test/support/fake-aws-http.ts) and to s3rver; the
 * database work goes to a real PostgreSQL (with TLS, as the functions require it). AWS SDK and
 * optimized-integration tasks are local handlers, as in the other workflow tests.
 */

const ENVIRONMENT = 'prod';
let shipped: ShippedEnvironment;
let fake: FakeAws;
let s3: S3Server;
let cluster: EphemeralCluster;
let certDir: string;

beforeAll(async () => {
  shipped = synthesizeShipped(ENVIRONMENT);
  fake = await startFakeAws();
  s3 = await startS3rver();
  certDir = mkdtempSync(path.join(tmpdir(), 'lifeboat-tls-'));
  execFileSync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    path.join(certDir, 'server.key'),
    '-out',
    path.join(certDir, 'server.crt'),
  ]);
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    for (const f of ['', 'server.key', 'server.crt']) chownSync(path.join(certDir, f), uid, gid);
  }
  cluster = await EphemeralCluster.start({
    settings: {
      ssl: 'on',
      ssl_cert_file: `'${path.join(certDir, 'server.crt')}'`,
      ssl_key_file: `'${path.join(certDir, 'server.key')}'`,
    },
  });
}, 900_000);

afterAll(async () => {
  await cluster?.stop();
  await s3?.stop();
  await fake?.stop();
  shipped?.dispose();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

function stackWith(workflow: string): { stack: ShippedStack; asl: Asl } {
  for (const stack of shipped.stacks) {
    const machine = stack.machines.find((m) => m.workflow === workflow);
    if (machine) return { stack, asl: machine.asl };
  }
  throw new Error(`${ENVIRONMENT} has no ${workflow} workflow`);
}

/** What the Lambda runtime and the account give a function, pointed at the local services. */
function runtime(stack: ShippedStack): Record<string, string> {
  return {
    AWS_REGION: stack.region,
    AWS_DEFAULT_REGION: stack.region,
    // s3rver checks signatures against its own fixed credentials; the fake control plane does not.
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_CONFIG_FILE: path.join(certDir, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: path.join(certDir, 'no-credentials'),
    AWS_ENDPOINT_URL: fake.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
}

/** Local handlers for the tasks that are not Lambda functions; `overrides` replace them. */
function integrationHandlers(asl: Asl, overrides: Handlers = {}): Handlers {
  const handlers: Handlers = {};
  for (const [name, state] of Object.entries(asl.States)) {
    if (state.Type !== 'Task' || functionOf(String(state.Resource))) continue;
    const resource = String(state.Resource);
    handlers[name] =
      overrides[name] ??
      (resource.endsWith(':sns:publish')
        ? () => ({ MessageId: `m-${name}` })
        : resource.includes(':dynamodb:')
          ? () => ({})
          : () => {
              throw new Error(`${name} (${resource}) was not expected in this run`);
            });
  }
  return handlers;
}

function run(workflow: WorkflowName, input: unknown, overrides: Handlers = {}) {
  const { stack, asl } = stackWith(workflow);
  const handlers = {
    ...integrationHandlers(asl, overrides),
    ...bundledHandlers(asl, stack.functions, runtime(stack)),
  };
  for (const [name, fn] of Object.entries(overrides)) if (name in handlers) handlers[name] = fn;
  return runWorkflow(workflow, asl as never, input, handlers, { executionName: `bundled-${workflow}` });
}

async function bucketFor(stack: ShippedStack, functionState: string, asl: Asl): Promise<string> {
  const fn = stack.functions.get(functionOf(String(asl.States[functionState]!.Resource))!)!;
  const bucket = fn.environment.LIFEBOAT_BUCKET!;
  const client = new S3Client({
    endpoint: s3.endpoint,
    forcePathStyle: true,
    region: stack.region,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: Error) => {
    if (!/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test(err.name)) throw err;
  });
  return bucket;
}

describe('shipped bundles', () => {
  it('every workflow is deployed with its Lambda tasks traced to a shipped bundle', () => {
    const workflows = shipped.stacks.flatMap((s) => s.machines.map((m) => m.workflow));
    for (const w of ['restore', 'restore-test', 'failover', 'failback']) expect(workflows).toContain(w);
    for (const stack of shipped.stacks)
      for (const m of stack.machines)
        for (const state of Object.values(m.asl.States)) {
          const id = functionOf(String(state.Resource));
          if (id) expect(stack.functions.get(id), `${m.workflow}: ${id}`).toBeDefined();
        }
  });

  it('the bundles are minified and keep the error names literally', () => {
    const { stack, asl } = stackWith('restore');
    const dump = stack.functions.get(functionOf(String(asl.States.RestoreDump!.Resource))!)!;
    const text = readFileSync(dump.module, 'utf8');
    // Minified: a handful of very long lines (the banner and license comments aside).
    expect(text.length / text.split('\n').length).toBeGreaterThan(2000);
    expect(text).toContain('name="TargetAlreadyExists"');
  });

  it('every error a Catch or Retry names is one the shipped code of that task can produce', () => {
    const names = new Map<string, Set<string>>();
    const findings = shipped.stacks.flatMap((stack) =>
      stack.machines.flatMap((m) =>
        checkErrorNames(m.asl, (_state, task: State) => {
          const id = functionOf(String(task.Resource));
          const fn = id ? stack.functions.get(id) : undefined;
          if (!fn) return null;
          let known = names.get(fn.module);
          if (!known) {
            known = new Set([...LAMBDA_SERVICE_ERRORS, ...bundleErrorNames(readFileSync(fn.module, 'utf8'))]);
            names.set(fn.module, known);
          }
          return known;
        })
          // Non-Lambda tasks (optimized integrations) are checked in deployed-asl.test.ts.
          .filter((f) => !f.message.includes('is not known'))
          .map((f) => `${stack.name} ${m.workflow} ${f.state}: ${f.message}`),
      ),
    );
    expect(findings).toEqual([]);
    expect(names.size).toBeGreaterThan(5);
  });

  it('the per-bundle check rejects a name the task’s own bundle cannot produce', () => {
    const { stack, asl } = stackWith('restore');
    const broken = structuredClone(asl);
    // ValidateInput's bundle has no TargetAlreadyExists: only the bundles that throw it do.
    (broken.States.ValidateInput!.Catch as { ErrorEquals: string[] }[]).unshift({
      ErrorEquals: ['TargetAlreadyExists'],
    } as never);
    const findings = checkErrorNames(broken, (_s, task) => {
      const fn = stack.functions.get(functionOf(String(task.Resource)) ?? '');
      return fn
        ? new Set([...LAMBDA_SERVICE_ERRORS, ...bundleErrorNames(readFileSync(fn.module, 'utf8'))])
        : null;
    }).filter((f) => f.state === 'ValidateInput');
    expect(findings).toEqual([
      { state: 'ValidateInput', message: 'TargetAlreadyExists is not an error this task can produce' },
    ]);
  });
});

describe('workflows run through the shipped bundles', () => {
  it('restore: a dump target created concurrently makes the shipped RestoreDump throw TargetAlreadyExists, and the pre-existing database is not dropped', async () => {
    const { stack, asl } = stackWith('restore');
    const bucket = await bucketFor(stack, 'ResolveRestorePoint', asl);
    const repository = new S3Repository({
      client: new S3Client({
        endpoint: s3.endpoint,
        forcePathStyle: true,
        region: stack.region,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      }),
      bucket,
      prefix: '',
    });
    const catalog = new Catalog(repository, { region: stack.region });
    const backupId = '20261122T020000Z-bundled';
    const at = '2026-11-22T02:00:00.000Z';
    // The artifact is there (in s3rver's only storage class): the shipped archived-dump step reads
    // its tier with HeadObject and finds it readable.
    await repository.putOnce(`artifacts/orders/${backupId}.dump`, 'not read: the restore stops before');
    await catalog.record({
      kind: 'started',
      backupId,
      database: 'orders',
      at,
      backupKind: 'logical-dump',
      runner: 'test',
    });
    await catalog.writeManifest(dumpBackup(backupId, at, { database: 'orders' }).manifest!);
    await catalog.record({
      kind: 'verification',
      backupId,
      database: 'orders',
      at,
      passed: true,
      method: 'ephemeral',
      checks: [],
      restoreDurationMs: 1,
      totalDurationMs: 1,
      error: null,
      region: stack.region,
    });
    const secretArn = `arn:aws:secretsmanager:${stack.region}:111111111111:secret:reports-admin`;
    fake.instances.set('reports-db', { identifier: 'reports-db', address: '127.0.0.1', port: cluster.port });
    fake.secrets.set(
      secretArn,
      JSON.stringify({ username: 'postgres', password: 'unused', host: 'ignored', port: cluster.port }),
    );
    const name = 'orders_restored';
    const marker = async (sql: string) => {
      const client = await connect(cluster.connection(name));
      try {
        return await client.query(sql);
      } finally {
        await client.end();
      }
    };

    const bundled = bundledHandlers(asl, stack.functions, runtime(stack));
    // aws-sdk-client-mock patches the RDSClient of the test's node_modules; the bundle has its own.
    const rdsMock = mockClient(RDSClient);
    const result = await run(
      'restore',
      {
        database: 'orders',
        source: 'dump',
        target: { identifier: 'reports-db', databaseName: name, secretArn },
      },
      {
        // Someone else creates the database between the check (ResolveRestorePoint) and the create.
        RestoreDump: async (input: never) => {
          const admin = await connect(cluster.connection('postgres'));
          await admin.query(`CREATE DATABASE ${name}`);
          await admin.end();
          await marker('CREATE TABLE precious (id int); INSERT INTO precious VALUES (42)');
          return bundled.RestoreDump!(input);
        },
      },
    );

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('TargetAlreadyExists');
    expect(result.cause).toContain(`database "${name}" already exists on reports-db`);
    expect(result.calls.ResolveRestorePoint).toHaveLength(1);
    expect(result.calls.CheckDumpArtifacts).toHaveLength(1);
    expect(result.calls.RequestArchiveRestore).toHaveLength(0);
    expect(result.calls.RestoreDump).toHaveLength(1);
    expect(result.calls.DropCreatedDatabase).toHaveLength(0);
    expect((await marker('SELECT id FROM precious')).rows).toEqual([{ id: 42 }]);
    // The bundled SDK made real requests: the instance lookup and the secret, twice each.
    expect(fake.calls.filter((c) => c.action === 'DescribeDBInstances').length).toBeGreaterThanOrEqual(2);
    expect(fake.calls.filter((c) => c.action === 'GetSecretValue').length).toBeGreaterThanOrEqual(1);
    expect(fake.calls.filter((c) => c.service === 'unknown')).toEqual([]);
    expect(rdsMock.calls()).toHaveLength(0);
    rdsMock.restore();
  });

  it('restore: invalid input is refused by the shipped ValidateInput with its own error name', async () => {
    const result = await run('restore', { database: 'orders', source: 'snapshot' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('InvalidRestoreInput');
    expect(result.calls.ResolveRestorePoint).toHaveLength(0);
  });

  it('restore-test: nothing to test is a NoRestorePoint from the shipped plan, recorded by the shipped recorder', async () => {
    const { stack, asl } = stackWith('restore-test');
    await bucketFor(stack, 'PlanRestoreTest', asl);
    // billing is configured (it has a secret) but has no snapshot in this region's catalog.
    const result = await run('restore-test', { database: 'billing' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('NoRestorePoint');
    expect(result.calls.RestoreTestInstance).toHaveLength(0);
    expect(result.calls.RecordFailedRestoreTest).toHaveLength(1);
    expect(result.calls.NotifyRestoreTestError).toHaveLength(1);
  });

  it('failover: an unknown database is refused by the shipped preflight, before any lock or change', async () => {
    const result = await run('failover', { database: 'no-such-db', mode: 'planned', reason: 'drill' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('UnknownDatabase');
    expect(result.calls.FenceOldPrimary ?? []).toHaveLength(0);
    expect(result.calls.AcquireLock ?? []).toHaveLength(0);
    expect(result.calls.NotifyStarted ?? []).toHaveLength(0);
    expect(result.calls.NotifyInputRefused).toHaveLength(1);
  });

  it('failback: an unknown database is refused by the shipped plan', async () => {
    const result = await run('failback', { database: 'no-such-db' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toMatch(/^[A-Z][A-Za-z]+$/);
    expect(['UnknownDatabase', 'InvalidFailoverInput']).toContain(result.error);
    expect(result.calls.CreateReplica).toHaveLength(0);
  });
});
