/**
 * The one place a Lambda handler gets an AWS SDK client: one instance per client type, region and
 * retry setting for the life of the execution environment (connections and credentials are reused
 * across invocations), configured by a named retry setting instead of a number at each call site.
 *
 * The handler passes the client class (`awsClient(RDSClient, 'rds', region)`), so a bundle carries
 * only the SDK packages its handler imports. Lint forbids `new XxxClient(` elsewhere in functions/.
 * Tests mock the class with aws-sdk-client-mock, which reaches every cached instance.
 */

/** SDK attempts per call (the first one included) and, for probes, bounded waits. */
export interface RetrySetting {
  readonly maxAttempts: number;
  readonly requestHandler?: { readonly requestTimeout: number; readonly connectionTimeout: number };
}

export const RETRY = {
  /** Control-plane calls of scheduled work (S3, Step Functions, SNS reports, a dump's secret). */
  standard: { maxAttempts: 5 },
  /**
   * RDS: throttling is per account and shared by every function and workflow, so it gets one more
   * attempt with backoff before it surfaces (as a named error the state machines retry on).
   */
  rds: { maxAttempts: 6 },
  /** Health reads and writes on a one-minute schedule: the canary's heartbeat, replica lag. */
  monitoring: { maxAttempts: 4 },
  /** Short-lived work (workflow tasks, notifier, canary) reading credentials: fail within the budget. */
  brief: { maxAttempts: 3 },
  /** On-call announcements from a function whose own outcome matters more than the message. */
  announce: { maxAttempts: 2 },
  /**
   * A region that may be down (the old primary's during a failover): it must answer "unreachable"
   * in seconds, not after minutes of retries.
   */
  probe: { maxAttempts: 2, requestHandler: { requestTimeout: 5000, connectionTimeout: 3000 } },
} as const satisfies Record<string, RetrySetting>;

export type RetryName = keyof typeof RETRY;

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
    client = new Client({ ...(region ? { region } : {}), ...RETRY[retry] });
    byKey.set(key, client);
  }
  return client;
}

/** `region => client` for code that takes a per-region factory (DR region, recovered region). */
export function clientsByRegion<C>(Client: ClientClass<C>, retry: RetryName): (region: string) => C {
  return (region) => awsClient(Client, retry, region);
}
