import type pg from 'pg';
import type { CheckResult } from '../catalog/catalog.ts';
import { type ConnectionInfo, connect } from '../shared/pg.ts';
import { comparePermissions, readPermissions } from './permissions.ts';
import {
  type RolesDocument,
  describeAttributes,
  readRoleAttributes,
  splitSetting,
} from './roles-document.ts';

/** Comparing a roles document with the roles and settings of a restored database (verification). */

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
