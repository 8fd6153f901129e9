import * as z from '#core/shared/zod.ts';
import type { FailoverTarget } from '#core/failover/failover.ts';
import type { PlannedRestore } from '#core/restore/restore-plan.ts';

/**
 * Pieces of the workflow tasks' event schemas. A task's input is what its state machine builds
 * from earlier states' results, so each schema checks the fields the task reads (a mismatch names
 * the field) and passes the object on unchanged: extra fields stay, nothing is defaulted.
 */

/** `schema`, typed as the shape the core takes (the fields it reads are what `schema` checks). */
export function as<T>(schema: z.core.$ZodType): z.ZodMiniType<T> {
  return schema as unknown as z.ZodMiniType<T>;
}

const placed = z.looseObject({
  region: z.string().check(z.minLength(1)),
  identifier: z.string().check(z.minLength(1)),
});

/** A failover target as the workflow carries it (from LIFEBOAT_FAILOVER_TARGETS, already validated). */
export const failoverTarget = as<FailoverTarget>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    kind: z.enum(['instance', 'cluster']),
    primary: placed,
    replica: placed,
    globalClusterIdentifier: z.optional(z.string().check(z.minLength(1))),
    secretArn: z.optional(z.string().check(z.minLength(1))),
    fenceSecurityGroupId: z.optional(z.string().check(z.minLength(1))),
  }),
);

/** A restore's target as ValidateInput planned it. */
export const restoreTarget = as<PlannedRestore['target']>(
  z.looseObject({
    kind: z.enum(['instance', 'cluster']),
    identifier: z.string().check(z.minLength(1)),
    instanceIdentifier: z.optional(z.string().check(z.minLength(1))),
    secretArn: z.optional(z.string().check(z.minLength(1))),
    databaseName: z.optional(z.string().check(z.minLength(1))),
  }),
);

/** The replica wf-create-replica made (`$.created.replica`). */
export const createdReplica = z.looseObject({
  kind: z.enum(['instance', 'cluster']),
  region: z.string().check(z.minLength(1)),
  identifier: z.string().check(z.minLength(1)),
  instanceIdentifier: z.optional(z.string().check(z.minLength(1))),
  clusterArn: z.optional(z.string().check(z.minLength(1))),
  globalClusterIdentifier: z.optional(z.string().check(z.minLength(1))),
});

/** Where a restore comes from (`$.restorePoint`, ResolveRestorePoint's answer). */
export const restorePoint = z.looseObject({
  kind: z.enum(['snapshot', 'point-in-time', 'dump']),
  backupId: z.optional(z.string().check(z.minLength(1))),
  restoreTime: z.optional(z.string().check(z.minLength(1))),
});

/** The restore request as ValidateInput planned it (`$.request`). */
export const plannedRestore = as<PlannedRestore>(
  z.looseObject({
    database: z.string().check(z.minLength(1)),
    route: z.string().check(z.minLength(1)),
    target: restoreTarget,
  }),
);
