import type pg from 'pg';

/**
 * The object permissions of a database as a map `what → value`, read from the catalogs so that a
 * restore can be compared with its source: the owner of every schema, table, view, sequence and
 * function, every grant on those and on columns (per grantee, NULL ACLs read as the built-in
 * defaults they stand for), and every default privilege (ALTER DEFAULT PRIVILEGES). Policies'
 * roles are compared by the row-level-security check. Objects that belong to an extension are
 * left out: the extension's script, not the dump, sets them up.
 *
 * Keys read like `table app.orders grant to app_rw`; values like `INSERT, SELECT, UPDATE`, so a
 * difference names the object, the role and the privileges on both sides.
 */
export type Permissions = Record<string, string>;

/** The permissions of the database `client` is connected to (in its transaction, if any). */
export async function readPermissions(client: pg.Client): Promise<Permissions> {
  const rows = (await client.query<{ key: string; value: string }>(PERMISSIONS)).rows;
  const out: Permissions = {};
  for (const r of rows) out[r.key] = r.value;
  return out;
}

/**
 * What differs between the source's permissions and the restored database's, one line each,
 * sorted: `<what>: <restored> here, <source> on the source` (`none` where a side has nothing).
 */
export function comparePermissions(source: Permissions, restored: Permissions): string[] {
  const keys = [...new Set([...Object.keys(source), ...Object.keys(restored)])].sort();
  const out: string[] = [];
  for (const key of keys) {
    const want = source[key];
    const got = restored[key];
    if (want !== got) out.push(`${key}: ${got ?? 'none'} here, ${want ?? 'none'} on the source`);
  }
  return out;
}

const NOT_SYSTEM = (schema: string) => `${schema} !~ '^pg_' AND ${schema} <> 'information_schema'`;
const NOT_EXTENSION = (catalog: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype = 'e')`;
const GRANTEE = `CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END`;
const PRIVILEGES = `string_agg(a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, ', ' ORDER BY a.privilege_type)`;

/*
 * Schema public is created by initdb, owned by its bootstrap superuser before PostgreSQL 15 (and
 * pg_dump does not restore that owner): its owner, and the owner's own grant on it, depend on the
 * server restored into. Its grants to others (REVOKE CREATE … FROM PUBLIC) are compared.
 */
const PERMISSIONS = `
WITH objects AS (
  SELECT 'schema' AS kind, quote_ident(n.nspname) AS name, n.nspowner AS owner,
         COALESCE(n.nspacl, acldefault('n', n.nspowner)) AS acl, n.nspname = 'public' AS initdb
    FROM pg_namespace n
   WHERE ${NOT_SYSTEM('n.nspname')} AND ${NOT_EXTENSION('pg_namespace', 'n.oid')}
  UNION ALL
  SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                        WHEN 'f' THEN 'foreign table' ELSE 'table' END,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname), c.relowner,
         COALESCE(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)), false
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND ${NOT_SYSTEM('n.nspname')}
     AND ${NOT_EXTENSION('pg_class', 'c.oid')}
  UNION ALL
  SELECT CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
         quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')',
         p.proowner, COALESCE(p.proacl, acldefault('f', p.proowner)), false
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE ${NOT_SYSTEM('n.nspname')} AND ${NOT_EXTENSION('pg_proc', 'p.oid')}
)
SELECT o.kind || ' ' || o.name || ' owner' AS key, pg_get_userbyid(o.owner) AS value
  FROM objects o WHERE NOT o.initdb
UNION ALL
SELECT o.kind || ' ' || o.name || ' grant to ' || ${GRANTEE}, ${PRIVILEGES}
  FROM objects o, aclexplode(o.acl) a
 WHERE NOT (o.initdb AND a.grantee = o.owner)
 GROUP BY o.kind, o.name, a.grantee
UNION ALL
SELECT 'column ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname) || '(' || quote_ident(att.attname) || ') grant to ' || ${GRANTEE},
       ${PRIVILEGES}
  FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace,
       aclexplode(att.attacl) a
 WHERE att.attacl IS NOT NULL AND att.attnum > 0 AND NOT att.attisdropped AND ${NOT_SYSTEM('n.nspname')}
   AND ${NOT_EXTENSION('pg_class', 'c.oid')}
 GROUP BY n.nspname, c.relname, att.attname, a.grantee
UNION ALL
SELECT 'default privileges of ' || pg_get_userbyid(d.defaclrole)
         || CASE WHEN d.defaclnamespace = 0 THEN '' ELSE ' in schema ' || quote_ident(n.nspname) END
         || ' on ' || CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
                                          WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END
         || ' grant to ' || ${GRANTEE},
       ${PRIVILEGES}
  FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a
 GROUP BY d.defaclrole, d.defaclnamespace, n.nspname, d.defaclobjtype, a.grantee
ORDER BY 1`;
