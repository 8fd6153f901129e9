import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { ConnectionInfo } from '#core/shared/pg.ts';
import { connectionFromSecret } from '#core/shared/secrets.ts';
import { awsClient } from '#runtime/clients.ts';

// Apart from functions/wf-common/index.ts: a task that connects only on a rare path (ResolveRestorePoint's
// check that a target database exists) imports this from its lazy chunk, and its cold start then
// does not load the Secrets Manager client.

/**
 * Connection details from a database secret, pointed at `host` (a restored or promoted database
 * keeps the source's credentials but has its own endpoint) and `database`.
 */
export async function connectionAt(
  secretArn: string,
  host: string | undefined,
  database?: string,
): Promise<ConnectionInfo> {
  const secrets = awsClient(SecretsManagerClient, 'brief');
  const info = await connectionFromSecret(secrets, secretArn, { database, sslmode: 'require' });
  return host ? { ...info, host } : info;
}
