import type { RDSClient } from '@aws-sdk/client-rds';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as, createdReplica } from '../wf-common/events.ts';
import { clusterOrNull, instanceOrNull } from '../wf-common/rds-lookup.ts';
import type { CreatedReplica } from '../wf-create-replica/index.ts';

/** DescribeReplica: status of the new replica in its region. */
export interface DescribeReplicaResult {
  readonly status: string;
  readonly available: boolean;
  /** A status it never leaves by waiting. */
  readonly hopeless: boolean;
}

const HOPELESS = [
  'failed',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-restore',
  'storage-full',
  'inaccessible-encryption-credentials',
  'deleting',
];

export async function describeReplica(
  replica: CreatedReplica,
  rds: RDSClient,
): Promise<DescribeReplicaResult> {
  const id = replica.kind === 'instance' ? replica.identifier : replica.instanceIdentifier!;
  const instance = await instanceOrNull(rds, id);
  const cluster = replica.kind === 'cluster' ? await clusterOrNull(rds, replica.identifier) : null;
  const status = instance?.DBInstanceStatus ?? 'missing';
  const clusterOk = replica.kind === 'instance' || cluster?.Status === 'available';
  return {
    status: replica.kind === 'cluster' ? `${cluster?.Status ?? 'missing'}/${status}` : status,
    available: status === 'available' && clusterOk,
    hopeless: instance === null || HOPELESS.includes(status),
  };
}

export const ReplicaEvent = as<{ replica: CreatedReplica }>(z.looseObject({ replica: createdReplica }));

export const handler = lambdaHandler({ service: 'wf-describe-replica', event: ReplicaEvent }, (event) =>
  describeReplica(event.replica, rdsIn(event.replica.region)),
);
