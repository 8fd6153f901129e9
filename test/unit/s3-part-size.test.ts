import { describe, expect, it } from 'vitest';
import { partSizeFor } from '#core/repository/s3.ts';

const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

describe('partSizeFor', () => {
  it('uses the minimum part size when the size is unknown or small', () => {
    expect(partSizeFor(undefined, 8 * MIB)).toBe(8 * MIB);
    expect(partSizeFor(0, 8 * MIB)).toBe(8 * MIB);
    expect(partSizeFor(1 * GIB, 8 * MIB)).toBe(8 * MIB);
  });

  it('grows the parts so that a large dump fits well within S3 10,000 parts', () => {
    for (const size of [100 * GIB, 500 * GIB, 2048 * GIB, 4096 * GIB]) {
      const part = partSizeFor(size, 8 * MIB);
      expect(part % MIB).toBe(0);
      expect(Math.ceil(size / part)).toBeLessThanOrEqual(8000);
      // A source 20 % larger than expected still fits.
      expect(Math.ceil((size * 1.2) / part)).toBeLessThanOrEqual(10_000);
    }
  });

  it('never exceeds S3 largest part (5 GiB)', () => {
    expect(partSizeFor(100 * 1024 * GIB, 8 * MIB)).toBe(5 * GIB);
  });
});
