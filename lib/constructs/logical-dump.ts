import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Duration, IgnoreMode, Validations } from 'aws-cdk-lib';
import { type ISecurityGroup, type IVpc, SecurityGroup, Subnet, Vpc } from 'aws-cdk-lib/aws-ec2';
import { DockerImageAsset, Platform } from 'aws-cdk-lib/aws-ecr-assets';
import { type IRole, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, DockerImageCode, DockerImageFunction, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { Database } from '../config/schema.ts';
import { PROJECT_ROOT } from '../paths.ts';
import {
  acknowledgeTracing,
  bindBucket,
  functionMemory,
  functionRole,
  grantDeadLetterKey,
} from './lifeboat-function.ts';
import { COMMON_ENV } from '../../functions/core/contracts/index.ts';

/** Dockerfiles of the container-image functions, relative to the repository root (their build context). */
export const DOCKERFILES = {
  logicalDump: 'functions/logical-dump/Dockerfile',
  verifyBackup: 'functions/verify-backup/Dockerfile',
} as const;

/** Patterns of `<Dockerfile>.dockerignore`: the same list trims the build context for Docker and CDK. */
export function imageExcludes(dockerfile: string): string[] {
  return readFileSync(path.join(PROJECT_ROOT, `${dockerfile}.dockerignore`), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The images' architecture; Lambda functions and Fargate tasks must match it. */
export const DUMP_ARCHITECTURE = Architecture.ARM_64;

/**
 * The logical-dump function's memory unless the database sets `dumpMemoryMB`. Lambda gives CPU in
 * proportion to memory: 3,008 MB is 1.7 vCPU-seconds a second on the 2 cores a function sees up to
 * that size, enough for pg_dump, the compressor and the upload to run side by side (at 1,024 MB
 * they shared 0.58 of a core), and the most every account may configure without asking for more.
 * Measured with `npm run bench:backup -- --cpu-limit` (bench/README.md).
 */
export const DEFAULT_DUMP_MEMORY_MB = 3008;

/**
 * A container image built from one of the repository's Dockerfiles. Synth only stages and hashes
 * the (small) build context; the image is built by `cdk deploy`. One asset serves every function
 * and Fargate task that runs it.
 */
export class ProjectImage extends Construct {
  public readonly asset: DockerImageAsset;

  constructor(scope: Construct, id: string, dockerfile: string) {
    super(scope, id);
    this.asset = new DockerImageAsset(this, 'Asset', {
      directory: PROJECT_ROOT,
      file: dockerfile,
      exclude: imageExcludes(dockerfile),
      ignoreMode: IgnoreMode.DOCKER,
      platform: DUMP_ARCHITECTURE === Architecture.ARM_64 ? Platform.LINUX_ARM64 : Platform.LINUX_AMD64,
    });
  }
}

/** The logical-dump image (pg_dump/pg_restore of every supported major). */
export class DumpImage extends ProjectImage {
  constructor(scope: Construct, id: string) {
    super(scope, id, DOCKERFILES.logicalDump);
  }
}

/** Network of a database, imported by id: no lookups, so synthesis needs no AWS account. */
export interface ImportedNetwork {
  readonly vpc: IVpc;
  readonly subnets: { subnets: ReturnType<typeof Subnet.fromSubnetId>[] };
  readonly securityGroup: ISecurityGroup;
}

export function importNetwork(
  scope: Construct,
  db: Pick<Database, 'vpcId' | 'subnetIds' | 'securityGroupId'>,
): ImportedNetwork {
  const vpc = Vpc.fromVpcAttributes(scope, 'Vpc', {
    vpcId: db.vpcId,
    // Only explicit subnets are ever selected, so the zones are not used for placement.
    availabilityZones: db.subnetIds.map((_, i) => `zone-${i}`),
  });
  return {
    vpc,
    subnets: {
      subnets: db.subnetIds.map((id) => {
        const subnet = Subnet.fromSubnetId(scope, `Subnet-${id}`, id);
        Validations.of(subnet).acknowledge({
          id: 'Annotation::@aws-cdk/aws-ec2:noSubnetRouteTableId',
          reason: 'Only the subnet id is used (function placement); nothing reads its route table.',
        });
        return subnet;
      }),
    },
    // Immutable: the database's security group is the owner's; lifeboat adds no rules to it.
    securityGroup: SecurityGroup.fromSecurityGroupId(scope, 'SecurityGroup', db.securityGroupId, {
      mutable: false,
    }),
  };
}

/**
 * Read access to the database's secret, and to its customer-managed key when it has one (only
 * through Secrets Manager in the secret's region).
 */
export function grantSecret(scope: Construct, database: Database, role: IRole): void {
  // GetSecretValue only: grantRead adds secretsmanager:DescribeSecret, which no dump calls.
  role.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [database.secretArn] }),
  );
  if (database.secretKmsKeyArn) {
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [database.secretKmsKeyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `secretsmanager.${database.secretArn.split(':')[3]}.amazonaws.com`,
          },
        },
      }),
    );
  }
}

export interface LogicalDumpFunctionProps {
  readonly environment: string;
  readonly database: Database;
  readonly image: DumpImage;
  readonly bucket: IBucket;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  /** Where failed asynchronous invocations (e.g. from Scheduler) end up. */
  readonly deadLetterQueue: IQueue;
}

/**
 * The logical-dump Lambda function of one database: in the database's network, allowed to read
 * that database's secret and nothing else, and to write the backup repository.
 * Event: `{ "database": "<name>", "secretArn": "<secret ARN>" }`.
 */
export class LogicalDumpFunction extends Construct {
  public readonly function: DockerImageFunction;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LogicalDumpFunctionProps) {
    super(scope, id);
    const { database } = props;
    const network = importNetwork(this, database);
    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      encryptionKey: props.logKey,
    });
    const role = functionRole(this, 'Role', {
      logGroup: this.logGroup,
      inVpc: true,
      description: `lifeboat ${props.environment}: logical dumps of ${database.name}`,
    });
    this.function = new DockerImageFunction(this, 'Function', {
      description: `lifeboat ${props.environment}: pg_dump of ${database.name} into the backup repository`,
      code: DockerImageCode.fromEcr(props.image.asset.repository, {
        tagOrDigest: props.image.asset.imageTag,
      }),
      architecture: DUMP_ARCHITECTURE,
      // A database's own dumpMemoryMB is never above the limit (the configuration refuses it).
      memorySize: functionMemory(this, database.dumpMemoryMB ?? DEFAULT_DUMP_MEMORY_MB),
      timeout: Duration.minutes(15),
      // One dump of a database at a time; a second would only compete for the same server.
      reservedConcurrentExecutions: 1,
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      role,
      vpc: network.vpc,
      vpcSubnets: network.subnets,
      securityGroups: [network.securityGroup],
      deadLetterQueue: props.deadLetterQueue,
      environment: {
        [COMMON_ENV.environment]: props.environment,
        [COMMON_ENV.service]: 'logical-dump',
      },
    });
    bindBucket(this.function, props.bucket, 'readwrite');
    grantSecret(this, database, this.function.role!);
    grantDeadLetterKey(this.function, props.deadLetterQueue);
    acknowledgeTracing(this.function);
  }
}
