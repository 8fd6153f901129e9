import { type Duration, Size } from 'aws-cdk-lib';
import type { Cluster, ContainerDefinition, FargateTaskDefinition } from 'aws-cdk-lib/aws-ecs';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { EVENTS_TOPIC_ENV } from '../../functions/core/notify/events.ts';
import { METRIC } from '../../functions/core/shared/metrics.ts';
import type { Database, Policy } from '../config/schema.ts';
import { dumpEvent } from '../events.ts';
import { LOGICAL_DUMP_ENV } from '../function-env.ts';
import { REPOSITORY_PREFIXES } from '../naming.ts';
import { FargateJob } from './fargate-job.ts';
import { grantRepository } from './lifeboat-function.ts';
import { type DumpImage, grantSecret } from './logical-dump.ts';
import type { Notifications } from './notifications.ts';

export interface DumpTaskProps {
  readonly environment: string;
  readonly database: Database;
  /** The database's policy: its dump compression goes into the task's event. @default - zstd:2 */
  readonly policy?: Pick<Policy, 'compression'> | undefined;
  readonly image: DumpImage;
  readonly bucket: IBucket;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  /**
   * Fargate task size.
   * @default 2 vCPU, 4 GiB (pg_dump -Fd -j 2; zstd compresses each file beside its worker)
   */
  readonly cpu?: number;
  /** @default 4096 */
  readonly memoryMiB?: number;
  /**
   * Task storage: a directory dump (`pg_dump -Fd -j N`) writes each table's file here and deletes it
   * once stored, so this bounds the N largest tables' uncompressed data in flight.
   * @default Size.gibibytes(200) (Fargate's most)
   */
  readonly ephemeralStorage?: Size;
  /**
   * Longest a dump may run before the workflow gives up and stops the task.
   * @default Duration.hours(12)
   */
  readonly timeout?: Duration;
}

/**
 * The logical dump of a `large` database: the logical-dump image run as a one-shot Fargate task
 * (no 15-minute limit) by a small state machine that waits for it (`.sync`) and counts a
 * completed dump (BackupSucceeded). The task reads the same event as the Lambda function, from
 * LIFEBOAT_EVENT, and has the same access: this database's secret and the backup repository.
 */
export class DumpTask extends Construct {
  public readonly job: FargateJob;
  public readonly cluster: Cluster;
  public readonly taskDefinition: FargateTaskDefinition;
  public readonly stateMachine: StateMachine;
  public readonly logGroup: LogGroup;
  /** The dump container of the task definition. */
  public readonly container: ContainerDefinition;

  constructor(scope: Construct, id: string, props: DumpTaskProps) {
    super(scope, id);
    const { database } = props;
    this.job = new FargateJob(this, 'Job', {
      environment: props.environment,
      database,
      what: 'logical dump',
      taskStateName: 'Dump',
      image: props.image.asset,
      // The image's entrypoint is the Lambda runtime; as a task it runs the one-shot runner.
      entryPoint: ['/var/lang/bin/node'],
      command: ['/var/task/task-runner.mjs'],
      containerEnvironment: {
        LIFEBOAT_EVENT: JSON.stringify(dumpEvent(database, props.policy)),
        [LOGICAL_DUMP_ENV.bucket]: props.bucket.bucketName,
        ...(props.bucket.encryptionKey
          ? { [LOGICAL_DUMP_ENV.kmsKeyId]: props.bucket.encryptionKey.keyArn }
          : {}),
        [LOGICAL_DUMP_ENV.environment]: props.environment,
        POWERTOOLS_SERVICE_NAME: 'logical-dump',
      },
      successMetric: METRIC.backupSucceeded,
      logRetention: props.logRetention,
      ...(props.logKey ? { logKey: props.logKey } : {}),
      ...(props.cpu ? { cpu: props.cpu } : {}),
      ...(props.memoryMiB ? { memoryMiB: props.memoryMiB } : {}),
      ...(props.timeout ? { timeout: props.timeout } : {}),
      ephemeralStorage: props.ephemeralStorage ?? Size.gibibytes(200),
    });
    ({
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      stateMachine: this.stateMachine,
      logGroup: this.logGroup,
      container: this.container,
    } = this.job);
    const taskRole = this.taskDefinition.taskRole;
    grantRepository(taskRole, props.bucket, 'readwrite', REPOSITORY_PREFIXES);
    grantSecret(this, database, taskRole);
    this.job.acknowledgeTaskPolicy();
  }

  /** The task announces its outcome on the events topic, as the Lambda dump does. */
  bindPublisher(notifications: Notifications): void {
    this.container.addEnvironment(EVENTS_TOPIC_ENV, notifications.topic.topicArn);
    notifications.grantPublish(this.taskDefinition.taskRole);
  }
}
