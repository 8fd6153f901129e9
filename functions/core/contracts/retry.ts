/**
 * AWS SDK attempts per call (the first one included) by kind of work, and for probes bounded waits.
 * The functions build their clients with these (functions/runtime/clients.ts); the CLI's
 * clients and the infrastructure's expectations of them read the same table.
 */
export interface RetrySetting {
  readonly maxAttempts: number;
  readonly requestHandler?: { readonly requestTimeout: number; readonly connectionTimeout: number };
}

export const RETRY = {
  /** Control-plane calls of scheduled work (S3, Step Functions, SNS reports, a dump's secret) and the CLI's. */
  standard: { maxAttempts: 5 },
  /**
   * RDS: throttling is per account and shared by every function and workflow, so it gets one more
   * attempt with backoff before it surfaces (as a named error the state machines retry on).
   */
  rds: { maxAttempts: 6 },
  /** Health reads and writes on a one-minute schedule: the canary's heartbeat, replica lag. */
  monitoring: { maxAttempts: 4 },
  /**
   * Short-lived work (workflow tasks, notifier, canary) reading credentials: fail within the budget.
   * The CLI's S3 reads (backups listed, reported, restored) use it too.
   */
  brief: { maxAttempts: 3 },
  /** On-call announcements from a function whose own outcome matters more than the message. */
  announce: { maxAttempts: 2 },
  /**
   * A region that may be down (the old primary's during a failover): it must answer "unreachable"
   * in seconds, not after minutes of retries.
   */
  /**
   * A synchronous invocation of a function that does the work (the CLI's deployed backup and verify):
   * a retry after a lost answer would start the work a second time.
   */
  once: { maxAttempts: 1 },
  probe: { maxAttempts: 2, requestHandler: { requestTimeout: 5000, connectionTimeout: 3000 } },
} as const satisfies Record<string, RetrySetting>;

export type RetryName = keyof typeof RETRY;

/** SDK attempts per RDS call: throttling is retried with backoff this many times before it surfaces. */
export const RDS_MAX_ATTEMPTS = RETRY.rds.maxAttempts;
