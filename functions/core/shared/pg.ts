import pg from 'pg';
import {
  DatabaseAuthFailed,
  DatabaseError,
  DatabaseNotFound,
  DatabaseUnreachable,
  errorMessage,
  InvalidArgument,
  LifeboatError,
} from './errors.ts';

/**
 * How to reach a PostgreSQL database. The password never goes into a URL, a log line or a child
 * process's arguments: child processes get it through PGPASSWORD in their own environment.
 */
export interface ConnectionInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string | undefined;
  readonly database: string;
  /** libpq sslmode (disable, prefer, require, verify-ca, verify-full). */
  readonly sslmode?: string | undefined;
}

const URL_FORM = 'expected postgres://user[:password]@host[:port]/database';

/** Parses postgres:// and postgresql:// URLs; throws InvalidArgument saying what was expected. */
export function parseDatabaseUrl(url: string): ConnectionInfo {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgument(`database URL does not parse: ${URL_FORM}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new InvalidArgument(`database URL has scheme "${parsed.protocol}": ${URL_FORM}`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!database) throw new InvalidArgument(`database URL names no database: ${URL_FORM}`);
  const port = parsed.port ? Number(parsed.port) : 5432;
  const host = decodeURIComponent(parsed.hostname || parsed.searchParams.get('host') || '127.0.0.1');
  return {
    host: host.replace(/^\[|\]$/g, ''),
    port,
    user: decodeURIComponent(
      parsed.username || parsed.searchParams.get('user') || process.env.USER || 'postgres',
    ),
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    database,
    sslmode: parsed.searchParams.get('sslmode') ?? undefined,
  };
}

/** host:port/database, for messages. */
export function describeConnection(info: ConnectionInfo): string {
  return `${info.host}:${info.port}/${info.database}`;
}

/** A libpq connection string without the password (which goes in PGPASSWORD). */
export function libpqConnString(info: ConnectionInfo, database: string = info.database): string {
  const q = (v: string) => `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  const parts = [
    `host=${q(info.host)}`,
    `port=${info.port}`,
    `user=${q(info.user)}`,
    `dbname=${q(database)}`,
  ];
  if (info.sslmode) parts.push(`sslmode=${q(info.sslmode)}`);
  return parts.join(' ');
}

/** Environment for pg_dump/pg_restore/psql children: the password, nothing inherited that could redirect them. */
export function libpqEnv(info: ConnectionInfo, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('PG')) env[k] = v;
  if (info.password !== undefined) env.PGPASSWORD = info.password;
  env.PGCONNECT_TIMEOUT = '15';
  return env;
}

export function clientConfig(info: ConnectionInfo, database: string = info.database): pg.ClientConfig {
  const ssl =
    info.sslmode === undefined ||
    info.sslmode === 'disable' ||
    info.sslmode === 'prefer' ||
    info.sslmode === 'allow'
      ? undefined
      : { rejectUnauthorized: info.sslmode === 'verify-ca' || info.sslmode === 'verify-full' };
  return {
    host: info.host,
    port: info.port,
    user: info.user,
    password: info.password,
    database,
    ssl,
    connectionTimeoutMillis: 15_000,
    application_name: 'lifeboat',
  };
}

/** Connects, turning the usual failures into one clear line each. */
export async function connect(info: ConnectionInfo, database: string = info.database): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(info, database));
  // An idle client whose server goes away emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw mapPgError(err, { ...info, database });
  }
  return client;
}

/** Maps node-postgres and socket errors to lifeboat's named errors. */
export function mapPgError(err: unknown, info: ConnectionInfo): LifeboatError {
  if (err instanceof LifeboatError) return err;
  const e = err as { code?: string; message?: string };
  const where = `${info.host}:${info.port}`;
  switch (e.code) {
    case 'ECONNREFUSED':
      return new DatabaseUnreachable(`cannot connect to PostgreSQL at ${where}: connection refused`, {
        cause: err,
      });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new DatabaseUnreachable(`cannot resolve database host "${info.host}"`, { cause: err });
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new DatabaseUnreachable(`cannot reach PostgreSQL at ${where}: ${e.code}`, { cause: err });
    case '28P01':
    case '28000':
      return new DatabaseAuthFailed(
        `authentication failed for user "${info.user}" at ${where}: ${e.message ?? 'password rejected'}`,
        { cause: err },
      );
    case '3D000':
      return new DatabaseNotFound(`database "${info.database}" does not exist at ${where}`, { cause: err });
  }
  if (/timeout/i.test(e.message ?? '')) {
    return new DatabaseUnreachable(`cannot reach PostgreSQL at ${where}: ${e.message}`, { cause: err });
  }
  return new DatabaseError(`PostgreSQL at ${where}: ${errorMessage(err)}`, { cause: err });
}

/** Quotes an identifier the way PostgreSQL's quote_ident does for any name. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
