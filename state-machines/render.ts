import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { IWorkflow, WorkflowName } from './common.ts';
import { FailbackWorkflow } from './failback.ts';
import { FailoverWorkflow } from './failover.ts';
import { RestoreWorkflow } from './restore.ts';
import { RestoreTestWorkflow } from './restore-test.ts';

/**
 * Renders each workflow's ASL from a synthesized construct, for the tests, the pinned fixtures in
 * test/fixtures/asl and `lifeboat drill`. The ASL is the same one deployed to AWS; only the
 * resources it names are placeholders (every task is overridden when it runs locally).
 */

export type { WorkflowName } from './common.ts';
export const WORKFLOW_NAMES: readonly WorkflowName[] = ['restore', 'restore-test', 'failover', 'failback'];

/**
 * Every Task state of each workflow: each needs a local override (tests, `lifeboat drill`). The
 * input each receives and what it must return are in docs/workflows.md ("Task contracts").
 * test/state-machines/asl-pinned.test.ts fails when this list and the ASL disagree.
 */
export const TASK_STATES: Record<WorkflowName, readonly string[]> = {
  failover: [
    'Preflight',
    'NotifyInputRefused',
    'NotifyPreflightRefused',
    'NotifyDryRun',
    'AcquireLock',
    'NotifyLockRefused',
    'NotifyStarted',
    'GetLastHeartbeat',
    'EstimateDataLoss',
    'NotifyApprovalNeeded',
    'RequestApproval',
    'RecheckPreflight',
    'FenceOldPrimary',
    'WaitForReplicaCatchUp',
    'PromoteReadReplica',
    'SwitchoverGlobalCluster',
    'FailoverGlobalCluster',
    'ConfirmPromotion',
    'CheckWritable',
    'VerifyWrite',
    'SwitchDns',
    'GetDnsChange',
    'RecordFailover',
    'ReleaseLock',
    'ReleaseLockCheck',
    'NotifyCompleted',
    'ReleaseLockAfterFailure',
    'ReleaseLockAfterFailureCheck',
    'NotifyFailed',
    'ReleaseLockAfterPartial',
    'ReleaseLockAfterPartialCheck',
    'NotifyPartial',
  ],
  restore: [
    'ValidateInput',
    'NotifyRestoreStarted',
    'ResolveRestorePoint',
    'RestoreInstanceFromSnapshot',
    'RestoreInstanceToPointInTime',
    'RestoreClusterFromSnapshot',
    'RestoreClusterToPointInTime',
    'CreateClusterInstance',
    'ExistingInstanceDescribe',
    'ExistingClusterDescribe',
    'UnsureInstanceDescribe',
    'UnsureClusterDescribe',
    'CheckDumpArtifacts',
    'RequestArchiveRestore',
    'NotifyArchiveRestore',
    'CheckArchiveRestore',
    'RestoreDump',
    'DescribeRestoredInstance',
    'DescribeRestoredCluster',
    'VerifyRestore',
    'Cutover',
    'GetCutoverChange',
    'FinishRestore',
    'NotifyRestored',
    'DeleteCreatedInstance',
    'DeleteCreatedCluster',
    'DropCreatedDatabase',
    'NotifyRestoreFailed',
  ],
  'restore-test': [
    'PlanRestoreTest',
    'RestoreTestInstance',
    'RestoreTestCluster',
    'CreateTestClusterInstance',
    'ExistingTestInstanceDescribe',
    'ExistingTestClusterDescribe',
    'TestUnsureInstanceDescribe',
    'TestUnsureClusterDescribe',
    'DescribeTestInstance',
    'RunDataChecks',
    'DeleteTestInstance',
    'DeleteTestCluster',
    'RecordRestoreTest',
    'RecordFailedRestoreTest',
    'NotifyRestoreTestPassed',
    'NotifyRestoreTestChecksFailed',
    'NotifyRestoreTestError',
  ],
  failback: [
    'PlanFailback',
    'NotifyFailbackStarted',
    'CreateReplica',
    'DescribeReplica',
    'NotifyReprotected',
    'DeleteCreatedReplica',
    'NotifyFailbackFailed',
  ],
};

export const PLACEHOLDER = {
  account: '111111111111',
  region: 'eu-central-1',
  partition: 'aws',
} as const;

export interface RenderOptions {
  /** @default 'drill' */
  readonly environment?: string;
  /** Failover only: whether alarm-started failovers skip the approval gate. @default false */
  readonly automaticFailover?: boolean;
}

/** An ASL document (JSONPath). */
export interface AslDefinition {
  readonly StartAt: string;
  readonly States: Record<string, Record<string, unknown> & { Type: string }>;
  readonly Comment?: string;
  readonly TimeoutSeconds?: number;
}

function placeholderFunction(stack: Stack, name: string) {
  return LambdaFunction.fromFunctionArn(
    stack,
    `Fn-${name}`,
    `arn:aws:lambda:${PLACEHOLDER.region}:${PLACEHOLDER.account}:function:lifeboat-${name}`,
  );
}

function build(stack: Stack, name: WorkflowName, options: RenderOptions): IWorkflow {
  const environment = options.environment ?? 'drill';
  const notificationTopic = Topic.fromTopicArn(
    stack,
    'Topic',
    `arn:aws:sns:${PLACEHOLDER.region}:${PLACEHOLDER.account}:lifeboat-${environment}-events`,
  );
  const fn = (n: string) => placeholderFunction(stack, n);
  switch (name) {
    case 'failover':
      return new FailoverWorkflow(stack, 'Failover', {
        environment,
        notificationTopic,
        lockTable: Table.fromTableName(stack, 'Locks', `lifeboat-${environment}-locks`),
        preflightFunction: fn('wf-failover-preflight'),
        fenceFunction: fn('wf-fence'),
        checkWritableFunction: fn('wf-check-writable'),
        verifyWriteFunction: fn('wf-verify-write'),
        recordFunction: fn('wf-record-failover'),
        automaticFailover: options.automaticFailover ?? false,
      });
    case 'restore':
      return new RestoreWorkflow(stack, 'Restore', {
        environment,
        notificationTopic,
        validateFunction: fn('wf-validate-restore'),
        resolveFunction: fn('wf-resolve-restore-point'),
        restoreDumpFunction: fn('wf-restore-dump'),
        archivedDumpFunction: fn('wf-archived-dump'),
        verifyFunction: fn('wf-verify-restore'),
        dropDatabaseFunction: fn('wf-drop-restored-database'),
        finishFunction: fn('wf-finish-restore'),
      });
    case 'restore-test':
      return new RestoreTestWorkflow(stack, 'RestoreTest', {
        environment,
        notificationTopic,
        planFunction: fn('wf-plan-restore-test'),
        checkFunction: fn('wf-verify-restore'),
        recordFunction: fn('wf-record-restore-test'),
        isolation: {
          subnetGroupName: `lifeboat-${environment}-isolated`,
          securityGroupIds: ['sg-0000000000000000a'],
        },
      });
    case 'failback':
      return new FailbackWorkflow(stack, 'Failback', {
        environment,
        notificationTopic,
        planFunction: fn('wf-plan-failback'),
        createReplicaFunction: fn('wf-create-replica'),
        describeReplicaFunction: fn('wf-describe-replica'),
        deleteReplicaFunction: fn('wf-delete-replica'),
      });
    default:
      throw new Error(`unknown workflow ${name}`);
  }
}

/** Synthesizes a stack holding only the named workflow (placeholder functions, topic, table). */
export function renderStack(
  name: WorkflowName,
  options: RenderOptions = {},
): { stack: Stack; workflow: IWorkflow } {
  const app = new App();
  const stack = new Stack(app, `Render-${name}`, {
    env: { account: PLACEHOLDER.account, region: PLACEHOLDER.region },
  });
  return { stack, workflow: build(stack, name, options) };
}

/** Synthesizes a stack holding only the named workflow and returns its ASL. */
export function renderAsl(name: WorkflowName, options: RenderOptions = {}): AslDefinition {
  return extractAsl(Template.fromStack(renderStack(name, options).stack).toJSON());
}

/**
 * Pulls the (single) state machine's ASL out of a synthesized template: joins the
 * DefinitionString's Fn::Join and replaces Ref / Fn::GetAtt tokens with placeholder ARNs.
 */
export function extractAsl(template: {
  Resources?: Record<string, { Type: string; Properties?: { DefinitionString?: unknown } }>;
}): AslDefinition {
  const machines = Object.entries(template.Resources ?? {}).filter(
    ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const definition = machines[0]![1].Properties?.DefinitionString;
  return JSON.parse(resolveTokens(definition)) as AslDefinition;
}

function resolveTokens(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if ('Fn::Join' in v) {
      const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
      return parts.map(resolveTokens).join(sep);
    }
    if ('Ref' in v) {
      const ref = v.Ref as string;
      if (ref === 'AWS::Partition') return PLACEHOLDER.partition;
      if (ref === 'AWS::Region') return PLACEHOLDER.region;
      if (ref === 'AWS::AccountId') return PLACEHOLDER.account;
      if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
      return `arn:aws:placeholder:${PLACEHOLDER.region}:${PLACEHOLDER.account}:ref/${ref}`;
    }
    if ('Fn::GetAtt' in v) {
      const [logicalId, attr] = v['Fn::GetAtt'] as [string, string];
      return `arn:aws:placeholder:${PLACEHOLDER.region}:${PLACEHOLDER.account}:getatt/${logicalId}/${attr}`;
    }
  }
  throw new Error(`cannot resolve token ${JSON.stringify(value)}`);
}

/** Names of the Task states of an ASL document: every one needs a local override. */
export function taskStateNames(asl: AslDefinition): string[] {
  return Object.entries(asl.States)
    .filter(([, s]) => s.Type === 'Task')
    .map(([n]) => n)
    .sort();
}

/** Names of the Wait states of an ASL document (override them with 0 locally). */
export function waitStateNames(asl: AslDefinition): string[] {
  return Object.entries(asl.States)
    .filter(([, s]) => s.Type === 'Wait')
    .map(([n]) => n)
    .sort();
}

/**
 * The Context Object a local run needs: aws-local-stepfunctions only fills in Execution.Input and
 * StartTime, and the workflows read $$.Execution.Id/Name, $$.State.EnteredTime and $$.Task.Token.
 */
export function executionContext(args: {
  readonly workflow: WorkflowName;
  readonly input: unknown;
  readonly executionName: string;
  readonly startTime?: Date;
  readonly environment?: string;
}): Record<string, unknown> {
  const start = (args.startTime ?? new Date()).toISOString();
  const machine = `arn:aws:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:lifeboat-${args.environment ?? 'drill'}-${args.workflow}`;
  return {
    Execution: {
      Id: `${machine.replace(':stateMachine:', ':execution:')}:${args.executionName}`,
      Name: args.executionName,
      StartTime: start,
      Input: args.input,
      RoleArn: `arn:aws:iam::${PLACEHOLDER.account}:role/lifeboat-local`,
    },
    StateMachine: { Id: machine, Name: `lifeboat-${args.environment ?? 'drill'}-${args.workflow}` },
    State: { EnteredTime: start, Name: '', RetryCount: 0 },
    Task: { Token: `local-task-token-${args.executionName}` },
  };
}
