import { InvalidArgument } from '#core/shared/errors.ts';
import type { WorkflowName } from '../../../../lib/naming.ts';
import { bool, parse, required, str, type Syntax } from '../../args.ts';
import { type ExecutionRow, listExecutions, workflowArn } from '../../aws/workflows.ts';
import { resolveEnvironment } from '../../env.ts';
import { table } from '../../format.ts';

import { type AwsClients, defaultClients, regionOf } from './shared.ts';

const EXECUTIONS_USAGE =
  'lifeboat executions --env NAME [--workflow restore|restore-test|failover|failback] [--status RUNNING|SUCCEEDED|FAILED|TIMED_OUT|ABORTED] [--json]';

export const executionsHelp = `Lists recent executions of the environment's workflows, in both regions.

usage: ${EXECUTIONS_USAGE}`;

const WORKFLOWS: readonly WorkflowName[] = ['restore', 'restore-test', 'failover', 'failback'];
const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'] as const;

export const executionsSyntax = {
  usage: EXECUTIONS_USAGE,
  options: {
    env: { type: 'string' },
    workflow: { type: 'string' },
    status: { type: 'string' },
    json: { type: 'boolean' },
  },
  positionals: 0,
} satisfies Syntax;

export async function executionsCommand(
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(executionsSyntax.usage, argv, executionsSyntax.options, executionsSyntax.positionals);
  const envName = required(p, 'env', EXECUTIONS_USAGE);
  const workflow = str(p, 'workflow');
  if (workflow !== undefined && !WORKFLOWS.includes(workflow as WorkflowName)) {
    throw new InvalidArgument(`--workflow expects one of ${WORKFLOWS.join(', ')}, got "${workflow}"`);
  }
  const status = str(p, 'status');
  if (status !== undefined && !STATUSES.includes(status as (typeof STATUSES)[number])) {
    throw new InvalidArgument(`--status expects one of ${STATUSES.join(', ')}, got "${status}"`);
  }
  const env = resolveEnvironment(envName);
  const rows: ExecutionRow[] = [];
  const missing: string[] = [];
  for (const wf of workflow ? [workflow as WorkflowName] : WORKFLOWS) {
    // restore runs in both regions; the others where regionOf puts them.
    const regions = wf === 'restore' ? [env.regions.primary, env.regions.dr] : [regionOf(env, wf)];
    for (const region of regions) {
      try {
        const arn = await workflowArn(clients.ssm(region), envName, wf, region);
        rows.push(
          ...(await listExecutions(clients.sfn(region), arn, wf, region, { status: status as never })),
        );
      } catch (err) {
        missing.push(`${wf} in ${region}: ${(err as Error).message}`);
      }
    }
  }
  rows.sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
  if (bool(p, 'json')) {
    out.write(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    out.write(
      `${table(
        ['WORKFLOW', 'REGION', 'EXECUTION', 'STATUS', 'STARTED', 'STOPPED'],
        rows.map((r) => [
          r.workflow,
          r.region,
          r.name,
          r.status,
          r.startDate?.toISOString() ?? '-',
          r.stopDate?.toISOString() ?? '-',
        ]),
      )}\n`,
    );
    for (const m of missing) out.write(`note: ${m}\n`);
  }
  return missing.length > 0 && rows.length === 0 ? 2 : 0;
}
