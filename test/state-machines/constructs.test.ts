import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { renderStack, WORKFLOW_NAMES, type WorkflowName } from '../../state-machines/render.ts';

/** What every workflow construct must carry besides its definition. */
describe.each(WORKFLOW_NAMES)('%s workflow construct', (name: WorkflowName) => {
  let template: Template;
  beforeAll(() => {
    template = Template.fromStack(renderStack(name, { environment: 'prod' }).stack);
  });

  it('logs every event with execution data to its own log group, and traces with X-Ray', () => {
    const machine = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as {
      Properties: Record<string, unknown>;
    };

    expect(machine.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(machine.Properties.LoggingConfiguration).toMatchObject({
      Level: 'ALL',
      IncludeExecutionData: true,
    });
    template.resourceCountIs('AWS::Logs::LogGroup', 1);
  });

  it(`publishes its ARN at /lifeboat/prod/workflows/${name}`, () => {
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: `/lifeboat/prod/workflows/${name}`,
      Type: 'String',
    });
  });

  it('alarms on failed, timed-out and aborted executions', () => {
    const metrics = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: { MetricName: string; Namespace: string } }).Properties,
    );

    expect(metrics.map((m) => m.MetricName).sort()).toEqual([
      'ExecutionsAborted',
      'ExecutionsFailed',
      'ExecutionsTimedOut',
    ]);
    expect(new Set(metrics.map((m) => m.Namespace))).toEqual(new Set(['AWS/States']));
  });
});

describe('failover workflow IAM', () => {
  let policies: string;
  beforeAll(() => {
    policies = JSON.stringify(
      Template.fromStack(renderStack('failover').stack).findResources('AWS::IAM::Policy'),
    );
  });

  it.each([
    'rds:promoteReadReplica',
    'rds:switchoverGlobalCluster',
    'rds:failoverGlobalCluster',
    'route53:changeResourceRecordSets',
    'route53:getChange',
    'dynamodb:PutItem',
    'dynamodb:DeleteItem',
    'sns:Publish',
    'lambda:InvokeFunction',
  ])('may %s', (action) => {
    expect(policies).toContain(`"${action}"`);
  });
});

describe('alarms can be left to the monitoring construct', () => {
  it('createAlarms: false creates none', async () => {
    const { App, Stack } = await import('aws-cdk-lib');
    const { Function: Fn } = await import('aws-cdk-lib/aws-lambda');
    const { Topic } = await import('aws-cdk-lib/aws-sns');
    const { FailbackWorkflow } = await import('../../state-machines/failback.ts');
    const stack = new Stack(new App(), 'NoAlarms', {
      env: { account: '111111111111', region: 'eu-central-1' },
    });
    const fn = (id: string) =>
      Fn.fromFunctionArn(stack, id, `arn:aws:lambda:eu-central-1:111111111111:function:${id}`);
    const workflow = new FailbackWorkflow(stack, 'Failback', {
      environment: 'dev',
      notificationTopic: Topic.fromTopicArn(stack, 'T', 'arn:aws:sns:eu-central-1:111111111111:t'),
      planFunction: fn('a'),
      createReplicaFunction: fn('b'),
      describeReplicaFunction: fn('c'),
      deleteReplicaFunction: fn('d'),
      createAlarms: false,
    });

    Template.fromStack(stack).resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(workflow.alarms).toEqual([]);
    expect(workflow.stateMachine.metricFailed().metricName).toBe('ExecutionsFailed');
  });
});
