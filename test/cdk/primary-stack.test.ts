import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { SUPPORTED_PG_MAJORS } from '../../lib/config/schema.ts';
import { VPC_ACCESS_ACTIONS } from '../../lib/constructs/lifeboat-function.ts';
import { DOCKERFILES } from '../../lib/constructs/logical-dump.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { type SynthesizedEnvironment, synthesizeEnvironment } from './support.ts';
import {
  actionsOf,
  arnOf,
  objectsOf,
  onlyResource,
  resourcesOf,
  roleOfFunction,
  statementsOfRole,
} from './template-helpers.ts';

const config = loadEnvironmentConfig('dev');

/** Description and memory of every Lambda function of some templates. */
function functionSizes(...templates: Template[]): Array<{ Description?: string; MemorySize?: number }> {
  return templates.flatMap((t) =>
    Object.values(t.findResources('AWS::Lambda::Function')).map(
      (f) => f.Properties as { Description?: string; MemorySize?: number },
    ),
  );
}

/** The memory of the functions whose description matches. */
function memoryOf(all: ReturnType<typeof functionSizes>, pattern: RegExp): Array<number | undefined> {
  return all.filter((f) => pattern.test(f.Description ?? '')).map((f) => f.MemorySize);
}
const db = config.databases[0]!;

describe('primary stack (dev)', () => {
  let env: SynthesizedEnvironment;
  let template: Template;
  let bucket: string;
  let key: string;

  beforeAll(() => {
    env = synthesizeEnvironment('dev');
    template = env.primaryTemplate;
    key = onlyResource(template, 'AWS::KMS::Key', {
      Description: Match.stringLikeRegexp('encrypts backups'),
    });
    bucket = onlyResource(template, 'AWS::S3::Bucket', { BucketName: 'lifeboat-dev-111111111111-eu-west-1' });
  });
  afterAll(() => env.dispose());

  it('is in the primary region of the account', () => {
    expect(env.primary.region).toBe('eu-west-1');
    expect(env.primary.account).toBe('111111111111');
  });

  it('rotates every customer-managed key', () => {
    const keys = template.findResources('AWS::KMS::Key');

    expect(Object.keys(keys).length).toBeGreaterThanOrEqual(2);
    for (const k of Object.values(keys)) expect(k.Properties.EnableKeyRotation).toBe(true);
  });

  it('encrypts the backup bucket with its customer-managed key and S3 Bucket Keys', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'lifeboat-dev-111111111111-eu-west-1',
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            BucketKeyEnabled: true,
            ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: arnOf(key) },
          },
        ],
      },
    });
  });

  it('versions the bucket and locks objects for the configured default retention', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'lifeboat-dev-111111111111-eu-west-1',
      VersioningConfiguration: { Status: 'Enabled' },
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: config.bucket.objectLockDays } },
      },
    });
  });

  it('blocks all public access and writes server access logs', () => {
    const logs = onlyResource(template, 'AWS::S3::Bucket', { BucketName: Match.stringLikeRegexp('-logs-') });

    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'lifeboat-dev-111111111111-eu-west-1',
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: logs } },
    });
  });

  it('refuses requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucket },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('expires noncurrent versions and archives old artifacts', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'lifeboat-dev-111111111111-eu-west-1',
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: config.bucket.noncurrentVersionExpirationDays },
          }),
          Match.objectLike({
            Prefix: 'artifacts/',
            Transitions: [
              { StorageClass: 'GLACIER', TransitionInDays: config.bucket.glacierAfterDays },
              { StorageClass: 'DEEP_ARCHIVE', TransitionInDays: config.bucket.deepArchiveAfterDays },
            ],
          }),
        ]),
      },
    });
  });

  it('replicates everything to the DR bucket, encrypted with the DR key by alias', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'lifeboat-dev-111111111111-eu-west-1',
      ReplicationConfiguration: {
        Rules: [
          Match.objectLike({
            Status: 'Enabled',
            Filter: { Prefix: '' },
            Destination: {
              Bucket: Match.objectLike({
                'Fn::Join': ['', Match.arrayWith([':s3:::lifeboat-dev-111111111111-eu-central-1'])],
              }),
              EncryptionConfiguration: {
                ReplicaKmsKeyID: 'arn:aws:kms:eu-central-1:111111111111:alias/lifeboat-dev-backup',
              },
            },
            SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
          }),
        ],
      },
    });
  });

  describe('logical-dump function', () => {
    let fn: string;
    let statements: ReturnType<typeof statementsOfRole>;

    beforeAll(() => {
      fn = onlyResource(template, 'AWS::Lambda::Function', {
        PackageType: 'Image',
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'logical-dump' }) },
      });
      statements = statementsOfRole(template, roleOfFunction(template, fn));
    });

    it('is named in SSM for on-demand dumps (lifeboat backup --env), as the verify function is for verify', () => {
      template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: `/lifeboat/dev/dumps/${db.name}`,
        Type: 'String',
        Value: { 'Fn::GetAtt': [fn, 'Arn'] },
      });
      const verify = onlyResource(template, 'AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'verify-backup' }) },
      });
      template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: `/lifeboat/dev/verify/${db.name}`,
        Value: { 'Fn::GetAtt': [verify, 'Arn'] },
      });
      const takeSnapshot = onlyResource(template, 'AWS::Lambda::Function', {
        Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'take-snapshot' }) },
      });
      template.hasResourceProperties('AWS::SSM::Parameter', {
        Name: '/lifeboat/dev/snapshots',
        Value: { 'Fn::GetAtt': [takeSnapshot, 'Arn'] },
      });
    });

    it('runs the container image with 3,008 MB, 15 minutes, tracing, in the database network', () => {
      expect(db.dumpMemoryMB).toBeUndefined();
      template.hasResourceProperties('AWS::Lambda::Function', {
        PackageType: 'Image',
        Architectures: ['arm64'],
        MemorySize: 3008,
        Timeout: 900,
        TracingConfig: { Mode: 'Active' },
        VpcConfig: { SubnetIds: db.subnetIds, SecurityGroupIds: [db.securityGroupId] },
      });
    });

    it("gives verify-backup and both regions' dump restores 4,096 MB when the environment sets no limit", () => {
      const all = functionSizes(template, env.drTemplate);
      expect(config.functionMemoryLimitMB).toBeUndefined();
      expect(memoryOf(all, /verifies logical dumps/)).toEqual([4096]);
      expect(memoryOf(all, /restores a logical dump into a new database/)).toEqual([4096, 4096]);
    });

    it('has the environment the handler reads', () => {
      template.hasResourceProperties('AWS::Lambda::Function', {
        PackageType: 'Image',
        Environment: {
          Variables: {
            LIFEBOAT_BUCKET: { Ref: bucket },
            LIFEBOAT_KMS_KEY_ID: arnOf(key),
            LIFEBOAT_ENVIRONMENT: 'dev',
            POWERTOOLS_SERVICE_NAME: 'logical-dump',
          },
        },
      });
    });

    it('logs into its own log group with the configured retention', () => {
      const logGroup = template.toJSON().Resources[fn].Properties.LoggingConfig.LogGroup.Ref;

      template.hasResource('AWS::Logs::LogGroup', {
        Properties: Match.objectLike({ RetentionInDays: config.logRetentionDays }),
      });
      expect(template.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(config.logRetentionDays);
    });

    it('may read exactly the secret of its database', () => {
      const secretStatements = statements.filter((s) =>
        actionsOf(s).some((a) => a.startsWith('secretsmanager:')),
      );

      expect(secretStatements).toHaveLength(1);
      expect(resourcesOf(secretStatements[0]!)).toEqual([db.secretArn]);
      // GetSecretValue only: a dump never calls DescribeSecret.
      expect(actionsOf(secretStatements[0]!)).toEqual(['secretsmanager:GetSecretValue']);
    });

    it('may use the bucket only under the repository prefixes, without deleting versions or catalog records', () => {
      const s3 = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:')));
      const puts = s3.filter((s) => actionsOf(s).includes('s3:PutObject'));

      expect(puts.flatMap(resourcesOf)).toEqual([
        objectsOf(bucket, 'catalog/*'),
        objectsOf(bucket, 'artifacts/*'),
      ]);
      // Records are written once, whole; artifacts are streamed in parts and a partial one removed.
      const catalogActions = s3
        .filter((s) =>
          resourcesOf(s).some((r) => JSON.stringify(r) === JSON.stringify(objectsOf(bucket, 'catalog/*'))),
        )
        .flatMap(actionsOf);
      expect(catalogActions.sort()).toEqual(['s3:GetObject', 's3:PutObject']);
      const artifactActions = s3
        .filter((s) =>
          resourcesOf(s).some((r) => JSON.stringify(r) === JSON.stringify(objectsOf(bucket, 'artifacts/*'))),
        )
        .flatMap(actionsOf);
      expect(artifactActions.sort()).toEqual([
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:GetObject',
        's3:PutObject',
      ]);
      expect(s3.flatMap(actionsOf)).not.toContain('s3:DeleteObjectVersion');
      expect(s3.flatMap(actionsOf).some((a) => a.includes('*'))).toBe(false);
      for (const s of s3.filter((x) => actionsOf(x).includes('s3:ListBucket'))) {
        expect(resourcesOf(s)).toEqual([arnOf(bucket)]);
        expect(s.Condition).toEqual({
          StringLikeIfExists: { 's3:prefix': ['artifacts/', 'artifacts/*', 'catalog/', 'catalog/*'] },
        });
      }
    });

    it('may decrypt and generate data keys with the backup key (SSE-KMS), never kms:Encrypt', () => {
      const backupKey = statements.filter((s) =>
        resourcesOf(s).some((r) => JSON.stringify(r) === JSON.stringify(arnOf(key))),
      );

      expect(backupKey).toHaveLength(1);
      expect(actionsOf(backupKey[0]!).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
      expect(statements.flatMap(actionsOf)).not.toContain('kms:Encrypt');
    });

    it('has no wildcard resource other than X-Ray and its network interfaces', () => {
      const wildcard = statements.filter((s) => resourcesOf(s).includes('*'));

      expect(wildcard.flatMap(actionsOf).sort()).toEqual(
        [...VPC_ACCESS_ACTIONS, 'xray:PutTelemetryRecords', 'xray:PutTraceSegments'].sort(),
      );
    });
  });

  describe('logical-dump image', () => {
    it('stages only what each image build reads, so synth stays fast', () => {
      const assembly = env.app.synth();
      const manifest = JSON.parse(
        readFileSync(path.join(assembly.directory, `${env.primary.artifactId}.assets.json`), 'utf8'),
      ) as { dockerImages: Record<string, { source: { directory: string; dockerFile: string } }> };
      const images = Object.values(manifest.dockerImages);
      // The logical-dump image, and the verify image (verify-backup and the restore workflow's dump restores).
      expect(images.map((i) => i.source.dockerFile).sort()).toEqual(
        [DOCKERFILES.logicalDump, DOCKERFILES.verifyBackup].sort(),
      );

      for (const image of images) {
        const dir = path.join(assembly.directory, image.source.directory);
        const files = readdirSync(dir, { recursive: true, encoding: 'utf8' });
        expect(files).toContain(image.source.dockerFile);
        expect(files).toContain(image.source.dockerFile.replace('Dockerfile', 'index.ts'));
        expect(files).toContain('package-lock.json');
        const unwanted = files.filter((f) =>
          /^(node_modules|test|bench|cdk\.out|\.git|lib|bin)(\/|$)|\.test\.ts$/.test(f),
        );
        expect(unwanted).toEqual([]);
        const bytes = files.reduce((sum, f) => sum + statSync(path.join(dir, f)).size, 0);
        expect(bytes).toBeLessThan(5_000_000);
      }
    });

    it('carries pg_dump of every PostgreSQL major the configuration accepts', () => {
      const dockerfile = readFileSync(path.join(PROJECT_ROOT, 'functions/logical-dump/Dockerfile'), 'utf8');

      expect(dockerfile).toContain(`ARG PG_MAJORS="${SUPPORTED_PG_MAJORS.join(' ')}"`);
      expect(dockerfile).toMatch(/^FROM public\.ecr\.aws\/lambda\/nodejs:22$/m);
      const binDirs = /LIFEBOAT_PG_BIN_DIRS=(\S+)/.exec(dockerfile)![1]!.split(':').sort();
      expect(binDirs).toEqual(SUPPORTED_PG_MAJORS.map((m) => `/usr/lib/postgresql/${m}/bin`).sort());
    });
  });
});

describe('a database with dumpMemoryMB', () => {
  // Lambda gives CPU in proportion to memory: a database can give its dump more (docs/deploy.md).
  const input = structuredClone(ENVIRONMENTS.dev!);
  input.databases![0]!.dumpMemoryMB = 5307;
  let env: SynthesizedEnvironment;

  beforeAll(() => {
    env = synthesizeEnvironment('dev', input);
  });
  afterAll(() => env.dispose());

  it('gets a logical-dump function of that size; the other functions keep theirs', () => {
    const template = env.primaryTemplate;
    const dump = onlyResource(template, 'AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp(`pg_dump of ${db.name} `),
    });
    expect(template.toJSON().Resources[dump].Properties.MemorySize).toBe(5307);
    const sizes = Object.values(template.findResources('AWS::Lambda::Function')).map(
      (f) => (f.Properties as { MemorySize?: number }).MemorySize,
    );
    expect(sizes.filter((m) => m === 5307)).toHaveLength(1);
  });
});

describe('an account that may give a function at most 3,008 MB (functionMemoryLimitMB)', () => {
  const input = { ...ENVIRONMENTS.dev!, functionMemoryLimitMB: 3008 };
  let env: SynthesizedEnvironment;

  beforeAll(() => {
    env = synthesizeEnvironment('dev', input);
  });
  afterAll(() => env.dispose());

  it('no function of either region asks for more; those that wanted more get the limit', () => {
    const all = functionSizes(env.primaryTemplate, env.drTemplate);
    expect(all.length).toBeGreaterThan(20);
    for (const f of all) expect(f.MemorySize ?? 128, f.Description).toBeLessThanOrEqual(3008);
    // verify-backup and the dump restore of both regions' restore workflows ask for 4,096 MB.
    expect(memoryOf(all, /verifies logical dumps/)).toEqual([3008]);
    expect(memoryOf(all, /restores a logical dump into a new database/)).toEqual([3008, 3008]);
    expect(memoryOf(all, /pg_dump of /)).toEqual([3008]);
  });
});
