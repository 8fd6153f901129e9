import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context } from 'aws-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { awsClient, clientsByRegion, RETRY } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { parseEvent } from '#runtime/middleware.ts';
import { handlerMetrics } from '#runtime/metrics.ts';

/** A Lambda context whose remaining time a test sets. */
function lambdaContext(remainingMs: number): Context {
  const deadline = Date.now() + remainingMs;
  return {
    awsRequestId: 'req-1',
    functionName: 'fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:fn',
    memoryLimitInMB: '512',
    logGroupName: '/aws/lambda/fn',
    logStreamName: 's',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** EMF documents Powertools writes to stdout while `run` runs. */
async function emfOf(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await run().catch(() => undefined);
  } finally {
    spy.mockRestore();
  }
  return chunks
    .join('')
    .split('\n')
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('SDK clients', () => {
  it('one instance per client type, region and retry setting', () => {
    const a = awsClient(RDSClient, 'rds', 'eu-west-1');
    expect(awsClient(RDSClient, 'rds', 'eu-west-1')).toBe(a);
    expect(awsClient(RDSClient, 'rds', 'eu-central-1')).not.toBe(a);
    expect(awsClient(RDSClient, 'probe', 'eu-west-1')).not.toBe(a);
    expect(awsClient(S3Client, 'rds', 'eu-west-1')).not.toBe(a);
    expect(clientsByRegion(RDSClient, 'rds')('eu-west-1')).toBe(a);
  });

  it('carries the named retry setting and the region', async () => {
    const rds = awsClient(RDSClient, 'rds', 'eu-west-1');
    expect(await rds.config.maxAttempts()).toBe(RETRY.rds.maxAttempts);
    expect(await rds.config.region()).toBe('eu-west-1');
    const probe = awsClient(RDSClient, 'probe', 'us-east-1');
    expect(await probe.config.maxAttempts()).toBe(2);
    expect(await awsClient(S3Client, 'standard', 'us-east-1').config.maxAttempts()).toBe(5);
  });

  it('without a region, the function’s own (AWS_REGION)', async () => {
    vi.stubEnv('AWS_REGION', 'ap-southeast-2');
    expect(await awsClient(S3Client, 'brief').config.region()).toBe('ap-southeast-2');
  });
});

describe('event validation', () => {
  const Event = z.object({
    database: z.string().min(1),
    target: z.object({ region: z.string() }),
    jobs: z.number().default(2),
  });

  it('a bad event names the field that is wrong', () => {
    expect(() => parseEvent(Event, { database: 'orders', target: {} }, 'wf-x event')).toThrow(
      expect.objectContaining({
        name: 'InvalidArgument',
        message: expect.stringMatching(/^wf-x event: target\.region: /),
      }),
    );
    expect(() => parseEvent(Event, null, 'wf-x event')).toThrow(/wf-x event: \(event\): /);
  });

  it('the handler never sees a refused event; the error is the one the handler names', async () => {
    class Refused extends Error {
      override readonly name = 'Refused';
    }
    const core = vi.fn(async () => 'ran');
    const handler = lambdaHandler(
      { service: 'test-validate', event: Event, invalidEvent: (m) => new Refused(m) },
      core,
    );
    await expect(handler({ database: '' }, lambdaContext(60_000))).rejects.toMatchObject({
      name: 'Refused',
      message: expect.stringContaining('test-validate event: database'),
    });
    expect(core).not.toHaveBeenCalled();
    await expect(
      handler({ database: 'orders', target: { region: 'eu-west-1' } }, lambdaContext(60_000)),
    ).resolves.toBe('ran');
    // The parsed event, defaults applied.
    expect(core).toHaveBeenCalledWith(
      { database: 'orders', target: { region: 'eu-west-1' }, jobs: 2 },
      expect.objectContaining({ signal: expect.any(AbortSignal) }),
    );
  });
});

describe('timeout signal', () => {
  it('aborts the margin before Lambda’s timeout, so the core can stop and record', async () => {
    vi.useFakeTimers();
    let seen: AbortSignal | undefined;
    let release: () => void = () => undefined;
    const handler = lambdaHandler(
      { service: 'test-timeout', event: z.unknown(), timeoutMarginMs: 30_000 },
      async (_event, { signal }) => {
        seen = signal;
        await new Promise<void>((resolve) => (release = resolve));
        return signal.aborted;
      },
    );
    const result = handler({}, lambdaContext(100_000));
    await vi.advanceTimersByTimeAsync(69_000);
    expect(seen?.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(seen?.aborted).toBe(true);
    release();
    await expect(result).resolves.toBe(true);
  });

  it('outside Lambda (no remaining time) it never aborts; a finished invocation leaves no timer', async () => {
    vi.useFakeTimers();
    const handler = lambdaHandler(
      { service: 'test-timeout-2', event: z.unknown(), timeoutMarginMs: 30_000 },
      async (_event, { signal, remainingMs }) => ({
        aborted: signal.aborted,
        inLambda: remainingMs !== undefined,
      }),
    );
    await expect(handler({}, {} as Context)).resolves.toEqual({ aborted: false, inLambda: false });
    await handler({}, lambdaContext(100_000));
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('outcome hooks and metrics', () => {
  const Event = z.object({ database: z.string().min(1) });

  function counting(service: string, fail: boolean) {
    const calls: string[] = [];
    const metrics = handlerMetrics(service);
    const handler = lambdaHandler(
      {
        service,
        metrics: handlerMetrics,
        event: Event,
        outcomes: [
          {
            success: (_r, event) => {
              calls.push(`metrics ok ${event.database}`);
              metrics.addDimensions({ Environment: 'prod', Database: event.database });
              metrics.addMetric('Done', 'Count', 1);
            },
            failure: (err, event) => {
              calls.push(
                `metrics failed ${(event as { database?: string } | null)?.database} ${(err as Error).name}`,
              );
              metrics.addMetric('Failed', 'Count', 1);
            },
          },
          {
            success: () => void calls.push('announce ok'),
            failure: () => void calls.push('announce failed'),
          },
        ],
      },
      async () => {
        if (fail) throw Object.assign(new Error('boom'), { name: 'PgDumpFailed' });
        return 'result';
      },
    );
    return { handler, calls };
  }

  it('success: the inner hook first (as nested try blocks), then the metrics are flushed once', async () => {
    const { handler, calls } = counting('test-outcome-ok', false);
    const emf = await emfOf(() => handler({ database: 'orders' }, lambdaContext(60_000)));
    expect(calls).toEqual(['announce ok', 'metrics ok orders']);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({ Done: 1, Database: 'orders', Environment: 'prod' });
    // No Powertools `service` dimension: alarms match on Environment and Database only.
    expect(emf[0]).not.toHaveProperty('service');
  });

  it('a failure of the core runs every failure hook, flushes, and propagates the named error', async () => {
    const { handler, calls } = counting('test-outcome-fail', true);
    let error: unknown;
    const emf = await emfOf(() =>
      handler({ database: 'orders' }, lambdaContext(60_000)).catch((err: unknown) => {
        error = err;
      }),
    );
    expect((error as Error).name).toBe('PgDumpFailed');
    expect(calls).toEqual(['announce failed', 'metrics failed orders PgDumpFailed']);
    expect(emf[0]).toMatchObject({ Failed: 1 });
  });

  it('a refused event is a failure too: counted and announced with the raw event', async () => {
    const { handler, calls } = counting('test-outcome-refused', false);
    let error: unknown;
    const emf = await emfOf(() =>
      handler({ database: '' }, lambdaContext(60_000)).catch((err: unknown) => {
        error = err;
      }),
    );
    expect(error).toMatchObject({ name: 'InvalidArgument' });
    expect(emf[0]).toMatchObject({ Failed: 1 });
    expect(calls).toEqual(['announce failed', 'metrics failed  InvalidArgument']);
  });

  it('environment-wide metrics carry exactly the Environment dimension; a missing variable names it', async () => {
    vi.stubEnv('LIFEBOAT_ENVIRONMENT', 'staging');
    const service = 'test-env-dimension';
    const handler = lambdaHandler(
      {
        service,
        metrics: handlerMetrics,
        event: z.unknown(),
        environmentDimension: { variable: 'LIFEBOAT_ENVIRONMENT', required: true },
      },
      async (_event, { metrics }) => {
        metrics.addMetric('PruneErrors', 'Count', 2);
        return null;
      },
    );
    const [emf] = await emfOf(() => handler({}, lambdaContext(60_000)));
    expect(emf).toMatchObject({ Environment: 'staging', PruneErrors: 2 });
    expect(
      (emf!._aws as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics[0],
    ).toMatchObject({
      Namespace: 'Lifeboat',
      Dimensions: [['Environment']],
    });
    vi.stubEnv('LIFEBOAT_ENVIRONMENT', '');
    await expect(handler({}, lambdaContext(60_000))).rejects.toThrow(
      expect.objectContaining({
        name: 'MissingEnvironment',
        message: expect.stringContaining('LIFEBOAT_ENVIRONMENT'),
      }),
    );
  });

  it('metrics only where asked for: the same Metrics in tools and from handlerMetrics; none without', async () => {
    let seen: object | undefined;
    const withMetrics = lambdaHandler(
      { service: 'test-asks-metrics', metrics: handlerMetrics, event: z.unknown() },
      async (_event, tools) => void (seen = tools.metrics),
    );
    const without = lambdaHandler(
      { service: 'test-no-metrics-asked', event: z.unknown() },
      async (_e, tools) => Object.keys(tools).sort(),
    );

    await withMetrics({}, lambdaContext(60_000));
    expect(seen).toBe(handlerMetrics('test-asks-metrics'));
    await expect(without({}, lambdaContext(60_000))).resolves.toEqual([
      'context',
      'logger',
      'remainingMs',
      'signal',
    ]);
  });

  it('an invocation that stored no metric writes nothing (no document, no warning)', async () => {
    const handler = lambdaHandler(
      { service: 'test-no-metrics', metrics: handlerMetrics, event: z.unknown() },
      async () => 1,
    );
    const stderr: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    try {
      expect(await emfOf(() => handler({}, lambdaContext(60_000)))).toEqual([]);
    } finally {
      spy.mockRestore();
    }
    expect(stderr.join('')).not.toMatch(/metrics/i);
  });
});
