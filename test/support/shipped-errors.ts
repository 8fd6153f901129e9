import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Error names a Lambda task can report to Step Functions. A handled error's name is the thrown
 * error's `name` (the runtime's errorType); the Lambda service's own errors are documented in
 * "Handle Lambda service exceptions" (Step Functions developer guide): the four transient ones,
 * `Lambda.TooManyRequestsException` at the invocation limit, and `Lambda.Unknown` for unhandled
 * failures (timeouts, out of memory).
 */
export const LAMBDA_SERVICE_ERRORS: ReadonlySet<string> = new Set([
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
]);

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Names of lifeboat's own error classes, as their source spells them. */
export function sourceErrorNames(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['functions', 'bin']) {
    for (const e of readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      if (!e.isFile() || !e.name.endsWith('.ts')) continue;
      const text = readFileSync(path.join(e.parentPath, e.name), 'utf8');
      for (const m of text.matchAll(/override readonly name(?:: string)? = '(\w+)'/g)) names.add(m[1]!);
    }
  }
  return names;
}

/**
 * Names errors in a shipped (minified) bundle can carry: every class field or assignment
 * `name="X"` with a capitalized literal (lifeboat's errors, the bundled AWS SDK's modeled
 * exceptions) and the built-in error classes.
 */
export function bundleErrorNames(bundle: string): Set<string> {
  const names = new Set(['Error', 'TypeError', 'RangeError', 'SyntaxError']);
  for (const m of bundle.matchAll(/\bname\s*=\s*"([A-Z][A-Za-z0-9]*)"/g)) names.add(m[1]!);
  return names;
}
