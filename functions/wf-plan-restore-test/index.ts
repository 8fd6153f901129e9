import * as z from 'zod';
import { ConfigError, requireEnv } from '#core/shared/errors.ts';
import { planRestoreTest, type RestoreTestPlan } from '#core/restore/restore-plan.ts';
import { catalogFromEnv, taskHandler, WF_ENV } from '../wf-common/index.ts';

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

export const handler = taskHandler<PlanRestoreTestEvent, RestoreTestPlan>(
  'wf-plan-restore-test',
  async (event) =>
    planRestoreTest({
      database: event.database,
      executionName: event.executionName,
      backups: await catalogFromEnv().list({ database: event.database }),
      region: requireEnv('AWS_REGION'),
      secretArn: secretFor(event.database, process.env),
    }),
);
