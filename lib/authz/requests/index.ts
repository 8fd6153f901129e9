import type { EnvironmentConfig } from '../../config/schema.ts';
import { backupRequests } from './backups.ts';
import { canaryRequests } from './canary.ts';
import { failbackRequests } from './failback.ts';
import { failoverRequests } from './failover.ts';
import { notificationRequests } from './notifications.ts';
import { reportRequests } from './report.ts';
import { restoreRequests } from './restore.ts';
import { retentionRequests } from './retention.ts';
import { type AuthzTable, TableBuilder } from './table.ts';
import { verificationRequests } from './verification.ts';

export { type AuthzRequest, type AuthzTable, isService } from './table.ts';

/** The request table of an environment (see table.ts), one domain per module. */
export function authzTable(environment: string, config: EnvironmentConfig): AuthzTable {
  const t = new TableBuilder(environment, config);
  for (const domain of [
    backupRequests,
    verificationRequests,
    retentionRequests,
    restoreRequests,
    failoverRequests,
    failbackRequests,
    notificationRequests,
    reportRequests,
    canaryRequests,
  ]) {
    domain(t);
  }
  return t.table();
}
