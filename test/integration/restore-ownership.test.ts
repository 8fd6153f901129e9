import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgRestoreFailed } from '#core/shared/errors.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { chooseRestorePoint, type PlannedRestore, planRestore } from '#core/restore/restore-plan.ts';
import { dropOwnedDatabase, ownerMark, pgServer } from '#core/restore/restore-target.ts';
import { type RestoreDumpEvent, restoreDump } from '../../functions/wf-restore-dump/index.ts';
import { backups, SECRET } from '../faults/restore-world.ts';
import {
  type LambdaHandler,
  type PreparedWorkflow,
  pinnedAsl,
  prepare,
  runInWorld,
} from '../faults/runner.ts';
import { FakeAws } from '../faults/world.ts';
import { REGION } from '../state-machines/catalog-fixtures.ts';
import { ADMIN_URL, createDatabase, dropDatabase, query, withAdmin } from '../support/postgres.ts';

/**
 * The restore workflow's dump route against the machine's real PostgreSQL: RestoreDump and
 * DropCreatedDatabase run their shipped core (functions/core/restore/restore-target.ts) on a real server;
 * the other tasks are the fault world's. A database that existed before the restore survives
 * every path, rows included; a database the execution created is dropped on failure.
 */

const admin = parseDatabaseUrl(ADMIN_URL);
const EXECUTION = 'restore-ownership-run';
const created: string[] = [];

let restore: PreparedWorkflow;
beforeAll(() => {
  restore = prepare('restore', pinnedAsl('restore'));
});
afterAll(async () => {
  for (const db of created) await dropDatabase(db);
});

function input(databaseName: string) {
  return {
    database: 'orders',
    source: 'dump',
    target: { identifier: 'local-pg', databaseName, secretArn: SECRET },
  };
}

const readableDump = {
  readable: true,
  artifacts: 1,
  readableNow: 1,
  archived: 0,
  restoring: 0,
  storageClasses: ['STANDARD'],
  waitingFor: [],
};

/** The tasks of a dump restore; RestoreDump and DropCreatedDatabase on the real server. */
function lambdas(
  opts: { mangle?: boolean; restore?: () => Promise<never> } = {},
): Record<string, LambdaHandler> {
  const server = pgServer(admin);
  return {
    ValidateInput: ((e: { input: unknown }) => planRestore(e.input)) as LambdaHandler,
    // The check found no database (it appears afterwards: the race the drop must survive).
    ResolveRestorePoint: ((e: { request: PlannedRestore }) =>
      chooseRestorePoint(e.request, backups, REGION)) as LambdaHandler,
    // The dump is in STANDARD storage: readable at once.
    CheckDumpArtifacts: (() => readableDump) as LambdaHandler,
    RequestArchiveRestore: (() => Promise.reject(new Error('not archived'))) as LambdaHandler,
    CheckArchiveRestore: (() => readableDump) as LambdaHandler,
    RestoreDump: (async (e: RestoreDumpEvent) => {
      try {
        return await restoreDump(e, {
          server,
          endpoint: admin.host,
          restore: opts.restore ?? (async () => Promise.reject(new PgRestoreFailed('not reached'))),
        });
      } catch (err) {
        // What a bundle with renamed classes would throw: no Catch on the real name matches.
        if (opts.mangle) (err as Error).name = 'Wl';
        throw err;
      }
    }) as LambdaHandler,
    DropCreatedDatabase: ((e: { database: string; executionName: string }) =>
      dropOwnedDatabase(server, e.database, e.executionName, 'local-pg')) as LambdaHandler,
    VerifyRestore: (() => ({ passed: true, checks: [] })) as LambdaHandler,
    FinishRestore: (() => ({ recorded: false, durationMs: 1, key: null })) as LambdaHandler,
  };
}

async function comment(name: string): Promise<string | null | undefined> {
  return withAdmin(async (c) => {
    const r = await c.query<{ mark: string | null }>(
      "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1",
      [name],
    );
    return r.rowCount ? r.rows[0]!.mark : undefined;
  });
}

describe('a dump restore on a real server drops only the database it created', () => {
  it.each([
    ['the error name the Catch expects', false],
    ['a minified error name no Catch matches', true],
  ])('a pre-existing database (TargetAlreadyExists, with %s) keeps its rows', async (_label, mangle) => {
    // Prepare: someone's database, with rows, under the name the restore asks for.
    const existing = await createDatabase('lb_owned_elsewhere');
    created.push(existing);
    await query(existing, 'CREATE TABLE accounts (id int PRIMARY KEY, owner text)');
    await query(existing, "INSERT INTO accounts SELECT g, 'someone' FROM generate_series(1, 250) g");

    // Act
    const world = new FakeAws({ region: REGION });
    const run = await runInWorld(restore, {
      input: input(existing),
      world,
      lambdas: lambdas({ mangle }),
      executionName: EXECUTION,
    });

    // Assess
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe(mangle ? 'Wl' : 'TargetAlreadyExists');
    expect(await query(existing, 'SELECT count(*)::int AS n FROM accounts')).toEqual([{ n: 250 }]);
    expect(await comment(existing)).toBeNull();
    const failed = world.published.at(-1)!.message;
    expect(failed.type).toBe('restore.failed');
    if (mangle) {
      // The cleanup ran (the Catch did not match) and the drop refused: reported, not done.
      expect(run.calls.DropCreatedDatabase).toBe(1);
      expect(failed).toMatchObject({ cleanupErrors: { database: { Error: 'NotCreatedByThisExecution' } } });
    } else {
      expect(run.calls.DropCreatedDatabase ?? 0).toBe(0);
    }
  });

  it('a database another execution created is not dropped either', async () => {
    const other = await createDatabase('lb_owned_other_run');
    created.push(other);
    await withAdmin((c) => c.query(`COMMENT ON DATABASE "${other}" IS '${ownerMark('another-execution')}'`));

    const world = new FakeAws({ region: REGION });
    const run = await runInWorld(restore, {
      input: input(other),
      world,
      lambdas: lambdas({ mangle: true }),
      executionName: EXECUTION,
    });

    expect(run.status).toBe('FAILED');
    expect(await comment(other)).toBe(ownerMark('another-execution'));
  });

  it('the database this execution created is marked, and dropped when the restore into it fails', async () => {
    const name = `lb_owned_here_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    created.push(name);
    let markWhileRestoring: string | null | undefined;
    const failingRestore = async (): Promise<never> => {
      markWhileRestoring = await comment(name);
      throw new PgRestoreFailed('pg_restore exited with 1');
    };

    const world = new FakeAws({ region: REGION });
    const run = await runInWorld(restore, {
      input: input(name),
      world,
      lambdas: lambdas({ restore: failingRestore }),
      executionName: EXECUTION,
    });

    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('PgRestoreFailed');
    expect(markWhileRestoring).toBe(ownerMark(EXECUTION));
    expect(await comment(name)).toBeUndefined();
    expect(world.published.at(-1)!.message).toMatchObject({
      type: 'restore.failed',
      removed: { database: { name } },
      cleanupErrors: {},
    });
  });
});
