import type { PlannedRestore } from '#core/restore/restore-plan.ts';
import { type DropResult, dropOwnedDatabase, pgServer } from '#core/restore/restore-target.ts';
import { connectionAt, rdsIn, taskHandler } from '../wf-common/index.ts';
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

export const handler = taskHandler<DropEvent, DropResult>('wf-drop-restored-database', async (event) => {
  const endpoint = await instanceEndpoint(rdsIn(undefined), event.target.identifier);
  const admin = await connectionAt(event.target.secretArn!, endpoint, 'postgres');
  return dropOwnedDatabase(pgServer(admin), event.database, event.executionName, event.target.identifier);
});
