import {
  CloudFormationClient,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
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
                  : /Rule|Events/.test(prefix)
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
