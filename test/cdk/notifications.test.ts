import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Aspects, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LifeboatFunction, NodejsFunctionGuard } from '../../lib/constructs/lifeboat-function.ts';
import { Notifications } from '../../lib/constructs/notifications.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import {
  actionsOf,
  arnOf,
  onlyResource,
  resourcesOf,
  roleOfFunction,
  statementsOfRole,
} from './template-helpers.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:lifeboat/prod/slack-AbCdEf';

interface ValidationReport {
  pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

describe('Notifications construct', () => {
  let outdir: string;
  let template: Template;
  let violations: { rule: string; path: string }[] = [];

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'lifeboat-cdk-notifications-'));
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Notify', { env: { account: '111111111111', region: 'eu-central-1' } });
    const key = new Key(stack, 'OperationsKey', { enableKeyRotation: true });
    const notifications = new Notifications(stack, 'Notifications', {
      environment: 'prod',
      key,
      logKey: key,
      slackWebhookSecret: Secret.fromSecretCompleteArn(stack, 'SlackSecret', SECRET_ARN),
      emailSubscriptions: ['oncall@example.com'],
      chatbot: { slackWorkspaceId: 'T0123456789', slackChannelId: 'C0123456789' },
    });
    const publisher = new LifeboatFunction(stack, 'Publisher', {
      entry: path.join(PROJECT_ROOT, 'test/fixtures/cdk/handler.ts'),
      logKey: key,
      reservedConcurrentExecutions: 1,
    });
    Validations.of(publisher).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason: 'A stand-in publisher of this test; never deployed.',
    });
    notifications.bindPublisher(publisher);
    Aspects.of(app).add(new NodejsFunctionGuard());
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new NIST80053R5Checks(app));
    try {
      app.synth();
    } catch (err) {
      if (!String(err).includes('ValidationFailed')) throw err;
      const report = JSON.parse(
        readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'),
      ) as ValidationReport;
      violations = report.pluginReports.flatMap((p) =>
        p.violations.flatMap((v) =>
          v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath })),
        ),
      );
    }
    // After a failed validation the assembly holds no template: the first test then names the findings.
    if (violations.length === 0) template = Template.fromStack(stack);
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('has no unacknowledged cdk-nag finding (AwsSolutions, NIST 800-53 R5)', () => {
    expect(violations).toEqual([]);
  });

  it('encrypts the topic with the given key and refuses plain HTTP', () => {
    const key = onlyResource(template, 'AWS::KMS::Key');
    const topic = onlyResource(template, 'AWS::SNS::Topic', { TopicName: 'lifeboat-prod-events' });

    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: arnOf(key) });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('keeps the DLQ encrypted with the key, TLS only, for 14 days', () => {
    const key = onlyResource(template, 'AWS::KMS::Key');
    const queue = onlyResource(template, 'AWS::SQS::Queue');

    template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: arnOf(key),
      MessageRetentionPeriod: 1_209_600,
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('subscribes the notifier with the DLQ as redrive policy', () => {
    const queue = onlyResource(template, 'AWS::SQS::Queue');
    const fn = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('to Slack'),
    });

    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'lambda',
      Endpoint: arnOf(fn),
      RedrivePolicy: { deadLetterTargetArn: arnOf(queue) },
    });
  });

  it('sends failed asynchronous invocations to the DLQ after 2 retries', () => {
    const queue = onlyResource(template, 'AWS::SQS::Queue');

    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 21_600,
      DestinationConfig: { OnFailure: { Destination: arnOf(queue) } },
    });
  });

  it('alarms into the topic as soon as the DLQ holds a message', () => {
    const queue = onlyResource(template, 'AWS::SQS::Queue');
    const topic = onlyResource(template, 'AWS::SNS::Topic');

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
      EvaluationPeriods: 1,
      AlarmActions: [{ Ref: topic }],
    });
  });

  it('gives the notifier the secret ARN, and read access to that secret only', () => {
    const fn = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('to Slack'),
    });
    const statements = statementsOfRole(template, roleOfFunction(template, fn));

    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('to Slack'),
      Environment: {
        Variables: Match.objectLike({ LIFEBOAT_SLACK_SECRET_ARN: SECRET_ARN, LIFEBOAT_ENVIRONMENT: 'prod' }),
      },
    });
    const secretStatements = statements.filter((s) =>
      actionsOf(s).some((a) => a.startsWith('secretsmanager:')),
    );
    expect(secretStatements.length).toBeGreaterThan(0);
    for (const s of secretStatements) expect(resourcesOf(s)).toEqual([SECRET_ARN]);
    // GetSecretValue only: the notifier never calls DescribeSecret.
    expect(secretStatements.flatMap(actionsOf)).toEqual(['secretsmanager:GetSecretValue']);
  });

  it('lets CloudWatch alarms of this account and region publish to the topic: its policy is not only the SSL Deny', () => {
    const topic = onlyResource(template, 'AWS::SNS::Topic');
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topic }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'CloudWatchAlarmsPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: topic },
            Condition: {
              StringEquals: { 'aws:SourceAccount': '111111111111' },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':cloudwatch:eu-central-1:111111111111:alarm:*'],
                  ],
                },
              },
            },
          },
        ]),
      },
    });
  });

  it('lets the notifier send to the DLQ with its key, and nothing else on SQS', () => {
    const fn = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('to Slack'),
    });
    const queue = onlyResource(template, 'AWS::SQS::Queue');
    const statements = statementsOfRole(template, roleOfFunction(template, fn));

    const sqs = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
    expect(sqs.flatMap(resourcesOf)).toEqual(sqs.map(() => arnOf(queue)));
    expect(sqs.flatMap(actionsOf)).toContain('sqs:SendMessage');
  });

  it('lets SNS and CloudWatch of this account use the key for delivery', () => {
    for (const service of ['sns.amazonaws.com', 'cloudwatch.amazonaws.com']) {
      template.hasResourceProperties('AWS::KMS::Key', {
        KeyPolicy: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Principal: { Service: service },
              Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
              Condition: { StringEquals: { 'aws:SourceAccount': '111111111111' } },
            }),
          ]),
        },
      });
    }
  });

  it('adds the e-mail subscription and a Chatbot channel with read-only guardrails', () => {
    const topic = onlyResource(template, 'AWS::SNS::Topic');

    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      ConfigurationName: 'lifeboat-prod-eu-central-1',
      SlackWorkspaceId: 'T0123456789',
      SlackChannelId: 'C0123456789',
      SnsTopicArns: [{ Ref: topic }],
      GuardrailPolicies: [{ 'Fn::Join': ['', Match.arrayWith([':iam::aws:policy/ReadOnlyAccess'])] }],
    });
  });

  it('bindPublisher sets the topic variable and grants publish with the key', () => {
    const topic = onlyResource(template, 'AWS::SNS::Topic');
    const key = onlyResource(template, 'AWS::KMS::Key');
    const publisher = onlyResource(template, 'AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LIFEBOAT_EVENTS_TOPIC_ARN: { Ref: topic } }) },
    });
    const statements = statementsOfRole(template, roleOfFunction(template, publisher));

    expect(statements).toContainEqual(
      expect.objectContaining({ Action: 'sns:Publish', Resource: { Ref: topic } }),
    );
    expect(statements).toContainEqual(
      expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: arnOf(key) }),
    );
  });
});
