import { COMMON_ENV } from '#core/contracts/function-env.ts';

/** Environment variables the verify-backup function reads (the CDK stack imports these names). */
export const ENV = {
  bucket: 'LIFEBOAT_BUCKET',
  /** Key prefix inside the bucket; optional, default ''. */
  prefix: 'LIFEBOAT_PREFIX',
  /** KMS key for SSE-KMS of the verification records it writes. */
  kmsKeyId: 'LIFEBOAT_KMS_KEY_ID',
  environment: COMMON_ENV.environment,
  /** Where the archive copy and the ephemeral cluster go; optional, default /tmp. */
  workDir: 'LIFEBOAT_WORK_DIR',
} as const;
