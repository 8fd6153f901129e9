import { writeFile } from 'node:fs/promises';
import { S3Client } from '@aws-sdk/client-s3';
import { InvalidArgument } from '#core/shared/errors.ts';
import type { DatabaseRetention } from '#core/retention/prune-settings.ts';
import { buildReport, parseSince, type ReportFormat, reportJson } from '#core/report/report.ts';
import {
  DEFAULT_REPORT_TARGETS,
  type EvidenceReport,
  type ReportTargets,
} from '#core/report/report-model.ts';
import { renderHtml } from '#core/report/report-html.ts';
import { renderMarkdown } from '#core/report/report-md.ts';
import { type Repository, S3Repository } from '#core/repository/index.ts';
import { openRepository } from '../repository.ts';
import { UnionRepository } from '#core/repository/union.ts';
import { loadEnvironmentConfig } from '../../../lib/config/load.ts';
import { reportSettings } from '../../../lib/config/report.ts';
import { type OptionSpec, type Parsed, parse, required, str, type Syntax } from '../args.ts';
import { type RegionRole, resolveEnvironment } from '../env.ts';
import { parseTime } from './shared.ts';
import { RETRY } from '#core/contracts/retry.ts';

const USAGE =
  'lifeboat report --repo URL | --env NAME [--format html|md|json] [--output FILE] [--since 90d | --from ISO [--to ISO]] [--database NAME ...] [--rpo-target HOURS] [--restore-rto DURATION] [--failover-rto DURATION] [--failover-rpo DURATION] [--keep-daily N --keep-weekly N --keep-monthly N --keep-yearly N [--min-verified N] [--time-zone ZONE]] [--s3-endpoint URL]';

export const reportHelp = `The DR evidence report of a repository (--repo) or a deployed environment (--env: the catalogs of
both regions' buckets, read as one). Per database, over the period: gaps (periods with no verified
backup younger than the target) first; backups completed and failed; the age of the newest
completed and newest verified backup over time against the targets; every verification with its
checks and result; every restore test and failover (drills included) with its RTO and RPO against
the targets; snapshot copies to the DR region; what retention keeps per tier and the oldest
restorable point. Read from the catalog's records only.

usage: ${USAGE}

  --format F          html (one self-contained file, charts as inline SVG, prints to PDF),
                      md, or json (default md)
  --output FILE       write the report here (default: standard output)
  --since D           the period ending now (or --to): 90d, 12w, 36h (default 90d)
  --from/--to ISO     the period, e.g. --from 2026-07-01T00:00:00Z --to 2026-10-01T00:00:00Z
  --rpo-target HOURS  the newest verified backup must be younger (default ${DEFAULT_REPORT_TARGETS.verifiedAgeHours}; --env: its alarms)
  --restore-rto D     a restore test should take at most this long: 90s, 15m, 4h (default ${DEFAULT_REPORT_TARGETS.restoreRtoSeconds / 3600}h)
  --failover-rto D    a failover should take at most this long (default ${DEFAULT_REPORT_TARGETS.failoverRtoSeconds / 60}m)
  --failover-rpo D    a failover should lose at most this much (default ${DEFAULT_REPORT_TARGETS.failoverRpoSeconds}s)
  --keep-*            a retention policy (as lifeboat prune takes it), to show what it keeps per
                      tier (--env: each database's policy)

exit status: 0 the report was written, 2 it could not be made`;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** 90s, 15m, 4h, 2d → seconds. */
export function parseDurationSeconds(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value);
  if (!m || Number(m[1]) <= 0) {
    throw new InvalidArgument(`--${option} expects a duration such as 90s, 15m or 4h, got "${value}"`);
  }
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

function wholeNumber(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v) || Number(v) > 10_000) {
    throw new InvalidArgument(`--${name} expects a whole number from 0 to 10000, got "${v}"`);
  }
  return Number(v);
}

function targetsOf(p: Parsed): Partial<ReportTargets> {
  const rpo = str(p, 'rpo-target');
  if (rpo !== undefined && !(Number(rpo) > 0)) {
    throw new InvalidArgument(`--rpo-target expects a number of hours such as 48, got "${rpo}"`);
  }
  const out: Partial<Record<keyof ReportTargets, number>> = {
    verifiedAgeHours: rpo === undefined ? undefined : Number(rpo),
    restoreRtoSeconds: parseDurationSeconds('restore-rto', str(p, 'restore-rto')),
    failoverRtoSeconds: parseDurationSeconds('failover-rto', str(p, 'failover-rto')),
    failoverRpoSeconds: parseDurationSeconds('failover-rpo', str(p, 'failover-rpo')),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

function retentionOf(p: Parsed): DatabaseRetention | undefined {
  const counts = ['daily', 'weekly', 'monthly', 'yearly'].map((t) => wholeNumber(p, `keep-${t}`));
  if (counts.every((c) => c === undefined)) {
    if (str(p, 'min-verified') !== undefined || str(p, 'time-zone') !== undefined) {
      throw new InvalidArgument('--min-verified and --time-zone go with a --keep-* count');
    }
    return undefined;
  }
  const zone = str(p, 'time-zone') ?? 'UTC';
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new InvalidArgument(`--time-zone expects an IANA time zone such as Europe/Berlin, got "${zone}"`);
  }
  const [daily, weekly, monthly, yearly] = counts.map((c) => c ?? 0) as [number, number, number, number];
  return {
    daily,
    weekly,
    monthly,
    yearly,
    minVerified: Math.max(1, wholeNumber(p, 'min-verified') ?? 2),
    maxDeletionsPerRun: 0,
    timeZone: zone,
  };
}

export function periodOf(p: Parsed, now: Date, defaultSince = '90d'): { from: Date; to: Date } {
  const to = parseTime('to', str(p, 'to')) ?? now;
  const fromOption = parseTime('from', str(p, 'from'));
  if (fromOption && str(p, 'since')) throw new InvalidArgument('pass --since or --from, not both');
  const from = fromOption ?? new Date(to.getTime() - parseSince(str(p, 'since') ?? defaultSince));
  if (from.getTime() >= to.getTime()) {
    throw new InvalidArgument(`--from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
  }
  return { from, to };
}

/** The report in a format. */
export function render(report: EvidenceReport, format: ReportFormat): string {
  if (format === 'html') return renderHtml(report);
  if (format === 'md') return renderMarkdown(report);
  return reportJson(report);
}

/** Both regions' buckets of an environment, read as one (see UnionRepository). */
export function environmentRepositories(
  envName: string,
  s3: (region: string) => S3Client,
): {
  repository: UnionRepository;
  region: string;
  settings: ReturnType<typeof reportSettings>;
  databases: string[];
} {
  const env = resolveEnvironment(envName);
  const open = (role: RegionRole) =>
    new S3Repository({ client: s3(env.regions[role]), bucket: env.buckets[role], prefix: '' });
  return {
    repository: new UnionRepository([open('primary'), open('dr')]),
    // The report speaks for the primary region's copy, with what only the DR region holds added.
    region: env.regions.primary,
    settings: reportSettings(loadEnvironmentConfig(envName)),
    databases: env.databases.map((d) => d.name),
  };
}

const OPTIONS: OptionSpec = {
  env: { type: 'string' },
  repo: { type: 'string' },
  format: { type: 'string' },
  output: { type: 'string' },
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  database: { type: 'string', multiple: true },
  'rpo-target': { type: 'string' },
  'restore-rto': { type: 'string' },
  'failover-rto': { type: 'string' },
  'failover-rpo': { type: 'string' },
  'keep-daily': { type: 'string' },
  'keep-weekly': { type: 'string' },
  'keep-monthly': { type: 'string' },
  'keep-yearly': { type: 'string' },
  'min-verified': { type: 'string' },
  'time-zone': { type: 'string' },
  's3-endpoint': { type: 'string' },
};

export interface ReportCommandOptions {
  readonly source:
    { readonly env: string } | { readonly repo: string; readonly s3Endpoint: string | undefined };
  readonly format: ReportFormat;
  readonly output: string | undefined;
  readonly period: { readonly from: Date; readonly to: Date };
  readonly databases: string[] | undefined;
  readonly targets: Partial<ReportTargets>;
  readonly policy: DatabaseRetention | undefined;
}

/** The command line, checked without reading anything but the configuration: InvalidArgument says what was expected. */
export function reportOptions(argv: string[], now: Date = new Date()): ReportCommandOptions {
  const p = parse(USAGE, argv, OPTIONS);
  const format = str(p, 'format') ?? 'md';
  if (format !== 'html' && format !== 'md' && format !== 'json') {
    throw new InvalidArgument(`--format expects html, md or json, got "${format}"`);
  }
  const common = {
    format: format as ReportFormat,
    output: str(p, 'output'),
    databases: p.values.database as string[] | undefined,
    targets: targetsOf(p),
    policy: retentionOf(p),
  };
  const envName = str(p, 'env');
  if (envName !== undefined) {
    if (str(p, 'repo')) throw new InvalidArgument(`pass --env or --repo, not both\nusage: ${USAGE}`);
    const periodDays = loadEnvironmentConfig(envName).report.periodDays;
    return { ...common, source: { env: envName }, period: periodOf(p, now, `${periodDays}d`) };
  }
  return {
    ...common,
    source: { repo: required(p, 'repo', USAGE, 'LIFEBOAT_REPO'), s3Endpoint: str(p, 's3-endpoint') },
    period: periodOf(p, now),
  };
}

export async function reportCommand(
  argv: string[],
  s3: (region: string) => S3Client = (region) => new S3Client({ region, ...RETRY.brief }),
  out: NodeJS.WritableStream = process.stdout,
  now: Date = new Date(),
): Promise<number> {
  const o = reportOptions(argv, now);
  let repository: Repository;
  let region: string | undefined;
  let retention: Record<string, DatabaseRetention> | undefined;
  let envTargets: Partial<ReportTargets> = {};
  let subject: string;
  if ('env' in o.source) {
    const found = environmentRepositories(o.source.env, s3);
    repository = found.repository;
    region = found.region;
    envTargets = found.settings.targets;
    retention = found.settings.retention;
    subject = `environment ${o.source.env}`;
  } else {
    repository = openRepository(o.source.repo, { s3Endpoint: o.source.s3Endpoint });
    await repository.check();
    subject = o.source.repo;
  }
  const report = await buildReport(repository, {
    ...o.period,
    now,
    targets: { ...envTargets, ...o.targets },
    databases: o.databases,
    // A policy on the command line applies to every database, over the environment's own.
    ...(o.policy ? { retention: undefined, defaultRetention: o.policy } : { retention }),
    region,
    subject,
  });
  if (repository instanceof UnionRepository) {
    for (const u of repository.unavailable)
      process.stderr.write(`note: ${u.url} could not be read: ${u.error}\n`);
  }
  const text = render(report, o.format);
  if (o.output) {
    await writeFile(o.output, text);
    out.write(
      `wrote ${o.output} (${o.format}, ${Buffer.byteLength(text).toLocaleString('en-US')} bytes): ${plural(report.summary.databases, 'database')}, ${plural(report.summary.gaps, 'gap')}\n`,
    );
  } else out.write(text);
  return 0;
}

/** The command line as the docs test checks it (bin/cli/syntax.ts). */
export const reportSyntax = { usage: USAGE, options: OPTIONS, positionals: 0 } satisfies Syntax;
