import { table } from '../../format.ts';
import { checkConfiguration, checkWorkflows } from './configuration.ts';
import {
  type Deployed,
  type DoctorClients,
  doctorTarget,
  type StackResources,
  stackResources,
} from './facts.ts';
import { checkRequests, checkResourcePolicies, ENVIRONMENT, type Finding } from './findings.ts';

/** Doctor's run over both stacks, and its report as printed, with the exit code it gives. */

export interface DoctorReport {
  readonly environment: string;
  readonly requestsSimulated: number;
  /** Queue policies and function permissions read and checked. */
  readonly resourcePoliciesChecked: number;
  readonly findings: readonly Finding[];
}

export async function runDoctor(envName: string, clients: DoctorClients): Promise<DoctorReport> {
  const env = doctorTarget(envName);
  const findings: Finding[] = [];
  const stacks = {} as Record<'primary' | 'dr', StackResources>;
  for (const side of ['primary', 'dr'] as const) {
    try {
      stacks[side] = await stackResources(clients.cloudformation(env[side].region), env[side].stackName);
    } catch (err) {
      stacks[side] = new Map();
      findings.push({
        database: ENVIRONMENT,
        region: env[side].region,
        check: 'deployed',
        problem: `stack ${env[side].stackName}: ${(err as Error).name}: ${(err as Error).message}`,
        fix: `deploy it: npx cdk deploy -c env=${envName} --all`,
      });
    }
  }
  const deployed: Deployed = { env, stacks };
  const requestsSimulated =
    stacks.primary.size > 0 && stacks.dr.size > 0 ? await checkRequests(deployed, clients, findings) : 0;
  const resourcePoliciesChecked = await checkResourcePolicies(deployed, clients, findings);
  await checkWorkflows(deployed, clients, findings);
  await checkConfiguration(deployed, clients, findings);
  return { environment: envName, requestsSimulated, resourcePoliciesChecked, findings };
}

/** Prints the report (JSON, or the findings per database with their fixes); 1 on any finding, else 0. */
export function printReport(
  envName: string,
  report: DoctorReport,
  json: boolean,
  out: NodeJS.WritableStream,
): number {
  if (json) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const byDatabase = new Map<string, Finding[]>();
    for (const f of report.findings) byDatabase.set(f.database, [...(byDatabase.get(f.database) ?? []), f]);
    out.write(
      `lifeboat doctor ${envName}: ${report.requestsSimulated} requests asked of AWS, ${report.resourcePoliciesChecked} queue and function policies checked, ${report.findings.length} finding(s)\n`,
    );
    for (const [database, list] of byDatabase) {
      out.write(`\n${database}\n`);
      out.write(
        `${table(
          ['REGION', 'CHECK', 'PROBLEM', 'FIX'],
          list.map((f) => [f.region, f.check, f.problem, f.fix]),
        )}\n`,
      );
    }
    if (report.findings.length === 0)
      out.write(
        'nothing would fail: every call allowed, every delivery scoped to its source, every workflow valid, everything configured exists\n',
      );
  }
  return report.findings.length > 0 ? 1 : 0;
}
