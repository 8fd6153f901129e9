import { Duration } from 'aws-cdk-lib';
import { type IMetric, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ENVIRONMENT_METRIC, METRIC } from '../../../functions/core/shared/metrics.ts';
import { DIMENSION, METRICS_NAMESPACE } from '../../../functions/core/shared/metrics.ts';
import { QUOTA_METRIC } from '../../function-env.ts';

// Metric definitions apart from alarms (cdk-monitoring-constructs' habit): alarms and the
// dashboard share them.

/** One of lifeboat's own metrics (functions/core/shared/metrics.ts) of one database. */
export function lifeboatMetric(
  environment: string,
  database: string,
  metricName: (typeof METRIC)[keyof typeof METRIC],
  options: { statistic?: string; period?: Duration; label?: string; region?: string } = {},
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { [DIMENSION.environment]: environment, [DIMENSION.database]: database },
    statistic: options.statistic ?? 'Sum',
    period: options.period ?? Duration.hours(1),
    label: options.label,
    region: options.region,
  });
}

/** One of lifeboat's environment-wide metrics (dimension Environment only), summed per hour. */
export function environmentMetric(
  environment: string,
  metricName: (typeof ENVIRONMENT_METRIC)[keyof typeof ENVIRONMENT_METRIC],
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { [DIMENSION.environment]: environment },
    statistic: 'Sum',
    period: Duration.hours(1),
  });
}

/** The manual snapshot quota figure take-snapshot publishes (EMF), per environment. */
export function manualSnapshotQuotaMetric(environment: string): Metric {
  return new Metric({
    namespace: QUOTA_METRIC.namespace,
    metricName: QUOTA_METRIC.metricName,
    dimensionsMap: { [QUOTA_METRIC.dimension]: environment },
    statistic: 'Maximum',
    period: Duration.hours(1),
  });
}

/** A database's replica in the DR region: what its lag is published about. */
export interface ReplicaLagSource {
  /** The database's name in the configuration. */
  readonly database: string;
  /** `instance`: an RDS cross-region read replica; `cluster`: an Aurora global database's secondary. */
  readonly kind: 'instance' | 'cluster';
  /** DB instance identifier of the replica, or DB cluster identifier of the secondary cluster. */
  readonly identifier: string;
}

/**
 * RDS's own lag figure of a replica, in the replica's region, and its unit: `ReplicaLag` of a DB
 * instance is in seconds; `AuroraGlobalDBReplicationLag` of a secondary cluster in milliseconds.
 */
export function replicaLagMetric(
  source: ReplicaLagSource,
  options: { region?: string; period?: Duration } = {},
): { readonly metric: Metric; readonly perSecond: number } {
  const instance = source.kind === 'instance';
  return {
    metric: new Metric({
      namespace: 'AWS/RDS',
      metricName: instance ? 'ReplicaLag' : 'AuroraGlobalDBReplicationLag',
      dimensionsMap: instance
        ? { DBInstanceIdentifier: source.identifier }
        : { DBClusterIdentifier: source.identifier },
      statistic: 'Maximum',
      period: options.period ?? Duration.minutes(1),
      region: options.region,
    }),
    perSecond: instance ? 1 : 1000,
  };
}

/** The metrics a dashboard graphs for a watched function. */
export function functionMetrics(fn: IFunction, label: string): { errors: IMetric; throttles: IMetric } {
  return {
    errors: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum', label }),
    throttles: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum', label }),
  };
}
