import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { InvalidArgument, LifeboatError } from '#core/shared/errors.ts';
import { executionName, type FollowResult, followExecution, startExecution } from '../../aws/workflows.ts';
import type { DeployedDatabase, DeployedEnvironment } from '../../env.ts';
import { type AwsClients, defaultClients } from '../aws.ts';
import { withInterrupt } from '../shared.ts';
import { RETRY } from '#core/contracts/retry.ts';

/**
 * On-demand operations on a deployed environment: `lifeboat backup|verify --env E --database D`
 * start what the schedules start (the database's logical-dump function, or its Fargate workflow
 * for a `large` database; the verify-backup function or the Fargate verification workflow), found
 * by name in SSM, and follow it to its end. Nothing runs on the operator's machine.
 */

/** What backup --env and verify --env share: their clients, the deployed target, invoking it, following a workflow. */

export interface DeployedClients extends AwsClients {
  lambda(region: string): LambdaClient;
  /** RDS, to follow a snapshot and its DR copy (`backup --kind snapshot --wait`). */
  rds(region: string): RDSClient;
  /** Between reads of a snapshot's progress. @default 15000 */
  readonly rdsPollMs?: number;
  /** The environment's bucket, for --request-restore of an archived dump. */
  s3(region: string): S3Client;
  /** Between progress lines while a function runs. @default 30000 */
  readonly tickMs?: number;
}

export const defaultDeployedClients: DeployedClients = {
  ...defaultClients,
  s3: (region) => new S3Client({ region, ...RETRY.brief }),
  rds: (region) => new RDSClient({ region, ...RETRY.standard }),
  // A synchronous invocation lasts as long as the function (up to 15 minutes): no earlier timeout.
  lambda: (region) =>
    new LambdaClient({ region, ...RETRY.once, requestHandler: { requestTimeout: 16 * 60_000 } }),
};

export class TargetNotDeployed extends LifeboatError {
  override readonly name = 'TargetNotDeployed';
}

/** The ARN an SSM parameter of the stacks holds, or a clear error saying what to deploy. */
export async function targetArn(
  ssm: SSMClient,
  name: string,
  env: DeployedEnvironment,
  what: string,
): Promise<string> {
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    if (!out.Parameter?.Value) throw new TargetNotDeployed(`SSM parameter ${name} is empty`);
    return out.Parameter.Value;
  } catch (err) {
    if (err instanceof LifeboatError) throw err;
    const e = err as { name?: string; message?: string };
    if (e.name === 'ParameterNotFound') {
      throw new TargetNotDeployed(
        `${what} of environment "${env.name}" is not deployed in ${env.regions.primary} (no SSM parameter ${name}); deploy it with npx cdk deploy -c env=${env.name} --all`,
        { cause: err },
      );
    }
    throw new LifeboatError(`reading SSM parameter ${name} failed: ${e.name}: ${e.message}`, { cause: err });
  }
}

/** The call was sent and no answer came back (network, timeout, 5xx): what it did is unknown. */
export class LostAnswer extends LifeboatError {
  override readonly name = 'LostAnswer';
}

/** Lambda said no (4xx, throttling included): the function did not run. */
export function isRefusal(err: unknown): boolean {
  const e = err as { $fault?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return e.$fault === 'client' || (status !== undefined && status >= 400 && status < 500);
}

export function invokeError(arn: string, err: unknown): LifeboatError {
  const e = err as { name?: string; message?: string };
  if (e.name === 'TooManyRequestsException') {
    return new LifeboatError(
      `${arn.split(':')[6]} is busy: one run at a time per database (a scheduled run is probably under way); try again when it ends`,
      { cause: err },
    );
  }
  return new LifeboatError(`invoking ${arn} failed: ${e.name}: ${e.message}`, { cause: err });
}

export function isStateMachine(arn: string): boolean {
  return arn.split(':')[5] === 'stateMachine';
}

export interface InvokeOutcome {
  readonly ok: boolean;
  readonly result: unknown;
  readonly error: string | null;
}

/**
 * Invokes a function synchronously and waits for its answer, printing a line every `tickMs` so a
 * person sees it is alive. A function error (the handler threw) is an outcome, not an exception.
 */
export async function invoke(
  lambda: LambdaClient,
  arn: string,
  payload: unknown,
  progress: ((elapsedMs: number) => unknown) | null,
  tickMs: number,
): Promise<InvokeOutcome> {
  const started = Date.now();
  const timer = progress ? setInterval(() => progress(Date.now() - started), tickMs) : null;
  try {
    const out = await lambda.send(
      new InvokeCommand({
        FunctionName: arn,
        InvocationType: 'RequestResponse',
        Payload: new TextEncoder().encode(JSON.stringify(payload)),
      }),
    );
    const text = out.Payload ? new TextDecoder().decode(out.Payload) : 'null';
    const body = JSON.parse(text) as unknown;
    if (out.FunctionError) {
      const e = body as { errorType?: string; errorMessage?: string } | null;
      return {
        ok: false,
        result: body,
        error: `${e?.errorType ?? out.FunctionError}: ${e?.errorMessage ?? text}`,
      };
    }
    return { ok: true, result: body, error: null };
  } catch (err) {
    if (isRefusal(err)) throw invokeError(arn, err);
    throw new LostAnswer(`invoking ${arn}: no answer`, { cause: err });
  } finally {
    if (timer) clearInterval(timer);
  }
}

export async function followWorkflow(
  clients: DeployedClients,
  region: string,
  arn: string,
  prefix: string,
  json: boolean,
  out: NodeJS.WritableStream,
): Promise<FollowResult & { executionArn: string }> {
  const sfn = clients.sfn(region);
  const name = executionName(prefix);
  const executionArn = await startExecution(sfn, arn, name, {});
  if (!json) out.write(`started ${name} in ${region}\n  ${executionArn}\n`);
  const result = await withInterrupt((signal) =>
    followExecution(
      sfn,
      executionArn,
      json
        ? () => undefined
        : (p) =>
            out.write(`${p.at.toISOString().slice(11, 19)}  ${p.kind === 'failed' ? '✗' : '▶'} ${p.text}\n`),
      { signal, pollMs: clients.pollMs },
    ),
  );
  return { ...result, executionArn };
}

export function requireDumps(env: DeployedEnvironment, db: DeployedDatabase): void {
  if (!db.dumps) {
    throw new InvalidArgument(
      `"${db.name}" of environment "${env.name}" takes no logical dumps (its policy has no dump schedule): it is protected by snapshots only`,
    );
  }
}
