import { connect, type ConnectionInfo } from '../shared/pg.ts';
import {
  RolesArtifactInvalid,
  type RolesDocument,
  describeAttributes,
  quoteIdent,
  readRoleAttributes,
  settingClause,
} from './roles-document.ts';

/** Creating a roles document's roles, memberships and database settings on a restore target. */

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
