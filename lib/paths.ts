import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, found from this file rather than the current directory. */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of a file under functions/, e.g. `functionPath('prune/index.ts')`; absolute paths pass through. */
export function functionPath(relative: string): string {
  return path.isAbsolute(relative) ? relative : path.join(PROJECT_ROOT, 'functions', relative);
}
