import * as z from 'zod';
import type { FailoverTarget } from '#core/failover/failover.ts';
import type { PlannedRestore } from '#core/restore/restore-plan.ts';

/**
 * Pieces of the workflow tasks' event schemas. A task's input is what its state machine builds
 * from earlier states' results, so each schema checks the fields the task reads (a mismatch names
 * the field) and passes the object on unchanged: extra fields stay, nothing is defaulted.
 */

/** `schema`, typed as the shape the core takes (the fields it reads are what `schema` checks). */
export function as<T>(schema: z.ZodType): z.ZodType<T> {
  return schema as unknown as z.ZodType<T>;
}

const placed = z.looseObject({ region: z.string().min(1), identifier: z.string().min(1) });

/** A failover target as the workflow carries it (from LIFEBOAT_FAILOVER_TARGETS, already validated). */
export const failoverTarget = as<FailoverTarget>(
  z.looseObject({
    database: z.string().min(1),
    kind: z.enum(['instance', 'cluster']),
    primary: placed,
    replica: placed,
    globalClusterIdentifier: z.string().min(1).optional(),
    secretArn: z.string().min(1).optional(),
    fenceSecurityGroupId: z.string().min(1).optional(),
  }),
);

/** A restore's target as ValidateInput planned it. */
export const restoreTarget = as<PlannedRestore['target']>(
  z.looseObject({
    kind: z.enum(['instance', 'cluster']),
    identifier: z.string().min(1),
    instanceIdentifier: z.string().min(1).optional(),
    secretArn: z.string().min(1).optional(),
    databaseName: z.string().min(1).optional(),
  }),
);

/** The replica wf-create-replica made (`$.created.replica`). */
export const createdReplica = z.looseObject({
  kind: z.enum(['instance', 'cluster']),
  region: z.string().min(1),
  identifier: z.string().min(1),
  instanceIdentifier: z.string().min(1).optional(),
  clusterArn: z.string().min(1).optional(),
  globalClusterIdentifier: z.string().min(1).optional(),
});

/** Where a restore comes from (`$.restorePoint`, ResolveRestorePoint's answer). */
export const restorePoint = z.looseObject({
  kind: z.enum(['snapshot', 'point-in-time', 'dump']),
  backupId: z.string().min(1).optional(),
  restoreTime: z.string().min(1).optional(),
});

/** The restore request as ValidateInput planned it (`$.request`). */
export const plannedRestore = as<PlannedRestore>(
  z.looseObject({ database: z.string().min(1), route: z.string().min(1), target: restoreTarget }),
);
