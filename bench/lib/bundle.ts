import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Every handler that ships: each folder of functions/ (but core) with an index.ts. logical-dump is
 * bundled into its container image the same way (its Dockerfile runs esbuild with these options).
 */
export async function handlerNames(): Promise<string[]> {
  const entries = await readdir(path.join(ROOT, 'functions'), { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === 'core') continue;
    const has = await stat(path.join(ROOT, 'functions', e.name, 'index.ts')).then(
      () => true,
      () => false,
    );
    if (has) names.push(e.name);
  }
  return names.sort();
}

/**
 * Bundles one handler as LifeboatFunction (lib/constructs/lifeboat-function.ts) has NodejsFunction
 * bundle it: ESM for node22, minified, names kept, the AWS SDK inside. Returns the file and its size.
 */
export async function bundleHandler(name: string, outdir: string): Promise<{ file: string; bytes: number }> {
  const file = path.join(outdir, name, 'index.mjs');
  await build({
    entryPoints: [path.join(ROOT, 'functions', name, 'index.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    logLevel: 'silent',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  return { file, bytes: (await stat(file)).size };
}

/** The size every handler bundle stays within. */
export const BUNDLE_LIMIT_BYTES = 1_000_000;
