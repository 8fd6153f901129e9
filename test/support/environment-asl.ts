import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Asl } from './asl-checks.ts';

/**
 * The state machines of a synthesized template, with their ASL as deployed: the DefinitionString's
 * Fn::Join joined, each Lambda function's `Fn::GetAtt [Id, Arn]` replaced by a Lambda ARN that
 * names the function's logical id (so a task can be traced back to its function and its asset),
 * and any other token by a placeholder.
 */

export interface TemplateJson {
  readonly Resources?: Record<string, TemplateResource>;
}
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

export interface DeployedMachine {
  /** Logical id of the AWS::StepFunctions::StateMachine. */
  readonly logicalId: string;
  /** The workflow, from its SSM parameter (`/lifeboat/<env>/workflows/<name>`), else the logical id. */
  readonly workflow: string;
  readonly asl: Asl;
}

export const ACCOUNT = '111111111111';

export function lambdaArn(region: string, logicalId: string): string {
  return `arn:aws:lambda:${region}:${ACCOUNT}:function:${logicalId}`;
}

/** The function logical id a Lambda ARN made by `lambdaArn` names (with or without `:$LATEST`). */
export function functionOf(arn: string): string | null {
  return /^arn:aws:lambda:[^:]+:\d{12}:function:([A-Za-z0-9]+)(?::.*)?$/.exec(arn)?.[1] ?? null;
}

export function resolveTokens(value: unknown, template: TemplateJson, region: string): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map((p) => resolveTokens(p, template, region)).join(sep);
    }
    if ('Ref' in v) {
      const ref = v.Ref as string;
      if (ref === 'AWS::Partition') return 'aws';
      if (ref === 'AWS::Region') return region;
      if (ref === 'AWS::AccountId') return ACCOUNT;
      if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
      // Lowercase: the value may end up as a bucket name, which S3 requires lowercase.
      return `placeholder-ref-${ref.toLowerCase()}`;
    }
    if ('Fn::GetAtt' in v) {
      const [logicalId, attr] = v['Fn::GetAtt'] as [string, string];
      const type = template.Resources?.[logicalId]?.Type;
      if (type === 'AWS::Lambda::Function' && attr === 'Arn') return lambdaArn(region, logicalId);
      return `arn:aws:placeholder:${region}:${ACCOUNT}:getatt/${logicalId}/${attr}`;
    }
  }
  throw new Error(`cannot resolve token ${JSON.stringify(value)}`);
}

export function deployedMachines(template: TemplateJson, region: string): DeployedMachine[] {
  const resources = Object.entries(template.Resources ?? {});
  // The CLI finds each workflow by its SSM parameter /lifeboat/<env>/workflows/<name>.
  const names = new Map<string, string>();
  for (const [, r] of resources) {
    const name = r.Properties?.Name;
    const value = r.Properties?.Value as { Ref?: string } | undefined;
    if (r.Type === 'AWS::SSM::Parameter' && typeof name === 'string' && value?.Ref) {
      const m = /\/workflows\/([a-z-]+)$/.exec(name);
      if (m) names.set(value.Ref, m[1]!);
    }
  }
  return resources
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([logicalId, r]) => ({
      logicalId,
      workflow: names.get(logicalId) ?? logicalId,
      asl: JSON.parse(resolveTokens(r.Properties?.DefinitionString, template, region)) as Asl,
    }));
}

export interface EnvironmentMachines {
  readonly environment: string;
  readonly stack: string;
  readonly region: string;
  readonly machine: DeployedMachine;
}

/**
 * Every state machine of one environment, synthesized as `npm run synth` does but without
 * bundling (the ASL does not depend on the bundles).
 */
export async function environmentMachines(environment: string): Promise<EnvironmentMachines[]> {
  const [{ App }, { addEnvironment }, { ENVIRONMENTS }, { loadEnvironmentConfig }] = await Promise.all([
    import('aws-cdk-lib'),
    import('../../lib/app.ts'),
    import('../../lib/config/environments.ts'),
    import('../../lib/config/load.ts'),
  ]);
  const outdir = mkdtempSync(path.join(tmpdir(), `lifeboat-asl-${environment}-`));
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stacks = addEnvironment(
      app,
      environment,
      loadEnvironmentConfig(environment, { [environment]: ENVIRONMENTS[environment]! }),
    );
    const assembly = app.synth();
    return [stacks.primary, stacks.dr].flatMap((stack) => {
      const template = assembly.getStackByName(stack.stackName).template as TemplateJson;
      return deployedMachines(template, stack.region).map((machine) => ({
        environment,
        stack: stack.stackName,
        region: stack.region,
        machine,
      }));
    });
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
