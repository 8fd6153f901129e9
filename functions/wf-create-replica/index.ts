import {
  CreateDBClusterCommand,
  CreateDBInstanceCommand,
  CreateDBInstanceReadReplicaCommand,
  type RDSClient,
} from '@aws-sdk/client-rds';
import { LifeboatError } from '#core/shared/errors.ts';
import { type FailbackPlan, failbackInstanceOf } from '#core/failover/failback.ts';
import { isRdsError } from '#core/snapshots/rds.ts';
import * as z from '#core/shared/zod.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { rdsIn } from '../wf-common/index.ts';
import { as } from '../wf-common/events.ts';
import { clusterOrNull, instanceOrNull } from '../wf-common/rds-lookup.ts';
import { REPLICA_ENV } from './env.ts';
import { TAG, WORKFLOW_TAG_VALUE } from '#core/contracts/index.ts';

/**
 * CreateReplica: in the recovered region, a cross-region read replica of the new primary (the SDK
 * presigns the request from the source ARN's region), or for Aurora a secondary cluster joined to the global
 * database plus its instance. Settings of the recovered region come from the environment.
 */

export { REPLICA_ENV } from './env.ts';

/** The replica's name is taken by a database this execution did not create: nothing was touched. */
export class ReplicaNameTaken extends LifeboatError {
  override readonly name = 'ReplicaNameTaken';
}

const CREATED_BY = TAG.createdBy;

/**
 * Runs a create; when RDS says the name exists, it is this execution's own database only if it
 * carries this execution's tag (an earlier attempt whose answer was lost) — then the create is
 * done. Anything else under that name is not ours and is left alone.
 */
async function createOnce(
  create: () => Promise<unknown>,
  existing: () => Promise<{ TagList?: Array<{ Key?: string; Value?: string }> } | null>,
  what: string,
  executionName: string,
): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (!isRdsError(err, 'DBInstanceAlreadyExistsFault', 'DBClusterAlreadyExistsFault')) throw err;
    const found = await existing();
    const owner = found?.TagList?.find((t) => t.Key === CREATED_BY)?.Value;
    if (owner !== executionName) {
      throw new ReplicaNameTaken(
        `${what} exists and was not created by this execution (${CREATED_BY}: ${owner ?? 'none'}); nothing was changed or deleted`,
        { cause: err },
      );
    }
  }
}

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
    { Key: TAG.workflow, Value: WORKFLOW_TAG_VALUE.failback },
    { Key: CREATED_BY, Value: event.executionName },
  ];
  const name = event.executionName;
  const kms = env[REPLICA_ENV.kmsKeyArn] || undefined;
  const subnets = env[REPLICA_ENV.subnetGroup] || undefined;
  if (plan.kind === 'instance') {
    await createOnce(
      () =>
        rds.send(
          new CreateDBInstanceReadReplicaCommand({
            DBInstanceIdentifier: plan.replica.identifier,
            // An ARN of another region: the SDK's RDS middleware presigns the request from it.
            SourceDBInstanceIdentifier: plan.source.arn,
            KmsKeyId: kms,
            DBSubnetGroupName: subnets,
            PubliclyAccessible: false,
            Tags: tags,
          }),
        ),
      () => instanceOrNull(rds, plan.replica.identifier),
      `instance ${plan.replica.identifier} (${plan.replica.region})`,
      name,
    );
    return { kind: 'instance', region: plan.replica.region, identifier: plan.replica.identifier };
  }
  let clusterArn: string | undefined;
  await createOnce(
    async () => {
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
      clusterArn = cluster.DBCluster?.DBClusterArn;
    },
    async () => {
      const found = await clusterOrNull(rds, plan.replica.identifier);
      clusterArn = found?.DBClusterArn;
      return found;
    },
    `cluster ${plan.replica.identifier} (${plan.replica.region})`,
    name,
  );
  const instanceIdentifier = failbackInstanceOf(plan.replica.identifier);
  // A failed instance create leaves the secondary cluster: the workflow's cleanup finds both by
  // their planned names and removes what carries this execution's tag (wf-delete-replica).
  await createOnce(
    () =>
      rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: instanceIdentifier,
          DBClusterIdentifier: plan.replica.identifier,
          Engine: 'aurora-postgresql',
          DBInstanceClass: env[REPLICA_ENV.instanceClass] || 'db.r6g.large',
          Tags: tags,
        }),
      ),
    () => instanceOrNull(rds, instanceIdentifier),
    `instance ${instanceIdentifier} (${plan.replica.region})`,
    name,
  );
  return {
    kind: 'cluster',
    region: plan.replica.region,
    identifier: plan.replica.identifier,
    instanceIdentifier,
    clusterArn,
    globalClusterIdentifier: plan.globalClusterIdentifier ?? undefined,
  };
}

const placed = z.looseObject({
  region: z.string().check(z.minLength(1)),
  identifier: z.string().check(z.minLength(1)),
});
export const CreateReplicaEvent = as<CreateReplicaEvent>(
  z.looseObject({
    executionName: z.string().check(z.minLength(1)),
    plan: z.looseObject({
      database: z.string().check(z.minLength(1)),
      kind: z.enum(['instance', 'cluster']),
      source: z.extend(placed, { arn: z.string().check(z.minLength(1)) }),
      replica: placed,
      globalClusterIdentifier: z.nullable(z.string().check(z.minLength(1))),
      engineVersion: z.string().check(z.minLength(1)),
    }),
  }),
);

export const handler = lambdaHandler({ service: 'wf-create-replica', event: CreateReplicaEvent }, (event) =>
  createReplica(event, rdsIn(event.plan.replica.region), process.env),
);
