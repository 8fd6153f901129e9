import type { EnvironmentConfigInput } from './schema.ts';

/**
 * The example environments. Accounts, ARNs and network ids are placeholders: replace them with your
 * own before deploying (docs/deploy.md). Values left out take the schema's defaults.
 */

const standardRetention = {
  daily: 7,
  weekly: 4,
  monthly: 12,
  yearly: 0,
  minVerified: 2,
  maxDeletionsPerRun: 20,
};

export const ENVIRONMENTS: Readonly<Record<string, EnvironmentConfigInput>> = {
  dev: {
    account: '111111111111',
    primaryRegion: 'eu-west-1',
    drRegion: 'eu-central-1',
    policies: {
      standard: {
        snapshot: { cron: 'cron(0 2 * * ? *)', timeZone: 'Europe/Dublin' },
        dump: { cron: 'cron(30 2 * * ? *)', timeZone: 'Europe/Dublin' },
        verification: { cron: 'cron(0 6 ? * MON *)', timeZone: 'Europe/Dublin' },
        retention: { daily: 3, weekly: 2, monthly: 0, yearly: 0, minVerified: 1, maxDeletionsPerRun: 10 },
      },
    },
    databases: [
      {
        name: 'orders',
        kind: 'instance',
        identifier: 'orders-dev',
        engine: 'postgres',
        engineVersion: '16.4',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/dev/orders-AbCdEf',
        vpcId: 'vpc-0a1b2c3d4e5f60001',
        subnetIds: ['subnet-0a1b2c3d4e5f60011', 'subnet-0a1b2c3d4e5f60012'],
        securityGroupId: 'sg-0a1b2c3d4e5f60021',
        policy: 'standard',
      },
    ],
    bucket: { objectLockDays: 7, noncurrentVersionExpirationDays: 14 },
    // dev verifies weekly: a CloudWatch alarm looks back 7 days at most, too short for a weekly
    // cadence plus margin, so the verified-age alarms are off here (`lifeboat status` still reports it).
    alarms: { verifiedAgeWarnHours: null, verifiedAgeCritHours: null },
    restoreTest: {
      subnetGroupName: 'lifeboat-dev-restore-test',
      securityGroupIds: ['sg-0a1b2c3d4e5f60031'],
    },
    workflowNetwork: {
      primary: {
        vpcId: 'vpc-0a1b2c3d4e5f60001',
        subnetIds: ['subnet-0a1b2c3d4e5f60011', 'subnet-0a1b2c3d4e5f60012'],
        securityGroupId: 'sg-0a1b2c3d4e5f60041',
      },
      dr: {
        vpcId: 'vpc-0a1b2c3d4e5f60101',
        subnetIds: ['subnet-0a1b2c3d4e5f60111', 'subnet-0a1b2c3d4e5f60112'],
        securityGroupId: 'sg-0a1b2c3d4e5f60141',
      },
    },
    logRetentionDays: 30,
  },

  staging: {
    account: '222222222222',
    primaryRegion: 'eu-west-1',
    drRegion: 'eu-central-1',
    policies: {
      standard: {
        snapshot: { cron: 'cron(0 2 * * ? *)', timeZone: 'Europe/Dublin' },
        dump: { cron: 'cron(30 2 * * ? *)', timeZone: 'Europe/Dublin' },
        verification: { cron: 'cron(0 5 * * ? *)', timeZone: 'Europe/Dublin' },
        retention: standardRetention,
      },
    },
    databases: [
      {
        name: 'orders',
        kind: 'instance',
        identifier: 'orders-staging',
        dbname: 'orders',
        engine: 'postgres',
        engineVersion: '16.4',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:lifeboat/staging/orders-AbCdEf',
        drSecretArn: 'arn:aws:secretsmanager:eu-central-1:222222222222:secret:lifeboat/staging/orders-GhIjKl',
        failover: { replicaIdentifier: 'orders-staging-dr' },
        vpcId: 'vpc-0b1b2c3d4e5f60001',
        subnetIds: ['subnet-0b1b2c3d4e5f60011', 'subnet-0b1b2c3d4e5f60012'],
        securityGroupId: 'sg-0b1b2c3d4e5f60021',
        policy: 'standard',
      },
      {
        name: 'ledger',
        kind: 'cluster',
        identifier: 'ledger-staging',
        engine: 'aurora-postgresql',
        engineVersion: '15.8',
        secretArn: 'arn:aws:secretsmanager:eu-west-1:222222222222:secret:lifeboat/staging/ledger-AbCdEf',
        secretKmsKeyArn: 'arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-0000-4000-8000-000000000001',
        storageKmsKeyArn: 'arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-0000-4000-8000-000000000002',
        drSecretArn: 'arn:aws:secretsmanager:eu-central-1:222222222222:secret:lifeboat/staging/ledger-GhIjKl',
        drSecretKmsKeyArn: 'arn:aws:kms:eu-central-1:222222222222:key/0a1b2c3d-0000-4000-8000-000000000003',
        drStorageKmsKeyArn: 'arn:aws:kms:eu-central-1:222222222222:key/0a1b2c3d-0000-4000-8000-000000000004',
        failover: {
          replicaIdentifier: 'ledger-staging-dr',
          globalClusterIdentifier: 'ledger-staging-global',
          maxLagSeconds: 30,
        },
        vpcId: 'vpc-0b1b2c3d4e5f60001',
        subnetIds: ['subnet-0b1b2c3d4e5f60011', 'subnet-0b1b2c3d4e5f60012'],
        securityGroupId: 'sg-0b1b2c3d4e5f60022',
        policy: 'standard',
        large: true,
      },
    ],
    notifications: { emails: ['oncall-staging@example.com'] },
    // Staging drills the alarm path end to end: a critical replica-lag alarm fails over unattended.
    automaticFailover: true,
    restoreTest: {
      subnetGroupName: 'lifeboat-staging-restore-test',
      securityGroupIds: ['sg-0b1b2c3d4e5f60031'],
      instanceClass: 'db.t4g.large',
    },
    workflowNetwork: {
      primary: {
        vpcId: 'vpc-0b1b2c3d4e5f60001',
        subnetIds: ['subnet-0b1b2c3d4e5f60011', 'subnet-0b1b2c3d4e5f60012'],
        securityGroupId: 'sg-0b1b2c3d4e5f60041',
      },
      dr: {
        vpcId: 'vpc-0b1b2c3d4e5f60101',
        subnetIds: ['subnet-0b1b2c3d4e5f60111', 'subnet-0b1b2c3d4e5f60112'],
        securityGroupId: 'sg-0b1b2c3d4e5f60141',
      },
    },
    failback: {
      subnetGroupName: 'lifeboat-staging-databases',
      kmsKeyArn: 'arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-0000-4000-8000-000000000002',
    },
  },

  prod: {
    account: '333333333333',
    primaryRegion: 'us-east-1',
    drRegion: 'us-west-2',
    policies: {
      critical: {
        snapshot: { cron: 'cron(0 */6 * * ? *)', timeZone: 'America/New_York' },
        dump: { cron: 'cron(15 1 * * ? *)', timeZone: 'America/New_York' },
        verification: { cron: 'cron(0 4 * * ? *)', timeZone: 'America/New_York' },
        retention: { daily: 14, weekly: 8, monthly: 12, yearly: 7, minVerified: 3, maxDeletionsPerRun: 25 },
      },
      standard: {
        snapshot: { cron: 'cron(0 3 * * ? *)', timeZone: 'America/New_York' },
        verification: { cron: 'cron(0 5 ? * SUN *)', timeZone: 'America/New_York' },
        retention: standardRetention,
      },
    },
    databases: [
      {
        name: 'orders',
        kind: 'cluster',
        identifier: 'orders-prod',
        engine: 'aurora-postgresql',
        engineVersion: '16.6',
        secretArn: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:lifeboat/prod/orders-AbCdEf',
        storageKmsKeyArn: 'arn:aws:kms:us-east-1:333333333333:key/0c1b2c3d-0000-4000-8000-000000000001',
        drSecretArn: 'arn:aws:secretsmanager:us-west-2:333333333333:secret:lifeboat/prod/orders-GhIjKl',
        drStorageKmsKeyArn: 'arn:aws:kms:us-west-2:333333333333:key/0c1b2c3d-0000-4000-8000-000000000002',
        failover: {
          replicaIdentifier: 'orders-prod-west',
          globalClusterIdentifier: 'orders-prod-global',
          dns: { hostedZoneId: 'Z0123456789ABCDEFGHIJ', recordName: 'orders.db.example.com' },
        },
        vpcId: 'vpc-0c1b2c3d4e5f60001',
        subnetIds: ['subnet-0c1b2c3d4e5f60011', 'subnet-0c1b2c3d4e5f60012', 'subnet-0c1b2c3d4e5f60013'],
        securityGroupId: 'sg-0c1b2c3d4e5f60021',
        policy: 'critical',
        large: true,
      },
      {
        name: 'billing',
        kind: 'instance',
        identifier: 'billing-prod',
        engine: 'postgres',
        engineVersion: '17.2',
        secretArn: 'arn:aws:secretsmanager:us-east-1:333333333333:secret:lifeboat/prod/billing-AbCdEf',
        storageKmsKeyArn: 'arn:aws:kms:us-east-1:333333333333:key/0c1b2c3d-0000-4000-8000-000000000001',
        drSecretArn: 'arn:aws:secretsmanager:us-west-2:333333333333:secret:lifeboat/prod/billing-GhIjKl',
        drStorageKmsKeyArn: 'arn:aws:kms:us-west-2:333333333333:key/0c1b2c3d-0000-4000-8000-000000000002',
        failover: {
          replicaIdentifier: 'billing-prod-west',
          dns: { hostedZoneId: 'Z0123456789ABCDEFGHIJ', recordName: 'billing.db.example.com', ttl: 30 },
          fenceSecurityGroupId: 'sg-0c1b2c3d4e5f60099',
        },
        vpcId: 'vpc-0c1b2c3d4e5f60001',
        subnetIds: ['subnet-0c1b2c3d4e5f60011', 'subnet-0c1b2c3d4e5f60012', 'subnet-0c1b2c3d4e5f60013'],
        securityGroupId: 'sg-0c1b2c3d4e5f60022',
        policy: 'critical',
      },
    ],
    bucket: {
      objectLockMode: 'COMPLIANCE',
      objectLockDays: 35,
      noncurrentVersionExpirationDays: 400,
      glacierAfterDays: 30,
      deepArchiveAfterDays: 120,
    },
    notifications: {
      emails: ['oncall@example.com'],
      slackWebhookSecretArn:
        'arn:aws:secretsmanager:us-east-1:333333333333:secret:lifeboat/prod/slack-webhooks-AbCdEf',
      drSlackWebhookSecretArn:
        'arn:aws:secretsmanager:us-west-2:333333333333:secret:lifeboat/prod/slack-webhooks-GhIjKl',
    },
    restoreTest: {
      subnetGroupName: 'lifeboat-prod-restore-test',
      securityGroupIds: ['sg-0c1b2c3d4e5f60031'],
      instanceClass: 'db.r6g.large',
    },
    workflowNetwork: {
      primary: {
        vpcId: 'vpc-0c1b2c3d4e5f60001',
        subnetIds: ['subnet-0c1b2c3d4e5f60011', 'subnet-0c1b2c3d4e5f60012', 'subnet-0c1b2c3d4e5f60013'],
        securityGroupId: 'sg-0c1b2c3d4e5f60041',
      },
      dr: {
        vpcId: 'vpc-0c1b2c3d4e5f60101',
        subnetIds: ['subnet-0c1b2c3d4e5f60111', 'subnet-0c1b2c3d4e5f60112', 'subnet-0c1b2c3d4e5f60113'],
        securityGroupId: 'sg-0c1b2c3d4e5f60141',
      },
    },
    failback: {
      subnetGroupName: 'lifeboat-prod-databases',
      kmsKeyArn: 'arn:aws:kms:us-east-1:333333333333:key/0c1b2c3d-0000-4000-8000-000000000001',
    },
    logRetentionDays: 365,
  },
};
