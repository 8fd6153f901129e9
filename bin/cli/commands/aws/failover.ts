import { InvalidArgument } from '#core/shared/errors.ts';
import { bool, parse, required, str, type Syntax } from '../../args.ts';
import { executionName, type Progress } from '../../aws/workflows.ts';
import { resolveEnvironment } from '../../env.ts';
import { type AwsClients, defaultClients, regionOf, startAndFollow } from './shared.ts';

const FAILOVER_USAGE =
  'lifeboat failover --env NAME --database NAME --reason TEXT [--mode planned|unplanned] [--force] [--dry-run] [--no-follow] [--json]';

export const failoverHelp = `Starts the failover workflow in the environment's DR region and follows it step by step.

usage: ${FAILOVER_USAGE}

  --mode M      planned (default; the primary is healthy: fence it, no data loss) or unplanned
  --force       skip the replica-lag check only (every other preflight check still applies)
  --dry-run     run preflight only and report every check; changes nothing
  --no-follow   print the execution and return at once

exit status: 0 the workflow succeeded, 1 it failed or was refused, 2 it could not be started`;

export const failoverSyntax = {
  usage: FAILOVER_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    reason: { type: 'string' },
    mode: { type: 'string' },
    force: { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function failoverCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(failoverSyntax.usage, argv, failoverSyntax.options, failoverSyntax.positionals);
  const envName = required(p, 'env', FAILOVER_USAGE);
  const database = required(p, 'database', FAILOVER_USAGE);
  const dryRun = bool(p, 'dry-run');
  const reason = str(p, 'reason') ?? (dryRun ? 'dry run' : undefined);
  if (!reason)
    throw new InvalidArgument(
      `--reason is required: say why, it goes into the record and the notifications\nusage: ${FAILOVER_USAGE}`,
    );
  const mode = str(p, 'mode') ?? 'planned';
  if (mode !== 'planned' && mode !== 'unplanned')
    throw new InvalidArgument(`--mode expects planned or unplanned, got "${mode}"`);
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'failover');
  const name = executionName(`${dryRun ? 'dryrun' : 'failover'}-${database}`);
  const input = { database, mode, reason, force: bool(p, 'force'), dryRun, trigger: 'manual' };
  const approvalHint = (pr: Progress) =>
    pr.state === 'RequestApproval'
      ? `waiting for approval: lifeboat approve --env ${envName} --database ${database}   (or: lifeboat abort ... --reason TEXT)`
      : null;
  return startAndFollow(
    clients,
    envName,
    'failover',
    region,
    name,
    input,
    { json: bool(p, 'json'), noFollow: bool(p, 'no-follow') },
    out,
    approvalHint,
  );
}
