import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { errorMessage } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { type ConnectionInfo, libpqConnString, libpqEnv } from '../shared/pg.ts';
import { toolForServer } from '../shared/pgtools.ts';
import { readPermissions } from './permissions.ts';
import type { Repository } from '../repository/types.ts';
import {
  RolesCaptureFailed,
  RolesDocument,
  type RoleRow,
  attributesOf,
  parseRoleStatements,
  splitSetting,
} from './roles-document.ts';

/** Capturing a database's roles document at backup time, and storing it beside the dump. */

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
