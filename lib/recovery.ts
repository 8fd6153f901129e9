import type { FailoverTargetInput } from '../functions/core/failover/failover.ts';
import type { Database, EnvironmentConfig } from './config/schema.ts';

/**
 * What the workflow task functions are told about the environment (their environment variables),
 * derived from the configuration in one place so that test/cdk can hold it against the handlers'
 * own parsers.
 */

/** The databases that fail over to the DR region. */
export function failoverDatabases(
  config: EnvironmentConfig,
): (Database & { failover: NonNullable<Database['failover']> })[] {
  return config.databases.filter((db): db is Database & { failover: NonNullable<Database['failover']> } =>
    Boolean(db.failover),
  );
}

/**
 * LIFEBOAT_FAILOVER_TARGETS: one FailoverTarget (functions/core/failover/failover.ts) per database with a
 * `failover` block. The replica is in the DR region; the write check connects with the DR secret.
 */
export function failoverTargets(config: EnvironmentConfig): FailoverTargetInput[] {
  return failoverDatabases(config).map((db) => ({
    database: db.name,
    kind: db.kind,
    primary: { region: config.primaryRegion, identifier: db.identifier },
    replica: { region: config.drRegion, identifier: db.failover.replicaIdentifier },
    ...(db.failover.globalClusterIdentifier
      ? { globalClusterIdentifier: db.failover.globalClusterIdentifier }
      : {}),
    engineVersion: db.engineVersion,
    ...(db.failover.dns ? { dns: { ...db.failover.dns } } : {}),
    maxLagSeconds: db.failover.maxLagSeconds,
    ...(db.drSecretArn ? { secretArn: db.drSecretArn } : {}),
    ...(db.failover.fenceSecurityGroupId ? { fenceSecurityGroupId: db.failover.fenceSecurityGroupId } : {}),
  }));
}

/** A database secret in one region, with its customer-managed key when it has one. */
export interface RegionalSecret {
  readonly database: string;
  readonly secretArn: string;
  readonly kmsKeyArn?: string;
}

/**
 * The database secrets of one region: the configured `secretArn`s in the primary region, the
 * `drSecretArn`s in the DR region (secrets are regional). The workflow functions that connect to
 * databases may read exactly these.
 */
export function regionalSecrets(config: EnvironmentConfig, region: 'primary' | 'dr'): RegionalSecret[] {
  return config.databases.flatMap((db): RegionalSecret[] => {
    if (region === 'primary') {
      return [{ database: db.name, secretArn: db.secretArn, kmsKeyArn: db.secretKmsKeyArn }];
    }
    return db.drSecretArn
      ? [{ database: db.name, secretArn: db.drSecretArn, kmsKeyArn: db.drSecretKmsKeyArn }]
      : [];
  });
}

/** LIFEBOAT_DATABASE_SECRETS: database name → secret ARN of that region. */
export function databaseSecrets(config: EnvironmentConfig, region: 'primary' | 'dr'): Record<string, string> {
  return Object.fromEntries(regionalSecrets(config, region).map((s) => [s.database, s.secretArn]));
}

/** Hosted zones of the configured failover DNS records: the only zones a failover or cutover may change. */
export function hostedZoneIds(config: EnvironmentConfig): string[] {
  return [
    ...new Set(
      failoverDatabases(config).flatMap((db) => (db.failover.dns ? [db.failover.dns.hostedZoneId] : [])),
    ),
  ];
}
