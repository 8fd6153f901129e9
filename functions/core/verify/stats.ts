import type pg from 'pg';
import type { SourceStatistics, TableStat } from '../catalog/manifest.ts';
import { quoteIdent } from '../shared/pg.ts';

/**
 * Objects of the user's database: not PostgreSQL's own schemas, not temporary objects, and not
 * members of extensions (pg_dump recreates those with CREATE EXTENSION, not one by one).
 */
const USER_NAMESPACE = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;
const notExtensionMember = (classid: string, objid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${classid}'::regclass AND d.objid = ${objid} AND d.deptype = 'e')`;

/** Row counts are read in batches of this many tables per statement. */
const COUNT_BATCH = 50;

/**
 * Reads the statistics verification compares against. Run it inside the transaction whose
 * snapshot pg_dump uses, and the row counts are exactly those of the dump.
 */
export async function captureStatistics(client: pg.Client): Promise<SourceStatistics> {
  const tables = await client.query<{
    schema: string;
    name: string;
    relkind: string;
    relrowsecurity: boolean;
    relforcerowsecurity: boolean;
    partition_of: string | null;
  }>(`
    SELECT n.nspname AS schema, c.relname AS name, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
      (SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
         JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND ${USER_NAMESPACE}
      AND ${notExtensionMember('pg_class', 'c.oid')}
    ORDER BY 1, 2`);

  const stats: TableStat[] = tables.rows.map((t) => ({
    schema: t.schema,
    name: t.name,
    kind: t.relkind === 'p' ? 'partitioned' : 'table',
    rowCount: null,
    partitionOf: t.partition_of,
    rowSecurity: t.relrowsecurity,
    forceRowSecurity: t.relforcerowsecurity,
  }));
  const counted = stats.filter((t) => t.kind === 'table');
  for (let i = 0; i < counted.length; i += COUNT_BATCH) {
    const batch = counted.slice(i, i + COUNT_BATCH);
    const sql = batch
      .map(
        (t, j) => `SELECT ${j} AS i, count(*) AS n FROM ONLY ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`,
      )
      .join(' UNION ALL ');
    const rows = await client.query<{ i: number; n: string }>(sql);
    for (const row of rows.rows) batch[row.i]!.rowCount = Number(row.n);
  }

  const indexes = await client.query(`
    SELECT n.nspname AS schema, t.relname AS "table", i.relname AS name, am.amname AS method,
           pg_get_indexdef(i.oid) AS definition
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam
    WHERE t.relkind IN ('r', 'p', 'm') AND t.relpersistence <> 't' AND ${USER_NAMESPACE}
      AND ${notExtensionMember('pg_class', 't.oid')}
    ORDER BY 1, 2, 3`);

  const constraints = await client.query(`
    SELECT n.nspname AS schema, t.relname AS "table", c.conname AS name, c.contype AS type,
           pg_get_constraintdef(c.oid) AS definition, c.convalidated AS validated
    FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
    WHERE t.relpersistence <> 't' AND ${USER_NAMESPACE} AND ${notExtensionMember('pg_class', 't.oid')}
    ORDER BY 1, 2, 3`);

  const functions = await client.query(`
    SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
           p.prokind AS kind
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE ${USER_NAMESPACE} AND ${notExtensionMember('pg_proc', 'p.oid')}
    ORDER BY 1, 2, 3`);

  const policies = await client.query(`
    SELECT schemaname AS schema, tablename AS "table", policyname AS name, cmd AS command,
           permissive = 'PERMISSIVE' AS permissive, roles::text[] AS roles, qual AS using, with_check AS "withCheck"
    FROM pg_policies ORDER BY 1, 2, 3`);

  const extensions = await client.query(`
    SELECT e.extname AS name, e.extversion AS version, n.nspname AS schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1`);

  const relations = await client.query<{ schema: string; name: string; relkind: string }>(`
    SELECT n.nspname AS schema, c.relname AS name, c.relkind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('v', 'm', 'S') AND c.relpersistence <> 't' AND ${USER_NAMESPACE}
      AND ${notExtensionMember('pg_class', 'c.oid')}
    ORDER BY 1, 2`);

  const misc = await client.query<{ size: string; large_objects: string }>(`
    SELECT pg_database_size(current_database()) AS size,
           (SELECT count(*) FROM pg_largeobject_metadata) AS large_objects`);

  return {
    databaseSizeBytes: Number(misc.rows[0]!.size),
    tables: stats,
    indexes: indexes.rows,
    constraints: constraints.rows,
    functions: functions.rows,
    policies: policies.rows.map((p) => ({ ...p, roles: [...p.roles].sort() })),
    extensions: extensions.rows,
    views: relations.rows
      .filter((r) => r.relkind !== 'S')
      .map((r) => ({ schema: r.schema, name: r.name, materialized: r.relkind === 'm' })),
    sequences: relations.rows
      .filter((r) => r.relkind === 'S')
      .map((r) => ({ schema: r.schema, name: r.name })),
    largeObjects: Number(misc.rows[0]!.large_objects),
  };
}
