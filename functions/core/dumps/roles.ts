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

export {
  type ParsedRoleStatements,
  type RoleAttributes,
  RolesArtifactInvalid,
  RolesCaptureFailed,
  RolesDocument,
  type Setting,
  parseRoleStatements,
  quoteIdent,
  quoteLiteral,
  readIdentifier,
  readRoles,
  settingClause,
  splitStatements,
} from './roles-document.ts';
export { type RolesManifestFields, captureRoles, dumpRoles, rolesKey, storeRoles } from './roles-capture.ts';
export { type CreateRolesReport, type RoleDifference, createRoles } from './roles-create.ts';
export { checkRoles } from './roles-compare.ts';
