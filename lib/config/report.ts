import type { DatabaseRetention } from '../../functions/core/retention/prune-settings.ts';
import type { ReportTargets } from '../../functions/core/report/report-model.ts';
import type { EnvironmentConfig } from './schema.ts';

/**
 * What the report of an environment holds its databases to, from its configuration: the alarm
 * thresholds (the same ones `lifeboat status --env` uses), the report's recovery targets, and each
 * configured database's retention. The CLI (`lifeboat report --env`) and the scheduled report
 * function (through its environment) read the same.
 */
export function reportSettings(env: EnvironmentConfig): {
  readonly targets: ReportTargets;
  readonly retention: Record<string, DatabaseRetention>;
  readonly periodDays: number;
} {
  const a = env.alarms;
  const retention: Record<string, DatabaseRetention> = {};
  for (const db of env.databases) {
    const policy = db.policySettings;
    const { daily, weekly, monthly, yearly, minVerified, maxDeletionsPerRun } = policy.retention;
    retention[db.name] = {
      daily,
      weekly,
      monthly,
      yearly,
      minVerified,
      maxDeletionsPerRun,
      timeZone: policy.snapshot.timeZone,
    };
  }
  return {
    targets: {
      backupAgeWarnHours: a.backupAgeWarnHours,
      backupAgeCritHours: a.backupAgeCritHours,
      // The verified-age warning alarm's threshold; where that alarm is off, the critical one's,
      // else the backup-age critical threshold.
      verifiedAgeHours: a.verifiedAgeWarnHours ?? a.verifiedAgeCritHours ?? a.backupAgeCritHours,
      restoreRtoSeconds: env.report.restoreRtoMinutes * 60,
      failoverRtoSeconds: env.report.failoverRtoMinutes * 60,
      failoverRpoSeconds: env.report.failoverRpoSeconds ?? a.replicaLagCritSeconds,
    },
    retention,
    periodDays: env.report.periodDays,
  };
}
