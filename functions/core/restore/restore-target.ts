import { LifeboatError } from '../shared/errors.ts';
import { type ConnectionInfo, connect, quoteIdent } from '../shared/pg.ts';
import { TargetAlreadyExists } from './restore-plan.ts';
import { TAG } from '../contracts/tags.ts';

/**
 * Ownership of the database a dump restore creates on an existing server. The restore writes a
 * marker (the database's comment, `lifeboat:created-by=<execution name>`) right after CREATE
 * DATABASE; cleanup drops a database only when that marker names the same execution. Ownership is
 * proven by what the database carries, never inferred from an error name: a pre-existing database
 * (no marker, or another execution's) is never dropped, whatever path the workflow took.
 */

/** The database exists but this execution did not create it: cleanup leaves it alone. */
export class NotCreatedByThisExecution extends LifeboatError {
  override readonly name = 'NotCreatedByThisExecution';
}

export const OWNER_MARK_PREFIX = `${TAG.createdBy}=`;

export function ownerMark(executionName: string): string {
  return `${OWNER_MARK_PREFIX}${executionName}`;
}

/** What the restore needs of the target server; pgServer() is the real one. */
export interface DatabaseServer {
  /** The database's comment; null when it has none; undefined when there is no such database. */
  markOf(name: string): Promise<string | null | undefined>;
  /** CREATE DATABASE; 'exists' when the name is taken (lost a race). */
  create(name: string): Promise<'created' | 'exists'>;
  setMark(name: string, mark: string): Promise<void>;
  drop(name: string): Promise<void>;
}

/**
 * Creates `name` for this execution and marks it. A database already there is refused
 * (TargetAlreadyExists) unless this execution's own marker is on it: then an earlier attempt of
 * the same step (its answer lost, or timed out half-way) made it, and it is recreated empty, so
 * that a retried step restores into a clean database.
 */
export async function createOwnedDatabase(
  server: DatabaseServer,
  name: string,
  executionName: string,
  where: string,
): Promise<'created' | 'recreated'> {
  const mark = ownerMark(executionName);
  const existing = await server.markOf(name);
  let outcome: 'created' | 'recreated' = 'created';
  if (existing !== undefined) {
    if (existing !== mark) {
      throw new TargetAlreadyExists(
        `database "${name}" already exists on ${where} and was not created by this restore: name a new one (it was not changed)`,
      );
    }
    await server.drop(name);
    outcome = 'recreated';
  }
  if ((await server.create(name)) === 'exists') {
    throw new TargetAlreadyExists(
      `database "${name}" was created on ${where} by someone else meanwhile: name a new one (it was not changed)`,
    );
  }
  await server.setMark(name, mark);
  return outcome;
}

export interface DropResult {
  readonly database: string;
  readonly dropped: boolean;
  readonly detail: string;
}

/**
 * Drops `name` only when this execution's marker is on it. A database that is not there is fine
 * (nothing to clean up); one without the marker is refused with NotCreatedByThisExecution, which
 * the workflow reports as a cleanup error naming the database.
 */
export async function dropOwnedDatabase(
  server: DatabaseServer,
  name: string,
  executionName: string,
  where: string,
): Promise<DropResult> {
  const existing = await server.markOf(name);
  if (existing === undefined) return { database: name, dropped: false, detail: 'not there: nothing to drop' };
  if (existing !== ownerMark(executionName)) {
    throw new NotCreatedByThisExecution(
      `database "${name}" on ${where} was not created by execution ${executionName} (${existing === null ? 'no lifeboat marker' : `marker "${existing}"`}): it was left as it is`,
    );
  }
  await server.drop(name);
  return { database: name, dropped: true, detail: `dropped (created by ${executionName})` };
}

/** The target server through its `postgres` database (`admin` connects there). */
export function pgServer(admin: ConnectionInfo): DatabaseServer {
  const run = async <T>(fn: (client: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> => {
    const client = await connect(admin, 'postgres');
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    markOf: (name) =>
      run(async (c) => {
        const found = await c.query<{ mark: string | null }>(
          "SELECT shobj_description(oid, 'pg_database') AS mark FROM pg_database WHERE datname = $1",
          [name],
        );
        return found.rowCount ? (found.rows[0]!.mark ?? null) : undefined;
      }),
    create: (name) =>
      run(async (c) => {
        try {
          await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
          return 'created';
        } catch (err) {
          if ((err as { code?: string }).code === '42P04') return 'exists';
          throw err;
        }
      }),
    setMark: (name, mark) =>
      run(async (c) => {
        await c.query(`COMMENT ON DATABASE ${quoteIdent(name)} IS ${literal(mark)}`);
      }),
    drop: (name) =>
      run(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      }),
  };
}

/** COMMENT takes a literal, not a parameter. */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
