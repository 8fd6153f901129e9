import { describe, expect, it } from 'vitest';
import { Catalog } from '#core/catalog/catalog.ts';
import {
  checkConstraints,
  checkDatabaseSize,
  checkRowLevelSecurity,
  checkTables,
  dataChecks,
} from '#core/verify/checks.ts';
import type { SourceStatistics } from '#core/catalog/manifest.ts';

const base: SourceStatistics = {
  databaseSizeBytes: 100 * 1048576,
  tables: [
    {
      schema: 'public',
      name: 'a',
      kind: 'table',
      rowCount: 10,
      partitionOf: null,
      rowSecurity: true,
      forceRowSecurity: false,
    },
    {
      schema: 'Odd "schema"',
      name: 'b c',
      kind: 'table',
      rowCount: 0,
      partitionOf: null,
      rowSecurity: false,
      forceRowSecurity: false,
    },
  ],
  indexes: [
    {
      schema: 'public',
      table: 'a',
      name: 'a_pkey',
      method: 'btree',
      definition: 'CREATE UNIQUE INDEX a_pkey ON public.a USING btree (id)',
    },
  ],
  constraints: [
    {
      schema: 'public',
      table: 'a',
      name: 'a_pkey',
      type: 'p',
      definition: 'PRIMARY KEY (id)',
      validated: true,
    },
    {
      schema: 'public',
      table: 'a',
      name: 'a_b_fk',
      type: 'f',
      definition: 'FOREIGN KEY (b) REFERENCES x(id)',
      validated: true,
    },
  ],
  functions: [{ schema: 'public', name: 'f', arguments: 'integer', kind: 'f' }],
  policies: [
    {
      schema: 'public',
      table: 'a',
      name: 'p',
      command: 'SELECT',
      permissive: true,
      roles: ['app'],
      using: '(x = 1)',
      withCheck: null,
    },
  ],
  extensions: [{ name: 'plpgsql', version: '1.0', schema: 'pg_catalog' }],
  views: [],
  sequences: [],
  largeObjects: 0,
};
const clone = (): SourceStatistics => structuredClone(base);

describe('data checks', () => {
  it('all pass for identical statistics', () => {
    expect(dataChecks(base, clone()).every((c) => c.passed)).toBe(true);
  });

  it('names a table whose row count differs, one that is missing and one that is unexpected', () => {
    const actual = clone();
    actual.tables[0]!.rowCount = 9;
    actual.tables[1]!.name = 'renamed';
    const result = checkTables(base, actual);
    expect(result.passed).toBe(false);
    expect(result.failures).toEqual([
      'table public.a: 9 rows, expected 10',
      'missing table Odd "schema".b c',
      'unexpected table Odd "schema".renamed',
    ]);
  });

  it('fails an unvalidated foreign key and a changed policy', () => {
    const actual = clone();
    actual.constraints[1]!.validated = false;
    actual.policies[0]!.roles = ['public'];
    actual.tables[0]!.rowSecurity = false;
    expect(checkConstraints(base, actual).failures).toEqual([
      'constraint public.a.a_b_fk: foreign key is not validated',
    ]);
    expect(checkRowLevelSecurity(base, actual).failures).toEqual([
      'table public.a: row security disabled, expected enabled',
      'policy public.a.p: roles public, expected app',
    ]);
  });

  it('holds the database size to the stated tolerance, both ways', () => {
    const actual = clone();
    actual.databaseSizeBytes = 40 * 1048576;
    expect(checkDatabaseSize(base, actual, 0.5).passed).toBe(false);
    expect(checkDatabaseSize(base, actual, 0.7).passed).toBe(true);
    actual.databaseSizeBytes = 160 * 1048576;
    expect(checkDatabaseSize(base, actual, 0.5)).toMatchObject({
      passed: false,
      detail: expect.stringMatching(/160\.0 MiB restored vs 100\.0 MiB source \(160 %, tolerance ±50 %\)/),
    });
  });
});

describe('catalog ids', () => {
  it('rejects a ref that is not a backup id, saying what was expected', async () => {
    const catalog = new Catalog({} as never);
    await expect(catalog.get('../etc/passwd')).rejects.toThrow(
      '"../etc/passwd" is not a backup id (expected e.g. 20261123T091500Z-3f9a1c, or "latest")',
    );
  });
});
