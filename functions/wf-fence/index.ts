import { ModifyDBClusterCommand, ModifyDBInstanceCommand, type RDSClient } from '@aws-sdk/client-rds';
import { errorMessage } from '#core/errors.ts';
import type { FailoverTarget } from '#core/failover.ts';
import { rdsErrorName } from '#core/rds.ts';
import { rdsIn, taskHandler } from '../wf-common/index.ts';

/**
 * FenceOldPrimary: keeps the old primary from taking writes after the replica is promoted, by
 * moving it into a security group that lets nothing in (control plane only: it works without a
 * network path to the database). Reports instead of failing when the primary's region does not
 * answer (the usual case in an unplanned failover) or when fencing is not needed.
 *
 * Aurora planned switchover demotes the old primary itself: nothing to fence.
 */

export interface FenceEvent {
  readonly database: string;
  readonly mode: 'planned' | 'unplanned';
  readonly target: FailoverTarget;
}

export interface FenceResult {
  /** fenced | unreachable | not-needed | skipped (no fence security group configured) */
  readonly status: 'fenced' | 'unreachable' | 'not-needed' | 'skipped';
  readonly detail: string;
}

const GONE = ['DBInstanceNotFound', 'DBInstanceNotFoundFault', 'DBClusterNotFoundFault'];
const UNREACHABLE = [
  'TimeoutError',
  'RequestTimeout',
  'ECONNREFUSED',
  'ENOTFOUND',
  'ETIMEDOUT',
  'NetworkingError',
  'EAI_AGAIN',
];

export async function fence(event: FenceEvent, rds: RDSClient): Promise<FenceResult> {
  const { target, mode } = event;
  const primary = `${target.primary.identifier} (${target.primary.region})`;
  if (target.kind === 'cluster' && mode === 'planned') {
    return { status: 'not-needed', detail: `switchover demotes ${primary} itself` };
  }
  if (!target.fenceSecurityGroupId) {
    return {
      status: 'skipped',
      detail: `no fence security group configured for ${target.database}: ${primary} is not fenced`,
    };
  }
  const groups = [target.fenceSecurityGroupId];
  try {
    if (target.kind === 'instance') {
      await rds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: target.primary.identifier,
          VpcSecurityGroupIds: groups,
          ApplyImmediately: true,
        }),
      );
    } else {
      await rds.send(
        new ModifyDBClusterCommand({
          DBClusterIdentifier: target.primary.identifier,
          VpcSecurityGroupIds: groups,
          ApplyImmediately: true,
        }),
      );
    }
    return { status: 'fenced', detail: `${primary} moved into ${target.fenceSecurityGroupId}` };
  } catch (err) {
    const name = rdsErrorName(err) || (err as { code?: string }).code || '';
    if (GONE.includes(name)) return { status: 'unreachable', detail: `${primary} does not exist any more` };
    if (UNREACHABLE.some((u) => name.includes(u) || errorMessage(err).includes(u))) {
      return {
        status: 'unreachable',
        detail: `${target.primary.region} did not answer (${name || errorMessage(err)})`,
      };
    }
    throw err;
  }
}

export const handler = taskHandler<FenceEvent, FenceResult>('wf-fence', async (event, logger) => {
  const result = await fence(event, rdsIn(event.target.primary.region, { fast: true }));
  logger.info('fence', { database: event.database, ...result });
  return result;
});
