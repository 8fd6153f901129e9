/**
 * Metric names the functions emit (CloudWatch embedded metric format, through Powertools) and the
 * monitoring construct alarms on. One place, so an alarm can never watch a name nobody emits.
 * Every metric carries the dimensions Environment and Database.
 */
export const METRICS_NAMESPACE = 'Lifeboat';

export const DIMENSION = { environment: 'Environment', database: 'Database' } as const;

export const METRIC = {
  /** 1 per completed logical backup. An alarm on its absence over 26 h / 48 h is "backup too old". */
  backupSucceeded: 'BackupSucceeded',
  /** 1 per failed logical backup. */
  backupFailed: 'BackupFailed',
  backupBytes: 'BackupBytes',
  backupDurationSeconds: 'BackupDurationSeconds',
  /** 1 per verification that passed. Its absence over the RPO target is "no recent verified backup". */
  /** 1 per snapshot copy that arrived in the DR region. Its absence is "no recent DR copy". */
  snapshotCopied: 'SnapshotCopied',
  verificationPassed: 'VerificationPassed',
  verificationFailed: 'VerificationFailed',
  restoreDurationSeconds: 'RestoreDurationSeconds',
  failoverRtoSeconds: 'FailoverRtoSeconds',
  failoverRpoSeconds: 'FailoverRpoSeconds',
  /**
   * The primary canary (DR region, every minute): 1 when the primary committed and read back its
   * heartbeat through the endpoint record, 0 when it did not take the write. The failover trigger.
   */
  primaryWritable: 'PrimaryWritable',
  /** Seconds since the last heartbeat the primary acknowledged (the canary's view of the data at risk). */
  heartbeatAgeSeconds: 'HeartbeatAgeSeconds',
} as const;

/**
 * Metrics of a whole environment (dimension Environment only): what retention and discovery
 * refused to do. Each is alarmed on any occurrence.
 */
export const ENVIRONMENT_METRIC = {
  /** Databases a prune run did not judge (a catalog document it could not read, an error). */
  pruneRefused: 'PruneRefusedDatabases',
  /** Deletions or listings that failed in a prune run. */
  pruneErrors: 'PruneErrors',
  /** Databases discovery refused to snapshot: their catalog name is another source's. */
  seriesConflicts: 'SeriesConflicts',
} as const;

/**
 * What take-snapshot publishes about the manual snapshot quota (dimension Environment only); the
 * monitoring construct alarms on it.
 */
export const QUOTA_METRIC = {
  namespace: METRICS_NAMESPACE,
  metricName: 'ManualSnapshotQuotaUsedPercent',
  dimension: DIMENSION.environment,
} as const;
