import type { Metrics } from '@aws-lambda-powertools/metrics';
import { lifeboatMetrics } from '#core/shared/emf.ts';

/**
 * Powertools Metrics for the handlers that record metrics. A handler asks for them with
 * `lambdaHandler({ …, metrics: handlerMetrics }, core)`, which then flushes them after every
 * invocation and gives the core `tools.metrics`. Handlers that record none do not import this
 * module, so their bundles neither carry nor construct Metrics.
 */
export type MetricsFactory = (serviceName: string) => Metrics;

const made = new Map<string, Metrics>();

/**
 * The service's Metrics, one per execution environment (the outcome hooks of a handler get the
 * same instance as its core, so the middleware flushes what either stored): lifeboat's
 * namespace, no `service` dimension (#core/shared/emf.ts).
 */
export const handlerMetrics: MetricsFactory = (serviceName) => {
  let metrics = made.get(serviceName);
  if (!metrics) {
    metrics = lifeboatMetrics(serviceName);
    made.set(serviceName, metrics);
  }
  return metrics;
};
