import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { type IPrincipal, PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface OperationsKeyProps {
  readonly environment: string;
}

/**
 * The key of a region's operational data: log groups, queues, the alarm topic. Kept apart from the
 * backup key, so the services that write logs and messages never hold a grant on backup data.
 */
export class OperationsKey extends Construct {
  public readonly key: Key;

  constructor(scope: Construct, id: string, props: OperationsKeyProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.key = new Key(this, 'Key', {
      description: `lifeboat ${props.environment}: logs, queues and notifications in ${stack.region}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // CloudWatch Logs may use the key for the log groups of this account and region only.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*`,
          },
        },
      }),
    );
  }

  /**
   * Lets an AWS service that delivers into encrypted queues or topics (EventBridge, CloudWatch
   * alarms) use the key for that, from this account only.
   */
  allowDeliveryBy(service: IPrincipal & ServicePrincipal): void {
    const stack = Stack.of(this);
    this.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [service],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
  }
}
