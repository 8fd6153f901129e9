import { S3Client } from '@aws-sdk/client-s3';
import { openRepository as openCoreRepository } from '#core/repository/index.ts';
import type { Repository } from '#core/repository/types.ts';
import { RETRY } from '#core/contracts/retry.ts';

export interface CliRepositoryOptions {
  /** An S3-compatible endpoint (path-style addressing), e.g. http://127.0.0.1:4568. */
  readonly s3Endpoint?: string | undefined;
  readonly kmsKeyId?: string | undefined;
  /** @default AWS_REGION, AWS_DEFAULT_REGION, then us-east-1 */
  readonly region?: string | undefined;
}

/**
 * Opens `file:///dir` or `s3://bucket/prefix` for a command. An s3:// repository gets a client of
 * the default credential chain (three attempts), built here: the core receives clients.
 */
export function openRepository(url: string, options: CliRepositoryOptions = {}): Repository {
  return openCoreRepository(url, {
    s3Endpoint: options.s3Endpoint,
    kmsKeyId: options.kmsKeyId,
    s3Client: () =>
      new S3Client({
        ...(options.s3Endpoint ? { endpoint: options.s3Endpoint, forcePathStyle: true } : {}),
        region: options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...RETRY.brief,
      }),
  });
}
