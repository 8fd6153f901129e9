import { Stack, Tags, Validations } from 'aws-cdk-lib';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { BackupVault } from '../constructs/backup-vault.ts';
import { LifeboatDashboard } from '../constructs/dashboard.ts';
import type { Monitoring } from '../constructs/monitoring/index.ts';
import type { Notifications } from '../constructs/notifications.ts';
import { OperationsKey } from '../constructs/operations-key.ts';
import { setFunctionDefaults } from '../constructs/lifeboat-function.ts';
import { PrimaryCanary } from '../constructs/primary-canary.ts';
import { Prune } from '../constructs/prune.ts';
import { encryptedQueue } from '../constructs/queues.ts';
import { BackupSchedules } from '../constructs/schedules.ts';
import { pruneEvent } from '../events.ts';
import { VerifyImage } from '../constructs/verify-backup.ts';
import { FailoverWorkflows, RestoreWorkflows } from '../constructs/workflows/index.ts';
import { failoverDatabases } from '../recovery.ts';
import { regionAlerting, replicaLagSources } from './alerting.ts';
import { applyFeatureFlags } from './feature-flags.ts';
import { retentionByDatabase, retentionByPolicy, retentionFor } from './primary-stack.ts';
import type { LifeboatStackProps } from './props.ts';
import { TAG } from '../../functions/core/contracts/index.ts';

/**
 * Everything of an environment in its DR region: the replica of the backup vault (with its own
 * key, which also encrypts the cross-region snapshot copies), and the prune of that replica's
 * dumps (deletes are not replicated: this region decides about its own copy). It holds nothing
 * that needs the primary region, so it keeps working when that region is gone.
 */
export class DrStack extends Stack {
  public readonly operationsKey: OperationsKey;
  public readonly vault: BackupVault;
  /** The verify-backup image, for the restore workflow's dump restores in this region. */
  public readonly verifyImage: VerifyImage;
  /** The restore workflow of this region (`/lifeboat/<env>/workflows/restore`). */
  public readonly workflows: RestoreWorkflows;
  /**
   * The failover and failback workflows, the lock table and the alarm rules, when any database has
   * a `failover` block (`/lifeboat/<env>/workflows/failover|failback`).
   */
  public readonly failover?: FailoverWorkflows;
  /**
   * The failover trigger, with `failover`: the primary canary and, per database, the composite
   * alarm "the primary has not accepted writes for N minutes" the failover rule listens to.
   */
  public readonly canary?: PrimaryCanary;
  /** The region's topic and the stack's alarms, replica lag included. */
  public readonly monitoring: Monitoring;
  /** The DR region's own events topic and Slack notifier, when `notifications.drSlackWebhookSecretArn` is set. */
  public readonly notifications?: Notifications;
  /** The environment's DR dashboard (`lifeboat-<env>-dr`). */
  public readonly dashboard: LifeboatDashboard;
  /** Retention of this region's copy of the dumps, by the same policies, from its own catalog. */
  public readonly prune: Prune;
  /** Failed invocations of the prune and undeliverable schedule events of this region. */
  public readonly deadLetterQueue: Queue;
  public readonly schedules: BackupSchedules;

  constructor(scope: Construct, id: string, props: LifeboatStackProps) {
    super(scope, id, props);
    applyFeatureFlags(this);
    const { config, environment } = props;
    Tags.of(this).add(TAG.environment, environment);
    this.operationsKey = new OperationsKey(this, 'OperationsKey', { environment });
    const logRetention = retentionFor(config.logRetentionDays);
    setFunctionDefaults(this, {
      lifeboatEnvironment: environment,
      logRetention,
      logKey: this.operationsKey.key,
      sdkTracing: config.tracing.sdkCalls,
      memoryLimitMB: config.functionMemoryLimitMB,
    });
    this.vault = new BackupVault(this, 'Vault', { environment, settings: config.bucket });

    // Alerting of its own (topic, notifier, secret of this region): nothing here waits for the primary.
    const alerting = regionAlerting(this, {
      environment,
      config,
      slackWebhookSecretArn: config.notifications.drSlackWebhookSecretArn,
      operationsKey: this.operationsKey,
      logRetention,
      logKey: this.operationsKey.key,
    });
    this.notifications = alerting.notifications;
    this.monitoring = alerting.monitoring;
    // RDS publishes a replica's lag in the replica's region, this one: the alarms must live here.
    const replicas = replicaLagSources(config.databases);
    for (const replica of replicas) this.monitoring.addReplicaLagAlarms(replica);
    this.dashboard = new LifeboatDashboard(this, 'Dashboard', {
      environment,
      role: 'dr',
      monitoring: this.monitoring,
      alarms: config.alarms,
      replicas,
      failovers: replicas.map((r) => r.database),
    });

    // Restores (flow 5) from the replica bucket and the snapshot copies, which the vault key
    // encrypts; failover and failback (flow 6). The bucket is this stack's own replica.
    const workflowProps = {
      environment,
      config,
      bucket: this.vault.bucket,
      notificationTopic: this.monitoring.topic,
      logRetention,
      logKey: this.operationsKey.key,
    };
    // The replica does not follow the primary's deletes: its dumps are pruned here, by the same
    // policies, from this bucket's own catalog (docs/retention.md, "The DR copy").
    this.deadLetterQueue = encryptedQueue(this, 'DeadLetterQueue', { key: this.operationsKey.key });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the stack.',
    });
    this.prune = new Prune(this, 'Prune', {
      environment,
      scope: 'dumps',
      policies: retentionByDatabase(props),
      ...(config.discovery ? { policiesByName: retentionByPolicy(props) } : {}),
      databases: config.databases,
      bucket: this.vault.bucket,
      snapshotRegions: [],
      limits: {
        maxDeletionsPerRun: config.pruneMaxDeletionsPerRun,
        maxDeletionsPerDay: config.pruneMaxDeletionsPerDay,
      },
      deadLetterQueue: this.deadLetterQueue,
    });
    this.schedules = new BackupSchedules(this, 'Schedules', {
      environment,
      deadLetterQueue: this.deadLetterQueue,
      operationsKey: this.operationsKey,
    });
    this.schedules.add(
      'Prune',
      config.pruneSchedule,
      { kind: 'function', function: this.prune.function, input: pruneEvent(config.pruneDryRun) },
      `lifeboat ${environment}: daily retention of the DR copy of the dumps`,
    );
    this.monitoring.addPruneAlarms();
    this.monitoring.addDeadLetterAlarm(
      'DeadLetterAlarm',
      this.deadLetterQueue,
      "the DR region's prune failed or could not be started (see the dead-letter queue)",
    );

    this.verifyImage = new VerifyImage(this, 'VerifyImage');
    this.workflows = new RestoreWorkflows(this, 'Workflows', {
      ...workflowProps,
      region: 'dr',
      image: this.verifyImage,
      // The DR copies of snapshots are encrypted with the DR backup key; a point-in-time restore
      // starts from the replica (or the promoted database), encrypted with its DR storage key.
      snapshotKeyArns: [
        this.vault.key.keyArn,
        ...new Set(config.databases.flatMap((db) => db.drStorageKmsKeyArn ?? [])),
      ],
    });
    if (failoverDatabases(config).length > 0) {
      this.failover = new FailoverWorkflows(this, 'Failover', {
        ...workflowProps,
        operationsKey: this.operationsKey,
      });
      this.monitoring.addDeadLetterAlarm(
        'FailoverDeadLetterAlarm',
        this.failover.deadLetterQueue,
        'a primary-unwritable alarm could not start a failover (see the failover dead-letter queue)',
      );
      this.canary = new PrimaryCanary(this, 'PrimaryCanary', {
        environment,
        config,
        lockTable: this.failover.lockTable,
        operationsKey: this.operationsKey,
        topic: this.monitoring.topic,
      });
      this.monitoring.alarms.push(...this.canary.triggerAlarms);
    }
  }
}
