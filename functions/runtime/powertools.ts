import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The Powertools every function carries: a Logger per service.
 *
 * Metrics are opt-in: only handlers that record metrics pass `metrics: handlerMetrics`
 * (functions/runtime/metrics.ts) to lambdaHandler, so the others neither bundle nor construct them.
 *
 * Tracing: Lambda active tracing (LifeboatFunction) records each invocation in X-Ray. The
 * Powertools Tracer, which adds a subsegment per AWS SDK call, is opt-in per environment
 * (`tracing.sdkCalls`, functions/runtime/tracing.ts); off, it is not in the bundle at all. See
 * docs/deploy.md (Tracing) for what it costs.
 */
export interface Powertools {
  readonly logger: Logger;
}

const made = new Map<string, Powertools>();

/** The service's Logger (one per execution environment). */
export function powertools(serviceName: string): Powertools {
  let tools = made.get(serviceName);
  if (!tools) {
    tools = { logger: new Logger({ serviceName }) };
    made.set(serviceName, tools);
  }
  return tools;
}
