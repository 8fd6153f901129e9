import type { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { WorkflowBaseProps } from '../common.ts';

/** Partition key (string) of the lock table: `failover#<database>`. */
export const LOCK_KEY_ATTRIBUTE = 'lockId';

export interface FailoverWorkflowProps extends WorkflowBaseProps {
  /**
   * Table holding one item per running failover (partition key `lockId`, string). The workflow
   * writes it with a conditional PutItem and deletes it at the end; the approval gate stores its
   * task token in it (attribute approvalToken) so `lifeboat approve` finds it by database name.
   */
  readonly lockTable: ITable;
  /** wf-failover-preflight: validates the input, resolves the target, runs the checks. */
  readonly preflightFunction: IFunction;
  /** wf-fence: moves the old primary out of reach where its region answers. */
  readonly fenceFunction: IFunction;
  /** wf-check-writable: whether the promoted database accepts writes yet, and its endpoint. */
  readonly checkWritableFunction: IFunction;
  /** wf-verify-write: writes and reads back a row on the new primary. */
  readonly verifyWriteFunction: IFunction;
  /** wf-record-failover: writes the failover record (RTO, RPO) to the catalog. */
  readonly recordFunction: IFunction;
  /**
   * Whether an alarm-started failover may go ahead without a person approving it.
   * @default false
   */
  readonly automaticFailover?: boolean;
  /**
   * How long the approval gate waits before giving up (error ApprovalTimedOut).
   * @default Duration.hours(1)
   */
  readonly approvalTimeout?: Duration;
  /**
   * Wait before the first writability check of the promoted database; each later wait doubles,
   * up to 2 minutes (a promotion takes minutes: frequent checks only cost transitions).
   * @default Duration.seconds(15)
   */
  readonly promotionPollInterval?: Duration;
  /**
   * Checks before a promotion that never becomes writable is reported (partial failure).
   * @default the number whose waits add up to 30 minutes (18 at the default interval)
   */
  readonly promotionMaxAttempts?: number;
  /**
   * Wait before the first check of the DNS change; later checks wait `dnsPollInterval`.
   * Route 53 changes are usually INSYNC within a minute.
   * @default Duration.seconds(30)
   */
  readonly dnsFirstWait?: Duration;
  /** @default Duration.seconds(15) */
  readonly dnsPollInterval?: Duration;
  /** @default 30 */
  readonly dnsMaxAttempts?: number;
  /**
   * Planned mode: how long, after fencing, to wait for the replica to replay the old primary's
   * last WAL position before refusing (ReplicaNotCaughtUp). Inside one VerifyWrite invocation,
   * so under its 2-minute timeout.
   * @default Duration.seconds(90)
   */
  readonly catchUpTimeout?: Duration;
  /**
   * Hosted zones the workflow may change (IAM scope).
   * @default - every hosted zone of the account
   */
  readonly hostedZoneIds?: readonly string[];
  /** @default Duration.hours(4) */
  readonly timeout?: Duration;
}
