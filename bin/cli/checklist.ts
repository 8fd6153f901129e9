import type { CheckResult } from '#core/catalog/catalog.ts';

const WIDTH = 20;

/** One line per check with ✓ or ✗ and its figures; failures listed under a failed check. */
export function checkLine(check: CheckResult, maxFailures = 10): string {
  const mark = check.passed ? '✓' : '✗';
  const lines = [`${mark} ${check.name.padEnd(WIDTH)} ${check.detail}`];
  for (const f of check.failures.slice(0, maxFailures)) lines.push(`    ${f}`);
  if (check.failures.length > maxFailures)
    lines.push(`    … and ${check.failures.length - maxFailures} more`);
  return lines.join('\n');
}
