import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { type IRule, type IRuleTarget, Rule, type RuleTargetConfig } from 'aws-cdk-lib/aws-events';
import { addToDeadLetterQueueResourcePolicy, bindBaseTargetConfig } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { SNAPSHOT_DETAIL_TYPES } from '../../functions/core/snapshots/copy-snapshot.ts';
import type { Database, SnapshotCopySettings } from '../config/schema.ts';
import { COPY_SNAPSHOT_ENV } from '../function-env.ts';
import { aliasArn, backupKeyAlias, SNAPSHOT_PREFIX } from '../naming.ts';
import { bindBucket, LifeboatFunction, nagResource } from './lifeboat-function.ts';
import type { OperationsKey } from './operations-key.ts';
import { encryptedQueue } from './queues.ts';
import { RdsArns } from './rds-arns.ts';
import { CATALOG_PREFIX } from '../../functions/core/contracts/index.ts';

/** Seconds a waiting copy's message stays invisible before the handler looks again. */
const RECHECK_AFTER = Duration.minutes(10);

export interface CopySnapshotProps {
  readonly environment: string;
  readonly drRegion: string;
  readonly settings: SnapshotCopySettings;
  /** Kinds of snapshots lifeboat takes (decides which copy actions the role gets). */
  readonly databases: readonly Database[];
  /**
   * Databases are also found at run time by tag (config `discovery`): their storage keys are not
   * known at synth, so the source-region grant covers the region's keys, through RDS only.
   * @default false
   */
  readonly discovery?: boolean;
  readonly bucket: IBucket;
  readonly operationsKey: OperationsKey;
}

/**
 * Cross-region copies: RDS snapshot events of `lifeboat-` snapshots go through EventBridge into an
 * SQS queue; copy-snapshot starts a copy into the DR region (encrypted with the DR backup key) or
 * reports the message as a batch item failure, so SQS hands it back after RECHECK_AFTER — that is
 * how copies wait for their source, for their turn under the in-flight limit, and for completion
 * (to be cataloged). After `maxWaitHours` of waiting a message goes to the dead-letter queue.
 */
export class CopySnapshot extends Construct {
  public readonly function: LifeboatFunction;
  public readonly queue: Queue;
  public readonly deadLetterQueue: Queue;
  public readonly rule: Rule;

  constructor(scope: Construct, id: string, props: CopySnapshotProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const key = props.operationsKey.key;
    const timeout = Duration.minutes(1);

    this.deadLetterQueue = encryptedQueue(this, 'DeadLetterQueue', { key });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter queue of the copy queue.',
    });
    this.queue = encryptedQueue(this, 'Queue', {
      key,
      visibilityTimeout: RECHECK_AFTER,
      deadLetter: {
        queue: this.deadLetterQueue,
        // Every wait is one receive: this many receives cover maxWaitHours.
        maxReceiveCount: Math.ceil((props.settings.maxWaitHours * 60) / RECHECK_AFTER.toMinutes()),
      },
    });

    props.operationsKey.allowDeliveryBy(new ServicePrincipal('events.amazonaws.com'));
    this.rule = new Rule(this, 'SnapshotEvents', {
      description: `lifeboat ${props.environment}: lifeboat snapshot events to the copy queue`,
      eventPattern: {
        source: ['aws.rds'],
        // The detail types copy-snapshot parses, from its own module.
        detailType: [...SNAPSHOT_DETAIL_TYPES],
        detail: { SourceIdentifier: [{ prefix: SNAPSHOT_PREFIX }] },
      },
      targets: [new RuleScopedQueue(this.queue, this.deadLetterQueue)],
    });

    const drKeyAlias = aliasArn(
      { environment: props.environment, account: stack.account, region: props.drRegion },
      backupKeyAlias(props.environment),
    );
    this.function = new LifeboatFunction(this, 'Function', {
      entry: 'copy-snapshot/index.ts',
      description: `lifeboat ${props.environment}: copies lifeboat snapshots to ${props.drRegion}`,
      timeout,
      // Two at most, so counting the copies in flight stays close to the truth.
      reservedConcurrentExecutions: 2,
      environment: {
        [COPY_SNAPSHOT_ENV.drRegion]: props.drRegion,
        // RDS accepts an alias ARN for the copy's key; the key id itself is not known at synth.
        [COPY_SNAPSHOT_ENV.drKmsKeyArn]: drKeyAlias,
        [COPY_SNAPSHOT_ENV.maxInFlightCopies]: String(props.settings.maxInFlight),
      },
    });
    // Invoked synchronously by the event source mapping: failures return to the queue and its DLQ.
    Validations.of(this.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason: 'Invoked only by its SQS event source; failed messages go to the queue dead-letter queue.',
    });
    this.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 2 }),
    );
    bindBucket(this.function, props.bucket, 'append', {
      prefixes: [CATALOG_PREFIX],
      bucketVariable: COPY_SNAPSHOT_ENV.bucket,
      keyVariable: null,
    });
    this.grantCopies(props);
  }

  private grantCopies(props: CopySnapshotProps): void {
    const stack = Stack.of(this);
    const source = new RdsArns(this);
    const dr = new RdsArns(this, props.drRegion);
    const kinds = [...new Set(props.databases.map((db) => db.kind))];
    const fn = this.function;
    for (const kind of kinds) {
      const copy = kind === 'instance' ? 'rds:CopyDBSnapshot' : 'rds:CopyDBClusterSnapshot';
      const describe = kind === 'instance' ? 'rds:DescribeDBSnapshots' : 'rds:DescribeDBClusterSnapshots';
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: [copy],
          resources: [source.lifeboatSnapshots(kind), dr.lifeboatSnapshots(kind)],
        }),
      );
      fn.addToRolePolicy(
        new PolicyStatement({ actions: ['rds:AddTagsToResource'], resources: [dr.lifeboatSnapshots(kind)] }),
      );
      // Counting copies in flight lists the DR region's manual snapshots: a list call, which RDS
      // authorizes against `*`. It returns metadata only.
      fn.addToRolePolicy(new PolicyStatement({ actions: [describe], resources: ['*'] }));
    }
    // RDS uses grants on the source snapshot's key and on the DR key, on the caller's behalf. The
    // source key is the database's storage key (config storageKmsKeyArn); a database without one
    // uses aws/rds, whose key policy already lets the account use it through RDS.
    const anyRegionKey = `arn:${stack.partition}:kms:${stack.region}:${stack.account}:key/*`;
    const sourceKeys = props.discovery
      ? [anyRegionKey]
      : [...new Set(props.databases.flatMap((db) => db.storageKmsKeyArn ?? []))];
    // kms:GrantIsForAWSResource exists on CreateGrant only: DescribeKey gets its own statement,
    // or the condition (absent from its request) would refuse it.
    const keyStatements = (keys: string[], region: string, extra: Record<string, unknown> = {}) => [
      new PolicyStatement({
        actions: ['kms:DescribeKey'],
        resources: keys,
        conditions: { StringEquals: { 'kms:ViaService': `rds.${region}.amazonaws.com` }, ...extra },
      }),
      new PolicyStatement({
        actions: ['kms:CreateGrant'],
        resources: keys,
        conditions: {
          StringEquals: { 'kms:ViaService': `rds.${region}.amazonaws.com` },
          Bool: { 'kms:GrantIsForAWSResource': 'true' },
          ...extra,
        },
      }),
    ];
    if (sourceKeys.length > 0) {
      for (const st of keyStatements(sourceKeys, stack.region)) fn.addToRolePolicy(st);
    }
    // The DR backup key, matched by its alias (its id is not known at synth).
    for (const st of keyStatements(
      [`arn:${stack.partition}:kms:${props.drRegion}:${stack.account}:key/*`],
      props.drRegion,
      { 'ForAnyValue:StringEquals': { 'kms:ResourceAliases': backupKeyAlias(props.environment) } },
    )) {
      fn.addToRolePolicy(st);
    }

    const policy = fn.role!.node.findChild('DefaultPolicy');
    const acknowledge = (resource: string, reason: string) =>
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(stack, resource)}]`,
        reason,
      });
    for (const kind of kinds) {
      for (const arns of [source, dr]) {
        acknowledge(
          arns.lifeboatSnapshots(kind),
          'Snapshot names come from database and slot at run time; all start with lifeboat-.',
        );
      }
    }
    if (props.discovery) {
      acknowledge(
        `arn:${stack.partition}:kms:${stack.region}:${stack.account}:key/*`,
        'Databases found by tag at run time bring their own storage keys, unknown at synth; usable only through RDS (kms:ViaService) for AWS resources (kms:GrantIsForAWSResource).',
      );
    }
    acknowledge(
      `arn:${stack.partition}:kms:${props.drRegion}:${stack.account}:key/*`,
      'The DR backup key is matched by its alias (kms:ResourceAliases) and only through RDS; its id is not known at synth.',
    );
  }
}

/**
 * A queue as the target of one rule, which alone may send to it. CDK's SqsQueue target leaves an
 * encrypted queue's grant to `events.amazonaws.com` without any condition (it drops aws:SourceArn
 * for encrypted queues, against a dependency cycle through the queue's key that the shared
 * operations key does not have): every rule of every account could fill the copy queue. The key
 * side is the operations key's `allowDeliveryBy` (this account's EventBridge only).
 */
class RuleScopedQueue implements IRuleTarget {
  constructor(
    private readonly queue: IQueue,
    private readonly deadLetterQueue: IQueue,
  ) {}

  bind(rule: IRule): RuleTargetConfig {
    this.queue.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('events.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: { ArnEquals: { 'aws:SourceArn': rule.ruleArn } },
      }),
    );
    // The rule's dead-letter queue accepts this rule's undeliverable events (scoped by CDK likewise).
    addToDeadLetterQueueResourcePolicy(rule, this.deadLetterQueue);
    return {
      ...bindBaseTargetConfig({ deadLetterQueue: this.deadLetterQueue }),
      arn: this.queue.queueArn,
      targetResource: this.queue,
    };
  }
}
