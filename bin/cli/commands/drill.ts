import { InvalidArgument } from '#core/errors.ts';
import { bool, parse, positiveInt, str } from '../args.ts';
import { type DrillReport, type DrillStep, runDrill } from '../drill.ts';
import { withInterrupt } from './shared.ts';

const USAGE =
  'lifeboat drill [--mode planned|unplanned] [--repo URL] [--s3-endpoint URL] [--rows N] [--json]';

export const drillHelp = `Runs a full disaster-recovery drill on this machine with nothing but PostgreSQL's binaries:
a primary and a streaming standby, an application writing all along, backup, verify, restore into
a new database, then the failover workflow (the same ASL deployed to AWS) with local adapters, and
writes verified on the new primary. Prints each step, RTO and RPO. Everything is removed afterwards.

usage: ${USAGE}

  --mode M      planned (default: fence, then promote; RPO must be 0) or unplanned
  --repo URL    keep the drill's backups in this repository (default: a temporary directory)
  --rows N      invoice lines in the sample database (default 20000)
  --json        print the report as JSON

exit status: 0 every step passed, 1 a step failed, 2 the drill could not run`;

function line(s: DrillStep): string {
  return `${s.ok ? '✓' : '✗'} ${s.name.padEnd(28)} ${`${(s.ms / 1000).toFixed(2)} s`.padStart(8)}  ${s.detail}`;
}

export function summary(r: DrillReport): string {
  const fmt = (v: number | null, digits: number, unit: string) =>
    v === null ? 'n/a' : `${v.toFixed(digits)} ${unit}`;
  return [
    '',
    `RTO  ${fmt(r.rtoSeconds, 2, 's')} (failover trigger → verified write on the new primary)`,
    `RPO  ${r.rpoRowsLost === null ? 'n/a' : `${r.rpoRowsLost} committed rows lost`} (lag at trigger ${fmt(r.lagAtTriggerSeconds, 3, 's')}, ${r.lagAtTriggerBytes ?? 'n/a'} bytes of WAL)`,
    `application: ${r.rowsWritten.toLocaleString('en-US')} rows acknowledged, longest pause ${r.writerDowntimeMs ?? 'n/a'} ms`,
    r.passed ? 'drill passed' : 'drill FAILED',
  ].join('\n');
}

export async function drillCommand(argv: string[]): Promise<number> {
  const p = parse(USAGE, argv, {
    mode: { type: 'string' },
    repo: { type: 'string' },
    's3-endpoint': { type: 'string' },
    rows: { type: 'string' },
    json: { type: 'boolean' },
  });
  const mode = str(p, 'mode') ?? 'planned';
  if (mode !== 'planned' && mode !== 'unplanned') {
    throw new InvalidArgument(`--mode expects planned or unplanned, got "${mode}"`);
  }
  const json = bool(p, 'json');
  const report = await withInterrupt((signal) =>
    runDrill({
      mode,
      repo: str(p, 'repo'),
      s3Endpoint: str(p, 's3-endpoint'),
      rows: positiveInt(p, 'rows', 20_000),
      signal,
      onStep: json ? undefined : (s) => process.stdout.write(`${line(s)}\n`),
    }),
  );
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : `${summary(report)}\n`);
  return report.passed ? 0 : 1;
}
