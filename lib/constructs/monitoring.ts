import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../../functions/core/metrics.ts';
import type { AlarmSettings, NotificationSettings } from '../config/schema.ts';
import { QUOTA_METRIC } from '../function-env.ts';
import type { OperationsKey } from './operations-key.ts';

export interface MonitoringProps {
  readonly environment: string;
  readonly alarms: AlarmSettings;
  readonly notifications: NotificationSettings;
  readonly operationsKey: OperationsKey;
}

/** The manual snapshot quota figure take-snapshot publishes (EMF), per environment. */
export function manualSnapshotQuotaMetric(environment: string): Metric {
  return new Metric({
    namespace: QUOTA_METRIC.namespace,
    metricName: QUOTA_METRIC.metricName,
    dimensionsMap: { [QUOTA_METRIC.dimension]: environment },
    statistic: 'Maximum',
    period: Duration.hours(1),
  });
}

/**
 * The alarm topic of a region (encrypted, TLS only, e-mail subscribers from the configuration)
 * and the alarms that need no workflow: snapshot quota, messages in dead-letter queues.
 */
export class Monitoring extends Construct {
  public readonly topic: Topic;
  public readonly alarms: Alarm[] = [];
  private readonly props: MonitoringProps;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.props = props;
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: `lifeboat ${props.environment} alarms`,
      masterKey: props.operationsKey.key,
      enforceSSL: true,
    });
    props.operationsKey.allowDeliveryBy(new ServicePrincipal('cloudwatch.amazonaws.com'));
    for (const email of props.notifications.emails) this.topic.addSubscription(new EmailSubscription(email));
  }

  /** Alarm when the account's manual snapshot quota is used beyond the configured share. */
  addSnapshotQuotaAlarm(): Alarm {
    return this.register(
      new Alarm(this, 'SnapshotQuotaAlarm', {
        alarmDescription: `lifeboat ${this.props.environment}: manual snapshot quota ${this.props.alarms.snapshotQuotaPercent}% used; snapshots will soon fail with SnapshotQuotaExceeded`,
        metric: manualSnapshotQuotaMetric(this.props.environment),
        threshold: this.props.alarms.snapshotQuotaPercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        // No figure means no snapshot was taken in the hour, not that the quota is fine or full.
        treatMissingData: TreatMissingData.IGNORE,
      }),
    );
  }

  /** Alarm as soon as a dead-letter queue holds a message: something was not backed up or copied. */
  addDeadLetterAlarm(id: string, queue: IQueue, what: string): Alarm {
    return this.register(
      new Alarm(this, id, {
        alarmDescription: `lifeboat ${this.props.environment}: ${what}`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /**
   * "Backup too old": no successful logical backup of `database` for `backupAgeWarnHours`
   * (warning) and `backupAgeCritHours` (critical). Built on the absence of BackupSucceeded, which
   * logical-dump emits once per completed backup: every hour without one is missing data, and
   * missing data counts as breaching.
   */
  addBackupAgeAlarms(database: string): Alarm[] {
    const metric = new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: METRIC.backupSucceeded,
      dimensionsMap: { [DIMENSION.environment]: this.props.environment, [DIMENSION.database]: database },
      statistic: 'Sum',
      period: Duration.hours(1),
    });
    const levels = [
      ['Warning', this.props.alarms.backupAgeWarnHours],
      ['Critical', this.props.alarms.backupAgeCritHours],
    ] as const;
    return levels.map(([severity, hours]) => {
      const periods = Math.ceil(hours);
      return this.register(
        new Alarm(this, `BackupAge${severity}-${database}`, {
          alarmDescription: `lifeboat ${this.props.environment}: ${severity.toUpperCase()}: no completed logical backup of ${database} for ${hours} h`,
          metric,
          threshold: 1,
          comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
          evaluationPeriods: periods,
          datapointsToAlarm: periods,
          treatMissingData: TreatMissingData.BREACHING,
        }),
      );
    });
  }

  /** Alarms on failed, timed-out and throttled executions of a workflow. */
  addWorkflowAlarms(id: string, stateMachine: IStateMachine, what: string): Alarm[] {
    const metrics = {
      Failed: stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      TimedOut: stateMachine.metricTimedOut({ period: Duration.minutes(5), statistic: 'Sum' }),
      Throttled: stateMachine.metricThrottled({ period: Duration.minutes(5), statistic: 'Sum' }),
    };
    return Object.entries(metrics).map(([outcome, metric]) =>
      this.register(
        new Alarm(this, `${id}${outcome}`, {
          alarmDescription: `lifeboat ${this.props.environment}: ${what}: execution ${outcome.toLowerCase()}`,
          metric,
          threshold: 1,
          comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: TreatMissingData.NOT_BREACHING,
        }),
      ),
    );
  }

  private register(alarm: Alarm): Alarm {
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }
}
