import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

export interface EncryptedQueueProps {
  readonly key: IKey;
  /** @default Duration.days(14) (the maximum), for a dead-letter queue */
  readonly retentionPeriod?: Duration;
  /** @default Duration.seconds(30) */
  readonly visibilityTimeout?: Duration;
  /** Where messages go after `maxReceiveCount` failed receives. @default - none (this is a DLQ) */
  readonly deadLetter?: { readonly queue: Queue; readonly maxReceiveCount: number };
}

/** An SQS queue encrypted with a customer-managed key that refuses non-TLS requests. */
export function encryptedQueue(scope: Construct, id: string, props: EncryptedQueueProps): Queue {
  return new Queue(scope, id, {
    encryption: QueueEncryption.KMS,
    encryptionMasterKey: props.key,
    enforceSSL: true,
    retentionPeriod: props.retentionPeriod ?? Duration.days(14),
    visibilityTimeout: props.visibilityTimeout,
    deadLetterQueue: props.deadLetter,
    removalPolicy: RemovalPolicy.DESTROY,
  });
}
