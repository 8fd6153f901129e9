import { DescribeDBSnapshotsCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { handler as logicalDump } from '../../../functions/logical-dump/index.ts';
import { handler as notifier } from '../../../functions/notifier/index.ts';
import { handler as prune } from '../../../functions/prune/index.ts';
import { handler as takeSnapshot } from '../../../functions/take-snapshot/index.ts';
import { awsError, captureStdout, lambdaContext } from './support.ts';

/**
 * The scheduled and queued functions as deployed on functions/runtime: a bad event is refused
 * naming the field, before any AWS call, and still counted and announced where it was before;
 * the clients carry the named retry settings.
 */

const rds = mockClient(RDSClient);
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:lifeboat-prod-events';

/** The EMF documents among what was written to stdout. */
const emf = (written: string[]) =>
  written
    .join('')
    .split('\n')
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

let written: string[];
beforeEach(() => {
  rds.reset();
  sns.reset();
  secrets.reset();
  vi.stubEnv('AWS_REGION', 'eu-west-1');
  vi.stubEnv('LIFEBOAT_ENVIRONMENT', 'prod');
  vi.stubEnv('LIFEBOAT_BUCKET', 'lifeboat-prod-backups');
  written = captureStdout();
});
afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('logical-dump', () => {
  it('a refused event names the field, and is counted (BackupFailed) and announced (backup.failed)', async () => {
    vi.stubEnv('LIFEBOAT_EVENTS_TOPIC_ARN', TOPIC);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });

    await expect(
      logicalDump({ database: 'orders', secretArn: 'not-an-arn' }, lambdaContext('logical-dump')),
    ).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringMatching(/^logical-dump event: secretArn: /),
    });

    expect(secrets.calls()).toHaveLength(0);
    const [doc] = emf(written);
    expect(doc).toMatchObject({ Environment: 'prod', Database: 'orders', BackupFailed: 1 });
    expect(doc!.BackupSucceeded).toBeUndefined();
    const published = JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!);
    expect(published).toMatchObject({ type: 'backup.failed', database: 'orders' });
    expect(await (sns.call(0).thisValue as SNSClient).config.maxAttempts()).toBe(2);
  });

  it('a secret that cannot be read fails the dump with its name, counted and announced the same way', async () => {
    vi.stubEnv('LIFEBOAT_EVENTS_TOPIC_ARN', TOPIC);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    secrets.on(GetSecretValueCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const secretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lifeboat/orders-AbCdEf';

    await expect(
      logicalDump({ database: 'orders', secretArn }, lambdaContext('logical-dump')),
    ).rejects.toMatchObject({ name: 'SecretUnavailable' });

    expect(await (secrets.call(0).thisValue as SecretsManagerClient).config.maxAttempts()).toBe(5);
    expect(emf(written)[0]).toMatchObject({ BackupFailed: 1, Database: 'orders' });
    expect(JSON.parse(sns.commandCalls(PublishCommand)[0]!.args[0].input.Message!)).toMatchObject({
      type: 'backup.failed',
    });
  });
});

describe('take-snapshot', () => {
  const event = {
    database: 'orders',
    identifier: 'orders-db',
    type: 'instance',
    policy: 'gold',
    scheduledTime: '2026-11-23T09:15:00Z',
  };

  it('a database event or a discovery event is checked by the schema of its kind, naming the field', async () => {
    await expect(
      takeSnapshot({ ...event, type: 'proxy' }, lambdaContext('take-snapshot')),
    ).rejects.toMatchObject({ name: 'InvalidArgument', message: expect.stringContaining('type') });
    await expect(
      takeSnapshot(
        { discover: { policy: 'gold' }, scheduledTime: '2026-11-23T09:15:00Z' },
        lambdaContext('take-snapshot'),
      ),
    ).rejects.toMatchObject({ name: 'InvalidArgument', message: expect.stringContaining('discover.tagKey') });
    expect(rds.calls()).toHaveLength(0);
  });

  it('RDS is asked with the rds retry setting (6 attempts); a throttle past them keeps its name', async () => {
    rds.on(DescribeDBSnapshotsCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));

    await expect(takeSnapshot(event, lambdaContext('take-snapshot'))).rejects.toMatchObject({
      name: expect.stringMatching(/Throttl/),
    });
    expect(await (rds.call(0).thisValue as RDSClient).config.maxAttempts()).toBe(6);
  });
});

describe('prune and notifier', () => {
  it('prune: a bad event names the field; without the environment it fails naming the variable', async () => {
    await expect(prune({ dryRun: 'yes' }, lambdaContext('prune'))).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringMatching(/^prune event: dryRun: /),
    });
    vi.stubEnv('LIFEBOAT_ENVIRONMENT', undefined);
    await expect(prune({}, lambdaContext('prune'))).rejects.toMatchObject({
      name: 'MissingEnvironment',
      message: expect.stringContaining('LIFEBOAT_ENVIRONMENT'),
    });
  });

  it('notifier: what is not an SNS event is refused before the webhook secret is read', async () => {
    vi.stubEnv('LIFEBOAT_SLACK_SECRET_ARN', 'arn:aws:secretsmanager:eu-west-1:1:secret:slack-AbCdEf');

    await expect(notifier({ Records: [] }, lambdaContext('notifier'))).rejects.toMatchObject({
      name: 'InvalidArgument',
      message: expect.stringContaining('Records'),
    });
    expect(secrets.calls()).toHaveLength(0);
  });
});
