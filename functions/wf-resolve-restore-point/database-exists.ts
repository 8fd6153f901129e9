import type { PlannedRestore } from '#core/restore/restore-plan.ts';
import { connect } from '#core/shared/pg.ts';
import { connectionAt } from '../wf-common/connection.ts';
import { rdsIn } from '../wf-common/index.ts';
import { instanceEndpoint } from '../wf-common/rds-lookup.ts';

/**
 * Whether the dump target server already has the database. Only the dump route asks, so the
 * PostgreSQL client is loaded (index.ts imports this module) when a dump restore runs, never at
 * the function's cold start.
 */
export async function databaseExists(request: PlannedRestore): Promise<boolean> {
  const host = await instanceEndpoint(rdsIn(undefined), request.target.identifier);
  const client = await connect(await connectionAt(request.target.secretArn!, host, 'postgres'));
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      request.target.databaseName,
    ]);
    return (found.rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}
