import { COMMON_ENV } from '#core/contracts/function-env.ts';

/** Environment variables the take-snapshot function reads (the CDK stack imports these names). */
export const ENV = {
  /** The environment's name (dev, staging, prod): tags the snapshot, dimensions the quota metric. */
  environment: COMMON_ENV.environment,
  /** The backup bucket: the catalog's `started` record is written there. */
  bucket: 'LIFEBOAT_BUCKET',
} as const;
