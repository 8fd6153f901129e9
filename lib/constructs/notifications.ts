import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { SlackChannelConfiguration } from 'aws-cdk-lib/aws-chatbot';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import {
  type IGrantable,
  type IManagedPolicy,
  ManagedPolicy,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import type { IDestination, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import type { IRule } from 'aws-cdk-lib/aws-events';
import { EmailSubscription, LambdaSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue, Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EVENTS_TOPIC_ENV } from '../../functions/core/notify/events.ts';
import { ENV as NOTIFIER_ENV } from '../../functions/notifier/env.ts';
import { eventsTopicName } from '../naming.ts';
import { acknowledgeOwnPolicy, LifeboatFunction } from './lifeboat-function.ts';
import { encryptedQueue } from './queues.ts';

/** An AWS Chatbot (Amazon Q Developer in chat applications) Slack channel on the events topic. */
export interface ChatbotSlackChannelProps {
  /** The Slack workspace authorised with AWS Chatbot in the console (one-time, by a person). */
  readonly slackWorkspaceId: string;
  /** The channel's ID (the 9+ character code at the end of its link), not its name. */
  readonly slackChannelId: string;
  /**
   * Name of the channel configuration (unique in the account).
   * @default `lifeboat-<environment>-<region>`
   */
  readonly configurationName?: string;
  /**
   * Guardrail policies: the most any channel member may do through Chatbot.
   * @default - the AWS managed `ReadOnlyAccess` (never Chatbot's default, AdministratorAccess)
   */
  readonly guardrailPolicies?: IManagedPolicy[];
}

export interface NotificationsProps {
  /** lifeboat environment (dev, prod ...): names the topic, the notifier's metrics and alarm texts. */
  readonly environment: string;
  /**
   * Key of the topic and the dead-letter queue (the region's operations key). When it is a key of
   * this stack, SNS and CloudWatch are allowed to use it for delivery from this account.
   */
  readonly key: IKey;
  /**
   * Secrets Manager secret with the Slack incoming-webhook URLs, created by hand (the URLs are
   * credentials and never appear in code or templates): JSON `{"default": "https://hooks.slack.com/...",
   * "critical": "...", "warning": "...", "info": "..."}`; only `default` is required.
   */
  readonly slackWebhookSecret: ISecret;
  /**
   * The topic's name.
   * @default `lifeboat-<environment>-events`
   */
  readonly topicName?: string;
  /**
   * Addresses that receive every event as raw JSON by e-mail (each confirms by mail first).
   * @default - none
   */
  readonly emailSubscriptions?: readonly string[];
  /**
   * An AWS Chatbot Slack channel configuration on the same topic.
   * @default - none
   */
  readonly chatbot?: ChatbotSlackChannelProps;
  /**
   * Lambda's asynchronous retries of a failed delivery (minutes apart) before the event goes to the DLQ.
   * @default 2
   */
  readonly maxRetryAttempts?: number;
  /**
   * Oldest event Lambda still tries to deliver (e.g. while throttled) before it goes to the DLQ.
   * @default Duration.hours(6)
   */
  readonly maxEventAge?: Duration;
  /**
   * Where the DLQ alarm is sent. The events topic itself works (e-mail and Chatbot still see it when
   * Slack is what fails), but a separate alarm topic is better still.
   * @default - the events topic
   */
  readonly alarmTopic?: ITopic;
  /**
   * Notifier invocations at once. Few: Slack accepts about one message a second per webhook, and
   * Lambda keeps throttled asynchronous events queued (up to maxEventAge), so a burst is smoothed,
   * not lost.
   * @default 2
   */
  readonly maxConcurrency?: number;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: RetentionDays;
  /**
   * Key of the notifier's log group (its key policy must let CloudWatch Logs use it).
   * @default - CloudWatch Logs' own encryption
   */
  readonly logKey?: IKey;
}

/**
 * The notification path of one environment in one region (flow 7): the KMS-encrypted events topic
 * every function and workflow publishes to; the notifier Lambda that posts each event to Slack; a
 * dead-letter queue for what cannot be delivered — from the SNS subscription (SNS could not invoke
 * the function) and from the function's asynchronous invocation (Slack kept failing after Lambda's
 * retries) — with an alarm as soon as it holds a message; optional e-mail and Chatbot subscribers.
 */
export class Notifications extends Construct {
  public readonly topic: Topic;
  public readonly notifier: LifeboatFunction;
  public readonly deadLetterQueue: Queue;
  /** Messages visible in the DLQ > 0. */
  public readonly alarm: Alarm;
  public readonly chatbot: SlackChannelConfiguration | undefined;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const environment = props.environment;

    this.topic = new Topic(this, 'Topic', {
      topicName: props.topicName ?? eventsTopicName(environment),
      displayName: `lifeboat ${environment} events`,
      masterKey: props.key,
      enforceSSL: true,
    });

    // SNS writes undeliverable messages into the (encrypted) DLQ; it needs the key, from this
    // account only. A key imported from elsewhere ignores this: its owner must grant the same.
    props.key.addToResourcePolicy(
      new PolicyStatement({
        principals: [new ServicePrincipal('sns.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    allowAlarmsToPublish(this.topic, props.key);

    this.deadLetterQueue = encryptedQueue(this, 'DeadLetterQueue', { key: props.key });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the notifications (subscription and notifier).',
    });

    this.notifier = new LifeboatFunction(this, 'Notifier', {
      entry: 'notifier/index.ts',
      description: `lifeboat ${environment}: posts the events of the topic to Slack`,
      memorySize: 256,
      timeout: Duration.seconds(60),
      reservedConcurrentExecutions: props.maxConcurrency ?? 2,
      logRetention: props.logRetention,
      logKey: props.logKey,
      lifeboatEnvironment: environment,
      environment: { [NOTIFIER_ENV.slackSecretArn]: props.slackWebhookSecret.secretArn },
      retryAttempts: props.maxRetryAttempts ?? 2,
      maxEventAge: props.maxEventAge ?? Duration.hours(6),
      onFailure: queueDestination(this.deadLetterQueue),
    });
    // GetSecretValue only (grantRead adds DescribeSecret, which the notifier never calls).
    this.notifier.addToRolePolicy(
      new PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [props.slackWebhookSecret.secretArn],
      }),
    );
    acknowledgeOwnPolicy(this.notifier.role, 'the notifier');
    Validations.of(this.notifier).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'Failed asynchronous invocations go to the on-failure destination (the notifications DLQ), whose record also carries the error; a DeadLetterConfig would only duplicate the event.',
    });

    this.topic.addSubscription(
      new LambdaSubscription(this.notifier, { deadLetterQueue: this.deadLetterQueue }),
    );
    for (const email of props.emailSubscriptions ?? [])
      this.topic.addSubscription(new EmailSubscription(email));

    this.alarm = new Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: `lifeboat ${environment}: notifications could not be delivered to Slack and wait in the notifications dead-letter queue (docs/notifications.md)`,
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 0,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    this.alarm.addAlarmAction(new SnsAction(props.alarmTopic ?? this.topic));

    this.chatbot = props.chatbot
      ? new SlackChannelConfiguration(this, 'Chatbot', {
          slackChannelConfigurationName:
            props.chatbot.configurationName ?? `lifeboat-${environment}-${stack.region}`,
          slackWorkspaceId: props.chatbot.slackWorkspaceId,
          slackChannelId: props.chatbot.slackChannelId,
          notificationTopics: [this.topic],
          guardrailPolicies: props.chatbot.guardrailPolicies ?? [
            ManagedPolicy.fromAwsManagedPolicyName('ReadOnlyAccess'),
          ],
        })
      : undefined;
  }

  /**
   * Lets `grantee` publish events (sns:Publish and the topic key), acknowledging cdk-nag's finding
   * on the key's `kms:GenerateDataKey*` (one key) in the grantee's own policy.
   */
  grantPublish(grantee: IGrantable): void {
    this.topic.grantPublish(grantee);
    acknowledgeKeyWildcards(
      grantee,
      ['kms:GenerateDataKey*'],
      'CDK grant for publishing to the KMS-encrypted events topic; limited to the topic key.',
    );
  }

  /**
   * Lets EventBridge deliver the events of `rule` to the topic (sns:Publish, and the topic key),
   * for that rule only.
   */
  allowRule(rule: IRule): void {
    allowRuleToPublish(this.topic, rule);
  }

  /**
   * Gives a function the topic's ARN in `LIFEBOAT_EVENTS_TOPIC_ARN` and the right to publish, in one
   * call, so the variable and the grant cannot drift apart.
   */
  bindPublisher(fn: LambdaFunction): void {
    fn.addEnvironment(EVENTS_TOPIC_ENV, this.topic.topicArn);
    this.grantPublish(fn);
  }
}

/** AwsSolutions-IAM5 for KMS action wildcards CDK grants write into a role's DefaultPolicy. */
function acknowledgeKeyWildcards(grantee: IGrantable, actions: readonly string[], reason: string): void {
  const principal = grantee.grantPrincipal;
  const policy = principal instanceof Role ? principal.node.tryFindChild('DefaultPolicy') : undefined;
  if (!policy) return;
  Validations.of(policy).acknowledge(
    ...actions.map((action) => ({ id: `AwsSolutions-IAM5[Action::${action}]`, reason })),
  );
}

/**
 * A topic's policy replaces SNS's default one: with only `enforceSSL`'s Deny in it, nothing may
 * publish that is not granted by name. This allows CloudWatch alarms of this account and region
 * (alarm actions, composite alarms) to publish, and the topic key's policy to let CloudWatch use
 * the key for that. Every lifeboat topic an alarm sends to must go through here.
 */
export function allowAlarmsToPublish(topic: Topic, key: IKey | undefined): void {
  const stack = Stack.of(topic);
  const alarms = `arn:${stack.partition}:cloudwatch:${stack.region}:${stack.account}:alarm:*`;
  const conditions = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnLike: { 'aws:SourceArn': alarms },
  };
  topic.addToResourcePolicy(
    new PolicyStatement({
      sid: 'CloudWatchAlarmsPublish',
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions,
    }),
  );
  key?.addToResourcePolicy(
    new PolicyStatement({
      principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions,
    }),
  );
}

/**
 * Lets EventBridge deliver the events of `rule` to `topic`: sns:Publish for that rule only, and the
 * topic key for EventBridge on behalf of that rule.
 */
export function allowRuleToPublish(topic: Topic, rule: IRule): void {
  const stack = Stack.of(topic);
  const conditions = {
    StringEquals: { 'aws:SourceAccount': stack.account },
    ArnEquals: { 'aws:SourceArn': rule.ruleArn },
  };
  topic.addToResourcePolicy(
    new PolicyStatement({
      principals: [new ServicePrincipal('events.amazonaws.com')],
      actions: ['sns:Publish'],
      resources: [topic.topicArn],
      conditions,
    }),
  );
  topic.masterKey?.addToResourcePolicy(
    new PolicyStatement({
      principals: [new ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
      resources: ['*'],
      conditions,
    }),
  );
}

/**
 * Lambda's on-failure destination into an encrypted queue, granting what delivery uses:
 * sqs:SendMessage and the queue key's GenerateDataKey/Decrypt (SqsDestination grants
 * kms:Encrypt and kms:ReEncrypt* too, which SQS never needs from a sender).
 */
export function queueDestination(queue: IQueue): IDestination {
  return {
    bind: (_scope, fn) => {
      fn.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }),
      );
      queue.encryptionMasterKey?.grant(fn.grantPrincipal, 'kms:GenerateDataKey', 'kms:Decrypt');
      return { destination: queue.queueArn };
    },
  };
}
