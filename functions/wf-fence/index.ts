import { ModifyDBClusterCommand, ModifyDBInstanceCommand, type RDSClient } from '@aws-sdk/client-rds';
import { errorMessage } from '#core/shared/errors.ts';
import { type FailoverTarget } from '#core/failover/failover.ts';
import { fenceCheckCommand } from '#core/failover/promotion.ts';
import { classifyRegionError, rdsErrorName } from '#core/snapshots/rds.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as, failoverTarget } from '../wf-common/events.ts';

/**
 * FenceOldPrimary: keeps the old primary from taking writes after the replica is promoted, by
 * moving it into a security group that lets nothing in (control plane only: it works without a
 * network path to the database).
 *
 * It never throws for what the primary's region answers: the result says what is known. In an
 * unplanned failover every result lets the workflow go on (a degraded region is the usual case); in
 * a planned one only `fenced` and `not-needed` do — the workflow refuses the others, because a
 * primary that may still take writes cannot be caught up with.
 *
 * Aurora planned switchover demotes the old primary itself: nothing to fence.
 */

export interface FenceEvent {
  readonly database: string;
  readonly mode: 'planned' | 'unplanned';
  readonly target: FailoverTarget;
}

export type FenceStatus =
  /** moved into the fence security group (RDS accepted the change) */
  | 'fenced'
  /** Aurora planned switchover: RDS demotes the old primary itself */
  | 'not-needed'
  /** no fence security group configured */
  | 'skipped'
  /** the old primary does not exist any more */
  | 'gone'
  /** the region or the database did not give a usable answer: the change may or may not be applied */
  | 'unknown'
  /** RDS refused the change outright (access denied, invalid parameter): not fenced */
  | 'failed';

export interface FenceResult {
  readonly status: FenceStatus;
  readonly detail: string;
  /** The AWS CLI command that shows the old primary's security groups (where fencing is the question). */
  readonly check?: string;
}

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
  const check = fenceCheckCommand(target);
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
    return { status: 'fenced', detail: `${primary} moved into ${target.fenceSecurityGroupId}`, check };
  } catch (err) {
    const name = rdsErrorName(err) || (err as { code?: string }).code || 'Error';
    const said = `${name}: ${errorMessage(err)}`.slice(0, 400);
    switch (classifyRegionError(err)) {
      case 'not-found':
        return { status: 'gone', detail: `${primary} does not exist any more (${name})` };
      case 'degraded':
        return {
          status: 'unknown',
          detail: `${target.primary.region} did not give a usable answer (${said}); ${primary} may or may not be fenced`,
          check,
        };
      case 'refused':
        return { status: 'failed', detail: `RDS refused to fence ${primary} (${said})`, check };
    }
  }
}

export const FenceEvent = as<FenceEvent>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    mode: z.enum(['planned', 'unplanned']),
    target: failoverTarget,
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-fence', event: FenceEvent },
  async (event, { logger }) => {
    const result = await fence(event, rdsIn(event.target.primary.region, { fast: true }));
    logger.info('fence', { database: event.database, ...result });
    return result;
  },
);
