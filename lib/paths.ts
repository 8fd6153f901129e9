import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root, found from this file rather than the current directory: the nearest
 * directory above it with a package.json (lib/ in the sources, .lifeboat/cli/<build>/ in the CLI's
 * bundle, bin/cli-bundle.mjs).
 */
export const PROJECT_ROOT = projectRoot(path.dirname(fileURLToPath(import.meta.url)));

function projectRoot(from: string): string {
  for (let dir = path.dirname(from); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** Absolute path of a file under functions/, e.g. `functionPath('prune/index.ts')`; absolute paths pass through. */
export function functionPath(relative: string): string {
  return path.isAbsolute(relative) ? relative : path.join(PROJECT_ROOT, 'functions', relative);
}
