import type { CheckResult } from '#core/catalog/catalog.ts';
import { runRestore } from '#core/restore/restore.ts';
import type { PlannedRestore } from '#core/restore/restore-plan.ts';
import { VerificationFailed } from '#core/restore/restore-plan.ts';
import { createOwnedDatabase, type DatabaseServer, pgServer } from '#core/restore/restore-target.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { connectionAt } from '../wf-common/connection.ts';
import { rdsIn, repositoryFromEnv } from '../wf-common/index.ts';
import { as, restoreTarget } from '../wf-common/events.ts';
import { instanceEndpoint } from '../wf-common/rds-lookup.ts';

/**
 * RestoreDump: creates the target database on the target server and marks it as this execution's
 * (functions/core/restore/restore-target.ts), restores the dump into it with the same code as `lifeboat
 * restore` (checksum, pg_restore, data checks, catalog record), and fails with VerificationFailed
 * when the checks do not pass. In AWS this runs in the verify-backup container image (it needs
 * pg_restore). A database already there is refused (TargetAlreadyExists) unless this execution's
 * marker is on it (a retried attempt): cleanup drops only a database carrying that marker.
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

export interface RestoreDumpDeps {
  readonly server: DatabaseServer;
  readonly endpoint: string;
  /** Restores the dump into the named (new, empty) database and runs the data checks. */
  readonly restore: (
    databaseName: string,
  ) => Promise<{ passed: boolean; checks: CheckResult[]; restoreDurationMs: number }>;
}

export async function restoreDump(
  event: RestoreDumpEvent,
  deps: RestoreDumpDeps,
): Promise<RestoreDumpResult> {
  const name = event.target.databaseName!;
  await createOwnedDatabase(deps.server, name, event.executionName, event.target.identifier);
  const report = await deps.restore(name);
  if (!report.passed) {
    const failed = report.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.detail}`);
    throw new VerificationFailed(`restored dump ${event.backupId} did not pass: ${failed.join('; ')}`);
  }
  return {
    database: name,
    endpoint: deps.endpoint,
    passed: true,
    checks: report.checks,
    restoreDurationMs: report.restoreDurationMs,
  };
}

export const RestoreDumpEvent = as<RestoreDumpEvent>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    backupId: z.string().check(z.minLength(1)),
    target: restoreTarget,
    executionName: z.string().check(z.minLength(1)),
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-restore-dump', event: RestoreDumpEvent },
  async (event, { logger }) => {
    const endpoint = await instanceEndpoint(rdsIn(undefined), event.target.identifier);
    const admin = await connectionAt(event.target.secretArn!, endpoint, 'postgres');
    const result = await restoreDump(event, {
      server: pgServer(admin),
      endpoint,
      restore: (name) =>
        runRestore({
          repository: repositoryFromEnv(),
          ref: event.backupId,
          database: event.database,
          target: { ...admin, database: name },
          // Onto a new server: the roles the dump needs come with it (existing roles are left alone).
          createRoles: 'when-captured',
          logger,
        }),
    });
    logger.info('dump restored', {
      backupId: event.backupId,
      database: result.database,
      ms: result.restoreDurationMs,
    });
    return result;
  },
);
