import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_LIMIT_BYTES, bundleHandler, handlerNames, ROOT } from '../../bench/lib/bundle.ts';

/** Whether a handler asks lambdaHandler for metrics (`metrics: handlerMetrics`). */
async function recordsMetrics(name: string): Promise<boolean> {
  const source = await readFile(path.join(ROOT, 'functions', name, 'index.ts'), 'utf8');
  return /\bmetrics: handlerMetrics\b/.test(source);
}

const fromPackage = (inputs: readonly string[], pkg: string) =>
  inputs.some((i) => i.includes(`node_modules/${pkg}/`));

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
      const { bytes, initBytes, inputs } = await bundleHandler(name, out);
      expect(initBytes).toBeGreaterThan(10_000);
      expect(initBytes).toBeLessThanOrEqual(bytes);
      expect(bytes).toBeLessThanOrEqual(BUNDLE_LIMIT_BYTES);
      // Pay for what is used: Powertools Metrics only in a handler that records metrics, and no
      // tracer code at all unless the environment turns SDK tracing on.
      expect(fromPackage(inputs, '@aws-lambda-powertools/metrics')).toBe(await recordsMetrics(name));
      expect(fromPackage(inputs, '@aws-lambda-powertools/tracer')).toBe(false);
      expect(fromPackage(inputs, 'aws-xray-sdk-core')).toBe(false);
      // zod's mini form only (functions/core/shared/zod.ts), with the English messages alone: the
      // classic form's methods and JSON Schema code, or every locale, cost cold init.
      expect(inputs.filter((i) => i.includes('node_modules/zod/v4/classic/'))).toEqual([]);
      expect(inputs.filter((i) => i.includes('node_modules/zod/v4/locales/'))).toEqual([
        'node_modules/zod/v4/locales/en.js',
      ]);
    },
    // Bundling is CPU work: seconds on a loaded machine. Sizes, not times, are what is checked.
    60_000,
  );
});
