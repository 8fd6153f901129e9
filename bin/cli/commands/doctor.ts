import { bool, parse, required, type Syntax } from '../args.ts';
import { type DoctorClients, defaultDoctorClients } from './doctor/facts.ts';
import { printReport, runDoctor } from './doctor/report.ts';

export { type DoctorClients, defaultDoctorClients, type DoctorTarget, doctorTarget } from './doctor/facts.ts';
export { type Finding } from './doctor/findings.ts';
export { type DoctorReport, runDoctor } from './doctor/report.ts';

const USAGE = 'lifeboat doctor --env NAME [--json]';

export const doctorHelp = `Asks AWS, read-only, whether the deployed environment would work during an incident: every
role simulated over the calls it makes (iam:SimulatePrincipalPolicy, with the real ARNs and the
targets' resource policies), the queues' and functions' resource policies checked (only this
environment's rules and topics may deliver, queues only over TLS), every workflow definition
validated, and what the configuration names described (replicas and their lag, keys and their policies, buckets and replication, secrets,
hosted zones, the Slack webhook secret). Prints each finding per database with its fix; exit 1 on
any finding, 0 when there is none. Run it after every deploy (docs/deploy.md).

usage: ${USAGE}`;

export async function doctorCommand(
  argv: string[],
  clients: DoctorClients = defaultDoctorClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(USAGE, argv, doctorSyntax.options);
  const envName = required(p, 'env', USAGE);
  const report = await runDoctor(envName, clients);
  return printReport(envName, report, bool(p, 'json'), out);
}

/** The command line as the docs test checks it (bin/cli/syntax.ts). */
export const doctorSyntax = {
  usage: USAGE,
  options: { env: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 0,
} satisfies Syntax;
