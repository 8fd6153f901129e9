import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { RDSClient } from '@aws-sdk/client-rds';
import type { Context } from 'aws-lambda';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { HANDLER_FILE, handlerBuild } from '../../lib/constructs/handler-bundle.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { type FakeAws, startFakeAws } from '../support/fake-aws-http.ts';

/**
 * AWS SDK tracing (`tracing.sdkCalls`, functions/runtime/tracing.ts), in a Lambda environment
 * emulated as far as X-Ray needs: the function's trace header, an X-Ray daemon (a UDP socket that
 * records what the X-Ray SDK sends), AWS answered over HTTP by a fake (the SDK's middleware, which
 * tracing adds to, runs only for real requests). Whether tracing is on is fixed when the runtime
 * is first imported: each test imports it afresh after setting the environment.
 */

const XRAY_MIDDLEWARE = 'XRaySDKInstrumentation';
const TRACE_ROOT = '1-5759e988-bd862e3fe1be46a994272793';
const LAMBDA_PARENT = '53995c3f42cd8ad8';

interface XraySubsegment {
  readonly id: string;
  readonly name: string;
  readonly parent_id?: string;
  readonly trace_id?: string;
  readonly annotations?: Record<string, unknown>;
  readonly aws?: { operation?: string; region?: string };
  readonly http?: { response?: { status?: number } };
  readonly subsegments?: XraySubsegment[];
  readonly fault?: boolean;
  readonly error?: boolean;
  readonly cause?: { exceptions?: { message?: string }[] };
}

/** The X-Ray daemon: every segment document the SDK sends, nested subsegments flattened. */
function xrayDaemon() {
  const socket = dgram.createSocket('udp4');
  const documents: XraySubsegment[] = [];
  socket.on('message', (message) => {
    // `{"format":"json","version":1}\n{document}`
    const [, doc] = message.toString().split('\n');
    if (doc) documents.push(JSON.parse(doc) as XraySubsegment);
  });
  return {
    start: () => new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve)),
    address: () => `127.0.0.1:${(socket.address() as AddressInfo).port}`,
    subsegments(): XraySubsegment[] {
      const all: XraySubsegment[] = [];
      const visit = (s: XraySubsegment) => {
        all.push(s);
        for (const child of s.subsegments ?? []) visit({ ...child, parent_id: child.parent_id ?? s.id });
      };
      documents.forEach(visit);
      return all;
    },
    clear: () => void documents.splice(0),
    stop: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

/** UDP datagrams arrive after the invocation returns: wait until `count` documents or 2 s. */
async function settle(daemon: ReturnType<typeof xrayDaemon>, count: number): Promise<void> {
  for (let i = 0; i < 40 && daemon.subsegments().length < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function lambdaContext(): Context {
  return {
    awsRequestId: 'req-1',
    functionName: 'wf-describe-replica',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:wf-describe-replica',
    memoryLimitInMB: '512',
    logGroupName: '/aws/lambda/wf-describe-replica',
    logStreamName: 's',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** What Lambda sets for a function with active tracing, pointed at the fakes. */
function lambdaEnvironment(daemon: string, endpoint: string): Record<string, string> {
  return {
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: '/var/task',
    _HANDLER: 'index.handler',
    _X_AMZN_TRACE_ID: `Root=${TRACE_ROOT};Parent=${LAMBDA_PARENT};Sampled=1`,
    AWS_XRAY_DAEMON_ADDRESS: daemon,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_ENDPOINT_URL_RDS: endpoint,
    POWERTOOLS_SERVICE_NAME: 'wf-describe-replica',
    POWERTOOLS_LOG_LEVEL: 'ERROR',
  };
}

const REPLICA_EVENT = { replica: { kind: 'instance', region: 'eu-west-1', identifier: 'orders-replica' } };
const REPLICA_RESULT = { status: 'available', available: true, hopeless: false };

let aws: FakeAws;
const daemon = xrayDaemon();

beforeAll(async () => {
  aws = await startFakeAws();
  aws.instances.set('orders-replica', { identifier: 'orders-replica', address: '10.0.0.1', port: 5432 });
  await daemon.start();
});
afterAll(async () => {
  await aws.stop();
  await daemon.stop();
});

describe('SDK tracing in source', () => {
  beforeEach(() => {
    for (const [name, value] of Object.entries(lambdaEnvironment(daemon.address(), aws.endpoint))) {
      vi.stubEnv(name, value);
    }
    daemon.clear();
    vi.resetModules();
  });
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  /** The runtime and a handler that describes the replica, imported with the environment as set. */
  async function runtime() {
    const { awsClient } = await import('#runtime/clients.ts');
    const { sdkTracing } = await import('#runtime/tracing.ts');
    const { handler } = await import('../../functions/wf-describe-replica/index.ts');
    return { awsClient, sdkTracing, handler };
  }

  it('off (the default): no Tracer, no X-Ray middleware on the clients, nothing sent to X-Ray', async () => {
    const { awsClient, sdkTracing, handler } = await runtime();

    expect(sdkTracing).toBeUndefined();
    expect(awsClient(RDSClient, 'rds').middlewareStack.identify().join()).not.toContain(XRAY_MIDDLEWARE);
    await expect(handler(REPLICA_EVENT, lambdaContext())).resolves.toEqual(REPLICA_RESULT);
    await settle(daemon, 1);
    expect(daemon.subsegments()).toEqual([]);
  });

  it('on: the clients go through captureAWSv3Client, each call a subsegment of the handler’s', async () => {
    vi.stubEnv('LIFEBOAT_SDK_TRACING', 'true');
    const { awsClient, sdkTracing, handler } = await runtime();

    expect(sdkTracing?.tracer.isTracingEnabled()).toBe(true);
    expect(awsClient(RDSClient, 'rds').middlewareStack.identify()).toContain(`${XRAY_MIDDLEWARE} - build`);
    await expect(handler(REPLICA_EVENT, lambdaContext())).resolves.toEqual(REPLICA_RESULT);
    await settle(daemon, 2);

    const subsegments = daemon.subsegments();
    const handlerSegment = subsegments.find((s) => s.name === '## index.handler');
    const rds = subsegments.find((s) => s.name === 'RDS');
    expect(handlerSegment).toMatchObject({
      parent_id: LAMBDA_PARENT,
      trace_id: TRACE_ROOT,
      annotations: { Service: 'wf-describe-replica' },
    });
    expect(rds).toMatchObject({
      parent_id: handlerSegment!.id,
      aws: { operation: 'DescribeDBInstances', region: 'eu-west-1' },
      http: { response: { status: 200 } },
    });
    // captureResponse off: the handler's result is not copied into the trace.
    expect(JSON.stringify(subsegments)).not.toContain('hopeless');
  });

  it('on: a failed invocation marks the handler’s subsegment with its error', async () => {
    vi.stubEnv('LIFEBOAT_SDK_TRACING', 'true');
    const { lambdaHandler } = await import('#runtime/handler.ts');
    const handler = lambdaHandler({ service: 'test-traced', event: z.unknown() }, async () => {
      throw Object.assign(new Error('replica is gone'), { name: 'ReplicaMissing' });
    });

    await expect(handler({}, lambdaContext())).rejects.toThrow('replica is gone');
    await settle(daemon, 1);

    expect(daemon.subsegments().find((s) => s.name === '## index.handler')).toMatchObject({
      fault: true,
      cause: { exceptions: [expect.objectContaining({ message: 'replica is gone' })] },
    });
  });
});

describe('SDK tracing in the bundle', () => {
  let out: string;
  /** The bundle of wf-describe-replica with SDK tracing off (as it ships by default) and on. */
  const bundles: Record<'off' | 'on', { file: string; text: string }> = {} as never;

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'lifeboat-sdk-tracing-'));
    for (const mode of ['off', 'on'] as const) {
      const dir = path.join(out, mode);
      await build({
        ...handlerBuild(path.join(PROJECT_ROOT, 'functions/wf-describe-replica/index.ts'), dir, {
          sdkTracing: mode === 'on',
        }),
        logLevel: 'silent',
      });
      const files = await readdir(dir);
      const texts = await Promise.all(files.map((f) => readFile(path.join(dir, f), 'utf8')));
      bundles[mode] = { file: path.join(dir, HANDLER_FILE), text: texts.join('\n') };
    }
  }, 120_000);
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('off, esbuild drops the Tracer and the X-Ray SDK altogether; on, they are there', () => {
    for (const marker of [XRAY_MIDDLEWARE, 'captureLambdaHandler', 'AWS_XRAY_DAEMON_ADDRESS']) {
      expect(bundles.off.text).not.toContain(marker);
      expect(bundles.on.text).toContain(marker);
    }
    // Off, nothing reads the variable at run time either: it was a constant.
    expect(bundles.off.text).not.toContain('LIFEBOAT_SDK_TRACING');
  });

  /** Invokes the bundled handler in a fresh Node process, as Lambda would, with a Lambda environment. */
  function invokeBundled(file: string): Promise<unknown> {
    const script = [
      `const { handler } = await import(${JSON.stringify(pathToFileURL(file).href)});`,
      `const context = { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 60000 };`,
      `const result = await handler(${JSON.stringify(REPLICA_EVENT)}, context);`,
      'process.stdout.write(JSON.stringify(result));',
    ].join(' ');
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        env: { PATH: process.env.PATH, ...lambdaEnvironment(daemon.address(), aws.endpoint) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('close', (code) =>
        code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`exit ${code}: ${stderr.slice(-800)}`)),
      );
    });
  }

  it('the bundled handler, tracing on, sends its RDS call to X-Ray as a subsegment of the handler’s', async () => {
    daemon.clear();
    await expect(invokeBundled(bundles.on.file)).resolves.toEqual(REPLICA_RESULT);
    await settle(daemon, 2);

    const subsegments = daemon.subsegments();
    const handlerSegment = subsegments.find((s) => s.name === '## index.handler');
    expect(handlerSegment).toMatchObject({ parent_id: LAMBDA_PARENT, trace_id: TRACE_ROOT });
    expect(subsegments.find((s) => s.name === 'RDS')).toMatchObject({
      parent_id: handlerSegment!.id,
      aws: { operation: 'DescribeDBInstances' },
    });
  }, 60_000);

  it('the bundled handler, tracing off, answers the same and sends X-Ray nothing', async () => {
    daemon.clear();
    const before = aws.calls.length;
    await expect(invokeBundled(bundles.off.file)).resolves.toEqual(REPLICA_RESULT);
    await settle(daemon, 1);

    expect(aws.calls.slice(before).map((c) => c.action)).toEqual(['DescribeDBInstances']);
    expect(daemon.subsegments()).toEqual([]);
  }, 60_000);
});
