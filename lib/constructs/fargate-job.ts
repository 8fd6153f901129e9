import type { Size } from 'aws-cdk-lib';
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import type { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
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
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JsonPath,
  LogLevel,
  StateMachine,
} from 'aws-cdk-lib/aws-stepfunctions';
import { CallAwsService, EcsFargateLaunchTarget, EcsRunTask } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { DIMENSION, type METRIC, METRICS_NAMESPACE } from '../../functions/core/shared/metrics.ts';
import type { Database } from '../config/schema.ts';
import { acknowledgeOwnPolicy, acknowledgeWildcardResources } from './lifeboat-function.ts';
import { DUMP_ARCHITECTURE, importNetwork } from './logical-dump.ts';

export interface FargateJobProps {
  readonly environment: string;
  /** The database the job is about: its network (VPC, subnets, security group) runs the task. */
  readonly database: Database;
  /** What the job does, for descriptions: "logical dump", "verification of the newest dump". */
  readonly what: string;
  /** Name of the ECS task state (and of the container). */
  readonly taskStateName: string;
  readonly image: DockerImageAsset;
  /** The image's one-shot runner: entry point and command of the container. */
  readonly entryPoint: string[];
  readonly command: string[];
  readonly containerEnvironment: Record<string, string>;
  /** The metric (Environment, Database) the workflow puts when the task succeeds. */
  readonly successMetric: (typeof METRIC)[keyof typeof METRIC];
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
  /** @default 2048 (2 vCPU) */
  readonly cpu?: number;
  /** @default 4096 */
  readonly memoryMiB?: number;
  /** Task storage beyond Fargate's 20 GiB default. @default - 20 GiB */
  readonly ephemeralStorage?: Size;
  /** @default Duration.hours(12) */
  readonly timeout?: Duration;
}

/**
 * A job that outgrows Lambda's 15 minutes: an image of the project run as a one-shot Fargate task
 * by a small state machine that waits for it (`.sync`) and, when the task succeeds, puts the job's
 * success metric. (Through the awslogs driver the task's own EMF lines do not become metrics, and
 * the age alarms watch that metric.) A task that fails fails the execution: the workflow alarms
 * catch it. Grants to the task role are the caller's.
 */
export class FargateJob extends Construct {
  public readonly cluster: Cluster;
  public readonly taskDefinition: FargateTaskDefinition;
  public readonly container: ContainerDefinition;
  public readonly stateMachine: StateMachine;
  public readonly logGroup: LogGroup;

  private readonly what: string;

  constructor(scope: Construct, id: string, props: FargateJobProps) {
    super(scope, id);
    this.what = `${props.what} task of ${props.database.name}`;
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
      ...(props.ephemeralStorage ? { ephemeralStorageGiB: props.ephemeralStorage.toGibibytes() } : {}),
      runtimePlatform: {
        cpuArchitecture:
          DUMP_ARCHITECTURE === Architecture.ARM_64 ? CpuArchitecture.ARM64 : CpuArchitecture.X86_64,
        operatingSystemFamily: OperatingSystemFamily.LINUX,
      },
    });
    this.container = this.taskDefinition.addContainer(props.taskStateName.toLowerCase(), {
      image: ContainerImage.fromDockerImageAsset(props.image),
      entryPoint: props.entryPoint,
      command: props.command,
      essential: true,
      readonlyRootFilesystem: false,
      logging: LogDrivers.awsLogs({ streamPrefix: database.name, logGroup: this.logGroup }),
      environment: {
        ...props.containerEnvironment,
        // Lambda sets the region for the SDK; a task states it, whatever the platform provides.
        AWS_REGION: stack.region,
      },
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'Only non-secret settings (bucket, key ARN, database name, secret ARN); a password is read from Secrets Manager at run time.',
    });
    acknowledgeOwnPolicy(
      this.taskDefinition.executionRole,
      `task execution of the ${props.what} of ${database.name}`,
    );

    const run = new EcsRunTask(this, props.taskStateName, {
      integrationPattern: IntegrationPattern.RUN_JOB,
      cluster: this.cluster,
      taskDefinition: this.taskDefinition,
      launchTarget: new EcsFargateLaunchTarget({ platformVersion: FargatePlatformVersion.LATEST }),
      subnets: network.subnets,
      securityGroups: [network.securityGroup],
      assignPublicIp: false,
      resultSelector: { 'stoppedReason.$': '$.StoppedReason', 'containers.$': '$.Containers[*].ExitCode' },
    });
    // Capacity shortfalls are worth another try; a failed job is not (it reports why).
    run.addRetry({
      errors: ['ECS.AmazonECSException'],
      interval: Duration.minutes(1),
      maxAttempts: 3,
      backoffRate: 2,
    });

    const succeeded = new CallAwsService(this, 'CountSuccess', {
      service: 'cloudwatch',
      action: 'putMetricData',
      parameters: {
        Namespace: METRICS_NAMESPACE,
        MetricData: [
          {
            MetricName: props.successMetric,
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
      comment: `lifeboat ${props.environment}: ${props.what} of ${database.name} as a Fargate task`,
      // Whatever Step Functions makes of a non-zero exit code, only exit code 0 counts as success.
      definitionBody: DefinitionBody.fromChainable(
        run.next(
          new Choice(this, 'ExitedCleanly')
            .when(Condition.numberEquals('$.containers[0]', 0), succeeded)
            .otherwise(
              new Fail(this, 'JobFailed', {
                error: 'JobFailed',
                // The exit codes are in the state's input, in the execution history.
                causePath: '$.stoppedReason',
              }),
            ),
        ),
      ),
      timeout: props.timeout ?? Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: workflowLogs, level: LogLevel.ALL, includeExecutionData: true },
    });
    acknowledgeOwnPolicy(this.stateMachine.role, `${props.what} workflow of ${database.name}`);
    const policy = this.stateMachine.role.node.findChild('DefaultPolicy') as Policy;
    Validations.of(policy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery and X-Ray, ecs:StopTask/DescribeTasks of the task it started, and cloudwatch:PutMetricData (Lifeboat namespace only) take no resource ARN.',
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
        reason: 'ecr:GetAuthorizationToken (pulling the image) takes no resource ARN.',
      });
    }
  }

  /** Call after granting the task role what the job needs (the grants create its policy). */
  acknowledgeTaskPolicy(): void {
    acknowledgeOwnPolicy(this.taskDefinition.taskRole, this.what);
  }
}
