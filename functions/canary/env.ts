import { COMMON_ENV } from '#core/contracts/function-env.ts';

/**
 * Environment variables the primary canary reads. Kept apart from the handler so that the CDK
 * stacks import the names without loading any SDK client.
 */
export const CANARY_ENV = {
  /** The lifeboat environment (dimension Environment of the metrics). */
  environment: COMMON_ENV.environment,
  /** JSON list of CanaryTarget (functions/core/failover/canary.ts): endpoint record and secret per database. */
  targets: 'LIFEBOAT_CANARY_TARGETS',
  /** The DR region's lock table, which keeps each database's last acknowledged heartbeat. */
  lockTable: 'LIFEBOAT_LOCK_TABLE',
} as const;
