import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { requireEnv } from '#core/shared/errors.ts';
import { type FailoverTarget, parseFailoverTargets } from '#core/failover/failover.ts';
import {
  type GatherFacts,
  type PreflightEvent,
  type PreflightFacts,
  type PreflightOutput,
  runPreflight,
} from '#core/failover/preflight.ts';
import { errorMessage } from '#core/shared/errors.ts';
import { classifyRegionError, isRdsNotFound, rdsErrorName } from '#core/snapshots/rds.ts';
import * as z from '#core/shared/zod.ts';
import { clientsByRegion } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn, WF_ENV } from '../wf-common/index.ts';
import { as } from '../wf-common/events.ts';

/**
 * Preflight task of the failover workflow: validates the input, resolves the target and observes
 * the replica (DR region), the old primary (its region, which may not answer) and the replica lag.
 * A refusal is returned (so a dry run reports every check), bad input is thrown.
 */

export interface PreflightDeps {
  readonly rds: (region: string, fast?: boolean) => RDSClient;
  readonly cloudwatch: (region: string) => CloudWatchClient;
  readonly now: () => Date;
}

export function gatherFacts(deps: PreflightDeps): GatherFacts {
  return async (target) =>
    target.kind === 'instance' ? instanceFacts(target, deps) : clusterFacts(target, deps);
}

/**
 * The old primary as its region answers. Any error counts as "not reachable": in an outage the
 * region answers with timeouts, 5xx, throttling, connection resets or a database in a state that
 * refuses; none of these may stop an unplanned failover, and all are reported.
 */
function unreachable(err: unknown): PreflightFacts['source'] {
  return {
    reachable: false,
    engineVersion: null,
    status: null,
    endpoint: null,
    detail: `${classifyRegionError(err)}: ${rdsErrorName(err) || 'Error'}: ${errorMessage(err)}`.slice(
      0,
      300,
    ),
  };
}

async function instanceFacts(target: FailoverTarget, deps: PreflightDeps) {
  const replica = await describeInstance(deps.rds(target.replica.region), target.replica.identifier);
  let source: PreflightFacts['source'];
  try {
    const primary = await describeInstance(deps.rds(target.primary.region, true), target.primary.identifier);
    source = {
      reachable: true,
      engineVersion: primary?.EngineVersion ?? null,
      status: primary?.DBInstanceStatus ?? null,
      endpoint: primary?.Endpoint?.Address ?? null,
    };
  } catch (err) {
    source = unreachable(err);
  }
  const lag = await maxRecent(
    deps,
    target.replica.region,
    'ReplicaLag',
    'DBInstanceIdentifier',
    target.replica.identifier,
    1,
  );
  const facts: PreflightFacts = {
    target: {
      exists: replica !== null,
      status: replica?.DBInstanceStatus ?? null,
      engineVersion: replica?.EngineVersion ?? null,
      role: replica === null ? null : replica.ReadReplicaSourceDBInstanceIdentifier ? 'replica' : 'writer',
      endpoint: replica?.Endpoint?.Address ?? null,
    },
    source,
    replicaLagSeconds: lag,
  };
  return { facts, replicaArn: replica?.DBInstanceArn ?? '' };
}

async function clusterFacts(target: FailoverTarget, deps: PreflightDeps) {
  const rds = deps.rds(target.replica.region);
  const cluster = await describeCluster(rds, target.replica.identifier);
  const global = (
    await rds.send(
      new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: target.globalClusterIdentifier }),
    )
  ).GlobalClusters?.[0];
  const member = global?.GlobalClusterMembers?.find((m) => m.DBClusterArn === cluster?.DBClusterArn);
  let source: PreflightFacts['source'];
  try {
    const primary = await describeCluster(deps.rds(target.primary.region, true), target.primary.identifier);
    source = {
      reachable: true,
      engineVersion: primary?.EngineVersion ?? null,
      status: primary?.Status ?? null,
      endpoint: primary?.Endpoint ?? null,
    };
  } catch (err) {
    // The global cluster (read in the DR region) knows the engine version of all its members.
    source = { ...unreachable(err), engineVersion: global?.EngineVersion ?? null };
  }
  // Aurora reports the global replication lag in milliseconds.
  const lagMs = await maxRecent(
    deps,
    target.replica.region,
    'AuroraGlobalDBReplicationLag',
    'DBClusterIdentifier',
    target.replica.identifier,
    1,
  );
  const facts: PreflightFacts = {
    target: {
      exists: cluster !== null,
      status: cluster?.Status ?? null,
      engineVersion: cluster?.EngineVersion ?? null,
      role: member === undefined ? null : member.IsWriter ? 'writer' : 'replica',
      endpoint: cluster?.Endpoint ?? null,
    },
    source,
    replicaLagSeconds: lagMs === null ? null : lagMs / 1000,
  };
  return { facts, replicaArn: cluster?.DBClusterArn ?? '' };
}

async function describeInstance(rds: RDSClient, id: string) {
  try {
    return (
      (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0] ?? null
    );
  } catch (err) {
    if (isRdsNotFound(err)) return null;
    throw err;
  }
}

async function describeCluster(rds: RDSClient, id: string) {
  try {
    return (
      (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0] ?? null
    );
  } catch (err) {
    if (isRdsNotFound(err)) return null;
    throw err;
  }
}

/** The largest value of the newest datapoint in the last 5 minutes, or null when there is none. */
async function maxRecent(
  deps: PreflightDeps,
  region: string,
  metric: string,
  dimension: string,
  value: string,
  periodMinutes: number,
): Promise<number | null> {
  const end = deps.now();
  const out = await deps.cloudwatch(region).send(
    new GetMetricStatisticsCommand({
      Namespace: 'AWS/RDS',
      MetricName: metric,
      Dimensions: [{ Name: dimension, Value: value }],
      StartTime: new Date(end.getTime() - 5 * 60_000),
      EndTime: end,
      Period: periodMinutes * 60,
      Statistics: ['Maximum'],
    }),
  );
  const newest = (out.Datapoints ?? [])
    .filter((d) => d.Timestamp && typeof d.Maximum === 'number')
    .sort((a, b) => b.Timestamp!.getTime() - a.Timestamp!.getTime())[0];
  return newest?.Maximum ?? null;
}

export async function runPreflightTask(
  event: PreflightEvent,
  deps: PreflightDeps,
  env: NodeJS.ProcessEnv = process.env,
): Promise<PreflightOutput> {
  const targets = parseFailoverTargets(requireEnv(WF_ENV.failoverTargets, env));
  return runPreflight(event, targets, gatherFacts(deps));
}

const deps: PreflightDeps = {
  rds: (region, fast) => rdsIn(region, { fast }),
  cloudwatch: clientsByRegion(CloudWatchClient, 'monitoring'),
  now: () => new Date(),
};

/** The envelope the state machine builds; the execution input is checked by runPreflight. */
const PreflightEnvelope = as<PreflightEvent>(
  z.looseObject({
    input: z.unknown(),
    executionId: z.string().check(z.minLength(1)),
    lockTable: z.optional(z.string().check(z.minLength(1))),
    recheck: z.optional(z.boolean()),
  }),
);

export const handler = lambdaHandler(
  { service: 'wf-failover-preflight', event: PreflightEnvelope },
  async (event, { logger }) => {
    const out = await runPreflightTask(event, deps);
    logger.info('preflight', {
      database: out.request.database,
      passed: out.passed,
      refusal: out.refusal,
      checks: out.checks,
    });
    return out;
  },
);
