import { InvalidArgument } from '#core/shared/errors.ts';
import { planRestore } from '#core/restore/restore-plan.ts';
import { bool, parse, required, str, type Syntax } from '../../args.ts';
import { executionName } from '../../aws/workflows.ts';
import { resolveEnvironment } from '../../env.ts';

import { type AwsClients, defaultClients, regionOf, startAndFollow } from './shared.ts';

const RESTORE_USAGE =
  'lifeboat restore --env NAME --database NAME --source snapshot|point-in-time|dump [--backup-id ID | --time ISO] --target-id ID [--target-kind instance|cluster] [--instance-class C] [--subnet-group G] [--security-group sg-...]... [--source-identifier ID] [--target-database NAME] [--target-secret-arn ARN] [--cutover-zone Z --cutover-record NAME [--cutover-ttl S]] [--no-verify] [--tier Standard|Bulk|Expedited] [--days N] [--region primary|dr] [--no-follow] [--json]';

export const restoreAwsHelp = `Starts the restore workflow of an environment (in the primary region, or --region dr when the
primary region is down) and follows it step by step. The request is checked here first with the
same rules as the workflow's first state, so a bad field is named before anything is created.

usage: ${RESTORE_USAGE}

  --source S            snapshot, point-in-time, or dump (restored into an existing server)
  --backup-id ID        restore this backup (default: the newest verified one)
  --time ISO            point in time, or the newest verified backup before it
  --target-id ID        the instance or cluster to create (for a dump: the existing instance)
  --cutover-zone/--cutover-record   switch this Route 53 record to the restored database when verified
  --no-verify           skip the data checks (not recommended)
  --tier T, --days N    a dump only: if it is archived (GLACIER, DEEP_ARCHIVE), the workflow asks S3 to
                        restore it at tier T (Standard, the default; Bulk; Expedited, GLACIER only),
                        readable for N days (default 7), tells on-call the wait, and waits for it

exit status: 0 the workflow succeeded, 1 it failed, 2 it could not be started`;

export const restoreAwsSyntax = {
  usage: RESTORE_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    source: { type: 'string' },
    'backup-id': { type: 'string' },
    time: { type: 'string' },
    'source-identifier': { type: 'string' },
    'target-id': { type: 'string' },
    'target-kind': { type: 'string' },
    'instance-class': { type: 'string' },
    'subnet-group': { type: 'string' },
    'security-group': { type: 'string', multiple: true },
    'target-database': { type: 'string' },
    'target-secret-arn': { type: 'string' },
    'cutover-zone': { type: 'string' },
    'cutover-record': { type: 'string' },
    'cutover-ttl': { type: 'string' },
    'no-verify': { type: 'boolean' },
    tier: { type: 'string' },
    days: { type: 'string' },
    region: { type: 'string' },
    'no-follow': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function restoreAwsCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(restoreAwsSyntax.usage, argv, restoreAwsSyntax.options, restoreAwsSyntax.positionals);
  const envName = required(p, 'env', RESTORE_USAGE);
  const regionChoice = str(p, 'region');
  if (regionChoice !== undefined && regionChoice !== 'primary' && regionChoice !== 'dr') {
    throw new InvalidArgument(`--region expects primary or dr, got "${regionChoice}"`);
  }
  if (str(p, 'backup-id') && str(p, 'time'))
    throw new InvalidArgument('pass --backup-id or --time, not both');
  if (Boolean(str(p, 'cutover-zone')) !== Boolean(str(p, 'cutover-record'))) {
    throw new InvalidArgument('--cutover-zone and --cutover-record go together');
  }
  const ttl = str(p, 'cutover-ttl');
  const tier = str(p, 'tier');
  const days = str(p, 'days');
  if (days !== undefined && !/^\d+$/.test(days))
    throw new InvalidArgument(`--days expects a whole number of days, got "${days}"`);
  const request = {
    database: required(p, 'database', RESTORE_USAGE),
    source: required(p, 'source', RESTORE_USAGE),
    restorePoint: str(p, 'backup-id')
      ? { kind: 'backup', backupId: str(p, 'backup-id') }
      : str(p, 'time')
        ? { kind: 'time', time: str(p, 'time') }
        : { kind: 'latest-verified' },
    ...(str(p, 'source-identifier') && { sourceIdentifier: str(p, 'source-identifier') }),
    target: {
      identifier: required(p, 'target-id', RESTORE_USAGE),
      ...(str(p, 'target-kind') && { kind: str(p, 'target-kind') }),
      ...(str(p, 'instance-class') && { instanceClass: str(p, 'instance-class') }),
      ...(str(p, 'subnet-group') && { subnetGroupName: str(p, 'subnet-group') }),
      securityGroupIds: (p.values['security-group'] as string[] | undefined) ?? [],
      ...(str(p, 'target-database') && { databaseName: str(p, 'target-database') }),
      ...(str(p, 'target-secret-arn') && { secretArn: str(p, 'target-secret-arn') }),
    },
    ...(str(p, 'cutover-zone') && {
      cutover: {
        hostedZoneId: str(p, 'cutover-zone'),
        recordName: str(p, 'cutover-record'),
        ...(ttl !== undefined && { ttl: Number(ttl) }),
      },
    }),
    verify: !bool(p, 'no-verify'),
    ...((tier !== undefined || days !== undefined) && {
      archive: { ...(tier !== undefined && { tier }), ...(days !== undefined && { days: Number(days) }) },
    }),
    requestedBy: process.env.USER ?? 'cli',
  };
  try {
    planRestore(request);
  } catch (err) {
    throw new InvalidArgument(`restore request: ${(err as Error).message}`);
  }
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'restore', regionChoice);
  const name = executionName(`restore-${request.database}`);
  return startAndFollow(
    clients,
    envName,
    'restore',
    region,
    name,
    request,
    { json: bool(p, 'json'), noFollow: bool(p, 'no-follow') },
    out,
  );
}
