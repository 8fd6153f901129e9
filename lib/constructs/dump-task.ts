import { Duration, Stack, Validations } from 'aws-cdk-lib';
import {
  type CfnTaskDefinition,
  Cluster,
  type ContainerDefinition,
  ContainerImage,
  ContainerInsights,
  CpuArchitecture,
  FargatePlatformVersion,
  FargateTaskDefinition,
  LogDrivers,
  OperatingSystemFamily,
} from 'aws-cdk-lib/aws-ecs';
import type { Policy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  DefinitionBody,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  StateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, EcsFargateLaunchTarget, EcsRunTask } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EVENTS_TOPIC_ENV } from '../../functions/core/events.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../../functions/core/metrics.ts';
import type { Database } from '../config/schema.ts';
import { dumpEvent } from '../events.ts';
import { LOGICAL_DUMP_ENV } from '../function-env.ts';
import { REPOSITORY_PREFIXES } from '../naming.ts';
import { acknowledgeOwnPolicy, acknowledgeWildcardResources, grantRepository } from './lifeboat-function.ts';
import { DUMP_ARCHITECTURE, type DumpImage, grantSecret, importNetwork } from './logical-dump.ts';
import type { Notifications } from './notifications.ts';

export interface DumpTaskProps {
  readonly environment: string;
  readonly database: Database;
  readonly image: DumpImage;
  readonly bucket: IBucket;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  /**
   * Fargate task size.
   * @default 2 vCPU, 4 GiB (pg_dump compresses on one core; the rest is I/O)
   */
  readonly cpu?: number;
  /** @default 4096 */
  readonly memoryMiB?: number;
  /**
   * Longest a dump may run before the workflow gives up and stops the task.
   * @default Duration.hours(12)
   */
  readonly timeout?: Duration;
}

/**
 * The logical dump of a `large` database: the logical-dump image run as a one-shot Fargate task
 * (no 15-minute limit) by a small state machine that waits for it (`.sync`). The task reads the
 * same event as the Lambda function, from LIFEBOAT_EVENT, and has the same access: this
 * database's secret and the backup repository.
 */
export class DumpTask extends Construct {
  public readonly cluster: Cluster;
  public readonly taskDefinition: FargateTaskDefinition;
  public readonly stateMachine: StateMachine;
  public readonly logGroup: LogGroup;
  /** The dump container of the task definition. */
  public readonly container: ContainerDefinition;

  constructor(scope: Construct, id: string, props: DumpTaskProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { database } = props;
    const network = importNetwork(this, database);
    this.logGroup = new LogGroup(this, 'LogGroup', {
      retention: props.logRetention,
      encryptionKey: props.logKey,
    });

    this.cluster = new Cluster(this, 'Cluster', {
      vpc: network.vpc,
      containerInsightsV2: ContainerInsights.ENABLED,
    });
    this.taskDefinition = new FargateTaskDefinition(this, 'TaskDefinition', {
      cpu: props.cpu ?? 2048,
      memoryLimitMiB: props.memoryMiB ?? 4096,
      runtimePlatform: {
        cpuArchitecture:
          DUMP_ARCHITECTURE === Architecture.ARM_64 ? CpuArchitecture.ARM64 : CpuArchitecture.X86_64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    const event = dumpEvent(database);
    this.container = this.taskDefinition.addContainer('dump', {
      image: ContainerImage.fromDockerImageAsset(props.image.asset),
      // The image's entrypoint is the Lambda runtime; as a task it runs the one-shot runner.
      entryPoint: ['/var/lang/bin/node'],
      command: ['/var/task/task-runner.mjs'],
      essential: true,
      readonlyRootFilesystem: false,
      logging: LogDrivers.awsLogs({ streamPrefix: database.name, logGroup: this.logGroup }),
      environment: {
        LIFEBOAT_EVENT: JSON.stringify(event),
        [LOGICAL_DUMP_ENV.bucket]: props.bucket.bucketName,
        ...(props.bucket.encryptionKey
          ? { [LOGICAL_DUMP_ENV.kmsKeyId]: props.bucket.encryptionKey.keyArn }
          : {}),
        [LOGICAL_DUMP_ENV.environment]: props.environment,
        POWERTOOLS_SERVICE_NAME: 'logical-dump',
        // Lambda sets the region for the SDK; a task states it, whatever the platform provides.
        AWS_REGION: stack.region,
      },
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'Only non-secret settings (bucket, key ARN, database name, secret ARN); the password is read from Secrets Manager at run time.',
    });
    const taskRole = this.taskDefinition.taskRole;
    grantRepository(taskRole, props.bucket, 'readwrite', REPOSITORY_PREFIXES);
    grantSecret(this, database, taskRole);
    acknowledgeOwnPolicy(taskRole, `dump task of ${database.name}`);
    acknowledgeOwnPolicy(this.taskDefinition.executionRole, `task execution of the dump of ${database.name}`);

    const run = new EcsRunTask(this, 'Dump', {
      integrationPattern: IntegrationPattern.RUN_JOB,
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      launchTarget: new EcsFargateLaunchTarget({ platformVersion: FargatePlatformVersion.LATEST }),
      subnets: network.subnets,
      securityGroups: [network.securityGroup],
      assignPublicIp: false,
      taskTimeout: undefined,
      resultSelector: { 'stoppedReason.$': '$.StoppedReason', 'containers.$': '$.Containers[*].ExitCode' },
    });
    // Capacity shortfalls are worth another try; a failed dump is not (it reports why).
    run.addRetry({
      errors: ['ECS.AmazonECSException'],
      interval: Duration.minutes(1),
      maxAttempts: 3,
      backoffRate: 2,
    });

    // The task's own metric log lines (EMF) are not turned into metrics when they arrive through
    // the awslogs driver, so the workflow reports the completed dump: the backup-age alarms of a
    // large database watch this figure, as they watch the Lambda dump's.
    const succeeded = new CallAwsService(this, 'CountCompletedDump', {
      service: 'cloudwatch',
      action: 'putMetricData',
      parameters: {
        Namespace: METRICS_NAMESPACE,
        MetricData: [
          {
            MetricName: METRIC.backupSucceeded,
            Value: 1,
            Unit: 'Count',
            Dimensions: [
              { Name: DIMENSION.environment, Value: props.environment },
              { Name: DIMENSION.database, Value: database.name },
            ],
          },
        ],
      },
      // PutMetricData has no resource ARN; the condition below keeps it to lifeboat's namespace.
      iamResources: ['*'],
      resultPath: JsonPath.DISCARD,
    });
    // CallAwsService builds its statement without conditions: add the namespace condition to it.
    const [metricStatement] = (succeeded as unknown as { taskPolicies: PolicyStatement[] }).taskPolicies;
    metricStatement!.addCondition('StringEquals', { 'cloudwatch:namespace': METRICS_NAMESPACE });
    succeeded.addRetry({
      errors: ['States.ALL'],
      interval: Duration.seconds(5),
      maxAttempts: 3,
      backoffRate: 2,
    });

    const workflowLogs = new LogGroup(this, 'WorkflowLogGroup', {
      retention: props.logRetention,
      encryptionKey: props.logKey,
    });
    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: `lifeboat ${props.environment}: logical dump of ${database.name} as a Fargate task`,
      definitionBody: DefinitionBody.fromChainable(run.next(succeeded)),
      timeout: props.timeout ?? Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: workflowLogs, level: LogLevel.ALL, includeExecutionData: true },
    });
    acknowledgeOwnPolicy(this.stateMachine.role, `dump workflow of ${database.name}`);
    const policy = this.stateMachine.role.node.findChild('DefaultPolicy') as Policy;
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery and X-Ray, and ecs:StopTask/DescribeTasks of the task it started, take no resource ARN.',
    });
    acknowledgeWildcardResources(
      policy,
      (rendered) =>
        rendered.endsWith(':*') &&
        rendered.includes(stack.getLogicalId(this.taskDefinition.node.defaultChild as CfnTaskDefinition)),
      'RunTask of any revision of this task definition.',
    );
    const executionPolicy = this.taskDefinition.executionRole?.node.tryFindChild('DefaultPolicy');
    if (executionPolicy) {
      Validations.of(executionPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken (pulling the dump image) takes no resource ARN.',
      });
    }
  }

  /** The task announces its outcome on the events topic, as the Lambda dump does. */
  bindPublisher(notifications: Notifications): void {
    this.container.addEnvironment(EVENTS_TOPIC_ENV, notifications.topic.topicArn);
    notifications.grantPublish(this.taskDefinition.taskRole);
  }
}
