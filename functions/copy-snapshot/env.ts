import { COMMON_ENV } from '#core/contracts/function-env.ts';

/** Environment variables the copy-snapshot function reads (the CDK stack imports these names). */
export const ENV = {
  /** The environment's name: only snapshots tagged lifeboat:environment=<it> are copied. */
  environment: COMMON_ENV.environment,
  /** The backup bucket: both the source's and the copy's manifests are written there. */
  bucket: 'LIFEBOAT_BUCKET',
  /** The DR region the copies go to, e.g. eu-central-1. */
  drRegion: 'LIFEBOAT_DR_REGION',
  /** ARN of the customer-managed KMS key in the DR region that encrypts the copies. */
  drKmsKeyArn: 'LIFEBOAT_DR_KMS_KEY_ARN',
  /** Copies in flight to the DR region at once, per snapshot type; optional, default 5 (AWS's limit). */
  maxInFlightCopies: 'LIFEBOAT_MAX_INFLIGHT_COPIES',
} as const;

export const DEFAULT_MAX_INFLIGHT_COPIES = 5;
