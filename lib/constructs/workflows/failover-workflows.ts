import type { Duration } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Rule } from 'aws-cdk-lib/aws-events';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { FailbackWorkflow } from '../../../state-machines/failback.ts';
import type { FailoverWorkflow } from '../../../state-machines/failover.ts';
import { failoverDatabases } from '../../recovery.ts';
import type { LifeboatFunction } from '../lifeboat-function.ts';
import { importNetwork } from '../logical-dump.ts';
import type { OperationsKey } from '../operations-key.ts';
import { alarmStart } from './alarm-start.ts';
import type { WorkflowsBaseProps } from './common.ts';
import { alarmDeadLetterQueue } from './dead-letter-queue.ts';
import { failbackStateMachine, failbackTasks } from './failback.ts';
import { type FailoverContext, failoverRdsTargets, failoverStateMachine, failoverTasks } from './failover.ts';
import { failoverLockTable } from './lock-table.ts';

export interface FailoverWorkflowsProps extends WorkflowsBaseProps {
  /** Encrypts the lock table and the dead-letter queue of alarm events. */
  readonly operationsKey: OperationsKey;
  /**
   * Where alarm events that could not start a failover go (EventBridge delivery and the starter's
   * asynchronous invocation).
   * @default - a queue of this construct (the stack's Monitoring alarms on it)
   */
  readonly deadLetterQueue?: IQueue;
  /**
   * How long the approval gate of an alarm-started failover waits.
   * @default Duration.hours(1)
   */
  readonly approvalTimeout?: Duration;
}

/**
 * The DR region's failover and failback workflows (flow 6) for the databases with a `failover`
 * block: the lock table, the failover (failover.ts) and failback (failback.ts) workflows, and the
 * alarm-started failovers (alarm-start.ts). Nothing here refers to the primary region's stack: it
 * must work when that region is gone.
 */
export class FailoverWorkflows extends Construct {
  public readonly lockTable: Table;
  public readonly failover: FailoverWorkflow;
  public readonly failback: FailbackWorkflow;
  public readonly preflightFunction: LifeboatFunction;
  public readonly fenceFunction: LifeboatFunction;
  public readonly checkWritableFunction: LifeboatFunction;
  public readonly verifyWriteFunction: LifeboatFunction;
  public readonly recordFunction: LifeboatFunction;
  public readonly planFailbackFunction: LifeboatFunction;
  public readonly createReplicaFunction: LifeboatFunction;
  public readonly describeReplicaFunction: LifeboatFunction;
  public readonly deleteReplicaFunction: LifeboatFunction;
  /** Starts a failover from a CloudWatch alarm state change (wf-alarm-start). */
  public readonly alarmStartFunction: LifeboatFunction;
  /** One rule per database: its primary-unwritable alarm → ALARM starts a failover. */
  public readonly alarmRules: ReadonlyMap<string, Rule>;
  public readonly deadLetterQueue: IQueue;

  constructor(scope: Construct, id: string, props: FailoverWorkflowsProps) {
    super(scope, id);
    const databases = failoverDatabases(props.config);
    if (databases.length === 0) {
      throw new Error('FailoverWorkflows needs at least one database with a failover block');
    }
    const drNetworkConfig = props.config.workflowNetwork?.dr;
    const context: FailoverContext = {
      base: props,
      databases,
      ...failoverRdsTargets(this, props, databases),
      network: drNetworkConfig ? importNetwork(new Construct(this, 'Network'), drNetworkConfig) : undefined,
    };
    this.lockTable = failoverLockTable(this, 'LockTable', props.environment, props.operationsKey.key);

    // Task functions first, then the state machines: the dashboard lists them in this order.
    const failover = failoverTasks(this, context);
    this.preflightFunction = failover.preflightFunction;
    this.fenceFunction = failover.fenceFunction;
    this.checkWritableFunction = failover.checkWritableFunction;
    this.verifyWriteFunction = failover.verifyWriteFunction;
    this.recordFunction = failover.recordFunction;

    const failback = failbackTasks(this, context);
    this.planFailbackFunction = failback.planFunction;
    this.createReplicaFunction = failback.createReplicaFunction;
    this.describeReplicaFunction = failback.describeReplicaFunction;
    this.deleteReplicaFunction = failback.deleteReplicaFunction;
    this.failover = failoverStateMachine(this, failover, {
      ...context,
      lockTable: this.lockTable,
      operationsKey: props.operationsKey,
      approvalTimeout: props.approvalTimeout,
    });
    this.failback = failbackStateMachine(this, failback, context);

    this.deadLetterQueue = alarmDeadLetterQueue(
      this,
      'DeadLetterQueue',
      props.operationsKey,
      props.deadLetterQueue,
    );
    const started = alarmStart(this, {
      base: props,
      databases,
      failover: this.failover.stateMachine,
      deadLetterQueue: this.deadLetterQueue,
    });
    this.alarmStartFunction = started.alarmStartFunction;
    this.alarmRules = started.alarmRules;
  }
}
