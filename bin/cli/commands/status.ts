import { S3Client } from '@aws-sdk/client-s3';
import { InvalidArgument } from '#core/shared/errors.ts';
import { type Repository } from '#core/repository/index.ts';
import { openRepository } from '../repository.ts';
import {
  type DatabaseStatus,
  DEFAULT_TARGETS,
  type Health,
  overallHealth,
  repositoryStatus,
} from '#core/catalog/status.ts';
import { bool, parse, required, str, type Syntax } from '../args.ts';
import { environmentRepository } from '../aws/repository.ts';
import { regionRoleOption } from '../env.ts';
import { table } from '../format.ts';
import { RETRY } from '#core/contracts/retry.ts';

const USAGE =
  'lifeboat status --repo URL | --env NAME [--region primary|dr] [--database NAME ...] [--warn-age HOURS] [--max-age HOURS] [--rpo-target HOURS] [--fail-on warning|critical] [--s3-endpoint URL] [--json]';

export const statusHelp = `Per database: the newest backup and its age, the newest verified backup and its age against the
RPO target, the last failover or drill with its RTO and RPO. For people a table, for machines --json.
Exits 1 when any database is outside its targets, so it can run from cron or CI.

With --env it reads the catalog in the environment's backup bucket (the primary region's, or the DR
region's replica when the primary region cannot be reached), holds each configured database to the
environment's alarm thresholds, and lists configured databases that have no backup at all;
--region reads that region's bucket only.

usage: ${USAGE}

  --warn-age HOURS     newest backup older than this is a warning (default ${DEFAULT_TARGETS.backupAgeWarningHours})
  --max-age HOURS      newest backup older than this is critical (default ${DEFAULT_TARGETS.backupAgeCriticalHours})
  --rpo-target HOURS   the newest verified backup must be younger (default ${DEFAULT_TARGETS.verifiedAgeTargetHours})
  --fail-on LEVEL      exit 1 on warning (default) or only on critical

exit status: 0 all within targets, 1 a database is outside them, 2 the status could not be read`;

function hoursOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgument(`--${name} expects a number of hours such as 26, got "${value}"`);
  return n;
}

function ageText(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)}h`;
  return `${(seconds / 86_400).toFixed(1)}d`;
}

const MARK: Record<Health, string> = { ok: '✓ ok', warning: '! warning', critical: '✗ critical' };

export function statusTable(statuses: readonly DatabaseStatus[]): string {
  const rows = statuses.map((s) => [
    s.database,
    MARK[s.health],
    s.newestBackup ? `${s.newestBackup.id} (${ageText(s.newestBackup.ageSeconds)})` : '-',
    s.newestVerified ? `${s.newestVerified.id} (${ageText(s.newestVerified.ageSeconds)})` : '-',
    s.replicaLagSeconds === null ? 'n/a' : `${s.replicaLagSeconds} s`,
    s.lastFailover
      ? `RTO ${s.lastFailover.rtoSeconds.toFixed(1)} s, RPO ${s.lastFailover.rpoSeconds === null ? 'n/a' : `${s.lastFailover.rpoSeconds} s`}`
      : '-',
  ]);
  const problems = statuses.flatMap((s) => s.problems.map((p) => `  ${s.database}: ${p}`));
  return [
    table(
      ['DATABASE', 'HEALTH', 'NEWEST BACKUP (AGE)', 'NEWEST VERIFIED (AGE)', 'REPLICA LAG', 'LAST FAILOVER'],
      rows,
    ),
    ...(problems.length ? ['', 'outside targets:', ...problems] : []),
  ].join('\n');
}

export { environmentRepository };

export const statusSyntax = {
  usage: USAGE,
  options: {
    env: { type: 'string' },
    region: { type: 'string' },
    repo: { type: 'string' },
    database: { type: 'string', multiple: true },
    'warn-age': { type: 'string' },
    'max-age': { type: 'string' },
    'rpo-target': { type: 'string' },
    'fail-on': { type: 'string' },
    's3-endpoint': { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function statusCommand(
  argv: string[],
  s3: (region: string) => S3Client = (region) => new S3Client({ region, ...RETRY.brief }),
): Promise<number> {
  const p = parse(statusSyntax.usage, argv, statusSyntax.options, statusSyntax.positionals);
  const failOn = str(p, 'fail-on') ?? 'warning';
  if (failOn !== 'warning' && failOn !== 'critical') {
    throw new InvalidArgument(`--fail-on expects warning or critical, got "${failOn}"`);
  }
  const targets = {
    ...(hoursOption(str(p, 'warn-age'), 'warn-age') !== undefined && {
      backupAgeWarningHours: Number(str(p, 'warn-age')),
    }),
    ...(hoursOption(str(p, 'max-age'), 'max-age') !== undefined && {
      backupAgeCriticalHours: Number(str(p, 'max-age')),
    }),
    ...(hoursOption(str(p, 'rpo-target'), 'rpo-target') !== undefined && {
      verifiedAgeTargetHours: Number(str(p, 'rpo-target')),
    }),
  };
  let repository: Repository;
  let databases = p.values.database as string[] | undefined;
  let envTargets = {};
  const envName = str(p, 'env');
  if (envName !== undefined) {
    if (str(p, 'repo')) throw new InvalidArgument(`pass --env or --repo, not both\nusage: ${USAGE}`);
    const found = await environmentRepository(
      envName,
      s3,
      (text) => process.stderr.write(`note: ${text}\n`),
      regionRoleOption(str(p, 'region')),
    );
    repository = found.repository;
    databases ??= found.databases;
    envTargets = found.targets;
  } else {
    if (str(p, 'region')) throw new InvalidArgument(`--region goes with --env\nusage: ${USAGE}`);
    repository = openRepository(required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), {
      s3Endpoint: str(p, 's3-endpoint'),
    });
    await repository.check();
  }
  const statuses = await repositoryStatus(repository, { targets: { ...envTargets, ...targets }, databases });
  if (bool(p, 'json')) process.stdout.write(`${JSON.stringify(statuses, null, 2)}\n`);
  else
    process.stdout.write(
      statuses.length ? `${statusTable(statuses)}\n` : `no databases in ${repository.url}\n`,
    );
  const health = overallHealth(statuses);
  if (statuses.length === 0) return 1;
  return health === 'critical' || (health === 'warning' && failOn === 'warning') ? 1 : 0;
}
