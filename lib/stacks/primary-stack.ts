import { Stack, Tags, Validations } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { StringParameter } from 'aws-cdk-lib/aws-ssm';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Retention } from '../config/schema.ts';
import { BackupVault } from '../constructs/backup-vault.ts';
import { CopySnapshot } from '../constructs/copy-snapshot.ts';
import { DumpTask } from '../constructs/dump-task.ts';
import { DumpImage, LogicalDumpFunction } from '../constructs/logical-dump.ts';
import { LifeboatDashboard } from '../constructs/dashboard.ts';
import type { Monitoring } from '../constructs/monitoring/index.ts';
import type { Notifications } from '../constructs/notifications.ts';
import { OperationsKey } from '../constructs/operations-key.ts';
import { Prune } from '../constructs/prune.ts';
import { Report } from '../constructs/report.ts';
import { encryptedQueue } from '../constructs/queues.ts';
import { BackupSchedules } from '../constructs/schedules.ts';
import { TakeSnapshot } from '../constructs/take-snapshot.ts';
import { setFunctionDefaults } from '../constructs/lifeboat-function.ts';
import { VerifyBackupFunction, VerifyImage, VerifyTask } from '../constructs/verify-backup.ts';
import { addVerificationSchedules, RestoreWorkflows } from '../constructs/workflows/index.ts';
import { discoverEvent, dumpEvent, pruneEvent, snapshotEvent } from '../events.ts';
import {
  dumpTargetParameterName,
  snapshotTargetParameterName,
  verifyTargetParameterName,
} from '../naming.ts';
import { regionAlerting, replicaLagSources } from './alerting.ts';
import { applyFeatureFlags } from './feature-flags.ts';
import type { LifeboatStackProps } from './props.ts';
import { TAG } from '../../functions/core/contracts/index.ts';

/** CloudWatch Logs accepts only certain retention periods: the smallest one that keeps `days`. */
export function retentionFor(days: number): RetentionDays {
  const allowed = Object.values(RetentionDays)
    .filter((v): v is RetentionDays => typeof v === 'number' && v > 0)
    .sort((a, b) => a - b);
  return allowed.find((v) => v >= days) ?? RetentionDays.INFINITE;
}

/**
 * Everything of an environment in its primary region: the backup vault (replicated to the DR
 * region), the functions and schedules that take backups, the cross-region copy pipeline,
 * retention, and the alarms about them.
 */
export class PrimaryStack extends Stack {
  public readonly operationsKey: OperationsKey;
  public readonly vault: BackupVault;
  /** Failed asynchronous invocations of the stack's functions and undeliverable schedule events. */
  public readonly deadLetterQueue: Queue;
  public readonly dumpImage: DumpImage;
  /** The logical-dump function of each database that is not `large`, by database name. */
  public readonly dumpFunctions: ReadonlyMap<string, LogicalDumpFunction>;
  /** The Fargate dump workflow of each `large` database, by database name. */
  public readonly dumpTasks: ReadonlyMap<string, DumpTask>;
  public readonly takeSnapshot: TakeSnapshot;
  public readonly copySnapshot: CopySnapshot;
  /** The verify-backup image (verify-backup and the restore workflow's dump restores). */
  public readonly verifyImage: VerifyImage;
  /** Restores each database's newest dump into an ephemeral PostgreSQL on its verification schedule. */
  public readonly verifyBackup: VerifyBackupFunction;
  /** The Fargate verification workflow of each `large` database with dumps, by database name. */
  public readonly verifyTasks: ReadonlyMap<string, VerifyTask>;
  /** The restore and restore-test workflows (`/lifeboat/<env>/workflows/restore|restore-test`). */
  public readonly workflows: RestoreWorkflows;
  public readonly prune: Prune;
  /** The scheduled DR evidence report (reports/ in the bucket, announced with a link). */
  public readonly report: Report;
  public readonly schedules: BackupSchedules;
  /** The region's topic and the stack's alarms. */
  public readonly monitoring: Monitoring;
  /** The events topic and Slack notifier, when `notifications.slackWebhookSecretArn` is set. */
  public readonly notifications?: Notifications;
  /** The environment's dashboard (`lifeboat-<env>`). */
  public readonly dashboard: LifeboatDashboard;

  constructor(scope: Construct, id: string, props: LifeboatStackProps) {
    super(scope, id, props);
    applyFeatureFlags(this);
    const { config, environment } = props;
    Tags.of(this).add(TAG.environment, environment);
    const logRetention = retentionFor(config.logRetentionDays);

    this.operationsKey = new OperationsKey(this, 'OperationsKey', { environment });
    const logKey = this.operationsKey.key;
    setFunctionDefaults(this, {
      lifeboatEnvironment: environment,
      logRetention,
      logKey,
      sdkTracing: config.tracing.sdkCalls,
      memoryLimitMB: config.functionMemoryLimitMB,
    });
    this.vault = new BackupVault(this, 'Vault', {
      environment,
      settings: config.bucket,
      replicateTo: { region: config.drRegion },
    });
    const bucket = this.vault.bucket;
    this.deadLetterQueue = encryptedQueue(this, 'DeadLetterQueue', { key: this.operationsKey.key });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the stack.',
    });
    const deadLetterQueue = this.deadLetterQueue;

    this.dumpImage = new DumpImage(this, 'DumpImage');
    const dumpFunctions = new Map<string, LogicalDumpFunction>();
    const dumpTasks = new Map<string, DumpTask>();
    for (const database of config.databases) {
      const common = { environment, database, image: this.dumpImage, bucket, logRetention, logKey };
      if (database.large) {
        dumpTasks.set(
          database.name,
          new DumpTask(this, `DumpTask-${database.name}`, {
            ...common,
            policy: database.policySettings,
          }),
        );
      } else {
        dumpFunctions.set(
          database.name,
          new LogicalDumpFunction(this, `Dump-${database.name}`, { ...common, deadLetterQueue }),
        );
      }
    }
    this.dumpFunctions = dumpFunctions;
    this.dumpTasks = dumpTasks;

    this.takeSnapshot = new TakeSnapshot(this, 'TakeSnapshot', {
      environment,
      databases: config.databases,
      ...(config.discovery
        ? { discovery: { tagKey: config.discovery.tagKey, policies: Object.keys(config.policies) } }
        : {}),
      bucket,
      deadLetterQueue,
    });
    this.copySnapshot = new CopySnapshot(this, 'CopySnapshot', {
      environment,
      drRegion: config.drRegion,
      settings: config.snapshotCopies,
      databases: config.databases,
      discovery: config.discovery !== undefined,
      bucket,
      operationsKey: this.operationsKey,
    });
    this.prune = new Prune(this, 'Prune', {
      environment,
      policies: retentionByDatabase(props),
      ...(config.discovery ? { policiesByName: retentionByPolicy(props) } : {}),
      databases: config.databases,
      bucket,
      snapshotRegions: [config.primaryRegion, config.drRegion],
      drRegion: config.drRegion,
      limits: {
        maxDeletionsPerRun: config.pruneMaxDeletionsPerRun,
        maxDeletionsPerDay: config.pruneMaxDeletionsPerDay,
      },
      deadLetterQueue,
    });

    this.schedules = new BackupSchedules(this, 'Schedules', {
      environment,
      deadLetterQueue,
      operationsKey: this.operationsKey,
    });
    for (const database of config.databases) {
      const policy = database.policySettings;
      this.schedules.add(
        `Snapshot-${database.name}`,
        policy.snapshot,
        {
          kind: 'function',
          function: this.takeSnapshot.function,
          input: snapshotEvent(database),
        },
        `lifeboat ${environment}: snapshot of ${database.name} (policy ${database.policy})`,
      );
      if (policy.dump) {
        const task = dumpTasks.get(database.name);
        this.schedules.add(
          `Dump-${database.name}`,
          policy.dump,
          task
            ? { kind: 'stateMachine', stateMachine: task.stateMachine, input: {} }
            : {
                kind: 'function',
                function: dumpFunctions.get(database.name)!.function,
                input: dumpEvent(database, policy),
              },
          `lifeboat ${environment}: logical dump of ${database.name} (policy ${database.policy})`,
        );
      }
    }
    this.schedules.add(
      'Prune',
      config.pruneSchedule,
      { kind: 'function', function: this.prune.function, input: pruneEvent(config.pruneDryRun) },
      `lifeboat ${environment}: daily retention`,
    );

    this.report = new Report(this, 'Report', {
      environment,
      config,
      bucket,
      deadLetterQueue,
    });
    this.schedules.add(
      'Report',
      config.report.schedule,
      { kind: 'function', function: this.report.function, input: {} },
      `lifeboat ${environment}: DR evidence report of the last ${config.report.periodDays} days`,
    );

    if (config.discovery) {
      // One schedule per policy: its snapshot times, for every database tagged with it.
      const configured = config.databases.map((db) => db.identifier);
      for (const [name, policy] of Object.entries(config.policies)) {
        this.schedules.add(
          `Discover-${name}`,
          policy.snapshot,
          {
            kind: 'function',
            function: this.takeSnapshot.function,
            // Configured names are never given to a discovered database (their series are theirs).
            input: discoverEvent(
              name,
              config.discovery.tagKey,
              configured,
              config.databases.map((db) => db.name),
            ),
          },
          `lifeboat ${environment}: snapshots of databases tagged ${config.discovery.tagKey}=${name}`,
        );
      }
    }

    const alerting = regionAlerting(this, {
      environment,
      config,
      slackWebhookSecretArn: config.notifications.slackWebhookSecretArn,
      operationsKey: this.operationsKey,
      logRetention,
      logKey,
    });
    this.notifications = alerting.notifications;
    this.monitoring = alerting.monitoring;
    if (this.notifications) {
      // The report's summary goes to Slack with the link.
      this.notifications.bindPublisher(this.report.function);
      // The dumps announce backup.completed / backup.failed to on-call.
      for (const dump of dumpFunctions.values()) this.notifications.bindPublisher(dump.function);
      for (const task of dumpTasks.values()) task.bindPublisher(this.notifications);
    }
    this.monitoring.addSnapshotQuotaAlarm();
    this.monitoring.addPruneAlarms();
    if (config.discovery) this.monitoring.addSeriesConflictAlarm();
    this.monitoring.addDeadLetterAlarm(
      'DeadLetterAlarm',
      deadLetterQueue,
      'a scheduled backup, dump or prune failed or could not be started (see the dead-letter queue)',
    );
    this.monitoring.addDeadLetterAlarm(
      'CopyDeadLetterAlarm',
      this.copySnapshot.deadLetterQueue,
      `a snapshot was not copied to ${config.drRegion} within ${config.snapshotCopies.maxWaitHours} h`,
    );
    for (const database of config.databases) {
      if (database.policySettings.dump) this.monitoring.addBackupAgeAlarms(database.name);
      this.monitoring.addVerifiedAgeAlarms(database.name);
      this.monitoring.addCopyAgeAlarms(database.name);
    }
    for (const [name, task] of dumpTasks) {
      this.monitoring.addWorkflowAlarms(`DumpWorkflow-${name}`, task.stateMachine, `Fargate dump of ${name}`);
    }
    this.dashboard = new LifeboatDashboard(this, 'Dashboard', {
      environment,
      role: 'primary',
      monitoring: this.monitoring,
      alarms: config.alarms,
      backups: config.databases.map((db) => db.name),
      // RDS publishes the lag in the replica's region; the dashboard reads it from there.
      replicas: replicaLagSources(config.databases),
      replicaRegion: config.drRegion,
      snapshotQuota: true,
    });

    // Verification (flow 3) and restores (flow 5) of this region.
    this.verifyImage = new VerifyImage(this, 'VerifyImage');
    this.verifyBackup = new VerifyBackupFunction(this, 'VerifyBackup', {
      environment,
      image: this.verifyImage,
      bucket,
      logRetention,
      logKey,
      deadLetterQueue,
    });
    if (this.notifications) this.verifyBackup.bindPublisher(this.notifications);
    // Dumps of large databases are verified as Fargate tasks (no 15-minute limit).
    const verifyTasks = new Map<string, VerifyTask>();
    for (const database of config.databases) {
      if (!database.large || !database.policySettings.dump) continue;
      const task = new VerifyTask(this, `VerifyTask-${database.name}`, {
        environment,
        database,
        image: this.verifyImage,
        bucket,
        logRetention,
        ...(logKey ? { logKey } : {}),
      });
      if (this.notifications) task.bindPublisher(this.notifications);
      verifyTasks.set(database.name, task);
    }
    this.verifyTasks = verifyTasks;
    // On-demand operations (`lifeboat backup|verify --env`) find what to start here, by name.
    new StringParameter(this, 'SnapshotTarget', {
      parameterName: snapshotTargetParameterName(environment),
      stringValue: this.takeSnapshot.function.functionArn,
      description: `lifeboat ${environment}: what takes a snapshot of a database on demand`,
    });
    for (const database of config.databases) {
      if (!database.policySettings.dump) continue;
      const dump = dumpTasks.get(database.name)?.stateMachine.stateMachineArn;
      new StringParameter(this, `DumpTarget-${database.name}`, {
        parameterName: dumpTargetParameterName(environment, database.name),
        stringValue: dump ?? dumpFunctions.get(database.name)!.function.functionArn,
        description: `lifeboat ${environment}: what takes a logical dump of ${database.name} on demand`,
      });
      new StringParameter(this, `VerifyTarget-${database.name}`, {
        parameterName: verifyTargetParameterName(environment, database.name),
        stringValue:
          verifyTasks.get(database.name)?.stateMachine.stateMachineArn ??
          this.verifyBackup.function.functionArn,
        description: `lifeboat ${environment}: what verifies a logical dump of ${database.name} on demand`,
      });
    }
    this.workflows = new RestoreWorkflows(this, 'Workflows', {
      environment,
      config,
      region: 'primary',
      bucket,
      image: this.verifyImage,
      notificationTopic: this.monitoring.topic,
      snapshotKeyArns: [...new Set(config.databases.flatMap((db) => db.storageKmsKeyArn ?? []))],
      restoreTest: config.restoreTest,
      logRetention,
      logKey,
    });
    addVerificationSchedules(this.schedules, {
      environment,
      config,
      restoreTest: this.workflows.restoreTest?.stateMachine,
      verifyBackup: this.verifyBackup.function,
      verifyTasks: new Map([...verifyTasks].map(([name, task]) => [name, task.stateMachine])),
    });
  }
}

/**
 * Each configured database's retention (from its policy), by logical name, with the time zone of
 * its snapshot schedule: day, week, month and year boundaries are where the schedule has them.
 */
/** Retention by policy name (with its snapshot schedule's time zone), for discovered databases. */
export function retentionByPolicy(
  props: LifeboatStackProps,
): Record<string, Retention & { timeZone: string }> {
  return Object.fromEntries(
    Object.entries(props.config.policies).map(([name, policy]) => [
      name,
      { ...policy.retention, timeZone: policy.snapshot.timeZone },
    ]),
  );
}

export function retentionByDatabase(
  props: LifeboatStackProps,
): Record<string, Retention & { timeZone: string }> {
  return Object.fromEntries(
    props.config.databases.map((db) => {
      const policy = db.policySettings;
      return [db.name, { ...policy.retention, timeZone: policy.snapshot.timeZone }];
    }),
  );
}
