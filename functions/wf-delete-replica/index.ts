import {
  DeleteDBClusterCommand,
  DeleteDBInstanceCommand,
  type RDSClient,
  RemoveFromGlobalClusterCommand,
} from '@aws-sdk/client-rds';
import * as z from 'zod';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as, createdReplica } from '../wf-common/events.ts';
import type { CreatedReplica } from '../wf-create-replica/index.ts';

/**
 * DeleteCreatedReplica: removes the replica this execution created (and nothing else: its input is
 * `$.created.replica`, the create task's own answer). An Aurora secondary is detached from the
 * global database first; its cluster is deleted once its instance is gone (a later retry or a
 * person finishes it if RDS is still deleting the instance — reported as a cleanup error).
 */
export async function deleteReplica(replica: CreatedReplica, rds: RDSClient): Promise<{ deleted: string[] }> {
  const deleted: string[] = [];
  if (replica.kind === 'instance') {
    await rds.send(
      new DeleteDBInstanceCommand({
        DBInstanceIdentifier: replica.identifier,
        SkipFinalSnapshot: true,
        DeleteAutomatedBackups: true,
      }),
    );
    return { deleted: [replica.identifier] };
  }
  if (replica.instanceIdentifier) {
    await rds.send(
      new DeleteDBInstanceCommand({
        DBInstanceIdentifier: replica.instanceIdentifier,
        SkipFinalSnapshot: true,
      }),
    );
    deleted.push(replica.instanceIdentifier);
  }
  if (replica.globalClusterIdentifier && replica.clusterArn) {
    await rds.send(
      new RemoveFromGlobalClusterCommand({
        GlobalClusterIdentifier: replica.globalClusterIdentifier,
        DbClusterIdentifier: replica.clusterArn,
      }),
    );
  }
  await rds.send(
    new DeleteDBClusterCommand({ DBClusterIdentifier: replica.identifier, SkipFinalSnapshot: true }),
  );
  deleted.push(replica.identifier);
  return { deleted };
}

export const ReplicaEvent = as<{ replica: CreatedReplica }>(z.looseObject({ replica: createdReplica }));

export const handler = lambdaHandler({ service: 'wf-delete-replica', event: ReplicaEvent }, (event) =>
  deleteReplica(event.replica, rdsIn(event.replica.region)),
);
