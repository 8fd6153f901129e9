import { GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeKeyCommand } from '@aws-sdk/client-kms';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
} from '@aws-sdk/client-rds';
import { GetHostedZoneCommand } from '@aws-sdk/client-route-53';
import { GetBucketReplicationCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { DescribeStateMachineCommand, ValidateStateMachineDefinitionCommand } from '@aws-sdk/client-sfn';
import { failoverDatabases } from '../../../../lib/recovery.ts';
import { type WorkflowName } from '../../../../state-machines/common.ts';
import { workflowArn } from '../../aws/workflows.ts';
import { type Deployed, type DoctorClients } from './facts.ts';
import { ENVIRONMENT, type Finding } from './findings.ts';

/**
 * What doctor judges of the workflows and of what the configuration names: every workflow
 * definition validated, and the databases, replicas and their lag, keys, secrets, hosted zones and
 * buckets described, each problem a finding with its fix.
 */

export async function checkWorkflows(
  d: Deployed,
  clients: DoctorClients,
  findings: Finding[],
): Promise<void> {
  const workflows: WorkflowName[] = ['restore', 'failover', 'failback'];
  if (d.env.config.restoreTest) workflows.push('restore-test');
  for (const wf of workflows) {
    if ((wf === 'failover' || wf === 'failback') && failoverDatabases(d.env.config).length === 0) continue;
    const regions = wf === 'restore' ? [d.env.primary.region, d.env.dr.region] : [d.env.workflowRegion(wf)];
    for (const region of regions) {
      try {
        const arn = await workflowArn(clients.ssm(region), d.env.name, wf, region);
        const sfn = clients.sfn(region);
        const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
        const result = await sfn.send(
          new ValidateStateMachineDefinitionCommand({
            definition: described.definition,
            type: described.type,
          }),
        );
        if (result.result !== 'OK') {
          findings.push({
            database: ENVIRONMENT,
            region,
            check: 'workflow',
            problem: `the ${wf} workflow's definition is refused: ${(result.diagnostics ?? []).map((x) => `${x.code} ${x.message}`).join('; ')}`,
            fix: `redeploy (npx cdk deploy -c env=${d.env.name} --all) from a build whose tests pass`,
          });
        }
      } catch (err) {
        findings.push({
          database: ENVIRONMENT,
          region,
          check: 'workflow',
          problem: `the ${wf} workflow: ${(err as Error).message}`,
          fix: `deploy it: npx cdk deploy -c env=${d.env.name} --all`,
        });
      }
    }
  }
}

/** What the configuration names, described: replicas and lag, keys, buckets, secrets, zones. */
export async function checkConfiguration(
  d: Deployed,
  clients: DoctorClients,
  findings: Finding[],
): Promise<void> {
  const { config } = d.env;
  const add = (database: string, region: string, check: string, problem: string, fix: string) =>
    findings.push({ database, region, check, problem, fix });
  const dr = d.env.dr.region;
  for (const db of config.databases) {
    const primaryRegion = d.env.primary.region;
    try {
      if (db.kind === 'instance') {
        await clients
          .rds(primaryRegion)
          .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: db.identifier }));
      } else {
        await clients
          .rds(primaryRegion)
          .send(new DescribeDBClustersCommand({ DBClusterIdentifier: db.identifier }));
      }
    } catch (err) {
      add(
        db.name,
        primaryRegion,
        'database',
        `${db.identifier}: ${(err as Error).name}`,
        `correct databases[].identifier of ${db.name} in lib/config/environments.ts`,
      );
    }
    for (const [field, arn, region] of [
      ['secretArn', db.secretArn, primaryRegion],
      ['drSecretArn', db.drSecretArn, dr],
    ] as const) {
      if (!arn) continue;
      try {
        await clients.secrets(region).send(new DescribeSecretCommand({ SecretId: arn }));
      } catch (err) {
        add(
          db.name,
          region,
          'secret',
          `${field} ${arn}: ${(err as Error).name}`,
          `create the secret (a replica of the primary's, for drSecretArn) or correct ${field}`,
        );
      }
    }
    for (const [field, arn] of [
      ['storageKmsKeyArn', db.storageKmsKeyArn],
      ['drStorageKmsKeyArn', db.drStorageKmsKeyArn],
      ['secretKmsKeyArn', db.secretKmsKeyArn],
    ] as const) {
      if (!arn) continue;
      try {
        const key = await clients.kms(arn.split(':')[3]!).send(new DescribeKeyCommand({ KeyId: arn }));
        if (key.KeyMetadata?.KeyState !== 'Enabled') {
          add(
            db.name,
            arn.split(':')[3]!,
            'key',
            `${field} ${arn} is ${key.KeyMetadata?.KeyState}`,
            'enable the key (a restore or copy with it fails while it is not)',
          );
        }
      } catch (err) {
        add(
          db.name,
          arn.split(':')[3]!,
          'key',
          `${field} ${arn}: ${(err as Error).name}`,
          `correct ${field}, or let lifeboat's roles use the key`,
        );
      }
    }
    if (!db.failover) continue;
    const replica = db.failover.replicaIdentifier;
    try {
      if (db.kind === 'instance') {
        const out = await clients
          .rds(dr)
          .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: replica }));
        const instance = out.DBInstances?.[0];
        if (!instance?.ReadReplicaSourceDBInstanceIdentifier) {
          add(
            db.name,
            dr,
            'replica',
            `${replica} is not a read replica (already promoted?)`,
            'after a failover, run the failback workflow; otherwise create the replica',
          );
        }
        if (
          instance?.StorageEncrypted &&
          instance.KmsKeyId &&
          db.drStorageKmsKeyArn &&
          instance.KmsKeyId !== db.drStorageKmsKeyArn
        ) {
          add(
            db.name,
            dr,
            'key',
            `${replica} is encrypted with ${instance.KmsKeyId}, the configuration names ${db.drStorageKmsKeyArn}`,
            `set drStorageKmsKeyArn of ${db.name} to ${instance.KmsKeyId} and redeploy (DR point-in-time restores need it)`,
          );
        }
        if (
          instance?.StorageEncrypted &&
          !db.drStorageKmsKeyArn &&
          instance.KmsKeyId &&
          !instance.KmsKeyId.includes('alias/aws/rds')
        ) {
          add(
            db.name,
            dr,
            'key',
            `${replica} is encrypted with ${instance.KmsKeyId}, which the configuration does not name`,
            `set drStorageKmsKeyArn of ${db.name} to ${instance.KmsKeyId} and redeploy (DR point-in-time restores and failback need it)`,
          );
        }
      } else {
        await clients.rds(dr).send(new DescribeDBClustersCommand({ DBClusterIdentifier: replica }));
        const g = await clients.rds(dr).send(
          new DescribeGlobalClustersCommand({
            GlobalClusterIdentifier: db.failover.globalClusterIdentifier,
          }),
        );
        const members = g.GlobalClusters?.[0]?.GlobalClusterMembers ?? [];
        if (!members.some((m) => m.DBClusterArn?.endsWith(`:cluster:${replica}`))) {
          add(
            db.name,
            dr,
            'replica',
            `${replica} is not a member of ${db.failover.globalClusterIdentifier}`,
            'add the DR cluster to the global database, or correct failover.replicaIdentifier',
          );
        }
      }
    } catch (err) {
      add(
        db.name,
        dr,
        'replica',
        `${replica}: ${(err as Error).name}: ${(err as Error).message}`,
        'create the DR replica, or correct failover.replicaIdentifier',
      );
    }
    try {
      const lag = await clients.cloudwatch(dr).send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/RDS',
          MetricName: db.kind === 'instance' ? 'ReplicaLag' : 'AuroraGlobalDBReplicationLag',
          Dimensions: [
            { Name: db.kind === 'instance' ? 'DBInstanceIdentifier' : 'DBClusterIdentifier', Value: replica },
          ],
          StartTime: new Date(Date.now() - 15 * 60_000),
          EndTime: new Date(),
          Period: 60,
          Statistics: ['Maximum'],
        }),
      );
      const points = lag.Datapoints ?? [];
      const worst = Math.max(...points.map((p) => p.Maximum ?? 0)) / (db.kind === 'instance' ? 1 : 1000);
      if (points.length === 0) {
        add(
          db.name,
          dr,
          'replica lag',
          `no lag figure for ${replica} in the last 15 minutes`,
          'check that the replica replicates (RDS publishes the metric while it does)',
        );
      } else if (worst > db.failover.maxLagSeconds) {
        add(
          db.name,
          dr,
          'replica lag',
          `${replica} lags ${worst.toFixed(1)} s (bound ${db.failover.maxLagSeconds} s): a failover now would be refused without --force`,
          'find why the replica falls behind (instance class, write load) before an incident',
        );
      }
    } catch (err) {
      add(
        db.name,
        dr,
        'replica lag',
        `${(err as Error).name}`,
        'allow cloudwatch:GetMetricStatistics to the caller',
      );
    }
    if (db.failover.dns) {
      try {
        await clients.route53().send(new GetHostedZoneCommand({ Id: db.failover.dns.hostedZoneId }));
      } catch (err) {
        add(
          db.name,
          'global',
          'hosted zone',
          `${db.failover.dns.hostedZoneId}: ${(err as Error).name}`,
          'correct failover.dns.hostedZoneId',
        );
      }
    }
  }
  // The repository: both buckets, and replication from the primary one.
  for (const side of ['primary', 'dr'] as const) {
    const r = d.env[side];
    try {
      await clients.s3(r.region).send(new HeadBucketCommand({ Bucket: r.bucket }));
    } catch (err) {
      add(
        ENVIRONMENT,
        r.region,
        'bucket',
        `${r.bucket}: ${(err as Error).name}`,
        `deploy: npx cdk deploy -c env=${d.env.name} --all`,
      );
    }
    if (r.slackWebhookSecretArn) {
      try {
        await clients
          .secrets(r.region)
          .send(new DescribeSecretCommand({ SecretId: r.slackWebhookSecretArn }));
      } catch (err) {
        add(
          ENVIRONMENT,
          r.region,
          'slack',
          `Slack webhook secret ${r.slackWebhookSecretArn}: ${(err as Error).name}`,
          'create it (docs/notifications.md) or correct notifications.slackWebhookSecretArn',
        );
      }
    }
  }
  try {
    const rep = await clients
      .s3(d.env.primary.region)
      .send(new GetBucketReplicationCommand({ Bucket: d.env.primary.bucket }));
    const rules = rep.ReplicationConfiguration?.Rules ?? [];
    if (
      !rules.some(
        (x) => x.Status === 'Enabled' && x.Destination?.Bucket === `arn:aws:s3:::${d.env.dr.bucket}`,
      )
    ) {
      add(
        ENVIRONMENT,
        d.env.primary.region,
        'bucket',
        `${d.env.primary.bucket} does not replicate to ${d.env.dr.bucket}`,
        `redeploy: npx cdk deploy -c env=${d.env.name} --all`,
      );
    }
  } catch (err) {
    add(
      ENVIRONMENT,
      d.env.primary.region,
      'bucket',
      `replication of ${d.env.primary.bucket}: ${(err as Error).name}`,
      `redeploy: npx cdk deploy -c env=${d.env.name} --all`,
    );
  }
}
