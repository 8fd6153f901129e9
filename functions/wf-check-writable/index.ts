import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { errorMessage } from '#core/shared/errors.ts';
import { type FailoverTarget } from '#core/failover/failover.ts';
import {
  nextPollWaitSeconds,
  type PromotionStatus,
  promotionAfterError,
  promotionCheckCommand,
  type ReplicaRole,
} from '#core/failover/promotion.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as, failoverTarget } from '../wf-common/events.ts';

/**
 * CheckWritable: whether the promoted database accepts writes yet, and the endpoint DNS should
 * point at. An RDS instance is writable once it is available and no longer names a source; an
 * Aurora secondary once it is the global cluster's writer and available. It also counts the
 * checks and says how long to wait before the next one (longer each time), so the poll costs
 * three state transitions per check.
 *
 * ConfirmPromotion (the same function, with `promoteError`): after a promote request failed, reads
 * the replica to tell whether the request was applied anyway (an answer lost after it was applied)
 * — see promotionAfterError.
 */

export interface CheckWritableEvent {
  readonly database: string;
  readonly target: FailoverTarget;
  /** Checks made so far in this poll. @default 0 */
  readonly attempts?: number;
  /** Seconds before the first check of the poll; later waits double from it. @default 15 */
  readonly firstWaitSeconds?: number;
  /** The promote request's error ({Error, Cause}): ConfirmPromotion. */
  readonly promoteError?: { readonly Error?: string; readonly Cause?: string };
}

export interface CheckWritableResult {
  readonly writable: boolean;
  readonly status: string;
  readonly endpoint: string;
  readonly role: ReplicaRole;
  readonly attempts: number;
  /** Seconds to wait before the next check. */
  readonly waitSeconds: number;
}

export interface ConfirmPromotionResult {
  readonly status: PromotionStatus;
  readonly detail: string;
  /** The AWS CLI command that tells whether the promotion happened. */
  readonly check: string;
}

export async function describeReplica(
  target: FailoverTarget,
  rds: RDSClient,
): Promise<Pick<CheckWritableResult, 'writable' | 'status' | 'endpoint' | 'role'>> {
  if (target.kind === 'instance') {
    const db = (
      await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: target.replica.identifier }))
    ).DBInstances?.[0];
    const status = db?.DBInstanceStatus ?? 'unknown';
    const isReplica = Boolean(db?.ReadReplicaSourceDBInstanceIdentifier);
    const role: ReplicaRole =
      db === undefined
        ? 'unknown'
        : !isReplica
          ? status === 'available'
            ? 'writer'
            : 'promoting'
          : status === 'available'
            ? 'replica'
            : // A replica being modified right after a promote request is the promotion under way;
              // one that is merely rebooting is not told apart here and counts as promoting too.
              'promoting';
    return {
      writable: status === 'available' && !isReplica,
      status,
      endpoint: db?.Endpoint?.Address ?? '',
      role,
    };
  }
  const cluster = (
    await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: target.replica.identifier }))
  ).DBClusters?.[0];
  const global = (
    await rds.send(
      new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: target.globalClusterIdentifier }),
    )
  ).GlobalClusters?.[0];
  const member = global?.GlobalClusterMembers?.find((m) => m.DBClusterArn === cluster?.DBClusterArn);
  const status = `${cluster?.Status ?? 'unknown'}/${global?.Status ?? 'unknown'}`;
  const writable =
    cluster?.Status === 'available' && global?.Status === 'available' && member?.IsWriter === true;
  const moving = ['switching-over', 'failing-over'].includes(global?.Status ?? '');
  const role: ReplicaRole =
    member === undefined
      ? 'unknown'
      : member.IsWriter
        ? writable
          ? 'writer'
          : 'promoting'
        : moving
          ? 'promoting'
          : 'replica';
  return { writable, status, endpoint: cluster?.Endpoint ?? '', role };
}

export async function checkWritable(event: CheckWritableEvent, rds: RDSClient): Promise<CheckWritableResult> {
  const attempts = (event.attempts ?? 0) + 1;
  const seen = await describeReplica(event.target, rds);
  return { ...seen, attempts, waitSeconds: nextPollWaitSeconds(attempts, event.firstWaitSeconds ?? 15) };
}

export async function confirmPromotion(
  event: CheckWritableEvent,
  rds: RDSClient,
): Promise<ConfirmPromotionResult> {
  let observed: { role: ReplicaRole; status: string } | null = null;
  let describeError = '';
  try {
    observed = await describeReplica(event.target, rds);
  } catch (err) {
    describeError = ` (describing it failed: ${errorMessage(err).slice(0, 200)})`;
  }
  const { promotion, detail } = promotionAfterError(event.promoteError ?? null, observed);
  return {
    status: promotion,
    detail: `${detail}${describeError}`,
    check: promotionCheckCommand(event.target),
  };
}

export const CheckWritableEvent = as<CheckWritableEvent>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    target: failoverTarget,
    attempts: z.optional(z.int().check(z.nonnegative())),
    firstWaitSeconds: z.optional(z.number().check(z.positive())),
    promoteError: z.optional(z.looseObject({ Error: z.optional(z.string()), Cause: z.optional(z.string()) })),
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-check-writable', event: CheckWritableEvent },
  (event): Promise<CheckWritableResult | ConfirmPromotionResult> => {
    const rds = rdsIn(event.target.replica.region);
    return event.promoteError ? confirmPromotion(event, rds) : checkWritable(event, rds);
  },
);
