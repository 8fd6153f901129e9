import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import type { FailoverTarget } from '#core/failover.ts';
import { rdsIn, taskHandler } from '../wf-common/index.ts';

/**
 * CheckWritable: whether the promoted database accepts writes yet, and the endpoint DNS should
 * point at. An RDS instance is writable once it is available and no longer names a source; an
 * Aurora secondary once it is the global cluster's writer and available.
 */

export interface CheckWritableEvent {
  readonly database: string;
  readonly target: FailoverTarget;
}

export interface CheckWritableResult {
  readonly writable: boolean;
  readonly status: string;
  readonly endpoint: string;
}

export async function checkWritable(event: CheckWritableEvent, rds: RDSClient): Promise<CheckWritableResult> {
  const { target } = event;
  if (target.kind === 'instance') {
    const db = (
      await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: target.replica.identifier }))
    ).DBInstances?.[0];
    const status = db?.DBInstanceStatus ?? 'unknown';
    return {
      writable: status === 'available' && !db?.ReadReplicaSourceDBInstanceIdentifier,
      status,
      endpoint: db?.Endpoint?.Address ?? '',
    };
  }
  const cluster = (
    await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: target.replica.identifier }))
  ).DBClusters?.[0];
  const global = (
    await rds.send(
      new DescribeGlobalClustersCommand({ GlobalClusterIdentifier: target.globalClusterIdentifier }),
    )
  ).GlobalClusters?.[0];
  const member = global?.GlobalClusterMembers?.find((m) => m.DBClusterArn === cluster?.DBClusterArn);
  const status = `${cluster?.Status ?? 'unknown'}/${global?.Status ?? 'unknown'}`;
  return {
    writable: cluster?.Status === 'available' && global?.Status === 'available' && member?.IsWriter === true,
    status,
    endpoint: cluster?.Endpoint ?? '',
  };
}

export const handler = taskHandler<CheckWritableEvent, CheckWritableResult>('wf-check-writable', (event) =>
  checkWritable(event, rdsIn(event.target.replica.region)),
);
