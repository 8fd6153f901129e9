import {
  CloudFormationClient,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetBucketReplicationCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeStateMachineCommand,
  SFNClient,
  ValidateStateMachineDefinitionCommand,
} from '@aws-sdk/client-sfn';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  type DoctorClients,
  type DoctorReport,
  doctorCommand,
  doctorTarget,
} from '../../bin/cli/commands/doctor.ts';
import { authzTable } from '../../lib/authz/requests/index.ts';
import { readDoc, shownCommands } from '../support/docs.ts';

const mocks = {
  cf: mockClient(CloudFormationClient),
  iam: mockClient(IAMClient),
  rds: mockClient(RDSClient),
  kms: mockClient(KMSClient),
  s3: mockClient(S3Client),
  secrets: mockClient(SecretsManagerClient),
  sns: mockClient(SNSClient),
  cw: mockClient(CloudWatchClient),
  r53: mockClient(Route53Client),
  sfn: mockClient(SFNClient),
  ssm: mockClient(SSMClient),
  sqs: mockClient(SQSClient),
  lambda: mockClient(LambdaClient),
};

const clients: DoctorClients = {
  pollMs: 1,
  sfn: (region) => new SFNClient({ region }),
  ssm: (region) => new SSMClient({ region }),
  cloudformation: (region) => new CloudFormationClient({ region }),
  iam: () => new IAMClient({ region: 'us-east-1' }),
  rds: (region) => new RDSClient({ region }),
  kms: (region) => new KMSClient({ region }),
  s3: (region) => new S3Client({ region }),
  secrets: (region) => new SecretsManagerClient({ region }),
  sns: (region) => new SNSClient({ region }),
  cloudwatch: (region) => new CloudWatchClient({ region }),
  route53: () => new Route53Client({ region: 'us-east-1' }),
  sqs: (region) => new SQSClient({ region }),
  lambda: (region) => new LambdaClient({ region }),
};

const ENV = 'staging';
const env = doctorTarget(ENV);
const table = authzTable(ENV, env.config);

/** The stack resources CloudFormation would list: every resource the request table names. */
function deployedStack(side: 'primary' | 'dr'): StackResourceSummary[] {
  const prefixes = new Set<string>();
  for (const r of [...table.expected, ...table.forbidden]) {
    if (r.stack === side && !r.principal.endsWith('.amazonaws.com')) prefixes.add(r.principal);
    for (const text of [r.resource, ...Object.values(r.context ?? {}).flat()]) {
      for (const m of text.matchAll(/\{\{(primary|dr):([A-Za-z0-9]+)/g))
        if (m[1] === side) prefixes.add(m[2]!);
    }
  }
  const region = env[side].region;
  const account = env.account;
  return [...prefixes].map((prefix) => {
    const id = `${prefix}ABCDEF12`;
    const type = /Role$/.test(prefix)
      ? 'AWS::IAM::Role'
      : /Topic$/.test(prefix)
        ? 'AWS::SNS::Topic'
        : /Queue$/.test(prefix)
          ? 'AWS::SQS::Queue'
          : /Key$/.test(prefix)
            ? 'AWS::KMS::Key'
            : /LogGroup$/.test(prefix)
              ? 'AWS::Logs::LogGroup'
              : /StateMachine$/.test(prefix)
                ? 'AWS::StepFunctions::StateMachine'
                : /TaskDefinition$/.test(prefix)
                  ? 'AWS::ECS::TaskDefinition'
                  : /Rule|Events|CanarySchedule/.test(prefix)
                    ? 'AWS::Events::Rule'
                    : 'AWS::Lambda::Function';
    const physical =
      type === 'AWS::SNS::Topic'
        ? `arn:aws:sns:${region}:${account}:lifeboat-${ENV}-${prefix}`
        : type === 'AWS::SQS::Queue'
          ? `https://sqs.${region}.amazonaws.com/${account}/${id}`
          : type === 'AWS::KMS::Key'
            ? `0a1b2c3d-0000-4000-8000-${prefix.length.toString().padStart(12, '0')}`
            : type === 'AWS::StepFunctions::StateMachine' || type === 'AWS::ECS::TaskDefinition'
              ? `arn:aws:${type === 'AWS::ECS::TaskDefinition' ? 'ecs' : 'states'}:${region}:${account}:${prefix}`
              : `${ENV}-${id}`;
    return {
      LogicalResourceId: id,
      PhysicalResourceId: physical,
      ResourceType: type,
      ResourceStatus: 'CREATE_COMPLETE',
      LastUpdatedTimestamp: new Date(),
    };
  });
}

/** The deployed resource of a `{{side:Prefix}}` placeholder, as deployedStack lists it. */
function deployed(placeholder: string): { side: 'primary' | 'dr'; r: StackResourceSummary } {
  const [, side, prefix] = /^\{\{(primary|dr):([A-Za-z0-9]+)\}\}$/.exec(placeholder)! as unknown as [
    string,
    'primary' | 'dr',
    string,
  ];
  return { side, r: deployedStack(side).find((x) => x.LogicalResourceId === `${prefix}ABCDEF12`)! };
}

/** A rule's or topic's ARN as AWS names the deployed one. */
function sourceArn(placeholder: string): string {
  const { side, r } = deployed(placeholder);
  return r.ResourceType === 'AWS::SNS::Topic'
    ? r.PhysicalResourceId!
    : `arn:aws:events:${env[side].region}:${env.account}:rule/${r.PhysicalResourceId}`;
}

interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal: unknown;
  Action: string | string[];
  Condition?: Record<string, Record<string, string>>;
}

/**
 * What CDK deploys for the request table's service deliveries: per queue URL and function name,
 * one Allow per source scoped by aws:SourceArn (queues: and the TLS Deny). Functions without a
 * delivery have no policy.
 */
function deliveryPolicies(): {
  queues: Map<string, PolicyStatement[]>;
  functions: Map<string, PolicyStatement[]>;
} {
  const queues = new Map<string, PolicyStatement[]>();
  const functions = new Map<string, PolicyStatement[]>();
  for (const side of ['primary', 'dr'] as const) {
    for (const r of deployedStack(side)) {
      if (r.ResourceType === 'AWS::SQS::Queue') {
        queues.set(r.PhysicalResourceId!, [
          {
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ]);
      }
    }
  }
  for (const r of table.expected) {
    const source = r.context?.['aws:SourceArn'];
    if (!r.principal.endsWith('.amazonaws.com') || typeof source !== 'string') continue;
    if (r.action !== 'sqs:SendMessage' && r.action !== 'lambda:InvokeFunction') continue;
    const target = deployed(r.resource).r.PhysicalResourceId!;
    const statement: PolicyStatement =
      r.action === 'sqs:SendMessage'
        ? {
            Effect: 'Allow',
            Principal: { Service: r.principal },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': sourceArn(source) } },
          }
        : {
            Sid: `Allow-${functions.get(target)?.length ?? 0}`,
            Effect: 'Allow',
            Principal: { Service: r.principal },
            Action: 'lambda:InvokeFunction',
            Condition: { ArnLike: { 'AWS:SourceArn': sourceArn(source) } },
          };
    const into = r.action === 'sqs:SendMessage' ? queues : functions;
    into.set(target, [...(into.get(target) ?? []), statement]);
  }
  return { queues, functions };
}

/** Queue and function policies the mocks answer with (healthyWorld resets them). */
let policies = deliveryPolicies();

function queueUrl(prefix: string, side: 'primary' | 'dr'): string {
  return deployed(`{{${side}:${prefix}}}`).r.PhysicalResourceId!;
}

const SERVICE_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Deny',
      Principal: '*',
      Action: 'sns:Publish',
      Resource: '*',
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    },
    ...[
      'cloudwatch.amazonaws.com',
      'events.amazonaws.com',
      'sns.amazonaws.com',
      'logs.eu-west-1.amazonaws.com',
      'logs.eu-central-1.amazonaws.com',
    ].map((service) => ({
      Effect: 'Allow',
      Principal: { Service: service },
      Action: ['sns:Publish', 'kms:GenerateDataKey*', 'kms:Decrypt'],
      Resource: '*',
    })),
  ],
});

function healthyWorld(): void {
  for (const m of Object.values(mocks)) m.reset();
  mocks.cf
    .on(ListStackResourcesCommand, { StackName: env.primary.stackName })
    .resolves({ StackResourceSummaries: deployedStack('primary') });
  mocks.cf
    .on(ListStackResourcesCommand, { StackName: env.dr.stackName })
    .resolves({ StackResourceSummaries: deployedStack('dr') });
  mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[] }) => ({
    EvaluationResults: [{ EvalActionName: input.ActionNames[0], EvalDecision: 'allowed' }],
  }));
  mocks.sns.on(GetTopicAttributesCommand).resolves({ Attributes: { Policy: SERVICE_POLICY } });
  mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: SERVICE_POLICY });
  mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', KeyState: 'Enabled' } });
  mocks.ssm.on(GetParameterCommand).callsFake((input: { Name: string }) => ({
    Parameter: { Value: `arn:aws:states:eu-west-1:222222222222:stateMachine:${input.Name.split('/').pop()}` },
  }));
  mocks.sfn
    .on(DescribeStateMachineCommand)
    .resolves({ definition: '{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}', type: 'STANDARD' });
  mocks.sfn.on(ValidateStateMachineDefinitionCommand).resolves({ result: 'OK', diagnostics: [] });
  mocks.rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier: string }) => ({
    DBInstances: [
      {
        DBInstanceIdentifier: input.DBInstanceIdentifier,
        ...(input.DBInstanceIdentifier.endsWith('-dr')
          ? { ReadReplicaSourceDBInstanceIdentifier: 'arn:aws:rds:eu-west-1:222222222222:db:orders-staging' }
          : {}),
      },
    ],
  }));
  mocks.rds.on(DescribeDBClustersCommand).resolves({ DBClusters: [{ DBClusterIdentifier: 'x' }] });
  mocks.rds.on(DescribeGlobalClustersCommand).resolves({
    GlobalClusters: [
      {
        GlobalClusterMembers: [
          { DBClusterArn: 'arn:aws:rds:eu-central-1:222222222222:cluster:ledger-staging-dr' },
        ],
      },
    ],
  });
  mocks.cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Maximum: 0.5 }] });
  mocks.r53.on(GetHostedZoneCommand).resolves({});
  mocks.s3.on(HeadBucketCommand).resolves({});
  mocks.s3.on(GetBucketReplicationCommand).resolves({
    ReplicationConfiguration: {
      Role: 'r',
      Rules: [{ Status: 'Enabled', Destination: { Bucket: `arn:aws:s3:::${env.dr.bucket}` } }],
    },
  });
  mocks.secrets.on(DescribeSecretCommand).resolves({});
  policies = deliveryPolicies();
  mocks.sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => {
    const statements = policies.queues.get(input.QueueUrl);
    if (!statements) throw Object.assign(new Error('no such queue'), { name: 'QueueDoesNotExist' });
    return { Attributes: { Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) } };
  });
  mocks.lambda.on(GetPolicyCommand).callsFake((input: { FunctionName: string }) => {
    const statements = policies.functions.get(input.FunctionName);
    if (!statements) {
      throw Object.assign(new Error('The resource you requested does not exist.'), {
        name: 'ResourceNotFoundException',
      });
    }
    return { Policy: JSON.stringify({ Version: '2012-10-17', Statement: statements }) };
  });
}

async function run(argv: string[]): Promise<{ code: number; text: string }> {
  let text = '';
  const out = { write: (s: string) => ((text += s), true) } as unknown as NodeJS.WritableStream;
  const code = await doctorCommand(argv, clients, out);
  return { code, text };
}

describe('lifeboat doctor', () => {
  beforeEach(() => healthyWorld());

  it('asks IAM about every role request, with the real ARNs, context and the target resource policy; nothing to report', async () => {
    const { code, text } = await run(['--env', ENV, '--json']);
    const report = JSON.parse(text) as DoctorReport;

    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    const roleRequests = table.expected.filter((r) => !r.principal.endsWith('.amazonaws.com')).length;
    expect(mocks.iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(roleRequests);
    expect(report.requestsSimulated).toBe(table.expected.length);
    // A publish to the topic carries the topic's policy; ARNs are the deployed ones.
    const publish = mocks.iam
      .commandCalls(SimulatePrincipalPolicyCommand)
      .map((c) => c.args[0].input)
      .find((i) => i.ActionNames?.[0] === 'sns:Publish');
    expect(publish?.ResourceArns?.[0]).toMatch(/^arn:aws:sns:eu-west-1:222222222222:lifeboat-staging-/);
    expect(publish?.PolicySourceArn).toMatch(/^arn:aws:iam::222222222222:role\/staging-/);
    expect(publish?.ResourcePolicy).toBe(SERVICE_POLICY);
    expect(publish?.ContextEntries).toContainEqual({
      ContextKeyName: 'aws:SecureTransport',
      ContextKeyValues: ['true'],
      ContextKeyType: 'boolean',
    });
    // Every workflow validated where it runs.
    expect(mocks.sfn.commandCalls(ValidateStateMachineDefinitionCommand).length).toBe(5);
    // Every queue's policy and every function's permissions read, once each.
    const resources = [...deployedStack('primary'), ...deployedStack('dr')];
    const functions = resources.filter((r) => r.ResourceType === 'AWS::Lambda::Function').length;
    const queues = resources.filter((r) => r.ResourceType === 'AWS::SQS::Queue').length;
    expect(mocks.lambda.commandCalls(GetPolicyCommand)).toHaveLength(functions);
    expect(report.resourcePoliciesChecked).toBe(functions + queues);
    expect(queues).toBeGreaterThanOrEqual(5);
    expect(policies.functions.size).toBeGreaterThanOrEqual(2);
  });

  it('reports, per database with the fix, a refused call, a topic alarms cannot publish to, an invalid workflow and a lagging replica; exit 1', async () => {
    mocks.iam
      .on(SimulatePrincipalPolicyCommand)
      .callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
        EvaluationResults: [
          {
            EvalActionName: input.ActionNames[0],
            EvalDecision:
              input.ActionNames[0] === 'kms:CreateGrant' && input.ResourceArns[0]!.includes('000000000004')
                ? 'implicitDeny'
                : 'allowed',
          },
        ],
      }));
    mocks.sns.on(GetTopicAttributesCommand).resolves({
      Attributes: {
        Policy: JSON.stringify({
          Statement: [{ Effect: 'Deny', Principal: '*', Action: 'sns:Publish', Resource: '*' }],
        }),
      },
    });
    mocks.sfn.on(ValidateStateMachineDefinitionCommand).resolves({
      result: 'FAIL',
      diagnostics: [
        {
          severity: 'ERROR',
          code: 'SCHEMA_VALIDATION_FAILED',
          message: 'unknown field DBInstanceIdentifier',
        },
      ],
    });
    mocks.cw.on(GetMetricStatisticsCommand).resolves({ Datapoints: [{ Maximum: 90_000 }] });

    const { code, text } = await run(['--env', ENV]);

    expect(code).toBe(1);
    expect(text).toMatch(/^ledger$/m);
    expect(text).toMatch(
      /may not kms:CreateGrant on arn:aws:kms:eu-central-1:222222222222:key\/0a1b2c3d-0000-4000-8000-000000000004 \(implicitDeny\)/,
    );
    expect(text).toMatch(/does not allow cloudwatch\.amazonaws\.com to sns:Publish/);
    expect(text).toMatch(/SCHEMA_VALIDATION_FAILED unknown field DBInstanceIdentifier/);
    expect(text).toMatch(/ledger-staging-dr lags 90\.0 s \(bound 30 s\)/);
    expect(text).toMatch(/npx cdk deploy -c env=staging --all/);
  });

  it('reports what the configuration names but AWS does not have', async () => {
    const missing = Object.assign(new Error('DBInstance orders-staging-dr not found'), {
      name: 'DBInstanceNotFoundFault',
    });
    mocks.rds.on(DescribeDBInstancesCommand, { DBInstanceIdentifier: 'orders-staging-dr' }).rejects(missing);
    mocks.secrets
      .on(DescribeSecretCommand)
      .rejects(Object.assign(new Error('nope'), { name: 'ResourceNotFoundException' }));
    mocks.s3.on(GetBucketReplicationCommand).resolves({ ReplicationConfiguration: { Role: 'r', Rules: [] } });

    const { code, text } = await run(['--env', ENV, '--json']);
    const report = JSON.parse(text) as DoctorReport;

    expect(code).toBe(1);
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        database: 'orders',
        check: 'replica',
        fix: 'create the DR replica, or correct failover.replicaIdentifier',
      }),
    );
    expect(
      report.findings
        .filter((f) => f.check === 'secret')
        .map((f) => f.database)
        .sort(),
    ).toEqual(['ledger', 'ledger', 'orders', 'orders']);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ database: '(environment)', check: 'bucket' }),
    );
  });

  describe("queue policies and function permissions: only this environment's sources, queues only over TLS", () => {
    const copyQueue = () => queueUrl('CopySnapshotQueue', 'primary');
    const failoverQueue = () => queueUrl('FailoverDeadLetterQueue', 'dr');
    const alarmStart = () => deployed('{{dr:FailoverAlarmStart}}').r.PhysicalResourceId!;
    const canary = () => deployed('{{dr:PrimaryCanaryFunction}}').r.PhysicalResourceId!;

    async function findingsOf(check: string): Promise<DoctorReport['findings']> {
      const { code, text } = await run(['--env', ENV, '--json']);
      const report = JSON.parse(text) as DoctorReport;
      expect(code).toBe(1);
      return report.findings.filter((f) => f.check === check);
    }

    it('a queue that accepts requests without TLS', async () => {
      policies.queues.set(
        copyQueue(),
        policies.queues.get(copyQueue())!.filter((s) => s.Effect !== 'Deny'),
      );
      const [finding, ...rest] = await findingsOf('queue policy');
      expect(rest).toEqual([]);
      expect(finding!.problem).toMatch(/CopySnapshotQueueABCDEF12 accepts requests without TLS/);
      expect(finding!.fix).toMatch(/npx cdk deploy -c env=staging --all/);
    });

    it('a queue any EventBridge rule may send to (no aws:SourceArn)', async () => {
      policies.queues.get(copyQueue())!.push({
        Sid: 'AnyRule',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes'],
      });
      const [finding, ...rest] = await findingsOf('queue policy');
      expect(rest).toEqual([]);
      expect(finding!.problem).toMatch(
        /CopySnapshotQueueABCDEF12 lets events\.amazonaws\.com send to it for any source \(statement AnyRule: no aws:SourceArn/,
      );
      expect(finding!.fix).toMatch(/ArnEquals aws:SourceArn/);
    });

    it('a queue that accepts a topic of another environment', async () => {
      const foreign = 'arn:aws:sns:eu-west-1:222222222222:lifeboat-dev-events';
      policies.queues.get(copyQueue())!.push({
        Sid: 'Foreign',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Condition: { ArnEquals: { 'aws:SourceArn': foreign } },
      });
      const [finding, ...rest] = await findingsOf('queue policy');
      expect(rest).toEqual([]);
      expect(finding!.problem).toContain(
        `for ${foreign} (statement Foreign), which is no rule or topic of this environment`,
      );
      expect(finding!.fix).toMatch(
        /remove statement Foreign from the queue policy \(aws sqs set-queue-attributes/,
      );
    });

    it('a queue that refuses an expected source (that delivery fails), named by database', async () => {
      const statements = policies.queues.get(failoverQueue())!;
      const ledger = statements.find((s) => JSON.stringify(s.Condition).includes('FailoverAlarmRuleledger'))!;
      policies.queues.set(
        failoverQueue(),
        statements.filter((s) => s !== ledger),
      );
      const [finding, ...rest] = await findingsOf('queue policy');
      expect(rest).toEqual([]);
      expect(finding).toMatchObject({ database: 'ledger', region: 'eu-central-1' });
      expect(finding!.problem).toMatch(
        /FailoverDeadLetterQueueABCDEF12 does not let events\.amazonaws\.com send to it for arn:aws:events:eu-central-1:222222222222:rule\/staging-FailoverAlarmRuleledgerABCDEF12: EventBridge rule/,
      );
    });

    it('a function anyone may invoke, and one invoked by a rule without aws:SourceArn', async () => {
      policies.functions.get(canary())!.push({
        Sid: 'Anyone',
        Effect: 'Allow',
        Principal: '*',
        Action: 'lambda:InvokeFunction',
      });
      policies.functions.get(alarmStart())!.push({
        Sid: 'AnyRule',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
      });
      const findings = await findingsOf('function policy');
      expect(findings.map((f) => f.problem)).toEqual([
        expect.stringMatching(
          /FailoverAlarmStartABCDEF12 lets events\.amazonaws\.com invoke it for any source \(statement AnyRule: no aws:SourceArn/,
        ),
        expect.stringMatching(
          /PrimaryCanaryFunctionABCDEF12 lets \* invoke it for any source \(statement Anyone: not an AWS service/,
        ),
      ]);
      expect(findings[1]!.fix).toMatch(
        /aws lambda remove-permission --function-name staging-PrimaryCanaryFunctionABCDEF12 --statement-id Anyone --region eu-central-1/,
      );
    });

    it("a function invoked for a rule that is not this environment's", async () => {
      const foreign = 'arn:aws:events:eu-central-1:222222222222:rule/someone-elses';
      policies.functions.get(alarmStart())!.push({
        Sid: 'Foreign',
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'lambda:InvokeFunction',
        Condition: { ArnLike: { 'AWS:SourceArn': foreign } },
      });
      const [finding, ...rest] = await findingsOf('function policy');
      expect(rest).toEqual([]);
      expect(finding!.problem).toContain(
        `lets events.amazonaws.com invoke it for ${foreign} (statement Foreign)`,
      );
      expect(finding!.fix).toMatch(
        /aws lambda remove-permission --function-name staging-FailoverAlarmStartABCDEF12 --statement-id Foreign/,
      );
    });

    it('a function its expected source may not invoke (no permission at all)', async () => {
      policies.functions.delete(canary());
      const findings = await findingsOf('function policy');
      expect(findings.map((f) => f.database).sort()).toEqual(['ledger', 'orders']);
      for (const f of findings) {
        expect(f.problem).toMatch(
          /PrimaryCanaryFunctionABCDEF12 does not let events\.amazonaws\.com invoke it for arn:aws:events:eu-central-1:222222222222:rule\/staging-PrimaryCanarySchedule(orders|ledger)ABCDEF12: EventBridge schedule \(every minute\) → the canary fails/,
        );
        expect(f.fix).toBe('redeploy: npx cdk deploy -c env=staging --all');
      }
    });

    it('a policy it may not read', async () => {
      mocks.sqs
        .on(GetQueueAttributesCommand, { QueueUrl: copyQueue() })
        .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDenied' }));
      mocks.lambda
        .on(GetPolicyCommand, { FunctionName: canary() })
        .rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
      const findings = [...(await findingsOf('queue policy')), ...(await findingsOf('function policy'))];
      expect(findings.map((f) => f.problem)).toEqual([
        expect.stringMatching(
          /CopySnapshotQueueABCDEF12: its policy could not be read \(AccessDenied: not authorized\)/,
        ),
        expect.stringMatching(
          /PrimaryCanaryFunctionABCDEF12: its policy could not be read \(AccessDeniedException/,
        ),
      ]);
      expect(findings[0]!.fix).toMatch(/sqs:GetQueueAttributes/);
      expect(findings[1]!.fix).toMatch(/lambda:GetPolicy/);
    });
  });

  it('says so when the stacks are not deployed, and asks nothing of IAM', async () => {
    mocks.cf
      .on(ListStackResourcesCommand)
      .rejects(Object.assign(new Error('Stack does not exist'), { name: 'ValidationError' }));
    const { code, text } = await run(['--env', ENV]);
    expect(code).toBe(1);
    expect(text).toMatch(/stack Lifeboat-staging-Primary: ValidationError: Stack does not exist/);
    expect(mocks.iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(0);
  });

  it('accepts every doctor command docs/deploy.md shows', async () => {
    const shown = shownCommands(readDoc('docs/deploy.md').text, 'doctor');
    expect(shown.length).toBeGreaterThan(0);
    for (const argv of shown) {
      const { code } = await run(argv);
      expect(code, argv.join(' ')).toBe(0);
    }
  });
});
