import { COMMON_ENV } from '#core/contracts/function-env.ts';

/** Environment variables the logical-dump function reads (the CDK stack imports these names). */
export const ENV = {
  /** The backup bucket (artifacts and catalog). */
  bucket: 'LIFEBOAT_BUCKET',
  /** Key prefix inside the bucket; optional, default ''. */
  prefix: 'LIFEBOAT_PREFIX',
  /** KMS key for SSE-KMS of everything written. */
  kmsKeyId: 'LIFEBOAT_KMS_KEY_ID',
  environment: COMMON_ENV.environment,
  /** libpq sslmode for the database connection; optional, default `require` (RDS enforces TLS). */
  sslmode: 'LIFEBOAT_DB_SSLMODE',
  /** Where a directory dump is written before its files are stored; optional, default the OS temp dir. */
  workDir: 'LIFEBOAT_WORK_DIR',
} as const;
