import type { RDSClient } from '@aws-sdk/client-rds';
import * as z from '#core/shared/zod.ts';
import type { PlannedRestore } from '#core/restore/restore-plan.ts';
import { type DropResult, dropOwnedDatabase, pgServer } from '#core/restore/restore-target.ts';
import type { ConnectionInfo } from '#core/shared/pg.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { connectionAt } from '../wf-common/connection.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as, restoreTarget } from '../wf-common/events.ts';
import { instanceEndpoint } from '../wf-common/rds-lookup.ts';

/**
 * DropCreatedDatabase: cleanup of a failed dump restore. Drops the database only when the marker
 * RestoreDump wrote names this execution; anything else is refused (NotCreatedByThisExecution)
 * and left as it is, whichever way the workflow got here.
 */
export interface DropEvent {
  readonly database: string;
  readonly target: PlannedRestore['target'];
  readonly executionName: string;
}

export const DropEvent = as<DropEvent>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    target: restoreTarget,
    executionName: z.string().check(z.minLength(1)),
  }),
);

export interface DropDeps {
  /** RDS of the function's region, where the target instance is. */
  readonly rds: RDSClient;
  /** Connection details from the target's secret, at `host`, to `database`. */
  readonly connect: (secretArn: string, host: string, database: string) => Promise<ConnectionInfo>;
}

/** The target server's endpoint, then its `postgres` database, then the drop the marker allows. */
export async function dropRestoredDatabase(event: DropEvent, deps: DropDeps): Promise<DropResult> {
  const endpoint = await instanceEndpoint(deps.rds, event.target.identifier);
  const admin = await deps.connect(event.target.secretArn!, endpoint, 'postgres');
  return dropOwnedDatabase(pgServer(admin), event.database, event.executionName, event.target.identifier);
}

export const handler = lambdaHandler({ service: 'wf-drop-restored-database', event: DropEvent }, (event) =>
  dropRestoredDatabase(event, { rds: rdsIn(undefined), connect: connectionAt }),
);
