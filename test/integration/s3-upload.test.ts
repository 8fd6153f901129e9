import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, inject, it } from 'vitest';
import { S3Repository } from '#core/repository/s3.ts';
import { startFaultyProxy } from '../support/faulty-s3-proxy.ts';
import { createBucket, s3Client } from '../support/s3.ts';

const MIB = 1024 * 1024;
const PART = 5 * MIB;

/** `total` random bytes in chunks of odd sizes (as a pipe delivers them), and their SHA-256. */
function source(total: number, seed = 7): { stream: Readable; sha256: string } {
  const data = total === 0 ? Buffer.alloc(0) : randomBytes(total);
  const chunks: Buffer[] = [];
  for (let at = 0, i = seed; at < data.length; i++) {
    const n = Math.min(data.length - at, 1 + ((i * 104_729) % (96 * 1024)));
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  return { stream: Readable.from(chunks), sha256: createHash('sha256').update(data).digest('hex') };
}

async function stored(repo: S3Repository, key: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await repo.readStream(key)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('S3 repository upload (fixed pool of part buffers)', () => {
  it('stores exactly the bytes of the source, at every size around the part boundaries', async () => {
    // Prepare
    const client = s3Client(inject('s3Endpoint'));
    const bucket = await createBucket(client);
    const repo = new S3Repository({ client, bucket, prefix: 'sizes', partSizeBytes: PART, queueSize: 2 });

    for (const size of [0, 1, PART - 1, PART, PART + 1, 2 * PART, 3 * PART + 12_345]) {
      // Act
      const { stream, sha256 } = source(size);
      const progress: number[] = [];
      const { bytes } = await repo.upload(`object-${size}`, stream, { onProgress: (n) => progress.push(n) });

      // Assess
      expect(bytes, `size ${size}`).toBe(size);
      expect(await repo.size(`object-${size}`), `size ${size}`).toBe(size);
      expect(await stored(repo, `object-${size}`), `size ${size}`).toBe(sha256);
      expect(progress.at(-1) ?? 0, `size ${size}`).toBe(size);
    }
  });

  it('keeps at most queueSize parts in flight, however fast the source', async () => {
    // Prepare: every part upload takes a while, so a source that runs ahead would pile them up.
    const endpoint = inject('s3Endpoint');
    const bucket = await createBucket(s3Client(endpoint));
    const proxy = await startFaultyProxy(
      endpoint,
      (req) => req.method === 'PUT' && /partNumber=/.test(req.url ?? ''),
    );
    proxy.delayMs = 100;
    try {
      const repo = new S3Repository({
        client: s3Client(proxy.endpoint),
        bucket,
        prefix: 'queue',
        partSizeBytes: PART,
        queueSize: 2,
      });
      const { stream, sha256 } = source(8 * PART + 1);

      // Act
      await repo.upload('many-parts', stream);

      // Assess
      expect(proxy.requests.filter((r) => r.startsWith('PUT') && r.includes('partNumber='))).toHaveLength(9);
      expect(proxy.maxInFlight).toBe(2);
      expect(await stored(repo, 'many-parts')).toBe(sha256);
    } finally {
      await proxy.close();
    }
  });

  it('a source that fails half way leaves no object and aborts the multipart upload', async () => {
    // Prepare
    const endpoint = inject('s3Endpoint');
    const bucket = await createBucket(s3Client(endpoint));
    const proxy = await startFaultyProxy(endpoint, () => false);
    try {
      const repo = new S3Repository({
        client: s3Client(proxy.endpoint),
        bucket,
        prefix: 'fail',
        partSizeBytes: PART,
      });
      const failing = Readable.from(
        (async function* () {
          for (let i = 0; i < 3; i++) yield randomBytes(2 * MIB + 17);
          yield randomBytes(3 * MIB);
          throw new Error('the source broke');
        })(),
      );

      // Act
      const attempt = repo.upload('broken', failing);

      // Assess
      await expect(attempt).rejects.toThrow(/the source broke/);
      expect(proxy.requests.some((r) => r.startsWith('POST') && r.includes('uploads'))).toBe(true);
      expect(proxy.requests.filter((r) => r.startsWith('DELETE') && r.includes('uploadId='))).toHaveLength(1);
      expect(await repo.size('broken')).toBeNull();
    } finally {
      await proxy.close();
    }
  });
});
