/**
 * The stack's alarms and metrics: metric definitions (metrics.ts), alarm shapes and names
 * (alarms.ts), the Monitoring construct that creates and routes the alarms (monitoring.ts), and the
 * Aspect that covers every function and workflow of a stack (watch-stack.ts).
 */
export { absence, anyOccurrence, databaseAlarmName, REPLICA_LAG_EVALUATION } from './alarms.ts';
export {
  environmentMetric,
  functionMetrics,
  lifeboatMetric,
  manualSnapshotQuotaMetric,
  type ReplicaLagSource,
  replicaLagMetric,
} from './metrics.ts';
export { Monitoring, type MonitoringProps, type Watched } from './monitoring.ts';
export { WatchStack } from './watch-stack.ts';
