import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { WorkflowName } from '../../../../lib/naming.ts';
import {
  type FollowResult,
  followExecution,
  type Progress,
  startExecution,
  workflowArn,
} from '../../aws/workflows.ts';
import { type DeployedEnvironment, regionRoleOption, workflowRegion } from '../../env.ts';
import { withInterrupt } from '../shared.ts';
import { RETRY } from '#core/contracts/retry.ts';

/** AWS clients per region; tests hand in others. */
export interface AwsClients {
  sfn(region: string): SFNClient;
  ssm(region: string): SSMClient;
  /** Between history polls while following an execution. @default 2000 */
  readonly pollMs?: number;
}

export const defaultClients: AwsClients = {
  sfn: (region) => new SFNClient({ region, ...RETRY.standard }),
  ssm: (region) => new SSMClient({ region, ...RETRY.standard }),
};

/** Where each workflow runs: failover and failback in the DR region (they must work when the primary is gone). */
export function regionOf(env: DeployedEnvironment, workflow: WorkflowName, override?: string): string {
  return workflowRegion(env, workflow, regionRoleOption(override));
}

export function printProgress(
  p: Progress,
  out: NodeJS.WritableStream,
  hint?: (p: Progress) => string | null,
): void {
  const time = p.at.toISOString().slice(11, 19);
  const mark = p.kind === 'failed' ? '✗' : p.kind === 'succeeded' ? '✓' : p.kind === 'waiting' ? '…' : '▶';
  out.write(`${time}  ${mark} ${p.text}\n`);
  const extra = hint?.(p);
  if (extra) out.write(`          ${extra}\n`);
}

export function finish(result: FollowResult, json: boolean, out: NodeJS.WritableStream): number {
  if (json) {
    out.write(`${JSON.stringify(result, null, 2)}\n`);
  } else if (result.status === 'SUCCEEDED') {
    const seconds =
      result.startDate && result.stopDate
        ? (result.stopDate.getTime() - result.startDate.getTime()) / 1000
        : null;
    out.write(`succeeded${seconds === null ? '' : ` in ${seconds.toFixed(0)} s`}\n`);
    if (result.output) out.write(`${JSON.stringify(result.output, null, 2)}\n`);
  } else if (result.status === 'RUNNING') {
    out.write('still running (no longer following)\n');
  } else {
    out.write(`${result.status}: ${result.error ?? ''}${result.cause ? ` — ${result.cause}` : ''}\n`);
  }
  return result.status === 'SUCCEEDED' ? 0 : 1;
}

/**
 * Starts a deployed workflow and, unless `--no-follow`, follows it to its end: the one path every
 * workflow command (failover, restore, failback) takes after its own checks.
 */
export async function startAndFollow(
  clients: AwsClients,
  envName: string,
  workflow: WorkflowName,
  region: string,
  name: string,
  input: unknown,
  flags: { json: boolean; noFollow: boolean },
  out: NodeJS.WritableStream,
  hint?: (p: Progress) => string | null,
): Promise<number> {
  const arn = await workflowArn(clients.ssm(region), envName, workflow, region);
  const sfn = clients.sfn(region);
  const executionArn = await startExecution(sfn, arn, name, input);
  if (!flags.json) out.write(`started ${name} in ${region}\n  ${executionArn}\n`);
  if (flags.noFollow) {
    if (flags.json) out.write(`${JSON.stringify({ executionArn, name, region }, null, 2)}\n`);
    return 0;
  }
  const result = await withInterrupt((signal) =>
    followExecution(sfn, executionArn, flags.json ? () => undefined : (pr) => printProgress(pr, out, hint), {
      signal,
      pollMs: clients.pollMs,
    }),
  );
  return finish(result, flags.json, out);
}
