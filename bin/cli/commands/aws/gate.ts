import { bool, parse, required, str, type Syntax } from '../../args.ts';
import {
  abort,
  approve,
  choosePending,
  followExecution,
  pendingApprovals,
  workflowArn,
} from '../../aws/workflows.ts';
import { resolveEnvironment } from '../../env.ts';
import { withInterrupt } from '../shared.ts';

import { type AwsClients, defaultClients, finish, printProgress, regionOf } from './shared.ts';

const GATE_USAGE = (verb: string) =>
  `lifeboat ${verb} --env NAME --database NAME [--execution NAME]${verb === 'abort' ? ' --reason TEXT' : ''} [--no-follow]`;

export const approveHelp = `Approves a failover waiting at its approval gate (started by an alarm), then follows it.

usage: ${GATE_USAGE('approve')}`;

export const abortHelp = `Aborts a failover waiting at its approval gate: nothing is changed, the lock is released.

usage: ${GATE_USAGE('abort')}`;

export function gateSyntax(verb: 'approve' | 'abort') {
  return {
    usage: GATE_USAGE(verb),
    options: {
      env: { type: 'string' },
      database: { type: 'string' },
      execution: { type: 'string' },
      reason: { type: 'string' },
      'no-follow': { type: 'boolean' },
    },
    positionals: 0,
  } satisfies Syntax;
}

export async function gateCommand(
  verb: 'approve' | 'abort',
  argv: string[],
  clients: AwsClients = defaultClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const usage = GATE_USAGE(verb);
  const p = parse(usage, argv, gateSyntax(verb).options);
  const envName = required(p, 'env', usage);
  const database = required(p, 'database', usage);
  const reason = verb === 'abort' ? required(p, 'reason', usage) : '';
  const env = resolveEnvironment(envName);
  const region = regionOf(env, 'failover');
  const arn = await workflowArn(clients.ssm(region), envName, 'failover', region);
  const sfn = clients.sfn(region);
  const pending = choosePending(await pendingApprovals(sfn, arn), database, str(p, 'execution'));
  const by = process.env.USER ?? 'cli';
  if (verb === 'approve') await approve(sfn, pending, by);
  else await abort(sfn, pending, by, reason);
  out.write(
    `${verb === 'approve' ? 'approved' : 'aborted'} ${pending.executionName} (failover of "${database}")\n`,
  );
  if (bool(p, 'no-follow')) return 0;
  const result = await withInterrupt((signal) =>
    followExecution(sfn, pending.executionArn, (pr) => printProgress(pr, out), {
      signal,
      pollMs: clients.pollMs,
    }),
  );
  // An abort ends the execution as failed on purpose: that is what was asked for.
  if (verb === 'abort') {
    finish(result, false, out);
    return result.error === 'FailoverAborted' ? 0 : 1;
  }
  return finish(result, false, out);
}
