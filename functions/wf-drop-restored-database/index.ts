import { connect, quoteIdent } from '#core/pg.ts';
import type { PlannedRestore } from '#core/restore-plan.ts';
import { connectionAt, rdsIn, taskHandler } from '../wf-common/index.ts';
import { instanceEndpoint } from '../wf-common/rds-lookup.ts';

/** DropCreatedDatabase: cleanup of a failed dump restore — drops the database the execution created. */
export interface DropEvent {
  readonly database: string;
  readonly target: PlannedRestore['target'];
  readonly executionName: string;
}

export const handler = taskHandler<DropEvent, { dropped: string }>(
  'wf-drop-restored-database',
  async (event) => {
    const endpoint = await instanceEndpoint(rdsIn(undefined), event.target.identifier);
    const client = await connect(await connectionAt(event.target.secretArn!, endpoint, 'postgres'));
    try {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(event.database)} WITH (FORCE)`);
      return { dropped: event.database };
    } finally {
      await client.end();
    }
  },
);
