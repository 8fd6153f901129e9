import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#core/shared/errors.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { formatPath, loadEnvironmentConfig } from '../../lib/config/load.ts';
import type { EnvironmentConfigInput } from '../../lib/config/schema.ts';
import { accessLogBucketName, DERIVED_NAMES, maxEnvironmentNameLength } from '../../lib/naming.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';

const run = promisify(execFile);

type Draft = EnvironmentConfigInput & { databases: NonNullable<EnvironmentConfigInput['databases']> };

/** The dev example with `change` applied to a deep copy. */
function devWith(change: (cfg: Draft) => void): Record<string, EnvironmentConfigInput> {
  const cfg = structuredClone(ENVIRONMENTS.dev!) as Draft;
  change(cfg);
  return { dev: cfg };
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('environment configuration', () => {
  it.each(['dev', 'staging', 'prod'])('the example environment %s is valid', (name) => {
    const cfg = loadEnvironmentConfig(name);

    expect(cfg.primaryRegion).not.toBe(cfg.drRegion);
    expect(cfg.databases.length).toBeGreaterThan(0);
  });

  it('fills in the documented defaults', () => {
    const cfg = loadEnvironmentConfig('dev');

    // staging leaves `alarms` out (dev turns its verified-age alarms off).
    expect(loadEnvironmentConfig('staging').alarms).toEqual({
      backupAgeWarnHours: 26,
      backupAgeCritHours: 48,
      verifiedAgeWarnHours: 48,
      verifiedAgeCritHours: 96,
      copyAgeWarnHours: 30,
      copyAgeCritHours: 54,
      replicaLagWarnSeconds: 10,
      replicaLagCritSeconds: 60,
      snapshotQuotaPercent: 80,
      primaryUnwritableMinutes: 5,
      canarySilentMinutes: 5,
    });
    expect(cfg.automaticFailover).toBe(false);
    expect(cfg.databases[0]!.large).toBe(false);
    expect(cfg.policies.standard!.snapshot.timeZone).toBe('Europe/Dublin');
  });

  it('rejects an unknown environment, listing the known ones', () => {
    const err = errorOf(() => loadEnvironmentConfig('qa'));

    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe('unknown environment "qa"; known environments: dev, prod, staging');
  });

  it('names the environment and the field of an invalid value', () => {
    const environments = devWith((cfg) => {
      cfg.databases[0]!.secretArn = 'orders-password';
    });

    const err = errorOf(() => loadEnvironmentConfig('dev', environments));

    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      'config for environment "dev": databases[0].secretArn: expected a Secrets Manager ARN',
    );
  });

  it('rejects unknown keys at any depth, each with its path', () => {
    const environments = devWith((cfg) => {
      // Misspelt keys, as a person might write them.
      Object.assign(cfg.databases[0]!, { policies: 'standard' });
      Object.assign(cfg.policies.standard!.retention, { hourly: 24 });
    });

    const err = errorOf(() => loadEnvironmentConfig('dev', environments));

    expect(err.message).toContain('databases[0].policies: unknown key');
    expect(err.message).toContain('policies.standard.retention.hourly: unknown key');
  });

  it.each([
    [
      'a policy that does not exist',
      (c: Draft) => (c.databases[0]!.policy = 'gold'),
      'databases[0].policy: unknown policy "gold" of database "orders"; known: standard',
    ],
    [
      'a DR region equal to the primary',
      (c: Draft) => (c.drRegion = c.primaryRegion),
      'drRegion: must differ from primaryRegion',
    ],
    [
      'an unsupported PostgreSQL major',
      (c: Draft) => (c.databases[0]!.engineVersion = '12.9'),
      'databases[0].engineVersion: PostgreSQL 12 is not supported',
    ],
    [
      'Aurora as an instance',
      (c: Draft) => (c.databases[0]!.engine = 'aurora-postgresql'),
      'databases[0].kind: an aurora-postgresql database must be of kind cluster',
    ],
    [
      'a secret of another region',
      (c: Draft) => (c.databases[0]!.secretArn = c.databases[0]!.secretArn.replace('eu-west-1', 'us-east-1')),
      'databases[0].secretArn: expected a secret in the primary region eu-west-1',
    ],
    [
      'a time zone that does not exist',
      (c: Draft) => (c.policies.standard!.snapshot.timeZone = 'Europe/Atlantis'),
      'policies.standard.snapshot.timeZone: expected an IANA time zone',
    ],
    [
      'a rate instead of a cron expression',
      (c: Draft) => (c.policies.standard!.dump!.cron = 'rate(1 day)'),
      'policies.standard.dump.cron: expected an EventBridge Scheduler cron expression',
    ],
    [
      'a critical threshold below the warning one',
      (c: Draft) => (c.alarms = { backupAgeWarnHours: 30, backupAgeCritHours: 24 }),
      'alarms.backupAgeCritHours: must be greater than backupAgeWarnHours',
    ],
    [
      'a verified-age critical threshold below the warning one',
      (c: Draft) => (c.alarms = { verifiedAgeWarnHours: 72, verifiedAgeCritHours: 48 }),
      'alarms.verifiedAgeCritHours: must be greater than verifiedAgeWarnHours',
    ],
    [
      'an age threshold longer than CloudWatch can evaluate',
      (c: Draft) => (c.alarms = { backupAgeCritHours: 169 }),
      'alarms.backupAgeCritHours: at most 168 h: CloudWatch evaluates an alarm over 7 days at most',
    ],
    [
      'a Slack secret for the primary region only',
      (c: Draft) => {
        c.notifications = {
          slackWebhookSecretArn:
            'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/dev/slack-AbCdEf',
        };
      },
      'notifications.drSlackWebhookSecretArn: required with slackWebhookSecretArn',
    ],
    [
      'a DR Slack secret of the primary region',
      (c: Draft) => {
        c.notifications = {
          slackWebhookSecretArn:
            'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/dev/slack-AbCdEf',
          drSlackWebhookSecretArn:
            'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/dev/slack-GhIjKl',
        };
      },
      'notifications.drSlackWebhookSecretArn: expected a secret in the DR region eu-central-1',
    ],
    [
      'Chatbot without the events topic',
      (c: Draft) => {
        c.notifications = { chatbot: { slackWorkspaceId: 'T01234567', slackChannelId: 'C01234567' } };
      },
      'notifications.chatbot: needs slackWebhookSecretArn',
    ],
    [
      'a 13-digit account',
      (c: Draft) => (c.account = '1111111111111'),
      'account: expected a 12-digit AWS account id',
    ],
    [
      'a dump function smaller than the dump was measured at',
      (c: Draft) => (c.databases[0]!.dumpMemoryMB = 512),
      'databases[0].dumpMemoryMB: at least 1024 MB: below that the dump gets under 0.58 of a vCPU',
    ],
    [
      "a dump function larger than Lambda's largest",
      (c: Draft) => (c.databases[0]!.dumpMemoryMB = 12288),
      "databases[0].dumpMemoryMB: at most 10240 MB, Lambda's largest function",
    ],
    [
      'a dump function memory for a large database (dumped by Fargate)',
      (c: Draft) => Object.assign(c.databases[0]!, { large: true, dumpMemoryMB: 4096 }),
      'databases[0].dumpMemoryMB: applies to the Lambda dump only; a large database is dumped by a Fargate task',
    ],
    [
      'a function memory limit below the most restricted accounts',
      (c: Draft) => (c.functionMemoryLimitMB = 2048),
      'functionMemoryLimitMB: at least 3008 MB: the limit of the most restricted accounts',
    ],
    [
      "a dump function above the environment's memory limit",
      (c: Draft) => {
        c.functionMemoryLimitMB = 3008;
        c.databases[0]!.dumpMemoryMB = 4096;
      },
      'databases[0].dumpMemoryMB: above functionMemoryLimitMB (3008)',
    ],
    [
      'a subnet id that is not one',
      (c: Draft) => (c.databases[0]!.subnetIds = ['subnet-1']),
      'databases[0].subnetIds[0]: expected a subnet id',
    ],
  ])('rejects %s', (_what, change, message) => {
    const err = errorOf(() => loadEnvironmentConfig('dev', devWith(change)));

    expect(err.message).toContain(`config for environment "dev": `);
    expect(err.message).toContain(message);
  });

  it('AWS SDK tracing is off unless an environment turns it on; the option is checked', () => {
    const on = loadEnvironmentConfig(
      'dev',
      devWith((c) => (c.tracing = { sdkCalls: true })),
    );
    const misspelt = errorOf(() =>
      loadEnvironmentConfig(
        'dev',
        devWith((c) => Object.assign(c, { tracing: { sdkCall: true } })),
      ),
    );
    const notBoolean = errorOf(() =>
      loadEnvironmentConfig(
        'dev',
        devWith((c) => Object.assign(c, { tracing: { sdkCalls: 'yes' } })),
      ),
    );

    for (const name of ['dev', 'staging', 'prod']) {
      expect(loadEnvironmentConfig(name).tracing).toEqual({ sdkCalls: false });
    }
    expect(on.tracing).toEqual({ sdkCalls: true });
    expect(misspelt).toBeInstanceOf(ConfigError);
    expect(misspelt.message).toBe('config for environment "dev": tracing.sdkCall: unknown key');
    expect(notBoolean.message).toBe('config for environment "dev": tracing.sdkCalls: expected true or false');
  });

  it("resolves each database's policy, refusing a name that is no policy of the environment", () => {
    for (const name of ['dev', 'staging', 'prod']) {
      const cfg = loadEnvironmentConfig(name);
      for (const db of cfg.databases) expect(db.policySettings).toBe(cfg.policies[db.policy]);
    }
    // Names every object inherits are not policies either.
    for (const inherited of ['constructor', 'toString']) {
      const err = errorOf(() =>
        loadEnvironmentConfig(
          'dev',
          devWith((c) => (c.databases[0]!.policy = inherited)),
        ),
      );
      expect(err.message).toBe(
        `config for environment "dev": databases[0].policy: unknown policy "${inherited}" of database "orders"; known: standard`,
      );
    }
  });

  it.each(['Prod', 'prod_1', '1prod', 'prod-', 'pr.od', ''])(
    'refuses the environment name %j, naming the environment and its name',
    (name) => {
      const err = errorOf(() => loadEnvironmentConfig(name, { [name]: ENVIRONMENTS.dev! }));

      expect(err).toBeInstanceOf(ConfigError);
      if (name === '') expect(err.message).toMatch(/^no environment given/);
      else
        expect(err.message).toBe(
          `environment "${name}": name: expected lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen (it is part of bucket names)`,
        );
    },
  );

  it("bounds the environment name by its longest derived name: every derived name fits AWS's limits", () => {
    const dev = ENVIRONMENTS.dev!;
    // lifeboat-<env>-logs-111111111111-eu-central-1: 40 characters besides the name, 63 allowed.
    const longest = 'e'.repeat(23);
    const tooLong = 'e'.repeat(24);

    const cfg = loadEnvironmentConfig(longest, { [longest]: dev });
    const inputs = {
      account: cfg.account,
      regions: [cfg.primaryRegion, cfg.drRegion],
      databases: cfg.databases.map((db) => db.name),
    };
    expect(maxEnvironmentNameLength(inputs).length).toBe(23);
    for (const derived of DERIVED_NAMES) {
      for (const n of derived.names(longest, inputs)) expect(n.length, n).toBeLessThanOrEqual(derived.limit);
    }
    expect(
      accessLogBucketName({ environment: longest, account: cfg.account, region: cfg.drRegion }),
    ).toHaveLength(63);
    const err = errorOf(() => loadEnvironmentConfig(tooLong, { [tooLong]: dev }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe(
      `environment "${tooLong}": name: at most 23 characters with this account, regions and databases: the access log bucket lifeboat-${tooLong}-logs-111111111111-eu-central-1 would have 64 (AWS allows 63)`,
    );
    // Shorter regions leave room for a longer name.
    expect(maxEnvironmentNameLength({ ...inputs, regions: ['us-east-1', 'us-west-2'] }).length).toBe(26);
  });

  it('formats zod paths the way people write them', () => {
    expect(formatPath(['databases', 0, 'subnetIds', 1])).toBe('databases[0].subnetIds[1]');
    expect(formatPath([])).toBe('(root)');
  });

  it('bin/app.ts stops with one line naming the known environments', async () => {
    const result = await run(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'bin/app.ts')], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify({ env: 'qa' }), CDK_OUTDIR: '/nonexistent' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );

    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe(
      'lifeboat: unknown environment "qa"; known environments: dev, prod, staging',
    );
  });
});
