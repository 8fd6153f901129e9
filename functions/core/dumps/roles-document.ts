import { createHash } from 'node:crypto';
import type pg from 'pg';
import * as z from '../shared/zod.ts';
import { LifeboatError } from '../shared/errors.ts';
import type { Repository } from '../repository/types.ts';

/**
 * The roles document (what a backup's roles artifact holds), its errors, the reading of
 * pg_dumpall's role statements, quoting and settings as PostgreSQL writes them, the role attributes
 * read from the catalogs, and reading a backup's artifact back. See roles.ts for what is captured.
 */

export class RolesCaptureFailed extends LifeboatError {
  override readonly name = 'RolesCaptureFailed';
}
export class RolesArtifactInvalid extends LifeboatError {
  override readonly name = 'RolesArtifactInvalid';
}

const Attributes = z.object({
  superuser: z.boolean(),
  inherit: z.boolean(),
  createRole: z.boolean(),
  createDb: z.boolean(),
  login: z.boolean(),
  replication: z.boolean(),
  bypassRls: z.boolean(),
  connectionLimit: z.int(),
  validUntil: z.nullable(z.string()),
});
export type RoleAttributes = z.infer<typeof Attributes>;

const Setting = z.object({ name: z.string(), value: z.string() });
export type Setting = z.infer<typeof Setting>;

export const RolesDocument = z.object({
  schemaVersion: z.literal(1),
  kind: z.literal('roles'),
  /** The source database the roles were read for. */
  database: z.string(),
  tool: z.object({ name: z.literal('pg_dumpall'), version: z.string() }),
  roles: z.array(
    z.object({
      name: z.string(),
      attributes: Attributes,
      /** pg_dumpall's statements for the role, in its order: CREATE, ALTER … WITH, COMMENT, ALTER … SET. */
      statements: z.array(z.string()),
    }),
  ),
  memberships: z.array(
    z.object({ role: z.string(), member: z.string(), admin: z.boolean(), statement: z.string() }),
  ),
  /** `ALTER ROLE r IN DATABASE d SET …` of the source database. */
  roleSettingsInDatabase: z.array(z.object({ role: z.string(), ...Setting.shape })),
  databaseSettings: z.object({
    owner: z.string(),
    settings: z.array(Setting),
    /** The database's grants; null when it has the default ACL (PUBLIC may connect and use temp). */
    acl: z.nullable(
      z.array(z.object({ grantee: z.string(), privilege: z.string(), grantable: z.boolean() })),
    ),
  }),
  /**
   * Owners and grants of the database's objects, columns' grants and default privileges, read in
   * the dump's snapshot (permissions.ts); absent in documents written before they were captured.
   */
  permissions: z.optional(z.record(z.string(), z.string())),
});
export type RolesDocument = z.infer<typeof RolesDocument>;

/** Splits SQL text into statements at `;` outside quotes; drops comments and psql meta-commands. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (quote) {
      current += c;
      if (c === quote) quote = null; // a doubled quote closes and reopens: the same text
      continue;
    }
    if (
      current.trim() === '' &&
      (sql.startsWith('--', i) || (c === '\\' && (i === 0 || sql[i - 1] === '\n')))
    ) {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
      current = '';
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    if (c === ';') {
      out.push(`${current.trim()};`);
      current = '';
      continue;
    }
    current += c;
  }
  if (current.trim() !== '')
    throw new RolesArtifactInvalid(`unterminated statement: ${current.trim().slice(0, 80)}`);
  return out;
}

/** Reads an identifier as PostgreSQL writes one (`"a ""b"""` or `plain_name`) at `pos`. */
export function readIdentifier(text: string, pos: number): { name: string; end: number } | null {
  if (text[pos] === '"') {
    let name = '';
    for (let i = pos + 1; i < text.length; i++) {
      if (text[i] === '"') {
        if (text[i + 1] === '"') {
          name += '"';
          i++;
          continue;
        }
        return { name, end: i + 1 };
      }
      name += text[i];
    }
    return null;
  }
  const m = /^[a-z_][a-z0-9_$]*/.exec(text.slice(pos));
  return m ? { name: m[0], end: pos + m[0].length } : null;
}

export interface ParsedRoleStatements {
  readonly byRole: Map<string, string[]>;
  readonly memberships: Array<{ role: string; member: string; admin: boolean; statement: string }>;
}

const ROLE_STATEMENT = /^(CREATE ROLE |ALTER ROLE |COMMENT ON ROLE |SECURITY LABEL FOR \S+ ON ROLE )/;

/** Sorts pg_dumpall's role statements by role; memberships apart, without their GRANTED BY. */
export function parseRoleStatements(sql: string): ParsedRoleStatements {
  const byRole = new Map<string, string[]>();
  const memberships: ParsedRoleStatements['memberships'] = [];
  for (const statement of splitStatements(sql)) {
    const prefix = ROLE_STATEMENT.exec(statement);
    if (prefix) {
      const id = readIdentifier(statement, prefix[0].length);
      if (!id) throw new RolesArtifactInvalid(`no role name in: ${statement.slice(0, 80)}`);
      // ALTER ROLE x IN DATABASE … is per database; pg_dumpall --roles-only does not write it.
      byRole.set(id.name, [...(byRole.get(id.name) ?? []), statement]);
      continue;
    }
    if (statement.startsWith('GRANT ')) {
      const role = readIdentifier(statement, 'GRANT '.length);
      if (!role || !statement.startsWith(' TO ', role.end)) continue; // not a membership
      const member = readIdentifier(statement, role.end + ' TO '.length);
      if (!member) throw new RolesArtifactInvalid(`no member in: ${statement.slice(0, 80)}`);
      // After the names only keywords follow; the grantor may not exist where this is restored.
      const options = statement.slice(member.end, -1).replace(/ GRANTED BY .*$/s, '');
      memberships.push({
        role: role.name,
        member: member.name,
        admin: /WITH ADMIN OPTION|ADMIN TRUE/.test(options),
        statement: `${statement.slice(0, member.end)}${options};`,
      });
    }
    // SET … and anything else pg_dumpall writes around the roles are not about one role.
  }
  return { byRole, memberships };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? `E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/** Settings whose value is a list PostgreSQL stores already quoted element by element. */
const LIST_SETTINGS = new Set([
  'search_path',
  'temp_tablespaces',
  'session_preload_libraries',
  'local_preload_libraries',
]);

/** `name TO value` of a `name=value` setting as pg_db_role_setting stores it. */
export function settingClause(s: Setting): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.$]*$/.test(s.name)) {
    throw new RolesArtifactInvalid(`a setting named "${s.name}" cannot be written back`);
  }
  return `${s.name} TO ${LIST_SETTINGS.has(s.name.toLowerCase()) ? s.value : quoteLiteral(s.value)}`;
}

export function splitSetting(entry: string): Setting {
  const i = entry.indexOf('=');
  return { name: entry.slice(0, i), value: entry.slice(i + 1) };
}

export interface RoleRow {
  name: string;
  rolsuper: boolean;
  rolinherit: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
  rolcanlogin: boolean;
  rolreplication: boolean;
  rolbypassrls: boolean;
  rolconnlimit: number;
  validuntil: string | null;
}

export function attributesOf(r: RoleRow): RoleAttributes {
  return {
    superuser: r.rolsuper,
    inherit: r.rolinherit,
    createRole: r.rolcreaterole,
    createDb: r.rolcreatedb,
    login: r.rolcanlogin,
    replication: r.rolreplication,
    bypassRls: r.rolbypassrls,
    connectionLimit: r.rolconnlimit,
    validUntil: r.validuntil,
  };
}

export async function readRoleAttributes(
  client: pg.Client,
  names: string[],
): Promise<Map<string, RoleAttributes>> {
  const rows = await client.query<RoleRow>(
    `SELECT r.rolname AS name, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
            r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text AS validuntil
       FROM pg_roles r WHERE r.rolname = ANY($1)`,
    [names],
  );
  return new Map(rows.rows.map((r) => [r.name, attributesOf(r)]));
}

export function describeAttributes(source: RoleAttributes, target: RoleAttributes): string[] {
  return (Object.keys(source) as Array<keyof RoleAttributes>)
    .filter((k) => source[k] !== target[k])
    .map((k) => `${k}: ${String(source[k])} on the source, ${String(target[k])} here`);
}

/** Reads a backup's roles artifact and checks it against the manifest's hash. */
export async function readRoles(
  repository: Repository,
  manifest: {
    id: string;
    roles?: { key: string; sha256: string } | undefined;
    rolesError?: string | undefined;
  },
): Promise<RolesDocument> {
  if (!manifest.roles) {
    throw new RolesArtifactInvalid(
      `backup ${manifest.id} has no roles artifact${manifest.rolesError ? ` (capture failed: ${manifest.rolesError})` : ' (taken before roles were captured)'}: create its roles by hand, or restore with --no-owner --no-privileges`,
    );
  }
  const body = await repository.read(manifest.roles.key);
  const sha256 = createHash('sha256').update(body).digest('hex');
  if (sha256 !== manifest.roles.sha256) {
    throw new RolesArtifactInvalid(
      `the roles artifact ${manifest.roles.key} of backup ${manifest.id} is damaged (sha256 ${sha256}, manifest says ${manifest.roles.sha256}); nothing was changed`,
    );
  }
  return RolesDocument.parse(JSON.parse(body.toString('utf8')));
}
