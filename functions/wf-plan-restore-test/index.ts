import * as z from '#core/shared/zod.ts';
import type { Catalog } from '#core/catalog/catalog.ts';
import { ConfigError, requireEnv } from '#core/shared/errors.ts';
import { planRestoreTest, type RestoreTestPlan } from '#core/restore/restore-plan.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { catalogFromEnv, WF_ENV } from '../wf-common/index.ts';

/** PlanRestoreTest: newest snapshot of the database in this region, the matching dump, temporary names. */
export interface PlanRestoreTestEvent {
  readonly database: string;
  readonly executionName: string;
}

export function secretFor(database: string, env: NodeJS.ProcessEnv): string {
  const parsed = z
    .record(z.string(), z.string())
    .safeParse(JSON.parse(requireEnv(WF_ENV.databaseSecrets, env)));
  if (!parsed.success)
    throw new ConfigError(`${WF_ENV.databaseSecrets} must be a JSON object of database → secret ARN`);
  const secret = parsed.data[database];
  if (!secret) throw new ConfigError(`${WF_ENV.databaseSecrets} has no secret for database "${database}"`);
  return secret;
}

export const PlanRestoreTestEvent = z.looseObject({
  database: z.string().check(z.minLength(1)),
  executionName: z.string().check(z.minLength(1)),
});

/** The plan of one restore test: the catalog of this region, the database's secret from the environment. */
export async function planRestoreTestTask(
  event: PlanRestoreTestEvent,
  catalog: Pick<Catalog, 'list'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RestoreTestPlan> {
  return planRestoreTest({
    database: event.database,
    executionName: event.executionName,
    backups: await catalog.list({ database: event.database }),
    region: requireEnv('AWS_REGION', env),
    secretArn: secretFor(event.database, env),
  });
}

export const handler = lambdaHandler(
  { service: 'wf-plan-restore-test', event: PlanRestoreTestEvent },
  async (event) => planRestoreTestTask(event, catalogFromEnv()),
);
