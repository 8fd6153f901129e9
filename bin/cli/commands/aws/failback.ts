import { bool, parse, required, type Syntax } from '../../args.ts';
import { executionName } from '../../aws/workflows.ts';
import { resolveEnvironment } from '../../env.ts';

import { type AwsClients, defaultClients, regionOf, startAndFollow } from './shared.ts';

const FAILBACK_USAGE = 'lifeboat failback --env NAME --database NAME --reason TEXT [--no-follow] [--json]';

export const failbackHelp = `Re-protects a database after a failover: starts the failback workflow in the environment's DR
region (where the database now runs), which creates a new replica of it in the recovered region
and waits until it is available, and follows it step by step. It does not move the primary back.

usage: ${FAILBACK_USAGE}

exit status: 0 the workflow succeeded, 1 it failed or was refused, 2 it could not be started`;

export const failbackSyntax = {
  usage: FAILBACK_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    reason: { type: 'string' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function failbackCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(FAILBACK_USAGE, argv, failbackSyntax.options);
  const envName = required(p, 'env', FAILBACK_USAGE);
  const database = required(p, 'database', FAILBACK_USAGE);
  const reason = required(p, 'reason', FAILBACK_USAGE);
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'failback');
  const name = executionName(`failback-${database}`);
  return startAndFollow(
    clients,
    envName,
    'failback',
    region,
    name,
    { database, reason },
    { json: bool(p, 'json'), noFollow: bool(p, 'no-follow') },
    out,
  );
}
