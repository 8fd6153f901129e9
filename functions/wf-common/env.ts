import { COMMON_ENV } from '#core/contracts/function-env.ts';

/**
 * Environment variables the workflow task functions (functions/wf-*) read. Kept apart from the
 * handlers so that the CDK stacks import the names without loading any SDK client.
 */
export const WF_ENV = {
  /** The backup bucket holding artifacts and the catalog. */
  bucket: 'LIFEBOAT_BUCKET',
  /** JSON list of FailoverTarget (functions/core/failover/failover.ts), one per protected database. */
  failoverTargets: 'LIFEBOAT_FAILOVER_TARGETS',
  /** JSON object database name → Secrets Manager ARN (in this region) of its credentials. */
  databaseSecrets: 'LIFEBOAT_DATABASE_SECRETS',
  /** ARN of the failover state machine (wf-alarm-start). */
  failoverStateMachineArn: 'LIFEBOAT_FAILOVER_STATE_MACHINE_ARN',
  /** The lifeboat environment the function belongs to (names the alarms it answers to). */
  environment: COMMON_ENV.environment,
  /** Minutes in which alarm-started failovers of one database and alarm share a name. */
  alarmDedupeMinutes: 'LIFEBOAT_ALARM_DEDUPE_MINUTES',
} as const;
