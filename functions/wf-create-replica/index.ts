import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  DeleteDBClusterCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import type { FailbackPlan } from '#core/failover.ts';
import { rdsIn, taskHandler } from '../wf-common/index.ts';
import { REPLICA_ENV } from './env.ts';

/**
 * CreateReplica: in the recovered region, a cross-region read replica of the new primary (the SDK
 * presigns the request from the source ARN's region), or for Aurora a secondary cluster joined to the global
 * database plus its instance. Settings of the recovered region come from the environment.
 */

export { REPLICA_ENV } from './env.ts';

export interface CreateReplicaEvent {
  readonly plan: FailbackPlan;
  readonly executionName: string;
}

/** What the workflow keeps at `$.created.replica`: exactly what the cleanup must remove. */
export interface CreatedReplica {
  readonly kind: 'instance' | 'cluster';
  readonly region: string;
  readonly identifier: string;
  /** Aurora: the secondary cluster's instance. */
  readonly instanceIdentifier?: string;
  readonly clusterArn?: string | undefined;
  readonly globalClusterIdentifier?: string;
}

export async function createReplica(
  event: CreateReplicaEvent,
  rds: RDSClient,
  env: NodeJS.ProcessEnv,
): Promise<CreatedReplica> {
  const { plan } = event;
  const tags = [
    { Key: 'lifeboat:workflow', Value: 'failback' },
    { Key: 'lifeboat:created-by', Value: event.executionName },
  ];
  const kms = env[REPLICA_ENV.kmsKeyArn] || undefined;
  const subnets = env[REPLICA_ENV.subnetGroup] || undefined;
  if (plan.kind === 'instance') {
    await rds.send(
      new CreateDBInstanceReadReplicaCommand({
        DBInstanceIdentifier: plan.replica.identifier,
        // An ARN of another region: the SDK's RDS middleware presigns the request from it.
        SourceDBInstanceIdentifier: plan.source.arn,
        KmsKeyId: kms,
        DBSubnetGroupName: subnets,
        PubliclyAccessible: false,
        Tags: tags,
      }),
    );
    return { kind: 'instance', region: plan.replica.region, identifier: plan.replica.identifier };
  }
  const cluster = await rds.send(
    new CreateDBClusterCommand({
      DBClusterIdentifier: plan.replica.identifier,
      GlobalClusterIdentifier: plan.globalClusterIdentifier ?? undefined,
      Engine: 'aurora-postgresql',
      EngineVersion: plan.engineVersion,
      KmsKeyId: kms,
      DBSubnetGroupName: subnets,
      Tags: tags,
    }),
  );
  const instanceIdentifier = `${plan.replica.identifier}-1`;
  try {
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: instanceIdentifier,
        DBClusterIdentifier: plan.replica.identifier,
        Engine: 'aurora-postgresql',
        DBInstanceClass: env[REPLICA_ENV.instanceClass] || 'db.r6g.large',
        Tags: tags,
      }),
    );
  } catch (err) {
    // The workflow only learns of what this task returns: remove the half-made secondary here.
    await rds
      .send(
        new DeleteDBClusterCommand({ DBClusterIdentifier: plan.replica.identifier, SkipFinalSnapshot: true }),
      )
      .catch(() => undefined);
    throw err;
  }
  return {
    kind: 'cluster',
    region: plan.replica.region,
    identifier: plan.replica.identifier,
    instanceIdentifier,
    clusterArn: cluster.DBCluster?.DBClusterArn,
    globalClusterIdentifier: plan.globalClusterIdentifier ?? undefined,
  };
}

export const handler = taskHandler<CreateReplicaEvent, CreatedReplica>('wf-create-replica', (event) =>
  createReplica(event, rdsIn(event.plan.replica.region), process.env),
);
