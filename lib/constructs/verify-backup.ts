import { Duration, Size, Validations } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { DockerImageCode, DockerImageFunction, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV as VERIFY_BACKUP_ENV } from '../../functions/verify-backup/env.ts';
import { ARTIFACT_PREFIX, CATALOG_PREFIX } from '../../functions/core/catalog/catalog.ts';
import {
  acknowledgeTracing,
  bindBucket,
  functionMemory,
  functionRole,
  grantDeadLetterKey,
  grantRepository,
} from './lifeboat-function.ts';
import { DOCKERFILES, DUMP_ARCHITECTURE, type ImportedNetwork, ProjectImage } from './logical-dump.ts';
import type { Notifications } from './notifications.ts';
import { FargateJob } from './fargate-job.ts';
import type { Database } from '../config/schema.ts';
import { verifyBackupEvent } from '../events.ts';
import { EVENTS_TOPIC_ENV } from '../../functions/core/notify/events.ts';
import { METRIC } from '../../functions/core/shared/metrics.ts';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';

/**
 * The verify-backup image: the verify-backup handler and the restore workflow's RestoreDump
 * handler, with PostgreSQL server and client binaries of every supported major (initdb and
 * pg_restore). One asset serves every function that runs it.
 */
export class VerifyImage extends ProjectImage {
  constructor(scope: Construct, id: string) {
    super(scope, id, DOCKERFILES.verifyBackup);
  }
}

/** Handlers the verify image carries (`<file>.handler` in /var/task). */
export const VERIFY_IMAGE_HANDLERS = {
  verifyBackup: 'index.handler',
  restoreDump: 'restore-dump.handler',
} as const;

export interface ImageFunctionProps {
  readonly image: VerifyImage;
  /** Which handler of the image runs (VERIFY_IMAGE_HANDLERS). */
  readonly handler: string;
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
  /** /tmp of the function: the archive copy and the ephemeral cluster live there. */
  readonly ephemeralStorageSize: Size;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  readonly network?: ImportedNetwork;
  readonly environment: Record<string, string>;
  readonly deadLetterQueue?: IQueue;
  readonly reservedConcurrentExecutions?: number;
}

/**
 * A Lambda function of the verify image, with its own log group and a role that starts with
 * nothing but writing that log group (the pattern of LogicalDumpFunction).
 */
export function imageFunction(scope: Construct, id: string, props: ImageFunctionProps): DockerImageFunction {
  const logGroup = new LogGroup(scope, `${id}LogGroup`, {
    retention: props.logRetention,
    encryptionKey: props.logKey,
  });
  const role = functionRole(scope, `${id}Role`, {
    logGroup,
    inVpc: props.network !== undefined,
    description: props.description,
  });
  const fn = new DockerImageFunction(scope, id, {
    description: props.description,
    code: DockerImageCode.fromEcr(props.image.asset.repository, {
      tagOrDigest: props.image.asset.imageTag,
      cmd: [props.handler],
    }),
    architecture: DUMP_ARCHITECTURE,
    memorySize: functionMemory(scope, props.memorySize),
    timeout: props.timeout,
    ephemeralStorageSize: props.ephemeralStorageSize,
    reservedConcurrentExecutions: props.reservedConcurrentExecutions,
    tracing: Tracing.ACTIVE,
    logGroup,
    role,
    deadLetterQueue: props.deadLetterQueue,
    ...(props.network
      ? {
          vpc: props.network.vpc,
          vpcSubnets: props.network.subnets,
          securityGroups: [props.network.securityGroup],
        }
      : {}),
    environment: props.environment,
  });
  grantDeadLetterKey(fn, props.deadLetterQueue);
  acknowledgeTracing(fn);
  return fn;
}

export interface VerifyBackupFunctionProps {
  readonly environment: string;
  readonly image: VerifyImage;
  /** The backup repository: it reads dumps and writes verification records. */
  readonly bucket: IBucket;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  /** Where failed asynchronous invocations (from Scheduler) end up. */
  readonly deadLetterQueue: IQueue;
}

/**
 * The verify-backup function (flow 3, dumps): re-reads and re-hashes a dump, restores it into an
 * ephemeral PostgreSQL in its own /tmp and runs the data checks, then writes a verification record.
 * It connects to no database, so it runs outside any VPC. Event: `{ "database": "<name>" }`.
 */
export class VerifyBackupFunction extends Construct {
  public readonly function: DockerImageFunction;

  constructor(scope: Construct, id: string, props: VerifyBackupFunctionProps) {
    super(scope, id);
    this.function = imageFunction(this, 'Function', {
      image: props.image,
      handler: VERIFY_IMAGE_HANDLERS.verifyBackup,
      description: `lifeboat ${props.environment}: verifies logical dumps by restoring them into an ephemeral PostgreSQL`,
      // pg_restore and the ephemeral server share the function's CPU, which grows with memory.
      memorySize: 4096,
      timeout: Duration.minutes(15),
      ephemeralStorageSize: Size.gibibytes(10),
      // Two verifications at once at most: each restores a whole dump.
      reservedConcurrentExecutions: 2,
      logRetention: props.logRetention,
      logKey: props.logKey,
      deadLetterQueue: props.deadLetterQueue,
      environment: {
        [VERIFY_BACKUP_ENV.environment]: props.environment,
        POWERTOOLS_SERVICE_NAME: 'verify-backup',
      },
    });
    // Reads dumps and the catalog; writes nothing but catalog records.
    bindBucket(this.function, props.bucket, 'read', {
      prefixes: [ARTIFACT_PREFIX, CATALOG_PREFIX],
      bucketVariable: VERIFY_BACKUP_ENV.bucket,
      keyVariable: VERIFY_BACKUP_ENV.kmsKeyId,
    });
    grantRepository(this.function.role!, props.bucket, 'append', [CATALOG_PREFIX]);
    // A verification that fails is retried once by Lambda; a second failure goes to the DLQ.
    this.function.configureAsyncInvoke({ retryAttempts: 1, maxEventAge: Duration.hours(6) });
    Validations.of(this.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaInsideVPC',
      reason:
        'Restores into an ephemeral PostgreSQL inside the function and calls only S3, SNS and CloudWatch: it connects to no database, so it needs no VPC.',
    });
  }

  /** The function announces verification.passed / verification.failed on the events topic. */
  bindPublisher(notifications: Notifications): void {
    notifications.bindPublisher(this.function);
  }
}

export interface VerifyTaskProps {
  readonly environment: string;
  /** A `large` database: its newest dump is verified as a Fargate task, in its network. */
  readonly database: Database;
  readonly image: VerifyImage;
  readonly bucket: IBucket;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  /** Task storage: the archive copy and the whole restored database live there. @default 200 GiB */
  readonly ephemeralStorage?: Size;
  /** @default 4096 (4 vCPU: pg_restore -j and the ephemeral server share them) */
  readonly cpu?: number;
  /** @default 16384 */
  readonly memoryMiB?: number;
}

/**
 * Verification of a `large` database's newest dump, which would not restore within Lambda's 15
 * minutes: the verify image's one-shot runner (task-runner.mjs: exit 0 passed, 1 failed, 2 could not
 * verify) as a Fargate task, started by a workflow that counts a passed verification
 * (VerificationPassed, which the verified-age alarms watch). Same access as the function: reads
 * dumps and the catalog, appends catalog records.
 */
export class VerifyTask extends Construct {
  public readonly job: FargateJob;
  public readonly stateMachine: StateMachine;

  constructor(scope: Construct, id: string, props: VerifyTaskProps) {
    super(scope, id);
    const { bucket, database } = props;
    this.job = new FargateJob(this, 'Job', {
      environment: props.environment,
      database,
      what: 'verification of the newest dump',
      taskStateName: 'Verify',
      image: props.image.asset,
      // The image's entry point is the Lambda runtime client; as a task it runs the one-shot runner.
      entryPoint: ['/usr/local/bin/node'],
      command: ['/var/task/task-runner.mjs'],
      containerEnvironment: {
        LIFEBOAT_EVENT: JSON.stringify(verifyBackupEvent(database)),
        [VERIFY_BACKUP_ENV.bucket]: bucket.bucketName,
        ...(bucket.encryptionKey ? { [VERIFY_BACKUP_ENV.kmsKeyId]: bucket.encryptionKey.keyArn } : {}),
        [VERIFY_BACKUP_ENV.environment]: props.environment,
        [VERIFY_BACKUP_ENV.workDir]: '/tmp',
        POWERTOOLS_SERVICE_NAME: 'verify-backup',
      },
      successMetric: METRIC.verificationPassed,
      cpu: props.cpu ?? 4096,
      memoryMiB: props.memoryMiB ?? 16384,
      ephemeralStorage: props.ephemeralStorage ?? Size.gibibytes(200),
      logRetention: props.logRetention,
      ...(props.logKey ? { logKey: props.logKey } : {}),
    });
    this.stateMachine = this.job.stateMachine;
    const taskRole = this.job.taskDefinition.taskRole;
    // Reads dumps and the catalog; writes nothing but catalog records.
    grantRepository(taskRole, bucket, 'read', [ARTIFACT_PREFIX, CATALOG_PREFIX]);
    grantRepository(taskRole, bucket, 'append', [CATALOG_PREFIX]);
    this.job.acknowledgeTaskPolicy();
  }

  /** The task announces verification.passed / verification.failed on the events topic. */
  bindPublisher(notifications: Notifications): void {
    this.job.container.addEnvironment(EVENTS_TOPIC_ENV, notifications.topic.topicArn);
    notifications.grantPublish(this.job.taskDefinition.taskRole);
  }
}
