import { errorMessage } from '#core/errors.ts';
import { type FailoverTarget, WriteVerificationFailed } from '#core/failover.ts';
import { type ConnectionInfo, connect } from '#core/pg.ts';
import { connectionAt, taskHandler } from '../wf-common/index.ts';

/**
 * VerifyWrite: proves the new primary commits a write. In one transaction: not in recovery, not
 * read-only, a row written to and read back from a temporary table, a transaction id assigned
 * and committed (a commit record in the WAL). Nothing is left behind in the user's database.
 */

export interface VerifyWriteEvent {
  readonly database: string;
  readonly target: FailoverTarget;
  readonly endpoint: string;
  readonly executionName: string;
}

export interface VerifyWriteResult {
  readonly ok: true;
  /** When the write was committed: the end of the RTO. */
  readonly at: string;
  readonly detail: string;
}

export async function verifyWrite(
  connection: ConnectionInfo,
  executionName: string,
  now = () => new Date(),
): Promise<VerifyWriteResult> {
  const client = await connect(connection);
  try {
    const recovery = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    if (recovery.rows[0]?.r)
      throw new WriteVerificationFailed(`${connection.host} is still in recovery (a standby)`);
    await client.query('BEGIN READ WRITE');
    await client.query(
      'CREATE TEMP TABLE lifeboat_write_check (execution text, at timestamptz) ON COMMIT DROP',
    );
    const row = await client.query<{ execution: string }>(
      'INSERT INTO lifeboat_write_check VALUES ($1, now()) RETURNING execution',
      [executionName],
    );
    const xid = await client.query<{ xid: string }>('SELECT txid_current()::text AS xid');
    await client.query('COMMIT');
    if (row.rows[0]?.execution !== executionName)
      throw new WriteVerificationFailed('the row written did not read back');
    return {
      ok: true,
      at: now().toISOString(),
      detail: `committed transaction ${xid.rows[0]?.xid} on ${connection.host}`,
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof WriteVerificationFailed) throw err;
    throw new WriteVerificationFailed(`write on ${connection.host} failed: ${errorMessage(err)}`, {
      cause: err,
    });
  } finally {
    await client.end();
  }
}

export const handler = taskHandler<VerifyWriteEvent, VerifyWriteResult>('wf-verify-write', async (event) => {
  if (!event.target.secretArn) {
    throw new WriteVerificationFailed(
      `the failover target of "${event.database}" has no secretArn: cannot connect to verify a write`,
    );
  }
  return verifyWrite(await connectionAt(event.target.secretArn, event.endpoint), event.executionName);
});
