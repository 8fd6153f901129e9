import { Duration, Validations } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmRule,
  AlarmState,
  ComparisonOperator,
  CompositeAlarm,
  type IAlarm,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction as LambdaTarget } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { CANARY_ENV } from '../../functions/canary/env.ts';
import type { CanaryTarget } from '../../functions/core/failover/canary.ts';
import { heartbeatStateKey } from '../../functions/core/failover/heartbeat.ts';
import { METRIC } from '../../functions/core/shared/metrics.ts';
import type { EnvironmentConfig } from '../config/schema.ts';
import { canaryAlarmName, primaryUnwritableAlarmName } from '../naming.ts';
import { failoverDatabases, regionalSecrets } from '../recovery.ts';
import { LifeboatFunction } from './lifeboat-function.ts';
import { importNetwork } from './logical-dump.ts';
import { grantSecrets } from './workflows/secrets.ts';
import { lifeboatMetric } from './monitoring/index.ts';
import type { OperationsKey } from './operations-key.ts';

/** LIFEBOAT_CANARY_TARGETS: where the canary of each database with `failover` connects. */
export function canaryTargets(config: EnvironmentConfig): CanaryTarget[] {
  return failoverDatabases(config).map((db) => ({
    database: db.name,
    // Through the name applications use: after a failover the canary follows the new primary.
    ...(db.failover.dns ? { endpoint: db.failover.dns.recordName } : {}),
    // The schema requires drSecretArn with failover.
    secretArn: db.drSecretArn!,
    ...(db.dbname ? { dbname: db.dbname } : {}),
  }));
}

export interface PrimaryCanaryProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** The DR region's lock table: the canary keeps each database's last acknowledged heartbeat in it. */
  readonly lockTable: ITable;
  /** The key the lock table is encrypted with. */
  readonly operationsKey: OperationsKey;
  /** Where the trigger and the silent-canary alarm page (the region's alarm or events topic). */
  readonly topic: ITopic;
}

/** The alarms of one database's canary. */
export interface CanaryAlarms {
  /** No write accepted for `primaryUnwritableMinutes` minutes in a row (no actions of its own). */
  readonly writeFailed: Alarm;
  /** The last acknowledged heartbeat is older than those minutes (no actions of its own). */
  readonly heartbeatAge: Alarm;
  /** Both: the failover trigger. The failover rule matches its name. */
  readonly trigger: CompositeAlarm;
  /** The canary published nothing for `canarySilentMinutes`: the trigger is blind (a warning). */
  readonly silent: Alarm;
}

/**
 * The failover trigger of an environment (DR region): the primary canary, run every minute per
 * database with `failover`, and per database the composite alarm "the primary has not accepted
 * writes for N minutes" (`primaryUnwritableAlarmName`), whose ALARM starts the failover workflow
 * (FailoverWorkflows' rule). The canary runs in the DR workflow network, reads exactly the
 * configured DR secrets, and writes only the `heartbeat#` items of the lock table.
 */
export class PrimaryCanary extends Construct {
  public readonly function: LifeboatFunction;
  /** The every-minute schedule of each database. */
  public readonly schedules: ReadonlyMap<string, Rule>;
  public readonly alarms: ReadonlyMap<string, CanaryAlarms>;

  constructor(scope: Construct, id: string, props: PrimaryCanaryProps) {
    super(scope, id);
    const { config, environment } = props;
    const databases = failoverDatabases(config);
    if (databases.length === 0) throw new Error('PrimaryCanary needs at least one database with failover');
    const dr = config.drRegion;
    const networkConfig = config.workflowNetwork?.dr;
    // The schema requires workflowNetwork whenever databases are listed.
    if (!networkConfig)
      throw new Error('PrimaryCanary needs workflowNetwork.dr (the canary connects from it)');
    const network = importNetwork(new Construct(this, 'Network'), networkConfig);

    this.function = new LifeboatFunction(this, 'Function', {
      entry: 'canary/index.ts',
      description: `lifeboat ${environment}: primary canary: writes a heartbeat through each database's endpoint record every minute`,
      // Connect 5 s + statements 5 s each, well inside a minute: a hung primary still yields a 0.
      timeout: Duration.seconds(40),
      memorySize: 256,
      vpc: network.vpc,
      vpcSubnets: network.subnets,
      securityGroups: [network.securityGroup],
      // One run per database per minute; never more than two at once each (a slow run and the next).
      reservedConcurrentExecutions: 2 * databases.length,
      // A heartbeat retried later says nothing about that minute: the next run replaces it.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
      environment: {
        [CANARY_ENV.targets]: JSON.stringify(canaryTargets(config)),
        [CANARY_ENV.lockTable]: props.lockTable.tableName,
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'NIST.800.53.R5-LambdaDLQ',
      reason:
        'A heartbeat is worth something only in its minute: a failed run is not kept for later, the next run replaces it; a canary that stops publishing raises the canary-silent alarm, and its errors the function alarms.',
    });

    // Credentials: exactly the DR secrets of these databases, their keys through Secrets Manager only.
    grantSecrets(
      this.function.role!,
      regionalSecrets(config, 'dr').filter((secret) => databases.some((db) => db.name === secret.database)),
      dr,
    );
    // Its own state: the heartbeat items of the lock table, never a failover's lock.
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem'],
        resources: [props.lockTable.tableArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'dynamodb:LeadingKeys': databases.map((db) => heartbeatStateKey(db.name)),
          },
        },
      }),
    );
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [props.operationsKey.key.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${dr}.amazonaws.com` } },
      }),
    );

    const schedules = new Map<string, Rule>();
    const alarms = new Map<string, CanaryAlarms>();
    const minutes = config.alarms.primaryUnwritableMinutes;
    const silentMinutes = config.alarms.canarySilentMinutes;
    for (const db of databases) {
      const rule = new Rule(this, `Schedule-${db.name}`, {
        description: `lifeboat ${environment}: the primary canary of ${db.name}, every minute`,
        schedule: Schedule.rate(Duration.minutes(1)),
      });
      rule.addTarget(
        new LambdaTarget(this.function, {
          event: RuleTargetInput.fromObject({ database: db.name }),
          retryAttempts: 0,
          maxEventAge: Duration.minutes(1),
        }),
      );
      schedules.set(db.name, rule);

      const perMinute = { period: Duration.minutes(1) };
      const writable = lifeboatMetric(environment, db.name, METRIC.primaryWritable, {
        ...perMinute,
        statistic: 'Maximum',
      });
      const writeFailed = new Alarm(this, `WriteFailed-${db.name}`, {
        alarmName: canaryAlarmName(environment, db.name, 'write-failed'),
        alarmDescription: `lifeboat ${environment}: the primary of ${db.name} took no heartbeat write in ${minutes} minutes in a row (${METRIC.primaryWritable} < 1); part of ${primaryUnwritableAlarmName(environment, db.name)}`,
        metric: writable,
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: minutes,
        datapointsToAlarm: minutes,
        // Silence alone never starts a failover: a canary that stops is the silent alarm's business.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      // A run fails after its connect timeout, a little after its minute began: half a minute of
      // slack keeps schedule jitter from holding the trigger back a whole minute.
      const ageThreshold = minutes * 60 - 30;
      const heartbeatAge = new Alarm(this, `HeartbeatAge-${db.name}`, {
        alarmName: canaryAlarmName(environment, db.name, 'heartbeat-age'),
        alarmDescription: `lifeboat ${environment}: the last heartbeat the primary of ${db.name} acknowledged is older than ${minutes} minutes (${METRIC.heartbeatAgeSeconds} >= ${ageThreshold}); part of ${primaryUnwritableAlarmName(environment, db.name)}`,
        metric: lifeboatMetric(environment, db.name, METRIC.heartbeatAgeSeconds, {
          ...perMinute,
          statistic: 'Minimum',
        }),
        threshold: ageThreshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      const trigger = new CompositeAlarm(this, `Trigger-${db.name}`, {
        compositeAlarmName: primaryUnwritableAlarmName(environment, db.name),
        alarmDescription: `lifeboat ${environment}: CRITICAL: the primary of ${db.name} has not accepted writes for ${minutes} minutes (seen from ${dr} through ${db.failover.dns?.recordName ?? 'its endpoint'}). Starts the failover workflow${config.automaticFailover ? '' : ', which waits for approval'}.`,
        alarmRule: AlarmRule.allOf(
          AlarmRule.fromAlarm(writeFailed, AlarmState.ALARM),
          AlarmRule.fromAlarm(heartbeatAge, AlarmState.ALARM),
        ),
      });
      for (const component of [writeFailed, heartbeatAge]) {
        Validations.of(component).acknowledge({
          id: 'NIST.800.53.R5-CloudWatchAlarmAction',
          reason: `A component of the composite alarm ${primaryUnwritableAlarmName(environment, db.name)}, which pages and starts the failover; an action here would page twice for one outage.`,
        });
      }
      trigger.addAlarmAction(new SnsAction(props.topic));
      trigger.addOkAction(new SnsAction(props.topic));
      const silent = new Alarm(this, `Silent-${db.name}`, {
        alarmName: canaryAlarmName(environment, db.name, 'canary-silent'),
        alarmDescription: `lifeboat ${environment}: WARNING: the primary canary of ${db.name} published nothing for ${silentMinutes} minutes: the failover trigger is blind (see the canary function's logs and errors)`,
        metric: lifeboatMetric(environment, db.name, METRIC.primaryWritable, {
          ...perMinute,
          statistic: 'SampleCount',
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: silentMinutes,
        datapointsToAlarm: silentMinutes,
        treatMissingData: TreatMissingData.BREACHING,
      });
      silent.addAlarmAction(new SnsAction(props.topic));
      silent.addOkAction(new SnsAction(props.topic));
      alarms.set(db.name, { writeFailed, heartbeatAge, trigger, silent });
    }
    this.schedules = schedules;
    this.alarms = alarms;
  }

  /**
   * The composite triggers, for the stack's alarm lists (its metric alarms are found there by the
   * Monitoring construct's Aspect, which sees only metric alarms).
   */
  get triggerAlarms(): IAlarm[] {
    return [...this.alarms.values()].map((a) => a.trigger);
  }
}
