import { Duration, Validations } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { CATALOG_PREFIX } from '../../../functions/core/catalog/catalog.ts';
import { WF_ENV } from '../../../functions/wf-common/env.ts';
import type { EnvironmentConfig } from '../../config/schema.ts';
import { bindBucket, LifeboatFunction } from '../lifeboat-function.ts';
import type { ImportedNetwork } from '../logical-dump.ts';

export interface WorkflowsBaseProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** The backup repository of this region (catalog and dumps). */
  readonly bucket: IBucket;
  /** The topic the workflows publish their events to (lifeboat's events topic, or the alarm topic). */
  readonly notificationTopic: ITopic;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey;
}

/** Which region of the environment a construct is deployed in. */
export type RegionRole = 'primary' | 'dr';

/** The common shape of every workflow task function: a LifeboatFunction Step Functions invokes. */
export function taskFunction(
  scope: Construct,
  id: string,
  props: {
    readonly entry: string;
    readonly description: string;
    readonly base: WorkflowsBaseProps;
    readonly timeout?: Duration;
    readonly memorySize?: number;
    readonly network?: ImportedNetwork;
    readonly environment?: Record<string, string>;
  },
): LifeboatFunction {
  const fn = new LifeboatFunction(scope, id, {
    entry: props.entry,
    description: `lifeboat ${props.base.environment}: ${props.description}`,
    timeout: props.timeout ?? Duration.minutes(2),
    memorySize: props.memorySize ?? 512,
    ...(props.network
      ? {
          vpc: props.network.vpc,
          vpcSubnets: props.network.subnets,
          securityGroups: [props.network.securityGroup],
        }
      : {}),
    environment: props.environment,
  });
  acknowledgeSynchronous(fn);
  return fn;
}

/** NIST Lambda findings that do not apply to a function only ever invoked synchronously by a workflow. */
export function acknowledgeSynchronous(fn: LambdaFunction): void {
  Validations.of(fn).acknowledge(
    {
      id: 'NIST.800.53.R5-LambdaConcurrency',
      reason:
        'Invoked synchronously by a restore/failover workflow: a concurrency cap would throttle a recovery step (Lambda.TooManyRequestsException is not retried), and a few run at a time.',
    },
    {
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'Invoked synchronously by Step Functions: a failure is the task error the workflow catches, reports and cleans up after; nothing is ever queued.',
    },
  );
}

/** The catalog (`catalog/`) of the repository: read it, or also add records. */
export function grantCatalog(fn: LambdaFunction, bucket: IBucket, access: 'read' | 'append'): void {
  bindBucket(fn, bucket, access, {
    prefixes: [CATALOG_PREFIX],
    bucketVariable: WF_ENV.bucket,
    keyVariable: null,
  });
}

/**
 * What every workflow construct of state-machines/ is given: the stack's Monitoring alarms on
 * every workflow (watchStack), in one place, so the constructs create none.
 */
export function stateMachineProps(base: WorkflowsBaseProps) {
  return {
    environment: base.environment,
    notificationTopic: base.notificationTopic,
    createAlarms: false,
    logRetention: base.logRetention,
    logKey: base.logKey,
  };
}
