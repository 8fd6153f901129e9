import { Validations } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { OperationsKey } from '../operations-key.ts';
import { encryptedQueue } from '../queues.ts';

/**
 * Where alarm events that could not start a failover go: `given`, or a queue of `scope` encrypted
 * with the operations key. Either way EventBridge may deliver into the encrypted queue.
 */
export function alarmDeadLetterQueue(
  scope: Construct,
  id: string,
  operationsKey: OperationsKey,
  given?: IQueue,
): IQueue {
  let queue = given;
  if (!queue) {
    const own = encryptedQueue(scope, id, { key: operationsKey.key });
    Validations.of(own).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the alarm-started failovers.',
    });
    queue = own;
  }
  // EventBridge delivers undeliverable events into the encrypted queue.
  operationsKey.allowDeliveryBy(new ServicePrincipal('events.amazonaws.com'));
  return queue;
}
