import type { CheckResult } from '../catalog/catalog.ts';
import type { SourceStatistics } from '../catalog/manifest.ts';

/**
 * Data checks: the statistics of a restored database against those recorded at backup time.
 * Pure functions, one per check, each returning a result whose `failures` name the objects.
 */

/** Restored size must lie within [1 - t, 1 + t] × the source's size. Restores drop bloat, so not exact. */
export const DEFAULT_SIZE_TOLERANCE = 0.5;

const qualified = (schema: string, name: string) => `${schema}.${name}`;
const fmt = (n: number) => n.toLocaleString('en-US');
const plural = (noun: string) =>
  noun.endsWith('x') ? `${noun}es` : noun.endsWith('y') ? `${noun.slice(0, -1)}ies` : `${noun}s`;

function setCheck<T>(
  name: string,
  noun: string,
  expected: readonly T[],
  actual: readonly T[],
  key: (t: T) => string,
  same: (a: T, b: T) => string | null = () => null,
): CheckResult {
  const actualByKey = new Map(actual.map((a) => [key(a), a]));
  const expectedKeys = new Set(expected.map(key));
  const failures: string[] = [];
  for (const e of expected) {
    const a = actualByKey.get(key(e));
    if (!a) failures.push(`missing ${noun} ${key(e)}`);
    else {
      const diff = same(e, a);
      if (diff) failures.push(`${noun} ${key(e)}: ${diff}`);
    }
  }
  for (const a of actual) if (!expectedKeys.has(key(a))) failures.push(`unexpected ${noun} ${key(a)}`);
  return {
    name,
    passed: failures.length === 0,
    detail:
      failures.length === 0
        ? `${fmt(expected.length)} ${plural(noun)} match`
        : `${failures.length} of ${fmt(expected.length)} ${plural(noun)} differ`,
    failures,
  };
}

export function checkTables(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  const result = setCheck(
    'tables',
    'table',
    expected.tables,
    actual.tables,
    (t) => qualified(t.schema, t.name),
    (e, a) => {
      if (e.kind !== a.kind) return `is ${a.kind}, expected ${e.kind}`;
      if (e.rowCount !== a.rowCount) return `${fmt(a.rowCount ?? 0)} rows, expected ${fmt(e.rowCount ?? 0)}`;
      if (e.partitionOf !== a.partitionOf)
        return `partition of ${a.partitionOf ?? 'nothing'}, expected ${e.partitionOf}`;
      return null;
    },
  );
  const rows = expected.tables.reduce((n, t) => n + (t.rowCount ?? 0), 0);
  if (result.passed) result.detail = `${fmt(expected.tables.length)} tables, ${fmt(rows)} rows, exact`;
  return result;
}

export function checkIndexes(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  return setCheck(
    'indexes',
    'index',
    expected.indexes,
    actual.indexes,
    (i) => qualified(i.schema, i.name),
    (e, a) =>
      e.definition === a.definition ? null : `definition "${a.definition}", expected "${e.definition}"`,
  );
}

export function checkConstraints(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  const result = setCheck(
    'constraints',
    'constraint',
    expected.constraints,
    actual.constraints,
    (c) => `${qualified(c.schema, c.table)}.${c.name}`,
    (e, a) => {
      if (e.definition !== a.definition) return `definition "${a.definition}", expected "${e.definition}"`;
      if (e.type === 'f' && !a.validated) return 'foreign key is not validated';
      return null;
    },
  );
  const fks = expected.constraints.filter((c) => c.type === 'f').length;
  if (result.passed)
    result.detail = `${fmt(expected.constraints.length)} constraints match, ${fks} foreign keys valid`;
  return result;
}

export function checkFunctions(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  return setCheck(
    'functions',
    'function',
    expected.functions,
    actual.functions,
    (f) => `${qualified(f.schema, f.name)}(${f.arguments})`,
    (e, a) => (e.kind === a.kind ? null : `kind ${a.kind}, expected ${e.kind}`),
  );
}

export function checkRowLevelSecurity(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  const failures: string[] = [];
  const actualTables = new Map(actual.tables.map((t) => [qualified(t.schema, t.name), t]));
  const rlsTables = expected.tables.filter((t) => t.rowSecurity || t.forceRowSecurity);
  for (const e of expected.tables) {
    const a = actualTables.get(qualified(e.schema, e.name));
    if (!a) continue; // reported by the tables check
    if (a.rowSecurity !== e.rowSecurity) {
      failures.push(
        `table ${qualified(e.schema, e.name)}: row security ${a.rowSecurity ? 'enabled' : 'disabled'}, expected ${e.rowSecurity ? 'enabled' : 'disabled'}`,
      );
    }
    if (a.forceRowSecurity !== e.forceRowSecurity) {
      failures.push(
        `table ${qualified(e.schema, e.name)}: force row security ${a.forceRowSecurity ? 'on' : 'off'}, expected ${e.forceRowSecurity ? 'on' : 'off'}`,
      );
    }
  }
  const policies = setCheck(
    'row-level-security',
    'policy',
    expected.policies,
    actual.policies,
    (p) => `${qualified(p.schema, p.table)}.${p.name}`,
    (e, a) => {
      const diffs: string[] = [];
      if (e.command !== a.command) diffs.push(`command ${a.command}, expected ${e.command}`);
      if (e.permissive !== a.permissive)
        diffs.push(a.permissive ? 'permissive, expected restrictive' : 'restrictive, expected permissive');
      if (e.roles.join(',') !== a.roles.join(','))
        diffs.push(`roles ${a.roles.join(',')}, expected ${e.roles.join(',')}`);
      if (e.using !== a.using) diffs.push(`USING ${a.using}, expected ${e.using}`);
      if (e.withCheck !== a.withCheck) diffs.push(`WITH CHECK ${a.withCheck}, expected ${e.withCheck}`);
      return diffs.length ? diffs.join('; ') : null;
    },
  );
  const all = [...failures, ...policies.failures];
  return {
    name: 'row-level-security',
    passed: all.length === 0,
    detail:
      all.length === 0
        ? `${rlsTables.length} tables with RLS, ${expected.policies.length} policies match`
        : `${all.length} differences in row-level security`,
    failures: all,
  };
}

export function checkExtensions(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  return setCheck(
    'extensions',
    'extension',
    expected.extensions,
    actual.extensions.filter(
      (a) => expected.extensions.some((e) => e.name === a.name) || a.name !== 'amcheck',
    ),
    (e) => e.name,
    (e, a) => (e.version === a.version ? null : `version ${a.version}, expected ${e.version}`),
  );
}

export function checkViewsAndSequences(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  const views = setCheck(
    'views',
    'view',
    expected.views,
    actual.views,
    (v) => `${v.materialized ? 'materialized ' : ''}${qualified(v.schema, v.name)}`,
  );
  const sequences = setCheck('sequences', 'sequence', expected.sequences, actual.sequences, (s) =>
    qualified(s.schema, s.name),
  );
  const failures = [...views.failures, ...sequences.failures];
  return {
    name: 'views-and-sequences',
    passed: failures.length === 0,
    detail:
      failures.length === 0
        ? `${expected.views.length} views, ${expected.sequences.length} sequences match`
        : `${failures.length} views or sequences differ`,
    failures,
  };
}

export function checkLargeObjects(expected: SourceStatistics, actual: SourceStatistics): CheckResult {
  const passed = expected.largeObjects === actual.largeObjects;
  return {
    name: 'large-objects',
    passed,
    detail: passed
      ? `${fmt(expected.largeObjects)} large objects`
      : `${fmt(actual.largeObjects)} large objects, expected ${fmt(expected.largeObjects)}`,
    failures: passed
      ? []
      : [`${fmt(actual.largeObjects)} large objects, expected ${fmt(expected.largeObjects)}`],
  };
}

export function checkDatabaseSize(
  expected: SourceStatistics,
  actual: SourceStatistics,
  tolerance: number = DEFAULT_SIZE_TOLERANCE,
): CheckResult {
  const ratio = expected.databaseSizeBytes === 0 ? 1 : actual.databaseSizeBytes / expected.databaseSizeBytes;
  const passed = ratio >= 1 - tolerance && ratio <= 1 + tolerance;
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;
  const detail = `${mb(actual.databaseSizeBytes)} restored vs ${mb(expected.databaseSizeBytes)} source (${(ratio * 100).toFixed(0)} %, tolerance ±${(tolerance * 100).toFixed(0)} %)`;
  return { name: 'database-size', passed, detail, failures: passed ? [] : [detail] };
}

/** Every data check, in the order they are shown. */
export function dataChecks(
  expected: SourceStatistics,
  actual: SourceStatistics,
  options: { sizeTolerance?: number } = {},
): CheckResult[] {
  return [
    checkTables(expected, actual),
    checkIndexes(expected, actual),
    checkConstraints(expected, actual),
    checkFunctions(expected, actual),
    checkRowLevelSecurity(expected, actual),
    checkExtensions(expected, actual),
    checkViewsAndSequences(expected, actual),
    checkLargeObjects(expected, actual),
    checkDatabaseSize(expected, actual, options.sizeTolerance),
  ];
}
