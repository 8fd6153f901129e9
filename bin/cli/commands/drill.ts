import { InvalidArgument } from '#core/shared/errors.ts';
import { bool, parse, positiveInt, str, type Syntax } from '../args.ts';
import { runDrill } from '../drill.ts';
import { type DrillReport, type DrillScenario, type DrillStep } from '../drill-model.ts';
import { withInterrupt } from './shared.ts';

const USAGE =
  'lifeboat drill [--scenario planned|primary-lost] [--lag SECONDS] [--repo URL] [--s3-endpoint URL] [--rows N] [--json]';

/** The longest replication delay a drill takes: the drill waits for it, and 60 s says everything. */
export const MAX_DRILL_LAG_SECONDS = 60;

export const drillHelp = `Runs a full disaster-recovery drill on this machine with nothing but PostgreSQL's binaries:
a primary and a streaming standby, an application writing all along, backup, verify, restore into
a new database, then the failover workflow (the same ASL deployed to AWS, with the deployed fence,
write check, canary and alarm-start code) with local adapters, and the application's rows checked
on the new primary. Prints each step, RTO and RPO. Everything is removed afterwards.

usage: ${USAGE}

  --scenario S   planned (default): started by hand, the old primary fenced, the standby caught
                 up; no acknowledged row may be lost.
                 primary-lost: the primary is killed (SIGKILL) mid-write, nothing can fence it;
                 the primary canary notices, its alarm starts the failover through alarm-start,
                 the drill approves; reports rows lost next to the RPO the heartbeats estimated.
  --lag SECONDS  the standby receives the primary's WAL this many seconds late (0-${MAX_DRILL_LAG_SECONDS}, default 0)
  --repo URL     keep the drill's backups in this repository (default: a temporary directory)
  --rows N       invoice lines in the sample database (default 20000)
  --json         print the report as JSON

exit status: 0 every step passed, 1 a step failed, 2 the drill could not run`;

function line(s: DrillStep): string {
  return `${s.ok ? '✓' : '✗'} ${s.name.padEnd(28)} ${`${(s.ms / 1000).toFixed(2)} s`.padStart(8)}  ${s.detail}`;
}

export function summary(r: DrillReport): string {
  const fmt = (v: number | null | undefined, digits: number, unit: string) =>
    v === null || v === undefined ? 'n/a' : `${v.toFixed(digits)} ${unit}`;
  const app = r.application;
  const lines = [
    '',
    `scenario ${r.scenario}, standby ${r.lagSeconds} s behind`,
    r.scenario === 'primary-lost'
      ? `RTO  ${fmt(r.rtoSeconds, 2, 's')} (primary killed → verified write on the new primary; detection ${fmt(r.detectionSeconds, 2, 's')}, workflow ${fmt(r.workflowSeconds, 2, 's')})`
      : `RTO  ${fmt(r.rtoSeconds, 2, 's')} (failover trigger → verified write on the new primary)`,
    `RPO  ${app.lost === null ? 'n/a' : `${app.lost} acknowledged rows lost`} of ${app.acknowledged.toLocaleString('en-US')} (${app.found?.toLocaleString('en-US') ?? 'n/a'} found; lost window ${fmt(app.lostWindowSeconds, 2, 's')})`,
  ];
  if (r.rpoEstimate) {
    lines.push(
      `     estimated at approval: ${r.rpoEstimate.rpoSeconds === null ? 'unknown' : `${r.rpoEstimate.rpoSeconds.toFixed(2)} s`}, ${r.rpoEstimate.rowsAtRisk ?? 'unknown'} rows at risk, ${fmt(r.rpoEstimate.unobservedSeconds, 2, 's')} unobserved (${r.rpoEstimate.summary})`,
    );
  }
  lines.push(
    `replica lag at trigger ${fmt(r.lagAtTriggerSeconds, 3, 's')}, ${r.lagAtTriggerBytes ?? 'n/a'} bytes of WAL; writer paused ${r.writerDowntimeMs ?? 'n/a'} ms at most`,
    r.passed ? 'drill passed' : 'drill FAILED',
  );
  return lines.join('\n');
}

function lagSeconds(raw: string | undefined): number {
  if (raw === undefined) return 0;
  const value = Number(raw);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(raw) || value > MAX_DRILL_LAG_SECONDS) {
    throw new InvalidArgument(`--lag expects seconds from 0 to ${MAX_DRILL_LAG_SECONDS}, got "${raw}"`);
  }
  return value;
}

export const drillSyntax = {
  usage: USAGE,
  options: {
    scenario: { type: 'string' },
    lag: { type: 'string' },
    repo: { type: 'string' },
    's3-endpoint': { type: 'string' },
    rows: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

/** The drill's options from its command line; InvalidArgument names a bad one. */
export function parseDrillArgs(argv: string[]): {
  readonly scenario: DrillScenario;
  readonly lagSeconds: number;
  readonly repo: string | undefined;
  readonly s3Endpoint: string | undefined;
  readonly rows: number;
  readonly json: boolean;
} {
  const p = parse(drillSyntax.usage, argv, drillSyntax.options, drillSyntax.positionals);
  const scenario = str(p, 'scenario') ?? 'planned';
  if (scenario !== 'planned' && scenario !== 'primary-lost') {
    throw new InvalidArgument(`--scenario expects planned or primary-lost, got "${scenario}"`);
  }
  return {
    scenario,
    lagSeconds: lagSeconds(str(p, 'lag')),
    repo: str(p, 'repo'),
    s3Endpoint: str(p, 's3-endpoint'),
    rows: positiveInt(p, 'rows', 20_000),
    json: bool(p, 'json'),
  };
}

export async function drillCommand(argv: string[]): Promise<number> {
  const { json, ...options } = parseDrillArgs(argv);
  const report = await withInterrupt((signal) =>
    runDrill({
      ...options,
      signal,
      onStep: json ? undefined : (s) => process.stdout.write(`${line(s)}\n`),
    }),
  );
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${summary(report)}\n`);
  return report.passed ? 0 : 1;
}
