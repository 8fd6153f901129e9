/** Environment variables the take-snapshot function reads (the CDK stack imports these names). */
export const ENV = {
  /** The environment's name (dev, staging, prod): tags the snapshot, dimensions the quota metric. */
  environment: 'LIFEBOAT_ENVIRONMENT',
  /** The backup bucket: the catalog's `started` record is written there. */
  bucket: 'LIFEBOAT_BUCKET',
} as const;
