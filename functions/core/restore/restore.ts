import { materialize, pgRestore } from '../dumps/archive.ts';
import { Catalog, type CheckResult } from '../catalog/catalog.ts';
import { ChecksumMismatch, LifeboatError, TargetNotEmpty } from '../shared/errors.ts';
import { type Logger, silentLogger } from '../shared/logger.ts';
import { type ConnectionInfo, connect, describeConnection } from '../shared/pg.ts';
import { majorOf, toolForServer } from '../shared/pgtools.ts';
import { type CreateRolesReport, createRoles, readRoles } from '../dumps/roles.ts';
import type { Repository } from '../repository/types.ts';
import {
  type BackupSelector,
  checkRestored,
  rolesNeeded,
  selectBackup,
  userTables,
} from '../verify/verify.ts';

export interface RestoreCommandOptions extends BackupSelector {
  readonly repository: Repository;
  readonly target: ConnectionInfo;
  readonly jobs?: number;
  /** Drop and recreate the objects of the archive in a target that already has tables. */
  readonly clean?: boolean;
  readonly noOwner?: boolean;
  readonly noPrivileges?: boolean;
  /**
   * Create the roles the backup needs that the target lacks (from its roles artifact), and give
   * the target database the source's owner, settings and grants, before restoring.
   * `when-captured` does so only for a backup that has a roles artifact (older ones restore as before).
   */
  readonly createRoles?: boolean | 'when-captured';
  readonly sizeTolerance?: number;
  readonly logger?: Logger;
  readonly signal?: AbortSignal | undefined;
  readonly onCheck?: (check: CheckResult) => void;
  /** Table-of-contents entries restored out of the total, while pg_restore runs. */
  readonly onRestoreProgress?: ((done: number, total: number) => void) | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly workDir?: string | undefined;
  readonly now?: () => Date;
}

export interface RestoreReport {
  readonly backupId: string;
  readonly database: string;
  readonly target: string;
  readonly passed: boolean;
  readonly checks: CheckResult[];
  readonly restoreDurationMs: number;
  readonly totalDurationMs: number;
  /** Newer completed backups that were passed over because they are not verified. */
  readonly skippedUnverified: string[];
  /** What --create-roles did (absent without it). */
  readonly roles?: CreateRolesReport;
}

/**
 * Restores a logical dump into a target database the user names. Everything that can refuse does
 * so before the target is touched: the archive's checksum, a target that already has tables
 * (unless `clean`), roles the archive needs that the target lacks. Then pg_restore, then the same
 * data checks as verification, run on the target and recorded in the catalog.
 */
export async function runRestore(options: RestoreCommandOptions): Promise<RestoreReport> {
  const log = options.logger ?? silentLogger;
  const now = options.now ?? (() => new Date());
  const started = performance.now();
  const catalog = new Catalog(options.repository, { now });
  await options.repository.check();
  // `latest` means the newest *verified* backup: under pressure, restore what is proven.
  const backup = await selectBackup(catalog, { ...options, verifiedOnly: options.ref === 'latest' });
  const newerUnverified =
    options.ref === 'latest'
      ? (await catalog.list({ database: backup.database }))
          .filter(
            (b) => b.state === 'completed' && b.startedAt > backup.startedAt && b.verification !== 'verified',
          )
          .filter((b) => !options.before || Date.parse(b.startedAt) < options.before.getTime())
          .map((b) => b.id)
      : [];
  const manifest = backup.manifest;
  const pgRestoreTool = await toolForServer(
    'pg_restore',
    majorOf(manifest.source.serverVersionNum),
    options.env,
  );
  const target = describeConnection(options.target);

  const archive = await materialize(options.repository, manifest, options.workDir, options.env);
  const checks: CheckResult[] = [];
  const add = (c: CheckResult) => {
    checks.push(c);
    options.onCheck?.(c);
  };
  try {
    add(archive.checksum);
    if (!archive.checksum.passed) {
      throw new ChecksumMismatch(
        `backup ${backup.id} is damaged, nothing was restored: ${archive.checksum.detail}`,
      );
    }
    const tables = await userTables(options.target);
    if (tables.length > 0 && !options.clean) {
      throw new TargetNotEmpty(
        `target ${target} already has ${tables.length} user tables (${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''}); pass --clean to replace the archive's objects, nothing was changed`,
      );
    }
    let roles: CreateRolesReport | undefined;
    if (options.createRoles === true || (options.createRoles === 'when-captured' && manifest.roles)) {
      const doc = await readRoles(options.repository, manifest);
      roles = await createRoles(options.target, doc);
      log.info('roles', { ...roles });
    }
    if (!options.noOwner || !options.noPrivileges) {
      const needed = await rolesNeeded(pgRestoreTool.path, archive.path, manifest.statistics);
      const missing = await missingRoles(options.target, needed);
      if (missing.length > 0) {
        throw new LifeboatError(
          `roles the backup assigns objects or privileges to do not exist on ${options.target.host}:${options.target.port}: ${missing.join(', ')}; create them (--create-roles does, from the backup), or pass --no-owner --no-privileges. Nothing was changed`,
        );
      }
    }
    log.info('restoring', { backupId: backup.id, target });
    const { durationMs } = await pgRestore(pgRestoreTool.path, archive.path, options.target, {
      jobs: options.jobs ?? 2,
      clean: options.clean && tables.length > 0,
      noOwner: options.noOwner,
      noPrivileges: options.noPrivileges,
      signal: options.signal,
      onProgress: options.onRestoreProgress,
    });
    add({
      name: 'restore',
      passed: true,
      detail: `pg_restore -j${options.jobs ?? 2} into ${target} in ${(durationMs / 1000).toFixed(1)} s`,
      failures: [],
    });
    // The target is the user's: no extension is created there, so amcheck runs only where it exists.
    for (const c of await checkRestored(options.target, manifest.statistics, options.sizeTolerance, {
      amcheck: false,
    }))
      add(c);
    const passed = checks.every((c) => c.passed);
    const totalDurationMs = Math.round(performance.now() - started);
    await catalog.record({
      kind: 'verification',
      backupId: backup.id,
      database: backup.database,
      at: now().toISOString(),
      passed,
      method: 'restore',
      checks,
      restoreDurationMs: durationMs,
      totalDurationMs,
      error: null,
    });
    return {
      backupId: backup.id,
      database: backup.database,
      target,
      passed,
      checks,
      restoreDurationMs: durationMs,
      totalDurationMs,
      skippedUnverified: newerUnverified,
      ...(roles ? { roles } : {}),
    };
  } finally {
    await archive.release();
  }
}

async function missingRoles(target: ConnectionInfo, roles: string[]): Promise<string[]> {
  if (roles.length === 0) return [];
  const client = await connect(target);
  try {
    const found = await client.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
      [roles],
    );
    const have = new Set(found.rows.map((r) => r.rolname));
    return roles.filter((r) => !have.has(r));
  } finally {
    await client.end();
  }
}
