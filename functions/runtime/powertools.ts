import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '#core/shared/metrics.ts';

/**
 * The one Powertools setup of every function: a Logger and a Metrics per service, the namespace
 * from #core/shared/metrics.ts (the names the alarms watch).
 *
 * Tracing: Lambda active tracing (LifeboatFunction) records each invocation in X-Ray; the
 * Powertools Tracer, which would add SDK subsegments, is left out: see docs/deploy.md (Tracing).
 */
export interface Powertools {
  readonly logger: Logger;
  readonly metrics: Metrics;
}

const made = new Map<string, Powertools>();

/** The service's Logger and Metrics (one of each per execution environment). */
export function powertools(serviceName: string): Powertools {
  let tools = made.get(serviceName);
  if (!tools) {
    tools = { logger: new Logger({ serviceName }), metrics: lifeboatMetrics(serviceName) };
    made.set(serviceName, tools);
  }
  return tools;
}

/**
 * Powertools Metrics in lifeboat's namespace that carry exactly the dimensions each metric is
 * given (Environment, Database). Powertools adds a `service` dimension by default; a metric with
 * it is a different metric from the one the alarms and the dashboard watch, so it is removed.
 */
export function lifeboatMetrics(serviceName: string): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  metrics.clearDefaultDimensions();
  return metrics;
}
