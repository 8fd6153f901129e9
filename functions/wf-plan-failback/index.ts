import { DescribeGlobalClustersCommand, type RDSClient } from '@aws-sdk/client-rds';
import { requireEnv } from '#core/shared/errors.ts';
import { findTarget, parseFailoverTargets } from '#core/failover/failover.ts';
import { type FailbackPlan, FailbackRequest, planFailback } from '#core/failover/failback.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn, WF_ENV } from '../wf-common/index.ts';
import { as } from '../wf-common/events.ts';
import { clusterOrNull, instanceOrNull } from '../wf-common/rds-lookup.ts';

/**
 * PlanFailback: after a failover the DR side is the primary; plan a new replica of it in the
 * region the database failed away from. Refuses (SourceNotPrimary) when the DR side still
 * replicates, i.e. no failover happened, and (ReplicaExists) when the new primary already has a
 * replica in the recovered region: it is protected, and a second replica would only cost.
 */

export interface PlanFailbackEvent {
  readonly input: unknown;
  readonly executionName: string;
}

export async function planFailbackTask(
  event: PlanFailbackEvent,
  rds: (region: string) => RDSClient,
  env: NodeJS.ProcessEnv = process.env,
): Promise<FailbackPlan> {
  const targets = parseFailoverTargets(requireEnv(WF_ENV.failoverTargets, env));
  const request = FailbackRequest.safeParse(event.input);
  // planFailback reports bad input with the field's name; only look AWS up for a valid request.
  if (!request.success)
    return planFailback(event.input, targets, {
      executionName: event.executionName,
      sourceArn: '',
      sourceIsPrimary: false,
    });
  const target = findTarget(targets, request.data.database);
  const client = rds(target.replica.region);
  const recovered = target.primary.region;
  let sourceArn: string;
  let sourceIsPrimary: boolean;
  let existingReplica: string | null;
  if (target.kind === 'instance') {
    const db = await instanceOrNull(client, target.replica.identifier);
    sourceArn = db?.DBInstanceArn ?? '';
    sourceIsPrimary =
      db !== null && !db.ReadReplicaSourceDBInstanceIdentifier && db.DBInstanceStatus === 'available';
    // A cross-region replica is listed by its ARN; one in the recovered region already protects it.
    existingReplica =
      db?.ReadReplicaDBInstanceIdentifiers?.find((id) => id.startsWith(`arn:aws:rds:${recovered}:`)) ?? null;
  } else {
    const cluster = await clusterOrNull(client, target.replica.identifier);
    const global = (
      await client.send(
        new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: target.globalClusterIdentifier }),
      )
    ).GlobalClusters?.[0];
    sourceArn = cluster?.DBClusterArn ?? '';
    sourceIsPrimary =
      global?.GlobalClusterMembers?.some((m) => m.DBClusterArn === sourceArn && m.IsWriter) ?? false;
    // A secondary in the recovered region (the old primary rejoined, or an earlier failback's).
    existingReplica =
      global?.GlobalClusterMembers?.find(
        (m) => !m.IsWriter && m.DBClusterArn?.startsWith(`arn:aws:rds:${recovered}:`),
      )?.DBClusterArn ?? null;
  }
  return planFailback(event.input, targets, {
    executionName: event.executionName,
    sourceArn,
    sourceIsPrimary,
    existingReplica,
  });
}

/** The envelope the state machine builds; the execution input is checked by planFailback. */
export const PlanFailbackEvent = as<PlanFailbackEvent>(
  z.looseObject({ input: z.unknown(), executionName: z.string().check(z.minLength(1)) }),
);

export const handler = lambdaHandler({ service: 'wf-plan-failback', event: PlanFailbackEvent }, (event) =>
  planFailbackTask(event, (region) => rdsIn(region)),
);
