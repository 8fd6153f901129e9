import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import * as z from 'zod';
import type { CheckResult } from '../catalog/catalog.ts';
import { errorMessage, LifeboatError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { type ConnectionInfo, connect, libpqConnString, libpqEnv } from '../shared/pg.ts';
import { toolForServer } from '../shared/pgtools.ts';
import { comparePermissions, readPermissions } from './permissions.ts';
import type { Repository } from '../repository/types.ts';

/**
 * What a database needs of its server besides its own objects, so that a dump restores with owners
 * and grants onto a brand-new server: the roles it names (owners, grantees, roles in policies and
 * default privileges, and the roles of those roles' memberships), their attributes, memberships and
 * settings — never passwords — and the database's own settings, owner and grants.
 *
 * The role statements are pg_dumpall's (`--roles-only --no-role-passwords`, which works where
 * pg_authid is unreadable, as on RDS and Aurora), filtered to the roles the database needs by
 * reading each statement's role names as PostgreSQL quotes them. Which roles are needed, and the
 * database-level settings pg_dumpall leaves out with --roles-only, come from the catalogs.
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
  connectionLimit: z.number().int(),
  validUntil: z.string().nullable(),
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
  roleSettingsInDatabase: z.array(z.object({ role: z.string() }).extend(Setting.shape)),
  databaseSettings: z.object({
    owner: z.string(),
    settings: z.array(Setting),
    /** The database's grants; null when it has the default ACL (PUBLIC may connect and use temp). */
    acl: z.array(z.object({ grantee: z.string(), privilege: z.string(), grantable: z.boolean() })).nullable(),
  }),
  /**
   * Owners and grants of the database's objects, columns' grants and default privileges, read in
   * the dump's snapshot (permissions.ts); absent in documents written before they were captured.
   */
  permissions: z.record(z.string(), z.string()).optional(),
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

function splitSetting(entry: string): Setting {
  const i = entry.indexOf('=');
  return { name: entry.slice(0, i), value: entry.slice(i + 1) };
}

/**
 * The roles a database names, from the catalogs: everything pg_shdepend records for it (owners,
 * grantees, policy roles, default privileges), the database's owner and grantees, roles with
 * settings in it; then, through memberships, their members and the roles they are members of.
 * Predefined roles (pg_*) exist on every server and are left out.
 */
const NEEDED_ROLES = `
WITH RECURSIVE db AS (SELECT oid FROM pg_database WHERE datname = current_database()),
base AS (
  SELECT refobjid AS oid FROM pg_shdepend, db
   WHERE refclassid = 'pg_authid'::regclass
     AND (dbid = db.oid OR (dbid = 0 AND classid = 'pg_database'::regclass AND objid = db.oid))
  UNION SELECT datdba FROM pg_database WHERE datname = current_database()
  UNION SELECT setrole FROM pg_db_role_setting, db WHERE setdatabase = db.oid AND setrole <> 0
),
down AS (SELECT oid FROM base UNION SELECT m.member FROM pg_auth_members m JOIN down d ON m.roleid = d.oid),
up AS (SELECT oid FROM down UNION SELECT m.roleid FROM pg_auth_members m JOIN up u ON m.member = u.oid)
SELECT r.rolname AS name, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
       r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text AS validuntil
  FROM pg_roles r WHERE r.oid IN (SELECT oid FROM up) AND r.rolname !~ '^pg_'
 ORDER BY r.rolname`;

interface RoleRow {
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

function attributesOf(r: RoleRow): RoleAttributes {
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

async function readRoleAttributes(client: pg.Client, names: string[]): Promise<Map<string, RoleAttributes>> {
  const rows = await client.query<RoleRow>(
    `SELECT r.rolname AS name, r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
            r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolvaliduntil::text AS validuntil
       FROM pg_roles r WHERE r.rolname = ANY($1)`,
    [names],
  );
  return new Map(rows.rows.map((r) => [r.name, attributesOf(r)]));
}

/** Runs pg_dumpall --roles-only --no-role-passwords; its output, or RolesCaptureFailed with its message. */
export function dumpRoles(pgDumpallPath: string, connection: ConnectionInfo): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      pgDumpallPath,
      ['--roles-only', '--no-role-passwords', '--no-password', `--dbname=${libpqConnString(connection)}`],
      { env: libpqEnv(connection), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-8192);
    });
    child.once('error', (err) =>
      reject(new RolesCaptureFailed(`could not run ${pgDumpallPath}: ${err.message}`)),
    );
    child.once('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new RolesCaptureFailed(`pg_dumpall --roles-only failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

/**
 * Captures the roles document of the database `client` is connected to. `client` may be inside
 * the backup's transaction: roles are global, and the queries only read.
 */
export async function captureRoles(
  client: pg.Client,
  connection: ConnectionInfo,
  pgDumpall: { path: string; version: string },
): Promise<RolesDocument> {
  const needed = (await client.query<RoleRow>(NEEDED_ROLES)).rows;
  const names = new Set(needed.map((r) => r.name));
  const parsed = parseRoleStatements(await dumpRoles(pgDumpall.path, connection));
  const settings = await client.query<{ role: string | null; entry: string }>(
    `SELECT r.rolname AS role, unnest(s.setconfig) AS entry
       FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole
      WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY 1 NULLS FIRST`,
  );
  const db = await client.query<{
    owner: string;
    acl: Array<{ grantee: string; privilege: string; grantable: boolean }> | null;
  }>(
    `SELECT pg_get_userbyid(d.datdba) AS owner,
            CASE WHEN d.datacl IS NULL THEN NULL ELSE
              COALESCE((SELECT json_agg(json_build_object(
                 'grantee', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                 'privilege', a.privilege_type, 'grantable', a.is_grantable))
               FROM aclexplode(d.datacl) a), '[]'::json) END AS acl
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  return RolesDocument.parse({
    schemaVersion: 1,
    kind: 'roles',
    database: connection.database,
    tool: { name: 'pg_dumpall', version: pgDumpall.version },
    roles: needed.map((r) => ({
      name: r.name,
      attributes: attributesOf(r),
      statements: parsed.byRole.get(r.name) ?? [],
    })),
    memberships: parsed.memberships.filter((m) => names.has(m.role) && names.has(m.member)),
    roleSettingsInDatabase: settings.rows
      .filter((s): s is { role: string; entry: string } => s.role !== null)
      .map((s) => ({ role: s.role, ...splitSetting(s.entry) })),
    databaseSettings: {
      owner: db.rows[0]!.owner,
      settings: settings.rows.filter((s) => s.role === null).map((s) => splitSetting(s.entry)),
      acl: db.rows[0]!.acl,
    },
    permissions: await readPermissions(client),
  });
}

export interface RoleDifference {
  readonly role: string;
  /** Attribute: value on the source → value on the target. */
  readonly differences: string[];
}

export interface CreateRolesReport {
  readonly created: string[];
  /** Created LOGIN roles: they have no password until one is set. */
  readonly needPassword: string[];
  /** Roles that existed on the target, left as they are; with what differs from the source. */
  readonly existing: RoleDifference[];
  readonly membershipsGranted: string[];
  /** Memberships between roles that both existed: not granted (that would change existing roles). */
  readonly membershipsNotGranted: string[];
  readonly databaseSettingsApplied: string[];
}

function describeAttributes(source: RoleAttributes, target: RoleAttributes): string[] {
  return (Object.keys(source) as Array<keyof RoleAttributes>)
    .filter((k) => source[k] !== target[k])
    .map((k) => `${k}: ${String(source[k])} on the source, ${String(target[k])} here`);
}

/**
 * Creates on the target the roles of `doc` it lacks, with their attributes, comments, settings
 * and memberships (no passwords), and gives the target database the source's owner, settings and
 * grants. Roles that exist are left as they are and reported with what differs. One transaction:
 * either all of it is applied or nothing.
 */
export async function createRoles(target: ConnectionInfo, doc: RolesDocument): Promise<CreateRolesReport> {
  const client = await connect(target);
  try {
    const names = doc.roles.map((r) => r.name);
    const before = await readRoleAttributes(client, names);
    const created: string[] = [];
    const existing: RoleDifference[] = [];
    const membershipsGranted: string[] = [];
    const membershipsNotGranted: string[] = [];
    const databaseSettingsApplied: string[] = [];
    await client.query('BEGIN');
    try {
      for (const role of doc.roles) {
        const have = before.get(role.name);
        if (have) {
          existing.push({ role: role.name, differences: describeAttributes(role.attributes, have) });
          continue;
        }
        if (!role.statements.some((s) => s.startsWith('CREATE ROLE '))) {
          throw new RolesArtifactInvalid(`the roles artifact has no CREATE ROLE for "${role.name}"`);
        }
        for (const statement of role.statements) await client.query(statement);
        created.push(role.name);
      }
      const isNew = new Set(created);
      const current = await client.query<{ role: string; member: string }>(
        `SELECT pg_get_userbyid(roleid) AS role, pg_get_userbyid(member) AS member FROM pg_auth_members`,
      );
      const granted = new Set(current.rows.map((r) => `${r.role}\0${r.member}`));
      for (const m of doc.memberships) {
        const what = `${m.member} in ${m.role}${m.admin ? ' (with admin option)' : ''}`;
        if (granted.has(`${m.role}\0${m.member}`)) continue;
        if (!isNew.has(m.role) && !isNew.has(m.member)) {
          membershipsNotGranted.push(what);
          continue;
        }
        await client.query(m.statement);
        membershipsGranted.push(what);
      }
      const database = quoteIdent(target.database);
      for (const s of doc.roleSettingsInDatabase) {
        if (!isNew.has(s.role)) continue;
        await client.query(
          `ALTER ROLE ${quoteIdent(s.role)} IN DATABASE ${database} SET ${settingClause(s)}`,
        );
        databaseSettingsApplied.push(`${s.role}: ${s.name}=${s.value}`);
      }
      const dbSettings = doc.databaseSettings;
      const owners = await readRoleAttributes(client, [dbSettings.owner]);
      if (owners.has(dbSettings.owner)) {
        await client.query(`ALTER DATABASE ${database} OWNER TO ${quoteIdent(dbSettings.owner)}`);
        databaseSettingsApplied.push(`owner ${dbSettings.owner}`);
      }
      for (const s of dbSettings.settings) {
        await client.query(`ALTER DATABASE ${database} SET ${settingClause(s)}`);
        databaseSettingsApplied.push(`${s.name}=${s.value}`);
      }
      if (dbSettings.acl !== null) {
        await client.query(`REVOKE ALL ON DATABASE ${database} FROM PUBLIC`);
        for (const a of dbSettings.acl) {
          if (!/^(CONNECT|CREATE|TEMPORARY)$/.test(a.privilege)) continue;
          const grantee = a.grantee === 'PUBLIC' ? 'PUBLIC' : quoteIdent(a.grantee);
          await client.query(
            `GRANT ${a.privilege} ON DATABASE ${database} TO ${grantee}${a.grantable ? ' WITH GRANT OPTION' : ''}`,
          );
        }
        databaseSettingsApplied.push(
          `grants: ${dbSettings.acl.map((a) => `${a.privilege} to ${a.grantee}`).join(', ')}`,
        );
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    const byName = new Map(doc.roles.map((r) => [r.name, r]));
    return {
      created,
      needPassword: created.filter((n) => byName.get(n)!.attributes.login),
      existing,
      membershipsGranted,
      membershipsNotGranted,
      databaseSettingsApplied,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The key of a backup's roles artifact, beside its dump. */
export function rolesKey(artifactKey: string): string {
  return artifactKey.replace(/\.dump$/, '.roles.json');
}

/** The manifest's record of the roles artifact (1.2), or why there is none. */
export interface RolesManifestFields {
  readonly roles?: { key: string; bytes: number; sha256: string; count: number };
  readonly rolesError?: string;
}

/**
 * Captures the roles document and stores it beside the dump. A failure here does not fail the
 * backup (the dump is complete and restores where the roles exist): it is logged and recorded in
 * the manifest as `rolesError`, and `lifeboat restore --create-roles` says so.
 */
export async function storeRoles(o: {
  readonly client: pg.Client;
  readonly connection: ConnectionInfo;
  readonly repository: Repository;
  readonly artifactKey: string;
  readonly serverMajor: number;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly log: Logger;
}): Promise<RolesManifestFields> {
  const key = rolesKey(o.artifactKey);
  try {
    const tool = await toolForServer('pg_dumpall', o.serverMajor, o.env);
    const doc = await captureRoles(o.client, o.connection, tool);
    const body = Buffer.from(`${JSON.stringify(doc, null, 2)}\n`);
    const { bytes } = await o.repository.upload(key, Readable.from([body]), { expectedBytes: body.length });
    const sha256 = createHash('sha256').update(body).digest('hex');
    return { roles: { key, bytes, sha256, count: doc.roles.length } };
  } catch (err) {
    o.log.warn('roles were not captured; the dump restores where its roles exist', {
      error: errorMessage(err),
    });
    return { rolesError: errorMessage(err).slice(0, 1000) };
  }
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

/**
 * Verification: the roles artifact covers every role the archive names, and replayed on a fresh
 * cluster it gives the roles, memberships and settings the source had (attributes, memberships,
 * database owner, settings and grants, as read back from the restored database).
 */
export async function checkRoles(
  target: ConnectionInfo,
  doc: RolesDocument,
  namedByArchive: readonly string[],
  /** Roles the cluster had before (its bootstrap superuser): left as they were, so not compared. */
  preexisting: readonly string[] = [],
): Promise<CheckResult> {
  const skip = new Set(preexisting);
  const failures: string[] = [];
  const captured = new Set(doc.roles.map((r) => r.name));
  for (const name of namedByArchive)
    if (!captured.has(name)) failures.push(`the dump names role ${name}, which the roles artifact lacks`);
  const client = await connect(target);
  try {
    const attributes = await readRoleAttributes(
      client,
      doc.roles.map((r) => r.name),
    );
    for (const role of doc.roles) {
      if (skip.has(role.name)) continue;
      const have = attributes.get(role.name);
      if (!have) failures.push(`role ${role.name} was not created`);
      else
        for (const d of describeAttributes(role.attributes, have)) failures.push(`role ${role.name}: ${d}`);
    }
    const members = await client.query<{ role: string; member: string; admin: boolean }>(
      `SELECT pg_get_userbyid(roleid) AS role, pg_get_userbyid(member) AS member, admin_option AS admin FROM pg_auth_members`,
    );
    const have = new Set(members.rows.map((m) => `${m.role}\0${m.member}\0${m.admin}`));
    for (const m of doc.memberships)
      if ((!skip.has(m.role) || !skip.has(m.member)) && !have.has(`${m.role}\0${m.member}\0${m.admin}`))
        failures.push(`membership of ${m.member} in ${m.role}${m.admin ? ' with admin option' : ''} missing`);
    const db = await client.query<{ owner: string; settings: string[] | null }>(
      `SELECT pg_get_userbyid(d.datdba) AS owner,
              (SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setdatabase = d.oid AND s.setrole = 0) AS settings
         FROM pg_database d WHERE d.datname = current_database()`,
    );
    const row = db.rows[0]!;
    if (row.owner !== doc.databaseSettings.owner)
      failures.push(`database owner ${row.owner}, source ${doc.databaseSettings.owner}`);
    const want = doc.databaseSettings.settings.map((s) => `${s.name}=${s.value}`).sort();
    const got = [...(row.settings ?? [])].sort();
    if (JSON.stringify(want) !== JSON.stringify(got))
      failures.push(`database settings ${got.join(', ') || '(none)'}, source ${want.join(', ') || '(none)'}`);
    failures.push(...(await compareDatabaseLevel(client, doc, skip)));
    if (doc.permissions) failures.push(...comparePermissions(doc.permissions, await readPermissions(client)));
  } finally {
    await client.end().catch(() => undefined);
  }
  const permissions = doc.permissions
    ? `, ${Object.keys(doc.permissions).length} owners and grants`
    : ' (owners and grants of objects not captured by this backup)';
  return {
    name: 'roles',
    passed: failures.length === 0,
    detail: `${doc.roles.length} roles, ${doc.memberships.length} memberships, ${doc.databaseSettings.settings.length} database settings${permissions}${failures.length ? `: ${failures.length} differ` : ' match the source'}`,
    failures,
  };
}

/** The database's grants and its per-role settings (`ALTER ROLE … IN DATABASE … SET`) against the source's. */
async function compareDatabaseLevel(
  client: pg.Client,
  doc: RolesDocument,
  skip: ReadonlySet<string>,
): Promise<string[]> {
  const failures: string[] = [];
  const acl = await client.query<{ entry: string }>(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type
              || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS entry
       FROM pg_database d, aclexplode(COALESCE(d.datacl, acldefault('d', d.datdba))) a
      WHERE d.datname = current_database()`,
  );
  const owner = doc.databaseSettings.owner;
  // A NULL ACL stands for the defaults: the owner's privileges and PUBLIC's CONNECT and TEMPORARY.
  const source = doc.databaseSettings.acl ?? [
    ...['CONNECT', 'CREATE', 'TEMPORARY'].map((privilege) => ({
      grantee: owner,
      privilege,
      grantable: false,
    })),
    ...['CONNECT', 'TEMPORARY'].map((privilege) => ({ grantee: 'PUBLIC', privilege, grantable: false })),
  ];
  const want = source
    .map((a) => `${a.grantee} ${a.privilege}${a.grantable ? ' WITH GRANT OPTION' : ''}`)
    .sort();
  const got = acl.rows.map((r) => r.entry).sort();
  if (JSON.stringify(want) !== JSON.stringify(got))
    failures.push(`database grants ${got.join(', ') || '(none)'}, source ${want.join(', ') || '(none)'}`);
  const settings = await client.query<{ role: string; entry: string }>(
    `SELECT pg_get_userbyid(s.setrole) AS role, unnest(s.setconfig) AS entry FROM pg_db_role_setting s
      WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database()) AND s.setrole <> 0`,
  );
  const wantSettings = doc.roleSettingsInDatabase
    .filter((s) => !skip.has(s.role))
    .map((s) => `${s.role}: ${s.name}=${s.value}`)
    .sort();
  const gotSettings = settings.rows
    .filter((r) => !skip.has(r.role))
    .map((r) => ({ role: r.role, ...splitSetting(r.entry) }))
    .map((s) => `${s.role}: ${s.name}=${s.value}`)
    .sort();
  if (JSON.stringify(wantSettings) !== JSON.stringify(gotSettings))
    failures.push(
      `settings of roles in the database ${gotSettings.join(', ') || '(none)'}, source ${wantSettings.join(', ') || '(none)'}`,
    );
  return failures;
}
