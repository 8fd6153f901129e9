import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, RepositoryUrlInvalid } from '../shared/errors.ts';
import { FileRepository } from './file.ts';
import { S3Repository } from './s3.ts';
import type { Repository } from './types.ts';

export { FileRepository } from './file.ts';
export { S3Repository } from './s3.ts';
export type { Repository, UploadOptions } from './types.ts';

export interface OpenRepositoryOptions {
  /** An S3-compatible endpoint (path-style addressing), e.g. http://127.0.0.1:4568. */
  readonly s3Endpoint?: string | undefined;
  readonly kmsKeyId?: string | undefined;
  /**
   * The client of an s3:// repository, or what builds it (called only for s3:// URLs). The caller
   * builds clients, the core does not: the CLI's is bin/cli/repository.ts.
   */
  readonly s3Client?: S3Client | (() => S3Client) | undefined;
}

const EXPECTED = 'expected file:///absolute/dir or s3://bucket[/prefix]';

/** Opens `file:///dir` or `s3://bucket/prefix`. Throws RepositoryUrlInvalid with what was expected. */
export function openRepository(url: string, options: OpenRepositoryOptions = {}): Repository {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RepositoryUrlInvalid(`repository URL "${url}" does not parse: ${EXPECTED}`);
  }
  if (parsed.protocol === 'file:') {
    if (parsed.host !== '' && parsed.host !== 'localhost') {
      throw new RepositoryUrlInvalid(`repository URL "${url}" names a host: ${EXPECTED}`);
    }
    const dir = fileURLToPath(parsed);
    if (options.kmsKeyId) {
      throw new RepositoryUrlInvalid('--kms-key-id applies to s3:// repositories only');
    }
    return new FileRepository(url, path.resolve(dir));
  }
  if (parsed.protocol === 's3:') {
    const bucket = parsed.hostname;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new RepositoryUrlInvalid(
        `repository URL "${url}": "${bucket}" is not a valid bucket name: ${EXPECTED}`,
      );
    }
    const prefix = decodeURIComponent(parsed.pathname).replace(/^\/+|\/+$/g, '');
    const client = typeof options.s3Client === 'function' ? options.s3Client() : options.s3Client;
    if (!client) {
      throw new ConfigError(`repository URL "${url}": an s3:// repository needs an S3 client (s3Client)`);
    }
    return new S3Repository({
      client,
      bucket,
      prefix,
      kmsKeyId: options.kmsKeyId,
      awsDefaultEncryption: options.s3Endpoint === undefined,
    });
  }
  throw new RepositoryUrlInvalid(
    `repository URL "${url}" has unsupported scheme "${parsed.protocol}": ${EXPECTED}`,
  );
}
