/**
 * Key prefixes of the backup repository (an S3 bucket, or a directory locally). Bucket policies,
 * lifecycle rules and IAM grants (lib/) scope to them; the catalog, the dumps and the reports
 * (functions/core) write under them.
 */

/** The catalog: manifests and records, one folder per database (`catalog/<database>/`). */
export const CATALOG_PREFIX = 'catalog/';
/** Dump artifacts, one folder per database (`artifacts/<database>/<backup id>.dump`). */
export const ARTIFACT_PREFIX = 'artifacts/';
/** Published reports. */
export const REPORTS_PREFIX = 'reports/';
/** A database's failover records, inside its catalog folder (`catalog/<database>/_failovers/`). */
export const FAILOVERS_FOLDER = '_failovers';

/** The prefixes that hold backups (artifacts and their catalog). */
export const REPOSITORY_PREFIXES = [ARTIFACT_PREFIX, CATALOG_PREFIX] as const;
