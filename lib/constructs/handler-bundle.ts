import { createRequire } from 'node:module';
import path from 'node:path';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import { Code } from 'aws-cdk-lib/aws-lambda';
import type * as esbuild from 'esbuild';
import type { BuildOptions, Metafile } from 'esbuild';
import { PROJECT_ROOT } from '../paths.ts';

/** The expression esbuild replaces with a constant: is SDK tracing on (functions/runtime/tracing.ts). */
export const SDK_TRACING_VARIABLE = 'process.env.LIFEBOAT_SDK_TRACING';

function defines(options: HandlerBundleOptions): Record<string, string> {
  return { [SDK_TRACING_VARIABLE]: JSON.stringify(options.sdkTracing ? 'true' : 'false') };
}

/**
 * How every handler is bundled: by LifeboatFunction for Lambda, by the container images'
 * Dockerfiles (their `npx esbuild` lines carry the same flags, test/unit/handler-bundle.test.ts),
 * and by `npm run bench:bundles` and the bundle-size test, so that what is measured is what ships.
 *
 * - ESM for node22 (the Lambda runtime), minified, the AWS SDK inside (the SDK versions tested
 *   here are the ones that run, not whatever the runtime ships).
 * - Names kept: minifying renames classes and functions; stack traces and any code that reads a
 *   name keep the real one. Error names do not depend on this (see functions/core/shared/errors.ts).
 * - Code split: what is reached only through `import()` (the SDK's credential providers for
 *   other environments than Lambda's, code of rarely taken paths) goes into chunks that a cold start
 *   never reads; the entry and the chunks it imports statically are what init parses.
 * - No source maps: Node's `--enable-source-maps` parses the whole map of every module at import,
 *   which cost about 0.4 × the import itself (bench/README.md). Names are kept, so a stack trace
 *   still names the functions.
 * - Some CommonJS dependencies call require(); an ESM bundle needs one (the banner, on every chunk).
 * - `process.env.LIFEBOAT_SDK_TRACING` is a constant, `"false"` unless the environment turns SDK
 *   tracing on (`tracing.sdkCalls`, HandlerBundleOptions): functions/runtime/tracing.ts loads the
 *   Powertools Tracer in a branch esbuild drops when it is off, so an untraced bundle carries none
 *   of it. The container images are always bundled with it off (docs/deploy.md, Tracing).
 */
export const HANDLER_BUILD_OPTIONS = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  mainFields: ['module', 'main'],
  minify: true,
  keepNames: true,
  splitting: true,
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  define: { [SDK_TRACING_VARIABLE]: JSON.stringify('false') },
} as const satisfies BuildOptions;

/** How a handler is bundled beyond HANDLER_BUILD_OPTIONS: what the environment's configuration decides. */
export interface HandlerBundleOptions {
  /**
   * Trace the AWS SDK calls with the Powertools Tracer (the environment's `tracing.sdkCalls`).
   * @default false - no tracer code in the bundle
   */
  readonly sdkTracing?: boolean;
}

/** The file Lambda loads (`index.handler`) in the bundle's directory. */
export const HANDLER_FILE = 'index.mjs';

/**
 * NODE_OPTIONS every bundled function runs with (Lambda environment; the bench imports with it);
 * empty: none.
 */
export const HANDLER_NODE_OPTIONS: string = '';

/** esbuild options for bundling `entry` into the directory `outdir` (entry file: HANDLER_FILE). */
export function handlerBuild(
  entry: string,
  outdir: string,
  options: HandlerBundleOptions = {},
): BuildOptions {
  return {
    ...HANDLER_BUILD_OPTIONS,
    mainFields: [...HANDLER_BUILD_OPTIONS.mainFields],
    define: defines(options),
    entryPoints: { index: entry },
    outdir,
    outExtension: { '.js': '.mjs' },
    absWorkingDir: PROJECT_ROOT,
    logLevel: 'warning',
  };
}

/**
 * The command-line flags of HANDLER_BUILD_OPTIONS, as a Dockerfile's `npx esbuild` line spells them
 * (the define's value single-quoted for the shell).
 */
export function handlerCliFlags(options: HandlerBundleOptions = {}): string[] {
  const o = HANDLER_BUILD_OPTIONS as BuildOptions;
  const flags = [
    '--bundle',
    `--platform=${o.platform}`,
    `--target=${String(o.target)}`,
    `--format=${o.format}`,
  ];
  flags.push(`--main-fields=${o.mainFields!.join(',')}`);
  if (o.sourcemap) flags.push('--sourcemap');
  if (o.minify) flags.push('--minify');
  if (o.keepNames) flags.push('--keep-names');
  if (o.splitting) flags.push('--splitting');
  flags.push('--out-extension:.js=.mjs');
  for (const [name, value] of Object.entries(defines(options))) flags.push(`--define:${name}='${value}'`);
  return flags;
}

/**
 * The files of a bundle a cold start reads before the handler runs: the entry and every chunk it
 * imports statically, transitively (chunks only reached through `import()` are read when a code
 * path needs them), plus the chunks of `awaitedAtInit`: modules (paths as esbuild's metafile names
 * them) that module code imports with a top-level `await import()`, such as the Tracer with SDK
 * tracing on. Bytes of each output, from esbuild's metafile.
 */
export function initialFiles(
  metafile: Metafile,
  entryFile: string,
  awaitedAtInit: readonly string[] = [],
): Map<string, number> {
  const files = new Map<string, number>();
  const visit = (file: string) => {
    const out = metafile.outputs[file];
    if (!out || files.has(file)) return;
    files.set(file, out.bytes);
    for (const i of out.imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  visit(entryFile);
  for (const [file, out] of Object.entries(metafile.outputs)) {
    if (out.entryPoint && awaitedAtInit.includes(out.entryPoint)) visit(file);
  }
  return files;
}

/** The module functions/runtime/tracing.ts awaits at init when SDK tracing is on. */
export const SDK_TRACING_MODULE = 'functions/runtime/sdk-tracing.ts';

/**
 * The Lambda code of a handler module under functions/: bundled at synthesis by the local esbuild
 * (no Docker), into an asset hashed by its output.
 */
export function handlerCode(entry: string, options: HandlerBundleOptions = {}): Code {
  return Code.fromAsset(PROJECT_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never run: local bundling always succeeds or throws. The command still says what is
      // bundled: the asset cache of a synthesis is keyed on these options (not on `local`), so
      // without the entry in them every function would get the first one's bundle, and without
      // the define, a traced function an untraced one's.
      image: DockerImage.fromRegistry('dummy'),
      command: ['esbuild', path.relative(PROJECT_ROOT, entry), ...handlerCliFlags(options)],
      local: {
        tryBundle(outputDir) {
          // Synthesis is synchronous; esbuild's buildSync is loaded only when a bundle is made.
          const { buildSync } = createRequire(import.meta.url)('esbuild') as typeof esbuild;
          buildSync(handlerBuild(entry, outputDir, options));
          return true;
        },
      },
    },
  });
}
