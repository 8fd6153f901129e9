import aslValidator from 'asl-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import {
  type Asl,
  allStates,
  checkErrorNames,
  checkSdkIntegrations,
  type State,
} from '../support/asl-checks.ts';
import { type EnvironmentMachines, environmentMachines, functionOf } from '../support/environment-asl.ts';
import { loadModel } from '../support/sdk-models.ts';
import { LAMBDA_SERVICE_ERRORS, sourceErrorNames } from '../support/shipped-errors.ts';

/**
 * Every state machine of every environment, as synthesized for deployment, checked against what
 * AWS itself accepts (docs/workflows.md, "What the tests check against AWS's rules"):
 *
 * - asl-validator: the ASL schema, every JSONPath and intrinsic, every Task ARN;
 * - AWS SDK integrations against the SDK's own service models: operation, Parameters fields and
 *   the result fields the workflow reads, spelt as Step Functions spells them;
 * - every error a Retry or Catch names is one the task can produce (here: SDK and optimized
 *   integrations against the models, Lambda tasks against lifeboat's error classes;
 *   test/state-machines/bundled.test.ts narrows Lambda tasks to what each shipped bundle throws).
 */

const ENVS = Object.keys(ENVIRONMENTS);
const machines: EnvironmentMachines[] = [];

beforeAll(async () => {
  for (const env of ENVS) machines.push(...(await environmentMachines(env)));
}, 600_000);

const label = (m: EnvironmentMachines) => `${m.environment} ${m.machine.workflow}`;

/** Optimized integrations: the service's errors with the prefix Step Functions documents for them. */
const OPTIMIZED: Record<string, { prefix: string; client: string; base: string }> = {
  dynamodb: { prefix: 'DynamoDB', client: '@aws-sdk/client-dynamodb', base: 'AmazonDynamoDBException' },
  sns: { prefix: 'SNS', client: '@aws-sdk/client-sns', base: 'AmazonSNSException' },
  ecs: { prefix: 'ECS', client: '@aws-sdk/client-ecs', base: 'AmazonECSException' },
};

function producible(_state: string, task: State): ReadonlySet<string> | null {
  const resource = typeof task.Resource === 'string' ? task.Resource : '';
  if (functionOf(resource)) return new Set([...LAMBDA_SERVICE_ERRORS, ...sourceErrorNames()]);
  const optimized = /^arn:aws:states:::([a-z]+):[A-Za-z]+(?:\.sync|\.waitForTaskToken)?$/.exec(resource)?.[1];
  const spec = optimized ? OPTIMIZED[optimized] : undefined;
  if (spec) {
    const model = loadModel(spec.client);
    return new Set([...model.errors, spec.base].map((e) => `${spec.prefix}.${e}`));
  }
  return null;
}

describe('every workflow of every environment', () => {
  it('finds the workflows of every environment', () => {
    const found = new Set(machines.map((m) => m.machine.workflow));
    for (const w of ['restore', 'restore-test', 'failover', 'failback']) expect(found).toContain(w);
    expect(new Set(machines.map((m) => m.environment))).toEqual(new Set(ENVS));
  });

  it('passes asl-validator (schema, paths, ARNs)', () => {
    const failures = machines.flatMap((m) => {
      const result = aslValidator(structuredClone(m.machine.asl), { checkPaths: true, checkArn: true });
      return result.isValid ? [] : [`${label(m)}: ${result.errorsText('; ')}`];
    });
    expect(failures).toEqual([]);
    expect(machines.length).toBeGreaterThanOrEqual(ENVS.length * 3);
  });

  it('names only operations, fields and result fields the AWS SDK models have', () => {
    const findings = machines.flatMap((m) =>
      checkSdkIntegrations(m.machine.asl).map((f) => `${label(m)} ${f.state}: ${f.message}`),
    );
    expect(findings).toEqual([]);
    // The check looked at something: every restore machine has RDS tasks.
    const sdkTasks = machines.flatMap((m) =>
      allStates(m.machine.asl).filter(([, s]) => String(s.Resource).includes(':aws-sdk:')),
    );
    expect(sdkTasks.length).toBeGreaterThan(20);
  });

  it('catches and retries only errors the tasks can produce', () => {
    const findings = machines.flatMap((m) =>
      checkErrorNames(m.machine.asl, producible).map((f) => `${label(m)} ${f.state}: ${f.message}`),
    );
    expect(findings).toEqual([]);
  });
});

describe('the checks can fail', () => {
  const restore = (): Asl =>
    structuredClone(machines.find((m) => m.machine.workflow === 'restore')!.machine.asl);

  it('asl-validator rejects a Next to a missing state and a malformed path', () => {
    const asl = restore();
    const first = asl.States[asl.StartAt]!;
    (first as Record<string, unknown>).Next = 'NoSuchState';
    (first as Record<string, unknown>).InputPath = '$..[';
    const result = aslValidator(asl, { checkPaths: true, checkArn: true });
    expect(result.isValid).toBe(false);
    expect(result.errorsText()).toMatch(/NoSuchState|SCHEMA_VALIDATION_FAILED/);
  });

  it('rejects MultiAz (Step Functions spells it MultiAZ)', () => {
    const asl = restore();
    const params = asl.States.RestoreInstanceFromSnapshot!.Parameters as Record<string, unknown>;
    delete params.MultiAZ;
    params.MultiAz = false;
    expect(checkSdkIntegrations(asl)).toEqual([
      {
        state: 'RestoreInstanceFromSnapshot',
        message:
          'RestoreDBInstanceFromDBSnapshot: RestoreDBInstanceFromDBSnapshotMessage has no field MultiAz (Step Functions spells it MultiAZ)',
      },
    ]);
  });

  it('rejects a nested field and an unknown operation', () => {
    const asl = restore();
    const params = asl.States.RestoreInstanceFromSnapshot!.Parameters as { Tags: Record<string, unknown>[] };
    params.Tags[0] = { Name: 'lifeboat:workflow', Value: 'restore' };
    asl.States.DeleteCreatedCluster!.Resource = 'arn:aws:states:::aws-sdk:rds:deleteDbCluster';
    const messages = checkSdkIntegrations(asl).map((f) => f.message);
    expect(messages).toContain('RestoreDBInstanceFromDBSnapshot.Tags[]: Tag has no field Name');
    expect(messages).toContain('RDS has no operation deleteDbCluster (aws-sdk:rds:deleteDbCluster)');
  });

  it('rejects a result path the output does not have (DBInstanceStatus for DbInstanceStatus)', () => {
    const asl = restore();
    const choice = Object.entries(asl.States).find(([, s]) =>
      JSON.stringify(s.Choices ?? []).includes('$.describe.instance.DbInstanceStatus'),
    )!;
    const text = JSON.stringify(choice[1]).replaceAll(
      '$.describe.instance.DbInstanceStatus',
      '$.describe.instance.DBInstanceStatus',
    );
    asl.States[choice[0]] = JSON.parse(text) as State;
    const messages = checkSdkIntegrations(asl).map((f) => f.message);
    expect(messages.some((m) => m.includes('DBInstance has no field DBInstanceStatus'))).toBe(true);
    const selector = asl.States.DescribeRestoredCluster!;
    selector.ResultSelector = { 'address.$': '$.DbClusters[0].EndpointAddress' };
    expect(checkSdkIntegrations(asl).map((f) => f.message)).toContain(
      'DescribeRestoredCluster.ResultSelector.address: reads $.DbClusters[0].EndpointAddress: $.DbClusters[n].EndpointAddress: DBCluster has no field EndpointAddress',
    );
  });

  it('rejects an error name no task can produce (Rds.ThrottlingException, a Lambda typo)', () => {
    const asl = restore();
    (asl.States.DeleteCreatedInstance!.Retry as { ErrorEquals: string[] }[])[0]!.ErrorEquals.push(
      'Rds.ThrottlingException',
    );
    (asl.States.RestoreDump!.Catch as { ErrorEquals: string[] }[])[0]!.ErrorEquals = ['TargetAlreadyExist'];
    expect(checkErrorNames(asl, producible)).toEqual([
      { state: 'RestoreDump', message: 'TargetAlreadyExist is not an error this task can produce' },
      {
        state: 'DeleteCreatedInstance',
        message: 'Rds.ThrottlingException is not an error this task can produce',
      },
    ]);
  });
});
