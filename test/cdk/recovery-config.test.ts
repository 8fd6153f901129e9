import { describe, expect, it } from 'vitest';
import { ConfigError } from '#core/shared/errors.ts';
import { parseFailoverTargets } from '../../functions/core/failover/failover.ts';
import { VerifyBackupEvent } from '../../functions/verify-backup/index.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import type { EnvironmentConfigInput } from '../../lib/config/schema.ts';
import { restoreTestEvent, verifyBackupEvent } from '../../lib/events.ts';
import { databaseSecrets, failoverTargets, hostedZoneIds } from '../../lib/recovery.ts';

type Draft = EnvironmentConfigInput & { databases: NonNullable<EnvironmentConfigInput['databases']> };

/** The staging example (an instance and an Aurora cluster that fail over) with `change` applied. */
function stagingWith(change: (cfg: Draft) => void): Record<string, EnvironmentConfigInput> {
  const cfg = structuredClone(ENVIRONMENTS.staging!) as Draft;
  change(cfg);
  return { staging: cfg };
}

function messageOf(environments: Record<string, EnvironmentConfigInput>): string {
  try {
    loadEnvironmentConfig('staging', environments);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('recovery configuration', () => {
  it('defaults the failover lag bound to the critical replica-lag alarm threshold', () => {
    const cfg = loadEnvironmentConfig(
      'staging',
      stagingWith((c) => {
        c.alarms = { replicaLagWarnSeconds: 20, replicaLagCritSeconds: 90 };
      }),
    );

    const [orders, ledger] = cfg.databases;
    expect(orders!.failover).toMatchObject({ replicaIdentifier: 'orders-staging-dr', maxLagSeconds: 90 });
    // Set explicitly, it stays.
    expect(ledger!.failover!.maxLagSeconds).toBe(30);
  });

  it('fills in the DNS TTL, the restore-test instance class and the failback instance class', () => {
    const prod = loadEnvironmentConfig('prod');
    const dev = loadEnvironmentConfig('dev');
    const staging = loadEnvironmentConfig('staging');

    expect(prod.databases[0]!.failover!.dns).toEqual({
      hostedZoneId: 'Z0123456789ABCDEFGHIJ',
      recordName: 'orders.db.example.com',
      ttl: 60,
    });
    expect(dev.restoreTest!.instanceClass).toBe('db.t4g.medium');
    expect(staging.failback!.instanceClass).toBe('db.r6g.large');
  });

  it.each([
    [
      'an Aurora failover without its global database',
      (c: Draft) => delete c.databases[1]!.failover!.globalClusterIdentifier,
      'databases[1].failover.globalClusterIdentifier: required for kind cluster',
    ],
    [
      'a global database on an instance',
      (c: Draft) => (c.databases[0]!.failover!.globalClusterIdentifier = 'orders-global'),
      'databases[0].failover.globalClusterIdentifier: only for kind cluster',
    ],
    [
      'a failover without a DR secret',
      (c: Draft) => delete c.databases[0]!.drSecretArn,
      'databases[0].drSecretArn: required with failover',
    ],
    [
      'a DR secret of the primary region',
      (c: Draft) => (c.databases[0]!.drSecretArn = c.databases[0]!.secretArn),
      'databases[0].drSecretArn: expected a secret in the DR region eu-central-1',
    ],
    [
      'a storage key of the DR region',
      (c: Draft) =>
        (c.databases[1]!.storageKmsKeyArn = c.databases[1]!.storageKmsKeyArn!.replace(
          'eu-west-1',
          'eu-central-1',
        )),
      'databases[1].storageKmsKeyArn: expected a key in the primary region eu-west-1',
    ],
    [
      'a failover of a Multi-AZ DB cluster',
      (c: Draft) => {
        c.databases[0]!.kind = 'cluster';
        c.databases[0]!.failover!.globalClusterIdentifier = 'orders-global';
      },
      'databases[0].failover: only RDS instances (cross-region read replica) and Aurora global databases fail over',
    ],
    [
      'a misspelt key in the failover block',
      (c: Draft) => Object.assign(c.databases[0]!.failover!, { replica: 'orders-dr' }),
      'databases[0].failover.replica: unknown key',
    ],
    [
      'a hosted zone id that is not one',
      (c: Draft) =>
        (c.databases[0]!.failover!.dns = { hostedZoneId: 'example.com', recordName: 'orders.example.com' }),
      'databases[0].failover.dns.hostedZoneId: expected a hosted zone id',
    ],
    [
      'restore-tested databases without an isolated network',
      (c: Draft) => delete c.restoreTest,
      'restoreTest: required: orders, ledger are restore-tested',
    ],
    [
      'the default subnet group for restore tests',
      (c: Draft) => (c.restoreTest!.subnetGroupName = 'default'),
      'restoreTest.subnetGroupName: must not be the default subnet group',
    ],
    [
      'no network for the workflow functions',
      (c: Draft) => delete c.workflowNetwork,
      'workflowNetwork: required',
    ],
    [
      'failover without failback settings',
      (c: Draft) => delete c.failback,
      'failback: required with failover (orders, ledger)',
    ],
    [
      'a failback key of the DR region',
      (c: Draft) => (c.failback!.kmsKeyArn = c.failback!.kmsKeyArn!.replace('eu-west-1', 'eu-central-1')),
      'failback.kmsKeyArn: expected a key in the primary region eu-west-1',
    ],
    [
      'automatic failover with nothing to fail over',
      (c: Draft) => {
        for (const db of c.databases) delete db.failover;
        delete c.failback;
      },
      'automaticFailover: no database has failover configured',
    ],
  ])('refuses %s, naming the environment and the field', (_, change, expected) => {
    const message = messageOf(stagingWith(change));

    expect(message).toMatch(/^config for environment "staging": /);
    expect(message).toContain(expected);
  });
});

describe.each(Object.keys(ENVIRONMENTS))('what the workflow functions of %s are told', (name) => {
  const config = loadEnvironmentConfig(name);

  it('failover targets the preflight function accepts, one per database with a failover block', () => {
    const targets = parseFailoverTargets(JSON.stringify(failoverTargets(config)));

    expect(targets.map((t) => t.database)).toEqual(
      config.databases.filter((db) => db.failover).map((db) => db.name),
    );
    for (const target of targets) {
      expect(target.primary.region).toBe(config.primaryRegion);
      expect(target.replica.region).toBe(config.drRegion);
      expect(target.secretArn?.split(':')[3]).toBe(config.drRegion);
    }
  });

  it('the secret of each database in each region', () => {
    expect(databaseSecrets(config, 'primary')).toEqual(
      Object.fromEntries(config.databases.map((db) => [db.name, db.secretArn])),
    );
    expect(
      Object.values(databaseSecrets(config, 'dr')).every((arn) => arn.split(':')[3] === config.drRegion),
    ).toBe(true);
  });

  it('the hosted zones of the failover records, once each', () => {
    const zones = config.databases.flatMap((db) => (db.failover?.dns ? [db.failover.dns.hostedZoneId] : []));

    expect(hostedZoneIds(config)).toEqual([...new Set(zones)]);
  });

  it.each(config.databases.map((db) => [db.name, db] as const))(
    'the verification events of %s are the ones verify-backup and restore-test take',
    (_, db) => {
      expect(VerifyBackupEvent.parse(verifyBackupEvent(db))).toEqual({
        database: db.name,
        backupId: 'latest',
        jobs: 2,
      });
      expect(restoreTestEvent(db)).toEqual({ database: db.name });
    },
  );
});
