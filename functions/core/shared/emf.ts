import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from './metrics.ts';

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
