import { DescribeDBClustersCommand, DescribeDBInstancesCommand, type RDSClient } from '@aws-sdk/client-rds';
import { DatabaseNotFound } from '#core/shared/errors.ts';
import { isRdsNotFound } from '#core/snapshots/rds.ts';

export async function instanceOrNull(rds: RDSClient, id: string) {
  try {
    return (
      (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }))).DBInstances?.[0] ?? null
    );
  } catch (err) {
    if (isRdsNotFound(err)) return null;
    throw err;
  }
}

export async function clusterOrNull(rds: RDSClient, id: string) {
  try {
    return (
      (await rds.send(new DescribeDBClustersCommand({ DBClusterIdentifier: id }))).DBClusters?.[0] ?? null
    );
  } catch (err) {
    if (isRdsNotFound(err)) return null;
    throw err;
  }
}

/** The endpoint address of an existing instance; DatabaseNotFound names it otherwise. */
export async function instanceEndpoint(rds: RDSClient, id: string): Promise<string> {
  const db = await instanceOrNull(rds, id);
  if (!db?.Endpoint?.Address)
    throw new DatabaseNotFound(`instance ${id} does not exist or has no endpoint yet`);
  return db.Endpoint.Address;
}
