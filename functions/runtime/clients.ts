/**
 * The one place a Lambda handler gets an AWS SDK client: one instance per client type, region and
 * retry setting for the life of the execution environment (connections and credentials are reused
 * across invocations), configured by a named retry setting instead of a number at each call site.
 *
 * The handler passes the client class (`awsClient(RDSClient, 'rds', region)`), so a bundle carries
 * only the SDK packages its handler imports. Lint forbids `new XxxClient(` elsewhere in functions/.
 * Tests mock the class with aws-sdk-client-mock, which reaches every cached instance.
 *
 * With SDK tracing on (functions/runtime/tracing.ts), every client is made through the Tracer's
 * `captureAWSv3Client`: each call is a subsegment of the invocation's trace.
 */

import { RETRY, type RetryName, type RetrySetting } from '#core/contracts/retry.ts';
import { sdkTracing } from './tracing.ts';

export { RETRY, type RetryName, type RetrySetting };

/** What every SDK v3 client constructor accepts of the settings used here. */
type ClientClass<C> = new (config: { region?: string } & RetrySetting) => C;

const cache = new Map<ClientClass<unknown>, Map<string, unknown>>();

/**
 * The cached client of `Client` with the retry setting `retry`, in `region` (default: the
 * function's own, from AWS_REGION).
 */
export function awsClient<C>(Client: ClientClass<C>, retry: RetryName, region?: string): C {
  let byKey = cache.get(Client as ClientClass<unknown>);
  if (!byKey) {
    byKey = new Map();
    cache.set(Client as ClientClass<unknown>, byKey);
  }
  const key = `${region ?? ''}|${retry}`;
  let client = byKey.get(key) as C | undefined;
  if (!client) {
    client = traced(new Client({ ...(region ? { region } : {}), ...RETRY[retry] }));
    byKey.set(key, client);
  }
  return client;
}

/** `region => client` for code that takes a per-region factory (DR region, recovered region). */
export function clientsByRegion<C>(Client: ClientClass<C>, retry: RetryName): (region: string) => C {
  return (region) => awsClient(Client, retry, region);
}

/**
 * A client that signs with credentials of its own (a key read from a secret) instead of the
 * function's role: built for each use, never cached (the key may be rotated), default retries.
 */
export function clientWithCredentials<C, K>(
  Client: new (config: { region: string; credentials: K }) => C,
  region: string,
  credentials: K,
): C {
  return traced(new Client({ region, credentials }));
}

function traced<C>(client: C): C {
  return sdkTracing ? sdkTracing.capture(client) : client;
}
