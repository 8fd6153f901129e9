import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  RestoreObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  AlreadyExists,
  ArchivedObject,
  BackupNotFound,
  ExpeditedRetrievalUnavailable,
  LifeboatError,
  RepositoryAccessDenied,
  RepositoryError,
  RepositoryNotFound,
} from '../shared/errors.ts';
import type { Encryption } from '../catalog/manifest.ts';
import type {
  ObjectStorage,
  Repository,
  RestoreRequest,
  RestoreRequestOutcome,
  UploadOptions,
} from './types.ts';

export interface S3RepositoryOptions {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slash ('' for none). */
  readonly prefix: string;
  /** SSE-KMS with this key for every object written. */
  readonly kmsKeyId?: string | undefined;
  /**
   * Smallest multipart part size; an upload whose `expectedBytes` would need more than
   * PART_BUDGET parts uses larger parts. @default 8 MiB
   */
  readonly partSizeBytes?: number;
  /** Parts uploaded at once; memory held is about partSize × (queueSize + 1). @default 3 */
  readonly queueSize?: number;
  /** Whether AWS applies default encryption (false for other S3-compatible servers). */
  readonly awsDefaultEncryption?: boolean;
}

const MIB = 1024 * 1024;
/** S3 allows 10,000 parts per upload; the rest is headroom for a source larger than expected. */
const PART_BUDGET = 8000;
/** S3's largest part. */
const MAX_PART = 5 * 1024 * MIB;

/**
 * The part size for an upload of about `expectedBytes`: at least `minimum`, and large enough that
 * the upload needs at most PART_BUDGET parts (whole MiB).
 */
export function partSizeFor(expectedBytes: number | undefined, minimum: number): number {
  if (!expectedBytes || expectedBytes <= 0) return minimum;
  const needed = Math.ceil(expectedBytes / PART_BUDGET / MIB) * MIB;
  return Math.min(MAX_PART, Math.max(minimum, needed));
}

/** A repository in an S3 bucket (`s3://bucket/prefix`), or any S3-compatible endpoint. */
export class S3Repository implements Repository {
  readonly url: string;
  readonly encryption: Encryption;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly kmsKeyId: string | undefined;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3RepositoryOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ? `${options.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
    this.kmsKeyId = options.kmsKeyId;
    this.partSize = options.partSizeBytes ?? 5 * MIB;
    this.queueSize = options.queueSize ?? 3;
    this.url = `s3://${this.bucket}/${this.prefix}`;
    this.encryption = this.kmsKeyId
      ? { type: 'SSE-KMS', kmsKeyId: this.kmsKeyId }
      : { type: options.awsDefaultEncryption === false ? 'none' : 'SSE-S3', kmsKeyId: null };
  }

  private key(key: string): string {
    return this.prefix + key;
  }

  private sse() {
    return this.kmsKeyId ? { ServerSideEncryption: 'aws:kms' as const, SSEKMSKeyId: this.kmsKeyId } : {};
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw this.mapError(err, 'checking the bucket');
    }
  }

  async upload(key: string, source: Readable, options: UploadOptions = {}): Promise<{ bytes: number }> {
    const upload = new PooledUpload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), ...this.sse() },
      partSize: partSizeFor(options.expectedBytes, this.partSize),
      queueSize: this.queueSize,
      onProgress: options.onProgress,
    });
    let bytes: number;
    try {
      bytes = await upload.run(source);
    } catch (err) {
      // The source's own error (e.g. pg_dump failed) is the reason; an S3 error is mapped.
      const reason = err instanceof LifeboatError ? err : this.mapError(err, `uploading ${key}`);
      if (upload.uploadId) {
        try {
          await this.client.send(
            new AbortMultipartUploadCommand({
              Bucket: this.bucket,
              Key: this.key(key),
              UploadId: upload.uploadId,
            }),
          );
        } catch (abortErr) {
          reason.message += ` (aborting multipart upload ${upload.uploadId} failed too: ${this.mapError(abortErr, 'aborting').message}; the bucket's AbortIncompleteMultipartUpload lifecycle rule removes its parts)`;
        }
      }
      throw reason;
    }
    // The server stores what it received; make sure that is every byte we sent.
    const stored = await this.size(key);
    if (stored !== bytes) {
      await this.remove(key).catch(() => undefined);
      throw new RepositoryError(`stored ${key} has ${stored ?? 'no'} bytes, expected ${bytes}; removed it`);
    }
    return { bytes };
  }

  async putOnce(key: string, body: string): Promise<void> {
    if ((await this.size(key)) !== null) throw new AlreadyExists(`${key} already exists in ${this.url}`);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          Body: body,
          ContentType: 'application/json',
          // S3 refuses the write if the key appeared meanwhile (conditional write).
          IfNoneMatch: '*',
          ...this.sse(),
        }),
      );
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412) throw new AlreadyExists(`${key} already exists in ${this.url}`, { cause: err });
      throw this.mapError(err, `writing ${key}`);
    }
  }

  async read(key: string): Promise<Buffer> {
    const body = await this.readStream(key);
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async readStream(key: string): Promise<Readable> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      if (!(out.Body instanceof Readable))
        throw new RepositoryError(`reading ${key}: no body in the response`);
      return out.Body;
    } catch (err) {
      throw this.mapError(err, `reading ${key}`, key);
    }
  }

  async storage(key: string): Promise<ObjectStorage> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return objectStorage(key, out.StorageClass, out.Restore, out.ArchiveStatus);
    } catch (err) {
      throw this.mapError(err, `reading the storage class of ${key}`, key);
    }
  }

  async requestRestore(key: string, request: RestoreRequest): Promise<RestoreRequestOutcome> {
    try {
      await this.client.send(
        new RestoreObjectCommand({
          Bucket: this.bucket,
          Key: this.key(key),
          RestoreRequest: { Days: request.days, GlacierJobParameters: { Tier: request.tier } },
        }),
      );
      return 'requested';
    } catch (err) {
      const name = (err as { name?: string }).name;
      // Asking again while S3 restores is harmless: the first request stands.
      if (name === 'RestoreAlreadyInProgress') return 'in-progress';
      if (name === 'ObjectAlreadyInActiveTierError') return 'not-archived';
      if (name === 'GlacierExpeditedRetrievalNotAvailable') {
        throw new ExpeditedRetrievalUnavailable(
          `S3 has no Expedited retrieval capacity now for ${key}: ask again later or use the Standard tier`,
          { cause: err },
        );
      }
      throw this.mapError(err, `requesting a restore of ${key}`, key);
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return out.ContentLength ?? 0;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      const name = (err as { name?: string }).name;
      if (status === 404 && name !== 'NoSuchBucket') return null;
      throw this.mapError(err, `reading ${key}`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    // A listing is complete or an error: a continuation token that comes back means it never ends.
    const seen = new Set<string>();
    do {
      try {
        const out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.key(prefix),
            ContinuationToken: token,
            MaxKeys: 1000,
          }),
        );
        for (const item of out.Contents ?? []) {
          if (item.Key) keys.push(item.Key.slice(this.prefix.length));
        }
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
        if (out.IsTruncated && !token) {
          throw new RepositoryError(`listing ${prefix}: S3 said the listing is truncated but gave no token`);
        }
        if (token !== undefined) {
          if (seen.has(token)) {
            throw new RepositoryError(
              `listing ${prefix}: continuation token repeated; the listing is not complete`,
            );
          }
          seen.add(token);
        }
      } catch (err) {
        throw this.mapError(err, `listing ${prefix}`);
      }
    } while (token);
    return keys;
  }

  async remove(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    } catch (err) {
      throw this.mapError(err, `removing ${key}`);
    }
  }

  private mapError(err: unknown, doing: string, key?: string): LifeboatError {
    if (err instanceof LifeboatError) return err;
    const e = err as {
      name?: string;
      message?: string;
      code?: string;
      $metadata?: { httpStatusCode?: number };
    };
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? 'Error';
    const where = `s3://${this.bucket}/${this.prefix}`;
    if (name === 'NoSuchBucket' || (status === 404 && doing === 'checking the bucket')) {
      return new RepositoryNotFound(`bucket "${this.bucket}" does not exist (${doing})`, { cause: err });
    }
    if (name === 'NoSuchKey' || status === 404) {
      return new BackupNotFound(`${doing}: no such object in ${where}`, { cause: err });
    }
    // GetObject of an archived object is a 403 too: it says so, and which tier it is in.
    if (name === 'InvalidObjectState') {
      const storageClass = (err as { StorageClass?: string }).StorageClass ?? null;
      const archived = new ArchivedObject(
        `${key ?? 'the object'} in ${where} is archived${storageClass ? ` (${storageClass})` : ''} and cannot be read until it is restored (${doing}); pass --request-restore to start an S3 restore`,
        { cause: err },
      );
      archived.storageClass = storageClass;
      archived.key = key ?? null;
      return archived;
    }
    if (name === 'AccessDenied' || name === 'Forbidden' || status === 403) {
      return new RepositoryAccessDenied(`access denied to ${where} while ${doing}: ${e.message ?? name}`, {
        cause: err,
      });
    }
    if (name === 'CredentialsProviderError') {
      return new RepositoryAccessDenied(`no AWS credentials found for ${where}: ${e.message}`, {
        cause: err,
      });
    }
    const code = e.code ?? (err as { cause?: { code?: string } }).cause?.code;
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || name === 'TimeoutError') {
      return new RepositoryError(
        `cannot reach the S3 endpoint for ${where} while ${doing}: ${code ?? name}`,
        {
          cause: err,
        },
      );
    }
    return new RepositoryError(
      `S3 error while ${doing} in ${where}: ${name}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? ''}`.trim(),
      {
        cause: err,
      },
    );
  }
}

interface PooledUploadOptions {
  readonly client: S3Client;
  /** Bucket, Key and the SSE parameters of every request that writes. */
  readonly params: { Bucket: string; Key: string; ServerSideEncryption?: 'aws:kms'; SSEKMSKeyId?: string };
  readonly partSize: number;
  readonly queueSize: number;
  readonly onProgress?: ((bytes: number) => void) | undefined;
}

/**
 * A streaming upload whose memory is fixed: `queueSize + 1` part buffers, allocated once and
 * reused, whatever the size of the source. Chunks are copied into the current buffer; a full
 * buffer becomes an UploadPart while the next one fills; reading waits while every buffer is in
 * flight (backpressure reaches pg_dump through its pipe). A source smaller than one part is one
 * PutObject. The object appears only when CompleteMultipartUpload succeeds; on any error the
 * caller aborts the multipart upload (`uploadId`).
 */
class PooledUpload {
  uploadId: string | undefined;
  private readonly o: PooledUploadOptions;
  private readonly free: Buffer[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly parts: CompletedPart[] = [];
  private failure: unknown;
  private stored = 0;
  private partCount = 0;

  constructor(options: PooledUploadOptions) {
    this.o = options;
  }

  private takeBuffer(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.o.partSize);
  }

  async run(source: Readable): Promise<number> {
    let bytes = 0;
    let current = this.takeBuffer();
    let filled = 0;
    try {
      for await (const chunk of source as AsyncIterable<Buffer>) {
        let offset = 0;
        while (offset < chunk.length) {
          const n = chunk.copy(current, filled, offset);
          filled += n;
          offset += n;
          bytes += n;
          if (filled === this.o.partSize) {
            await this.send(current, filled);
            current = await this.nextBuffer();
            filled = 0;
          }
        }
      }
      if (this.uploadId === undefined) {
        // Smaller than one part (or empty): a single PUT.
        await this.o.client.send(
          new PutObjectCommand({ ...this.o.params, Body: current.subarray(0, filled) }),
        );
        this.o.onProgress?.(filled);
        return bytes;
      }
      if (filled > 0) await this.send(current, filled);
      await this.drain();
      if (this.failure !== undefined) throw this.failure;
      this.parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
      await this.o.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.o.params.Bucket,
          Key: this.o.params.Key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: this.parts },
        }),
      );
      return bytes;
    } catch (err) {
      // Stop reading, let the parts in flight settle (so nothing is written after the abort).
      source.destroy();
      await this.drain();
      throw this.failure !== undefined && !(err instanceof LifeboatError) ? this.failure : err;
    }
  }

  /** Starts uploading `buffer[0, length)` as the next part; creates the multipart upload first. */
  private async send(buffer: Buffer, length: number): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.uploadId === undefined) {
      const created = await this.o.client.send(
        new CreateMultipartUploadCommand({ ...this.o.params, ChecksumAlgorithm: 'CRC32' }),
      );
      if (!created.UploadId) throw new RepositoryError('CreateMultipartUpload returned no upload id');
      this.uploadId = created.UploadId;
    }
    const partNumber = ++this.partCount;
    const body = buffer.subarray(0, length);
    const task = this.o.client
      .send(
        new UploadPartCommand({
          Bucket: this.o.params.Bucket,
          Key: this.o.params.Key,
          UploadId: this.uploadId,
          PartNumber: partNumber,
          Body: body,
          ContentLength: length,
          // S3 checks each part's CRC32 on arrival and CompleteMultipartUpload checks them all.
          ChecksumAlgorithm: 'CRC32',
        }),
      )
      .then(
        (out) => {
          this.parts.push({
            PartNumber: partNumber,
            ETag: out.ETag,
            ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}),
          });
          this.stored += length;
          this.o.onProgress?.(this.stored);
        },
        (err: unknown) => {
          this.failure ??= err;
        },
      )
      .finally(() => {
        this.inFlight.delete(task);
        this.free.push(buffer);
      });
    this.inFlight.add(task);
  }

  /** A buffer to fill next: a free one, a new one while the pool is not full, or wait for one. */
  private async nextBuffer(): Promise<Buffer> {
    while (this.free.length === 0 && this.inFlight.size >= this.o.queueSize) {
      await Promise.race(this.inFlight);
      if (this.failure !== undefined) throw this.failure;
    }
    if (this.failure !== undefined) throw this.failure;
    return this.takeBuffer();
  }

  private async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
  }
}

const ARCHIVE_CLASSES = new Set(['GLACIER', 'DEEP_ARCHIVE']);

/**
 * What HeadObject says of an object's tier: its StorageClass (absent means STANDARD), for
 * INTELLIGENT_TIERING its ArchiveStatus, and `x-amz-restore` (ongoing-request, expiry-date).
 */
export function objectStorage(
  key: string,
  storageClass: string | undefined,
  restoreHeader: string | undefined,
  archiveStatus?: string | undefined,
): ObjectStorage {
  const cls = storageClass ?? 'STANDARD';
  const archived =
    ARCHIVE_CLASSES.has(cls) ||
    (cls === 'INTELLIGENT_TIERING' &&
      (archiveStatus === 'ARCHIVE_ACCESS' || archiveStatus === 'DEEP_ARCHIVE_ACCESS'));
  const ongoing = /ongoing-request="true"/.test(restoreHeader ?? '');
  const expiry = /expiry-date="([^"]+)"/.exec(restoreHeader ?? '')?.[1];
  const restore = !restoreHeader ? 'none' : ongoing ? 'in-progress' : 'available';
  const displayClass = cls === 'INTELLIGENT_TIERING' && archiveStatus ? `${cls}/${archiveStatus}` : cls;
  return {
    key,
    storageClass: displayClass,
    archived,
    restore: archived ? restore : 'none',
    restoredUntil: expiry && !Number.isNaN(Date.parse(expiry)) ? new Date(expiry).toISOString() : null,
    readable: !archived || restore === 'available',
  };
}
