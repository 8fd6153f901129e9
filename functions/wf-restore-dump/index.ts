import type { CheckResult } from '#core/catalog.ts';
import { connect, quoteIdent } from '#core/pg.ts';
import { runRestore } from '#core/restore.ts';
import type { PlannedRestore } from '#core/restore-plan.ts';
import { TargetAlreadyExists, VerificationFailed } from '#core/restore-plan.ts';
import { connectionAt, rdsIn, repositoryFromEnv, taskHandler } from '../wf-common/index.ts';
import { instanceEndpoint } from '../wf-common/rds-lookup.ts';

/**
 * RestoreDump: creates the target database on the target server, restores the dump into it with
 * the same code as `lifeboat restore` (checksum, pg_restore, data checks, catalog record), and
 * fails with VerificationFailed when the checks do not pass. In AWS this runs in the
 * verify-backup container image (it needs pg_restore). The workflow marks the database as created
 * before this task runs and drops it on failure; TargetAlreadyExists un-marks it.
 */

export interface RestoreDumpEvent {
  readonly database: string;
  readonly backupId: string;
  readonly target: PlannedRestore['target'];
  readonly executionName: string;
}

export interface RestoreDumpResult {
  readonly database: string;
  readonly endpoint: string;
  readonly passed: boolean;
  readonly checks: CheckResult[];
  readonly restoreDurationMs: number;
}

export const handler = taskHandler<RestoreDumpEvent, RestoreDumpResult>(
  'wf-restore-dump',
  async (event, logger) => {
    const name = event.target.databaseName!;
    const endpoint = await instanceEndpoint(rdsIn(undefined), event.target.identifier);
    const admin = await connectionAt(event.target.secretArn!, endpoint, 'postgres');
    const client = await connect(admin);
    try {
      await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
    } catch (err) {
      if ((err as { code?: string }).code === '42P04') {
        throw new TargetAlreadyExists(`database "${name}" already exists on ${event.target.identifier}`);
      }
      throw err;
    } finally {
      await client.end();
    }
    const report = await runRestore({
      repository: repositoryFromEnv(),
      ref: event.backupId,
      database: event.database,
      target: { ...admin, database: name },
      logger,
    });
    if (!report.passed) {
      const failed = report.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
      throw new VerificationFailed(`restored dump ${event.backupId} did not pass: ${failed.join('; ')}`);
    }
    logger.info('dump restored', { backupId: event.backupId, database: name, ms: report.restoreDurationMs });
    return {
      database: name,
      endpoint,
      passed: true,
      checks: report.checks,
      restoreDurationMs: report.restoreDurationMs,
    };
  },
);
