import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import {
  actionsOf,
  onlyResource,
  resourcesOf,
  roleOfFunction,
  statementsOfRole,
} from './template-helpers.ts';

// Each example environment, synthesized once with every check bin/app.ts runs.
describe.each(['dev', 'staging', 'prod'])('environment %s', (name) => {
  const config = loadEnvironmentConfig(name);
  let env: SynthesizedEnvironment;

  beforeAll(() => {
    env = synthesizeEnvironment(name);
  });
  afterAll(() => env.dispose());

  it('has no unacknowledged cdk-nag finding (AwsSolutions, NIST 800-53 R5)', () => {
    expect(env.violations).toEqual([]);
  });

  it('puts one stack in the primary region and one in the DR region of the account', () => {
    expect([env.primary.region, env.primary.account]).toEqual([config.primaryRegion, config.account]);
    expect([env.dr.region, env.dr.account]).toEqual([config.drRegion, config.account]);
    expect(env.primary.dependencies).toContain(env.dr);
  });

  it('gives the DR bucket and key exactly the names the primary replicates to', () => {
    const drBucketName = `lifeboat-${name}-${config.account}-${config.drRegion}`;
    const drKey = onlyResource(env.drTemplate, 'AWS::KMS::Key', {
      Description: Match.stringLikeRegexp('encrypts backups'),
      EnableKeyRotation: true,
    });

    env.drTemplate.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: drBucketName,
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: { 'Fn::GetAtt': [drKey, 'Arn'] },
            },
          }),
        ],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      ObjectLockEnabled: true,
    });
    env.drTemplate.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: `alias/lifeboat-${name}-backup`,
      TargetKeyId: { 'Fn::GetAtt': [drKey, 'Arn'] },
    });
    env.primaryTemplate.hasResourceProperties('AWS::S3::Bucket', {
      ReplicationConfiguration: {
        Rules: [
          Match.objectLike({
            Destination: Match.objectLike({
              Bucket: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([`:s3:::${drBucketName}`])] }),
              EncryptionConfiguration: {
                ReplicaKmsKeyID: `arn:aws:kms:${config.drRegion}:${config.account}:alias/lifeboat-${name}-backup`,
              },
            }),
          }),
        ],
      },
    });
  });

  it('protects the DR replica like the primary: rotation, BPA, TLS only, Object Lock retention', () => {
    const drBucket = onlyResource(env.drTemplate, 'AWS::S3::Bucket', {
      BucketName: `lifeboat-${name}-${config.account}-${config.drRegion}`,
    });

    for (const key of Object.values(env.drTemplate.findResources('AWS::KMS::Key'))) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
    }
    env.drTemplate.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: `lifeboat-${name}-${config.account}-${config.drRegion}`,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: {
          DefaultRetention: { Mode: config.bucket.objectLockMode, Days: config.bucket.objectLockDays },
        },
      },
      ReplicationConfiguration: Match.absent(),
    });
    env.drTemplate.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: drBucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('lets the replication role use only DR keys that carry the lifeboat alias', () => {
    env.primaryTemplate.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kms:Encrypt', 'kms:GenerateDataKey'],
            Resource: Match.objectLike({
              'Fn::Join': ['', Match.arrayWith([`:kms:${config.drRegion}:${config.account}:key/*`])],
            }),
            Condition: {
              'ForAnyValue:StringEquals': { 'kms:ResourceAliases': `alias/lifeboat-${name}-backup` },
            },
          }),
        ]),
      },
    });
  });

  it('lets every function use the key of its dead-letter queue, so failed events are kept', () => {
    type Resource = {
      Type: string;
      Properties: {
        DeadLetterConfig?: { TargetArn: { 'Fn::GetAtt': [string, string] } };
        KmsMasterKeyId?: unknown;
      };
    };
    const resources = env.primaryTemplate.toJSON().Resources as Record<string, Resource>;
    const withDlq = Object.entries(resources).filter(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.DeadLetterConfig,
    );

    expect(withDlq.length).toBeGreaterThan(0);
    for (const [id, fn] of withDlq) {
      const queue = resources[fn.Properties.DeadLetterConfig!.TargetArn['Fn::GetAtt'][0]]!;
      const key = queue.Properties.KmsMasterKeyId;
      const statements = statementsOfRole(env.primaryTemplate, roleOfFunction(env.primaryTemplate, id));
      const keyStatement = statements.find(
        (s) =>
          actionsOf(s).includes('kms:GenerateDataKey') &&
          resourcesOf(s).some((r) => JSON.stringify(r) === JSON.stringify(key)),
      );
      expect(keyStatement, id).toBeDefined();
    }
  });

  it('announces dumps on the events topic exactly when a Slack webhook secret is configured', () => {
    const template = env.primaryTemplate;
    const topics = template.findResources('AWS::SNS::Topic', {
      Properties: { TopicName: `lifeboat-${name}-events` },
    });
    const dumps = Object.values(
      template.findResources('AWS::Lambda::Function', {
        Properties: {
          PackageType: 'Image',
          Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'logical-dump' } },
        },
      }),
    );
    const tasks = Object.values(
      template.findResources('AWS::ECS::TaskDefinition', {
        Properties: { ContainerDefinitions: Match.arrayWith([Match.objectLike({ Name: 'dump' })]) },
      }),
    );
    const variables = [
      ...dumps.map((fn) => fn.Properties.Environment.Variables.LIFEBOAT_EVENTS_TOPIC_ARN),
      ...tasks.map(
        (task) =>
          (task.Properties.ContainerDefinitions[0].Environment as { Name: string; Value: unknown }[]).find(
            (e) => e.Name === 'LIFEBOAT_EVENTS_TOPIC_ARN',
          )?.Value,
      ),
    ];

    expect(dumps.length + tasks.length).toBe(config.databases.length);
    if (config.notifications.slackWebhookSecretArn) {
      expect(Object.keys(topics)).toHaveLength(1);
      expect(variables).toEqual(variables.map(() => ({ Ref: Object.keys(topics)[0] })));
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            LIFEBOAT_SLACK_SECRET_ARN: config.notifications.slackWebhookSecretArn,
          }),
        },
      });
    } else {
      expect(topics).toEqual({});
      expect(variables).toEqual(variables.map(() => undefined));
    }
  });

  it('makes no cross-region reference', () => {
    const json = JSON.stringify([env.primaryTemplate.toJSON(), env.drTemplate.toJSON()]);

    expect(json).not.toContain('Fn::ImportValue');
    expect(json).not.toContain('ExportsReader');
  });
});
