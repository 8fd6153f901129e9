import { materialize, pgRestore, readTableOfContents, referencedRoles } from '../dumps/archive.ts';
import {
  type BackupSummary,
  Catalog,
  type CheckResult,
  type VerificationRecord,
} from '../catalog/catalog.ts';
import { DEFAULT_SIZE_TOLERANCE, dataChecks } from './checks.ts';
import { EphemeralCluster } from './ephemeral.ts';
import {
  BackupNotFound,
  errorMessage,
  InvalidArgument,
  LifeboatError,
  TargetNotEmpty,
} from '../shared/errors.ts';
import { type Logger, silentLogger } from '../shared/logger.ts';
import type { DumpManifest, SourceStatistics } from '../catalog/manifest.ts';
import { type ConnectionInfo, connect, describeConnection, quoteIdent } from '../shared/pg.ts';
import { majorOf, toolForServer } from '../shared/pgtools.ts';
import type { Repository } from '../repository/types.ts';
import { checkRoles, createRoles, readRoles, type RolesDocument } from '../dumps/roles.ts';
import type pg from 'pg';
import { captureStatistics } from './stats.ts';

export interface BackupSelector {
  /** A backup id, or `latest`. */
  readonly ref: string;
  readonly database?: string | undefined;
  /** Only backups started before this time. */
  readonly before?: Date | undefined;
  /** Only backups whose last verification passed. */
  readonly verifiedOnly?: boolean;
}

/** Finds a completed logical dump by id or as the newest one matching the selector. */
export async function selectBackup(
  catalog: Catalog,
  selector: BackupSelector,
): Promise<BackupSummary & { manifest: DumpManifest }> {
  const isDump = (b: BackupSummary): b is BackupSummary & { manifest: DumpManifest } =>
    b.state === 'completed' && b.manifest?.kind === 'logical-dump';
  if (selector.ref !== 'latest') {
    const found = await catalog.get(selector.ref, selector.database);
    if (!isDump(found)) {
      throw new BackupNotFound(
        `backup ${found.id} of "${found.database}" is ${found.state}, not a completed logical dump`,
      );
    }
    return found;
  }
  const all = (await catalog.list({ database: selector.database })).filter(isDump);
  const databases = [...new Set(all.map((b) => b.database))];
  if (selector.database === undefined && databases.length > 1) {
    throw new InvalidArgument(
      `the repository holds backups of several databases (${databases.join(', ')}): pass --database`,
    );
  }
  const where = `${selector.database === undefined ? '' : ` of "${selector.database}"`} in ${catalog.repository.url}`;
  if (all.length === 0) throw new BackupNotFound(`no completed backups${where}`);
  const candidates = all.filter(
    (b) =>
      (!selector.before || Date.parse(b.startedAt) < selector.before.getTime()) &&
      (!selector.verifiedOnly || b.verification === 'verified'),
  );
  const found = candidates[0];
  if (!found) {
    const what = [selector.verifiedOnly ? 'verified' : '', 'backups'].filter(Boolean).join(' ');
    throw new BackupNotFound(
      `no ${what}${where}${selector.before ? ` taken before ${selector.before.toISOString()}` : ''}` +
        (selector.verifiedOnly ? ' (run lifeboat verify first, or name a backup id)' : ''),
    );
  }
  return found;
}

export interface VerifyOptions extends BackupSelector {
  readonly repository: Repository;
  /** Restore into this empty database instead of an ephemeral cluster. */
  readonly scratch?: ConnectionInfo | undefined;
  readonly jobs?: number;
  readonly sizeTolerance?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal | undefined;
  /** Called as each check finishes, for live output. */
  readonly onCheck?: (check: CheckResult) => void;
  /** Table-of-contents entries restored out of the total, while pg_restore runs. */
  readonly onRestoreProgress?: ((done: number, total: number) => void) | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** Where temporary files and clusters go. @default os.tmpdir() */
  readonly workDir?: string | undefined;
  readonly now?: () => Date;
}

export interface VerifyReport {
  readonly backupId: string;
  readonly database: string;
  readonly passed: boolean;
  readonly checks: CheckResult[];
  readonly restoreDurationMs: number | null;
  readonly totalDurationMs: number;
  readonly recordKey: string;
}

/**
 * Proves a logical dump restores and that the restore equals what was dumped: checksum,
 * table of contents, restore into an ephemeral cluster (or a scratch database), data checks
 * against the manifest's statistics, amcheck of the btree indexes. The outcome is recorded in
 * the catalog. Check failures give `passed: false`; errors that prevent checking throw.
 */
export async function runVerify(options: VerifyOptions): Promise<VerifyReport> {
  const log = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const catalog = new Catalog(options.repository, { now });
  const started = performance.now();
  await options.repository.check();
  const backup = await selectBackup(catalog, options);
  const manifest = backup.manifest;
  const checks: CheckResult[] = [];
  const add = (c: CheckResult) => {
    checks.push(c);
    options.onCheck?.(c);
    return c.passed;
  };
  const serverMajor = majorOf(manifest.source.serverVersionNum);
  const pgRestoreTool = await toolForServer('pg_restore', serverMajor, options.env);

  let cluster: EphemeralCluster | undefined;
  let restoreDurationMs: number | null = null;
  const release: Array<() => Promise<void>> = [];
  try {
    // The checksum pass and the cluster's start overlap: neither needs the other.
    const clusterStart = options.scratch
      ? Promise.resolve(undefined)
      : EphemeralCluster.start({ minMajor: serverMajor, parentDir: options.workDir, env: options.env });
    clusterStart.catch(() => undefined);
    const archive = await materialize(options.repository, manifest, options.workDir, options.env).catch(
      async (err) => {
        await clusterStart.then((c) => c?.stop()).catch(() => undefined);
        throw err;
      },
    );
    release.push(archive.release);
    cluster = await clusterStart;
    if (cluster) release.push(() => cluster!.stop());
    if (options.signal?.aborted) throw new LifeboatError('interrupted');

    if (add(archive.checksum) && add(await readTableOfContents(pgRestoreTool.path, archive.path))) {
      const roles = await rolesNeeded(pgRestoreTool.path, archive.path, manifest.statistics);
      // In an ephemeral cluster the backup's own roles artifact is replayed first, then checked.
      const rolesDoc = cluster && manifest.roles ? await readRoles(options.repository, manifest) : null;
      const target = await prepareTarget(cluster, options.scratch, roles, rolesDoc);
      try {
        const { durationMs } = await pgRestore(pgRestoreTool.path, archive.path, target.connection, {
          jobs: options.jobs ?? 2,
          noOwner: target.noOwner,
          noPrivileges: target.noOwner,
          signal: options.signal,
          onProgress: options.onRestoreProgress,
        });
        restoreDurationMs = durationMs;
        add({
          name: 'restore',
          passed: true,
          detail: `pg_restore -j${options.jobs ?? 2} into ${target.description} in ${(durationMs / 1000).toFixed(1)} s`,
          failures: [],
        });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        add({
          name: 'restore',
          passed: false,
          detail: 'pg_restore did not complete',
          failures: [errorMessage(err)],
        });
      }
      if (restoreDurationMs !== null) {
        for (const c of await checkRestored(target.connection, manifest.statistics, options.sizeTolerance))
          add(c);
        if (rolesDoc) add(await checkRoles(target.connection, rolesDoc, roles, target.preexisting));
      }
    }
  } catch (err) {
    const e = err instanceof LifeboatError ? err : new LifeboatError(errorMessage(err), { cause: err });
    log.error('verification could not run', { backupId: backup.id, error: e.message });
    throw e;
  } finally {
    for (const r of release.reverse()) await r().catch(() => undefined);
  }

  const passed = checks.every((c) => c.passed);
  const record: VerificationRecord = {
    kind: 'verification',
    backupId: backup.id,
    database: backup.database,
    at: now().toISOString(),
    passed,
    method: options.scratch ? 'scratch' : 'ephemeral',
    checks,
    restoreDurationMs,
    totalDurationMs: Math.round(performance.now() - started),
    error: null,
  };
  const recordKey = await catalog.record(record);
  log.info('verification recorded', { backupId: backup.id, passed });
  return {
    backupId: backup.id,
    database: backup.database,
    passed,
    checks,
    restoreDurationMs,
    totalDurationMs: record.totalDurationMs,
    recordKey,
  };
}

interface Target {
  readonly connection: ConnectionInfo;
  readonly description: string;
  readonly noOwner: boolean;
  /** Roles the ephemeral cluster had before the backup's roles were replayed. */
  readonly preexisting?: string[];
}

/**
 * The database to restore into. In an ephemeral cluster the roles the archive names are created
 * first (NOLOGIN), so ownership, grants and policies restore as they were. A scratch database must
 * be empty; roles there are the user's business, so ownership and grants are skipped.
 */
async function prepareTarget(
  cluster: EphemeralCluster | undefined,
  scratch: ConnectionInfo | undefined,
  roles: string[],
  rolesDoc: RolesDocument | null = null,
): Promise<Target> {
  let preexisting: string[] = [];
  if (scratch) {
    await assertEmpty(scratch);
    return {
      connection: scratch,
      description: `scratch database ${describeConnection(scratch)}`,
      noOwner: true,
    };
  }
  const c = cluster!;
  const admin = await connect(c.connection());
  try {
    if (rolesDoc) {
      await admin.query('CREATE DATABASE lifeboat_verify');
      preexisting = (await createRoles(c.connection('lifeboat_verify'), rolesDoc)).existing.map(
        (e) => e.role,
      );
    }
    for (const role of roles) {
      await admin.query(
        `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${literal(role)}) THEN CREATE ROLE ${quoteIdent(role)} NOLOGIN; END IF; END $$`,
      );
    }
    if (!rolesDoc) await admin.query('CREATE DATABASE lifeboat_verify');
  } finally {
    await admin.end();
  }
  return {
    connection: c.connection('lifeboat_verify'),
    description: `an ephemeral PostgreSQL ${c.version}`,
    noOwner: false,
    preexisting,
  };
}

/** Roles a restore of this archive needs: owners and grantees in the archive, and roles policies name. */
export async function rolesNeeded(
  pgRestorePath: string,
  archive: string,
  stats: SourceStatistics,
): Promise<string[]> {
  const roles = new Set(await referencedRoles(pgRestorePath, archive));
  for (const p of stats.policies) for (const r of p.roles) if (r !== 'public') roles.add(r);
  return [...roles].sort();
}

const literal = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Refuses a database that already holds user tables. */
export async function assertEmpty(target: ConnectionInfo, what = 'scratch database'): Promise<void> {
  const tables = await userTables(target);
  if (tables.length > 0) {
    throw new TargetNotEmpty(
      `${what} ${describeConnection(target)} is not empty: it has ${tables.length} user tables (${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''})`,
    );
  }
}

export async function userTables(target: ConnectionInfo): Promise<string[]> {
  const client = await connect(target);
  try {
    const rows = await client.query<{ name: string }>(`
      SELECT n.nspname || '.' || c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1`);
    return rows.rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

/** Data checks and amcheck on a restored database. */
export async function checkRestored(
  target: ConnectionInfo,
  expected: SourceStatistics,
  sizeTolerance: number = DEFAULT_SIZE_TOLERANCE,
  options: { amcheck?: boolean } = {},
): Promise<CheckResult[]> {
  const client = await connect(target);
  let checker: pg.Client | undefined;
  let indexCheck: Promise<CheckResult> | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // The statistics' snapshot is taken by this first statement: before amcheck (on its own
    // connection, at the same time, since both mostly wait on I/O) creates its extension.
    await client.query('SELECT 1');
    indexCheck =
      options.amcheck === false
        ? undefined
        : connect(target).then((c) => {
            checker = c;
            return amcheck(c);
          });
    indexCheck?.catch(() => undefined);
    const actual = await captureStatistics(client);
    await client.query('COMMIT');
    const results = dataChecks(expected, actual, { sizeTolerance });
    if (indexCheck) results.push(await indexCheck);
    return results;
  } finally {
    await client.end();
    // On an error above, amcheck may still be running: let it finish, then close its connection.
    await indexCheck?.catch(() => undefined);
    await (checker as pg.Client | undefined)?.end().catch(() => undefined);
  }
}

/** amcheck's bt_index_check on every btree index of the user's tables. */
export async function amcheck(client: pg.Client): Promise<CheckResult> {
  const available = await client.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'amcheck'`);
  if (available.rowCount === 0) {
    return {
      name: 'amcheck',
      passed: false,
      detail: 'the amcheck extension is not available on this server',
      failures: ['amcheck unavailable'],
    };
  }
  const existed = (await client.query(`SELECT 1 FROM pg_extension WHERE extname = 'amcheck'`)).rowCount !== 0;
  if (!existed) await client.query('CREATE EXTENSION amcheck');
  try {
    const indexes = await client.query<{ oid: number; name: string }>(`
      SELECT i.indexrelid::int AS oid, n.nspname || '.' || c.relname AS name
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE am.amname = 'btree' AND c.relkind = 'i' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'`);
    const failures: string[] = [];
    for (const index of indexes.rows) {
      try {
        await client.query('SELECT bt_index_check($1::regclass)', [index.oid]);
      } catch (err) {
        failures.push(`index ${index.name}: ${errorMessage(err)}`);
      }
    }
    return {
      name: 'amcheck',
      passed: failures.length === 0,
      detail:
        failures.length === 0
          ? `${indexes.rows.length} btree indexes checked`
          : `${failures.length} of ${indexes.rows.length} btree indexes are corrupt`,
      failures,
    };
  } finally {
    if (!existed) await client.query('DROP EXTENSION IF EXISTS amcheck').catch(() => undefined);
  }
}
