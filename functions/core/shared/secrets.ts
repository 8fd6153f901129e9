import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from './zod.ts';
import { DatabaseAuthFailed, InvalidArgument, LifeboatError } from './errors.ts';
import type { ConnectionInfo } from './pg.ts';

/** The JSON RDS writes into a database secret (and what lifeboat expects of a hand-made one). */
const DatabaseSecret = z.object({
  username: z.string().check(z.minLength(1)),
  password: z.string().check(z.minLength(1)),
  host: z.string().check(z.minLength(1)),
  port: z._default(z.coerce.number().check(z.int(), z.positive()), 5432),
  dbname: z.optional(z.string().check(z.minLength(1))),
  engine: z.optional(z.string()),
});

export class SecretUnavailable extends LifeboatError {
  override readonly name = 'SecretUnavailable';
}

/**
 * Reads a database secret from Secrets Manager. The secret's values never appear in an error,
 * a log line or a return value: only the field names that are wrong.
 */
export async function connectionFromSecret(
  client: SecretsManagerClient,
  secretArn: string,
  options: { database?: string | undefined; sslmode?: string | undefined } = {},
): Promise<ConnectionInfo> {
  let text: string | undefined;
  try {
    text = (await client.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    if (name === 'ResourceNotFoundException') {
      throw new SecretUnavailable(`secret ${secretArn} does not exist`, { cause: err });
    }
    if (name === 'AccessDeniedException') {
      throw new SecretUnavailable(`not allowed to read secret ${secretArn}`, { cause: err });
    }
    if (name === 'DecryptionFailure') {
      throw new SecretUnavailable(`cannot decrypt secret ${secretArn}: no access to its KMS key`, {
        cause: err,
      });
    }
    throw new SecretUnavailable(`reading secret ${secretArn} failed: ${name}`, { cause: err });
  }
  if (!text) throw new SecretUnavailable(`secret ${secretArn} has no string value`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new DatabaseAuthFailed(
      `secret ${secretArn} is not JSON (expected username, password, host, port, dbname)`,
    );
  }
  const parsed = DatabaseSecret.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new DatabaseAuthFailed(`secret ${secretArn} lacks or has invalid fields: ${fields}`);
  }
  const database = options.database ?? parsed.data.dbname;
  if (!database)
    throw new InvalidArgument(`secret ${secretArn} names no dbname and the event names no database`);
  return {
    host: parsed.data.host,
    port: parsed.data.port,
    user: parsed.data.username,
    password: parsed.data.password,
    database,
    sslmode: options.sslmode,
  };
}
