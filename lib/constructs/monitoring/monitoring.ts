import { AspectPriority, Aspects, Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IAlarm, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { type ITopic, Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';
import { ENVIRONMENT_METRIC, METRIC } from '../../../functions/core/shared/metrics.ts';
import type { AlarmSettings, NotificationSettings } from '../../config/schema.ts';
import type { AlarmSeverity } from '../../naming.ts';
import { allowAlarmsToPublish } from '../notifications.ts';
import type { OperationsKey } from '../operations-key.ts';
import { absence, anyOccurrence, databaseAlarmName, REPLICA_LAG_EVALUATION } from './alarms.ts';
import {
  environmentMetric,
  lifeboatMetric,
  manualSnapshotQuotaMetric,
  type ReplicaLagSource,
  replicaLagMetric,
} from './metrics.ts';
import { WatchStack } from './watch-stack.ts';

export interface MonitoringProps {
  readonly environment: string;
  readonly alarms: AlarmSettings;
  /** Its `emails` subscribe to the alarm topic when this construct creates one. */
  readonly notifications: NotificationSettings;
  readonly operationsKey: OperationsKey;
  /**
   * The region's events topic (the `Notifications` construct): alarms go there, so the notifier
   * posts them to Slack and its subscribers see them — one topic per environment and region.
   * @default - a topic of this construct, encrypted with the operations key, with `emails` subscribed
   */
  readonly topic?: ITopic;
}

/** A function or workflow the stack's alarms and dashboard cover. */
export interface Watched<T> {
  readonly construct: T;
  /** Its path in the stack, e.g. `TakeSnapshot/Function`: how alarms and graphs name it. */
  readonly label: string;
}

/**
 * The alarms of one stack (one environment in one region), each sending ALARM and OK to the
 * region's topic. Per database: backup age, verified age, replica lag (DR stack), warning and
 * critical. Per function: errors and throttles; per workflow: failed, timed-out and throttled
 * executions — of every one in the stack (`watchStack`). Plus the snapshot quota and dead-letter
 * queues. Thresholds come from the environment's `alarms` settings.
 */
export class Monitoring extends Construct {
  public readonly topic: ITopic;
  /**
   * The stack's alarms about the data: backups, verification, replicas, quota, queues. Complete
   * (with `componentAlarms`) once the Aspect of `watchStack` has run, i.e. at synthesis.
   */
  public readonly alarms: IAlarm[] = [];
  /** The stack's alarms about the machinery: errors and throttles of functions, failed workflows. */
  public readonly componentAlarms: IAlarm[] = [];
  /** The stack's functions and workflows, in the order they were found. */
  public readonly functions: Watched<IFunction>[] = [];
  public readonly workflows: Watched<IStateMachine>[] = [];
  private readonly props: MonitoringProps;
  private readonly seen = new WeakSet<IConstruct>();

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.props = props;
    if (props.topic) {
      this.topic = props.topic;
    } else {
      const topic = new Topic(this, 'AlarmTopic', {
        displayName: `lifeboat ${props.environment} alarms`,
        masterKey: props.operationsKey.key,
        enforceSSL: true,
      });
      allowAlarmsToPublish(topic, props.operationsKey.key);
      for (const email of props.notifications.emails) topic.addSubscription(new EmailSubscription(email));
      this.topic = topic;
    }
  }

  /**
   * Alarms for every function and workflow of the stack, whenever it is added: an Aspect
   * (`WatchStack`) visits the tree at synthesis, so a construct created after this call is covered
   * as well.
   */
  watchStack(): void {
    Aspects.of(Stack.of(this)).add(new WatchStack(this), { priority: AspectPriority.MUTATING });
  }

  /** Whether `construct` (a function, workflow or alarm) is already covered or listed. */
  watches(construct: IConstruct): boolean {
    return this.seen.has(construct);
  }

  /** Lists a workflow whose own construct already alarms on its failed executions. */
  listWorkflow(stateMachine: IStateMachine, label: string): void {
    if (this.seen.has(stateMachine)) return;
    this.seen.add(stateMachine);
    this.workflows.push({ construct: stateMachine, label });
  }

  /** Alarm when the account's manual snapshot quota is used beyond the configured share. */
  addSnapshotQuotaAlarm(): Alarm {
    return this.register(
      new Alarm(this, 'SnapshotQuotaAlarm', {
        alarmDescription: `lifeboat ${this.props.environment}: WARNING: manual snapshot quota ${this.props.alarms.snapshotQuotaPercent}% used; snapshots will soon fail with SnapshotQuotaExceeded`,
        metric: manualSnapshotQuotaMetric(this.props.environment),
        threshold: this.props.alarms.snapshotQuotaPercent,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        // No figure means no snapshot was taken in the hour, not that the quota is fine or full.
        treatMissingData: TreatMissingData.IGNORE,
      }),
    );
  }

  /**
   * Alarms on what a prune run refused or failed to do in this region: a database it did not judge
   * (a catalog document it could not read: everything of it is kept), and failed deletions or
   * listings. Prune publishes both figures every run; no figure is no run, not a problem.
   */
  addPruneAlarms(): Alarm[] {
    const { environment } = this.props;
    return [
      this.register(
        anyOccurrence(
          this,
          'PruneRefusedAlarm',
          `lifeboat ${environment}: WARNING: prune did not judge a database (a catalog document it could not read, or an error); everything of it is kept until someone looks (see the prune report: refused)`,
          environmentMetric(environment, ENVIRONMENT_METRIC.pruneRefused),
        ),
      ),
      this.register(
        anyOccurrence(
          this,
          'PruneErrorsAlarm',
          `lifeboat ${environment}: WARNING: prune could not delete a backup or list snapshots (see the prune report: errors)`,
          environmentMetric(environment, ENVIRONMENT_METRIC.pruneErrors),
        ),
      ),
    ];
  }

  /** Alarm when discovery refuses a database because its catalog name is another source's. */
  addSeriesConflictAlarm(): Alarm {
    return this.register(
      anyOccurrence(
        this,
        'SeriesConflictAlarm',
        `lifeboat ${this.props.environment}: WARNING: a database tagged for discovery is not backed up: its catalog name is another database's (tag it lifeboat:database=<unique name>)`,
        environmentMetric(this.props.environment, ENVIRONMENT_METRIC.seriesConflicts),
      ),
    );
  }

  /** Alarm as soon as a dead-letter queue holds a message: something was not backed up or copied. */
  addDeadLetterAlarm(id: string, queue: IQueue, what: string): Alarm {
    return this.register(
      anyOccurrence(
        this,
        id,
        `lifeboat ${this.props.environment}: ${what}`,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      ),
    );
  }

  /**
   * "Backup too old": no successful logical backup of `database` for `backupAgeWarnHours`
   * (warning) and `backupAgeCritHours` (critical). Built on the absence of BackupSucceeded, which
   * logical-dump emits once per completed backup: every hour without one is missing data, and
   * missing data counts as breaching.
   */
  addBackupAgeAlarms(database: string): Alarm[] {
    return this.addAbsenceAlarms(database, {
      id: 'BackupAge',
      name: 'backup-age',
      metricName: METRIC.backupSucceeded,
      warning: this.props.alarms.backupAgeWarnHours,
      critical: this.props.alarms.backupAgeCritHours,
      what: 'no completed logical backup',
    });
  }

  /**
   * "No recent proof that a backup restores": no passed verification of `database`
   * (VerificationPassed) for `verifiedAgeWarnHours` / `verifiedAgeCritHours`; a level set to null
   * has no alarm. Same absence shape as the backup-age alarms.
   */
  addVerifiedAgeAlarms(database: string): Alarm[] {
    return this.addAbsenceAlarms(database, {
      id: 'VerifiedAge',
      name: 'verified-age',
      metricName: METRIC.verificationPassed,
      warning: this.props.alarms.verifiedAgeWarnHours,
      critical: this.props.alarms.verifiedAgeCritHours,
      what: 'no passed verification',
    });
  }

  /**
   * Replica lag above `replicaLagWarnSeconds` (warning) and `replicaLagCritSeconds` (critical) in
   * 3 of the last 5 minutes. Must live in the replica's region (the metric is regional). The
   * critical alarm is named `replicaLagCriticalAlarmName(env, db)` (lib/naming.ts). Both page and
   * start nothing: the failover trigger is the primary canary's alarm (PrimaryCanary). Missing data:
   * the warning counts it as breaching (a replica that stops reporting deserves a look); the
   * critical alarm does not.
   */
  addReplicaLagAlarms(source: ReplicaLagSource): Alarm[] {
    const { metric, perSecond } = replicaLagMetric(source);
    const unit = perSecond === 1 ? 's' : 'ms';
    const levels = [
      ['Warning', 'warning', this.props.alarms.replicaLagWarnSeconds, TreatMissingData.BREACHING],
      ['Critical', 'critical', this.props.alarms.replicaLagCritSeconds, TreatMissingData.MISSING],
    ] as const;
    return levels.map(([id, severity, seconds, missing]) =>
      this.register(
        new Alarm(this, `ReplicaLag${id}-${source.database}`, {
          alarmName: databaseAlarmName(this.props.environment, source.database, 'replica-lag', severity),
          alarmDescription: `lifeboat ${this.props.environment}: ${severity.toUpperCase()}: replica ${source.identifier} of ${source.database} lags more than ${seconds} s (${metric.metricName} > ${seconds * perSecond} ${unit})`,
          metric,
          threshold: seconds * perSecond,
          comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
          evaluationPeriods: REPLICA_LAG_EVALUATION.periods,
          datapointsToAlarm: REPLICA_LAG_EVALUATION.datapoints,
          treatMissingData: missing,
        }),
      ),
    );
  }

  /** Alarms on any error or throttle of a function (Sum over 5 minutes ≥ 1). */
  addFunctionAlarms(fn: IFunction, label = this.labelOf(fn)): Alarm[] {
    if (this.seen.has(fn)) return [];
    this.seen.add(fn);
    this.functions.push({ construct: fn, label });
    const metrics = {
      Errors: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      Throttles: fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }),
    };
    // Created under the function: an Aspect visits a node's children after the node itself, so
    // alarms added while watching are still seen by the other aspects (tags).
    return Object.entries(metrics).map(([what, metric]) =>
      this.register(
        anyOccurrence(
          fn,
          `${what}Alarm`,
          `lifeboat ${this.props.environment}: WARNING: function ${label}: ${what.toLowerCase()}`,
          metric,
        ),
        'component',
      ),
    );
  }

  /**
   * Alarms on failed, timed-out and throttled executions of a workflow.
   * @param scope where the alarms are created @default this construct
   */
  addWorkflowAlarms(id: string, stateMachine: IStateMachine, what: string, scope: Construct = this): Alarm[] {
    if (this.seen.has(stateMachine)) return [];
    this.seen.add(stateMachine);
    this.workflows.push({ construct: stateMachine, label: what });
    const options = { period: Duration.minutes(5), statistic: 'Sum' };
    const outcomes = [
      ['Failed', 'failed', stateMachine.metricFailed(options)],
      ['TimedOut', 'timed out', stateMachine.metricTimedOut(options)],
      ['Throttled', 'throttled', stateMachine.metricThrottled(options)],
    ] as const;
    return outcomes.map(([outcome, words, metric]) =>
      this.register(
        anyOccurrence(
          scope,
          `${id}${outcome}`,
          `lifeboat ${this.props.environment}: WARNING: ${what}: execution ${words}`,
          metric,
        ),
        'component',
      ),
    );
  }

  /**
   * Lists an alarm made elsewhere (e.g. the notifications DLQ alarm) with the stack's alarms, for
   * the dashboard; its actions are its own. Function and workflow alarms count as components.
   */
  include(alarm: Alarm): void {
    if (this.seen.has(alarm)) return;
    this.seen.add(alarm);
    const namespace = alarm.metric instanceof Metric ? alarm.metric.namespace : undefined;
    const component = namespace === 'AWS/Lambda' || namespace === 'AWS/States';
    (component ? this.componentAlarms : this.alarms).push(alarm);
  }

  /**
   * "DR copy late": no snapshot copy of `database` arrived in the DR region (SnapshotCopied, which
   * copy-snapshot emits when it catalogs a copy) for `copyAgeWarnHours` / `copyAgeCritHours`.
   */
  addCopyAgeAlarms(database: string): Alarm[] {
    return this.addAbsenceAlarms(database, {
      id: 'CopyAge',
      name: 'copy-age',
      metricName: METRIC.snapshotCopied,
      warning: this.props.alarms.copyAgeWarnHours,
      critical: this.props.alarms.copyAgeCritHours,
      what: 'no snapshot copy arrived in the DR region',
    });
  }

  private addAbsenceAlarms(
    database: string,
    spec: {
      id: string;
      name: 'backup-age' | 'verified-age' | 'copy-age';
      metricName: (typeof METRIC)[keyof typeof METRIC];
      warning: number | null;
      critical: number | null;
      what: string;
    },
  ): Alarm[] {
    const metric = lifeboatMetric(this.props.environment, database, spec.metricName);
    const levels: [string, AlarmSeverity, number | null][] = [
      ['Warning', 'warning', spec.warning],
      ['Critical', 'critical', spec.critical],
    ];
    return levels.flatMap(([id, severity, hours]) =>
      hours === null
        ? []
        : [
            this.register(
              absence(this, `${spec.id}${id}-${database}`, {
                alarmName: databaseAlarmName(this.props.environment, database, spec.name, severity),
                alarmDescription: `lifeboat ${this.props.environment}: ${severity.toUpperCase()}: ${spec.what} of ${database} for ${hours} h (${spec.metricName})`,
                metric,
                hours,
              }),
            ),
          ],
    );
  }

  /** A construct's path in its stack, e.g. `TakeSnapshot/Function`: how alarms and graphs name it. */
  labelOf(construct: IConstruct): string {
    const stackPath = Stack.of(construct).node.path;
    return construct.node.path.slice(stackPath.length + 1);
  }

  private register(alarm: Alarm, group: 'data' | 'component' = 'data'): Alarm {
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.seen.add(alarm);
    (group === 'data' ? this.alarms : this.componentAlarms).push(alarm);
    return alarm;
  }
}
