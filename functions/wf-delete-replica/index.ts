import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  type RDSClient,
  RemoveFromGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import { type FailbackPlan, failbackInstanceOf } from '#core/failover/failback.ts';
import { LifeboatError } from '#core/shared/errors.ts';
import { isRdsError, isRdsNotFound } from '#core/snapshots/rds.ts';
import * as z from '#core/shared/zod.ts';
import { TAG } from '#core/contracts/index.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as } from '../wf-common/events.ts';
import { clusterOrNull, instanceOrNull } from '../wf-common/rds-lookup.ts';

const CREATED_BY = TAG.createdBy;

/**
 * DeleteCreatedReplica: the cleanup of a failed failback. It looks the planned replica up by its
 * names (the create's answer may have been lost, or the create may have stopped half way) and
 * removes only what carries this execution's `lifeboat:created-by` tag; anything else under those
 * names is left alone. An Aurora secondary is detached from the global database, its instance
 * deleted, and the cluster once the instance is gone (until then ReplicaDeletionPending, which the
 * workflow retries). What it answers is what the failure notification reports, with the commands
 * that check and finish the cleanup.
 */

/** The secondary cluster waits for its instance to be deleted (or to finish creating): retried. */
export class ReplicaDeletionPending extends LifeboatError {
  override readonly name = 'ReplicaDeletionPending';
}

export interface DeleteReplicaEvent {
  readonly plan: FailbackPlan;
  readonly executionName: string;
}

/**
 * - `none`: nothing exists under the planned names (nothing was created, or it is gone);
 * - `deleted`: what this execution created is deleted or being deleted;
 * - `not-ours`: the names are taken by databases this execution did not create: untouched;
 * - `left-behind`: something this execution created is still there (`detail` says why).
 */
export type CleanupStatus = 'none' | 'deleted' | 'not-ours' | 'left-behind';

export interface CleanupResult {
  readonly status: CleanupStatus;
  readonly kind: 'instance' | 'cluster';
  readonly region: string;
  readonly identifier: string;
  readonly detail: string;
  readonly deleted: string[];
  readonly check: string;
  readonly cleanup: string;
}

type Tagged = { TagList?: Array<{ Key?: string; Value?: string }> } | null;
const ownerOf = (found: Tagged) => found?.TagList?.find((t) => t.Key === CREATED_BY)?.Value;

/** Deletes an instance this execution created; what happened to it, in words. */
async function deleteInstance(
  rds: RDSClient,
  id: string,
  found: { DBInstanceStatus?: string } & NonNullable<Tagged>,
): Promise<'deleted' | 'gone' | string> {
  if (found.DBInstanceStatus === 'deleting') return 'deleted';
  try {
    await rds.send(
      new DeleteDBInstanceCommand({
        DBInstanceIdentifier: id,
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: true,
      }),
    );
    return 'deleted';
  } catch (err) {
    if (isRdsNotFound(err)) return 'gone';
    // RDS deletes an instance only in some states (not while it is being created) — and refuses
    // the retry of a delete whose answer was lost: the instance is deleting by then.
    if (isRdsError(err, 'InvalidDBInstanceStateFault')) {
      const now = await instanceOrNull(rds, id);
      if (now === null) return 'gone';
      if (now.DBInstanceStatus === 'deleting') return 'deleted';
      return `not deletable while ${now.DBInstanceStatus ?? found.DBInstanceStatus ?? 'in its state'}`;
    }
    throw err;
  }
}

export async function deleteReplica(event: DeleteReplicaEvent, rds: RDSClient): Promise<CleanupResult> {
  const { plan, executionName } = event;
  const base = {
    kind: plan.kind,
    region: plan.replica.region,
    identifier: plan.replica.identifier,
    check: plan.commands.check,
    cleanup: plan.commands.cleanup,
  };
  const deleted: string[] = [];
  const notOurs: string[] = [];
  const left: string[] = [];

  const instanceId =
    plan.kind === 'instance' ? plan.replica.identifier : failbackInstanceOf(plan.replica.identifier);
  const instance = await instanceOrNull(rds, instanceId);
  if (instance && ownerOf(instance) !== executionName)
    notOurs.push(`${instanceId} (${CREATED_BY}: ${ownerOf(instance) ?? 'none'})`);
  else if (instance) {
    const outcome = await deleteInstance(rds, instanceId, instance);
    if (outcome === 'deleted') deleted.push(instanceId);
    else if (outcome !== 'gone') left.push(`${instanceId}: ${outcome}`);
  }

  if (plan.kind === 'cluster') {
    const clusterId = plan.replica.identifier;
    const cluster = await clusterOrNull(rds, clusterId);
    if (cluster && ownerOf(cluster) !== executionName)
      notOurs.push(`${clusterId} (${CREATED_BY}: ${ownerOf(cluster) ?? 'none'})`);
    else if (cluster && cluster.Status !== 'deleting') {
      if (left.length > 0 || notOurs.length > 0) {
        left.push(`${clusterId}: its instance ${instanceId} is still in it`);
      } else {
        if (plan.globalClusterIdentifier && cluster.DBClusterArn) {
          try {
            await rds.send(
              new RemoveFromGlobalClusterCommand({
                GlobalClusterIdentifier: plan.globalClusterIdentifier,
                DbClusterIdentifier: cluster.DBClusterArn,
              }),
            );
          } catch (err) {
            // Already detached (an earlier attempt whose answer was lost): go on.
            if (!isRdsError(err, 'GlobalClusterNotFoundFault', 'DBClusterNotFoundFault')) throw err;
          }
        }
        try {
          await rds.send(
            new DeleteDBClusterCommand({ DBClusterIdentifier: clusterId, SkipFinalSnapshot: true }),
          );
          deleted.push(clusterId);
        } catch (err) {
          if (!isRdsNotFound(err)) {
            if (isRdsError(err, 'InvalidDBClusterStateFault'))
              throw new ReplicaDeletionPending(
                `cluster ${clusterId} (${plan.replica.region}) cannot be deleted yet (${(err as Error).message}); deleted so far: ${deleted.join(', ') || 'nothing'}`,
                { cause: err },
              );
            throw err;
          }
        }
      }
    } else if (cluster) deleted.push(clusterId);
  }

  const parts = [
    deleted.length ? `deleted ${deleted.join(', ')}` : '',
    left.length ? `left behind ${left.join('; ')}` : '',
    notOurs.length ? `not created by this execution, left alone: ${notOurs.join(', ')}` : '',
  ].filter(Boolean);
  const status: CleanupStatus =
    left.length > 0
      ? 'left-behind'
      : deleted.length > 0
        ? 'deleted'
        : notOurs.length > 0
          ? 'not-ours'
          : 'none';
  return {
    ...base,
    status,
    deleted,
    detail: parts.length
      ? parts.join('; ')
      : `nothing exists under ${plan.replica.identifier}: nothing to remove`,
  };
}

/** The plan (`$.plan`: what the cleanup looks for, and its commands) and the execution's name. */
export const DeleteReplicaEvent = as<DeleteReplicaEvent>(
  z.looseObject({
    executionName: z.string().check(z.minLength(1)),
    plan: z.looseObject({
      kind: z.enum(['instance', 'cluster']),
      replica: z.looseObject({
        region: z.string().check(z.minLength(1)),
        identifier: z.string().check(z.minLength(1)),
      }),
      globalClusterIdentifier: z.nullable(z.string().check(z.minLength(1))),
      commands: z.looseObject({
        check: z.string().check(z.minLength(1)),
        cleanup: z.string().check(z.minLength(1)),
      }),
    }),
  }),
);

export const handler = lambdaHandler({ service: 'wf-delete-replica', event: DeleteReplicaEvent }, (event) =>
  deleteReplica(event, rdsIn(event.plan.replica.region)),
);
