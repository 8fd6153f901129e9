import type { RDSClient } from '@aws-sdk/client-rds';
import type { Catalog } from '#core/catalog/catalog.ts';
import { requireEnv } from '#core/shared/errors.ts';
import {
  chooseRestorePoint,
  type PlannedRestore,
  type RestorePoint,
  TargetAlreadyExists,
} from '#core/restore/restore-plan.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { catalogFromEnv, rdsIn } from '../wf-common/index.ts';
import { as, plannedRestore } from '../wf-common/events.ts';
import { clusterOrNull, instanceOrNull } from '../wf-common/rds-lookup.ts';

/**
 * ResolveRestorePoint: picks the restore point from the catalog and refuses a target that exists
 * already (TargetAlreadyExists) — before anything is created, so the cleanup never meets it.
 */

export interface ResolveEvent {
  readonly request: PlannedRestore;
}

export interface ResolveDeps {
  readonly catalog: Catalog;
  readonly rds: RDSClient;
  readonly region: string;
  /** Whether the dump target server already has the database. */
  readonly databaseExists: (request: PlannedRestore) => Promise<boolean>;
}

export async function resolveRestorePoint(event: ResolveEvent, deps: ResolveDeps): Promise<RestorePoint> {
  const { request } = event;
  const point = chooseRestorePoint(
    request,
    await deps.catalog.list({ database: request.database }),
    deps.region,
  );
  if (request.route === 'dump') {
    if (await deps.databaseExists(request)) {
      throw new TargetAlreadyExists(
        `database "${request.target.databaseName}" already exists on ${request.target.identifier}: name a new one`,
      );
    }
    return point;
  }
  if (request.target.kind === 'cluster' && (await clusterOrNull(deps.rds, request.target.identifier))) {
    throw new TargetAlreadyExists(
      `cluster ${request.target.identifier} already exists: a restore creates a new one`,
    );
  }
  if (await instanceOrNull(deps.rds, request.target.instanceIdentifier)) {
    throw new TargetAlreadyExists(
      `instance ${request.target.instanceIdentifier} already exists: a restore creates a new one`,
    );
  }
  return point;
}

export const ResolveEvent = as<ResolveEvent>(z.looseObject({ request: plannedRestore }));

export const handler = lambdaHandler({ service: 'wf-resolve-restore-point', event: ResolveEvent }, (event) =>
  resolveRestorePoint(event, {
    catalog: catalogFromEnv(),
    rds: rdsIn(undefined),
    region: requireEnv('AWS_REGION'),
    databaseExists: async (request) => (await import('./database-exists.ts')).databaseExists(request),
  }),
);
