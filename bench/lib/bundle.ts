import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import {
  HANDLER_FILE,
  type HandlerBundleOptions,
  handlerBuild,
  initialFiles,
  SDK_TRACING_MODULE,
} from '../../lib/constructs/handler-bundle.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Every handler that ships: each folder of functions/ whose index.ts exports `handler` (wf-common
 * is code the workflow tasks share, not a function). logical-dump, verify-backup and
 * wf-restore-dump are bundled into container images the same way (their Dockerfiles run esbuild
 * with the same flags).
 */
export async function handlerNames(): Promise<string[]> {
  const entries = await readdir(path.join(ROOT, 'functions'), { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const source = await readFile(path.join(ROOT, 'functions', e.name, 'index.ts'), 'utf8').catch(() => '');
    if (/^export (const|async function|function) handler\b/m.test(source)) names.push(e.name);
  }
  return names.sort();
}

export interface Bundle {
  /** The file Lambda loads. */
  readonly file: string;
  /** Every JavaScript file of the bundle (entry and chunks): what the function's package carries. */
  readonly bytes: number;
  /**
   * The entry and the chunks it imports statically (with SDK tracing, also the Tracer's chunk,
   * awaited at init): what a cold start reads and compiles.
   */
  readonly initBytes: number;
  /**
   * The source files with code in the bundle (paths relative to the project, as esbuild's metafile
   * names them); a module esbuild read and dropped whole (tree-shaken) is not one.
   */
  readonly inputs: readonly string[];
}

/**
 * Bundles one handler exactly as LifeboatFunction does (lib/constructs/handler-bundle.ts) into
 * `outdir/<name>/` (`outdir/<name>+sdk-tracing/` with SDK tracing on). Source maps are not
 * counted: they are read only when an error is mapped.
 */
export async function bundleHandler(
  name: string,
  outdir: string,
  options: HandlerBundleOptions = {},
): Promise<Bundle> {
  const dir = path.join(outdir, options.sdkTracing ? `${name}+sdk-tracing` : name);
  const result = await build({
    ...handlerBuild(path.join(ROOT, 'functions', name, 'index.ts'), dir, options),
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.mjs'));
  const entry = path.relative(ROOT, path.join(dir, HANDLER_FILE));
  const init = initialFiles(result.metafile, entry, options.sdkTracing ? [SDK_TRACING_MODULE] : []);
  if (init.size === 0) throw new Error(`${name}: esbuild wrote no ${entry}`);
  return {
    file: path.join(dir, HANDLER_FILE),
    bytes: outputs.reduce((sum, [, o]) => sum + o.bytes, 0),
    initBytes: [...init.values()].reduce((a, b) => a + b, 0),
    inputs: [
      ...new Set(
        outputs.flatMap(([, o]) =>
          Object.entries(o.inputs)
            .filter(([, i]) => i.bytesInOutput > 0)
            .map(([file]) => file),
        ),
      ),
    ],
  };
}

/** The size every handler bundle stays within. */
export const BUNDLE_LIMIT_BYTES = 1_000_000;
