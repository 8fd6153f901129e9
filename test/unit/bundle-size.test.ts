import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_LIMIT_BYTES, bundleHandler, handlerNames } from '../../bench/lib/bundle.ts';

// Size, not time: the bundle is what a cold start loads and parses. `npm run bench:bundles` prints
// both the sizes and the cold-init times.
describe('handler bundles stay lean', async () => {
  const names = await handlerNames();
  let out: string;

  beforeAll(async () => {
    out = await mkdtemp(path.join(tmpdir(), 'lifeboat-bundle-size-'));
  });
  afterAll(async () => {
    await rm(out, { recursive: true, force: true });
  });

  it('finds every handler', () => {
    expect(names).toEqual(
      expect.arrayContaining(['logical-dump', 'prune', 'verify-backup', 'wf-restore-dump']),
    );
    // Shared code of the workflow tasks, not a function.
    expect(names).not.toContain('wf-common');
  });

  it.each(names)(
    `%s bundles (minified, SDK inside, every chunk counted) to at most ${BUNDLE_LIMIT_BYTES / 1e6} MB`,
    async (name) => {
      const { bytes, initBytes } = await bundleHandler(name, out);
      expect(initBytes).toBeGreaterThan(10_000);
      expect(initBytes).toBeLessThanOrEqual(bytes);
      expect(bytes).toBeLessThanOrEqual(BUNDLE_LIMIT_BYTES);
    },
    // Bundling is CPU work: seconds on a loaded machine. Sizes, not times, are what is checked.
    60_000,
  );
});
