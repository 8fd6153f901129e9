import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { Catalog } from '#core/catalog/catalog.ts';
import { silentLogger } from '#core/shared/logger.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { logicalDump } from '../../functions/logical-dump/index.ts';
import { createDatabase, dropDatabase, query } from '../support/postgres.ts';
import { createBucket, s3Client } from '../support/s3.ts';

const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lifeboat/orders-AbCdEf';
const secrets = mockClient(SecretsManagerClient);

describe('logical-dump handler (real PostgreSQL and S3 protocol; Secrets Manager mocked)', () => {
  let db: string;
  let bucket: string;
  const s3 = () => s3Client(inject('s3Endpoint'));
  const env = () => ({ LIFEBOAT_BUCKET: bucket, LIFEBOAT_PREFIX: 'dev', LIFEBOAT_DB_SSLMODE: 'disable' });
  const deps = () => ({
    secrets: new SecretsManagerClient({ region: 'eu-west-1' }),
    s3: s3(),
    logger: silentLogger,
    env: env(),
  });

  beforeAll(async () => {
    db = await createDatabase('lb_handler');
    await query(
      db,
      'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g',
    );
    bucket = await createBucket(s3());
  });
  afterAll(async () => dropDatabase(db));
  beforeEach(() => {
    secrets.reset();
    secrets.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({
      SecretString: JSON.stringify({
        username: 'postgres',
        password: 's3cr3t-never-logged',
        host: '127.0.0.1',
        port: 5432,
        dbname: db,
      }),
    });
  });

  it('dumps the database named by the secret into the bucket and returns the manifest summary', async () => {
    // Act
    const result = await logicalDump({ database: 'orders', secretArn: SECRET_ARN }, deps());

    // Assess
    expect(result.manifestKey).toBe(`catalog/orders/${result.manifest.id}/manifest.json`);
    expect(result.statistics).toMatchObject({ tables: 1, rows: 1000 });
    expect(result.manifest.artifact.key).toBe(`artifacts/orders/${result.manifest.id}.dump.zst`);
    expect(result.manifest.artifact.compression).toEqual({ method: 'zstd', level: 2 });
    const listed = await new Catalog(new S3Repository({ client: s3(), bucket, prefix: 'dev' })).list();
    expect(listed.map((b) => [b.id, b.state])).toEqual([[result.manifest.id, 'completed']]);
    expect(JSON.stringify(result)).not.toContain('s3cr3t');
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });

  it('rejects an event with a bad field, naming it, before reading any secret', async () => {
    await expect(logicalDump({ database: 'orders', secretArn: 'not-an-arn' }, deps())).rejects.toThrow(
      'logical-dump event: secretArn: a Secrets Manager ARN',
    );
    await expect(
      logicalDump({ database: 'orders', secretArn: SECRET_ARN, extra: 1 }, deps()),
    ).rejects.toThrow(/logical-dump event: .*extra/);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(0);
  });

  it('fails naming the missing environment variable', async () => {
    await expect(
      logicalDump({ database: 'orders', secretArn: SECRET_ARN }, { ...deps(), env: {} }),
    ).rejects.toThrow('environment variable LIFEBOAT_BUCKET is not set');
  });

  it('reports a secret it cannot read or use without showing its values', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(logicalDump({ database: 'orders', secretArn: SECRET_ARN }, deps())).rejects.toThrow(
      `not allowed to read secret ${SECRET_ARN}`,
    );
    secrets.reset();
    secrets
      .on(GetSecretValueCommand)
      .resolves({ SecretString: JSON.stringify({ username: 'u', host: 'h', password: '' }) });
    const err = await logicalDump({ database: 'orders', secretArn: SECRET_ARN }, deps()).catch(
      (e: Error) => e,
    );
    expect((err as Error).message).toBe(`secret ${SECRET_ARN} lacks or has invalid fields: password`);
  });

  it('reports a wrong password from the secret as an authentication failure and writes no catalog entry', async () => {
    secrets.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        username: 'no_such_user',
        password: 'x',
        host: '127.0.0.1',
        port: 5432,
        dbname: db,
      }),
    });
    const fresh = await createBucket(s3());
    await expect(
      logicalDump(
        { database: 'orders', secretArn: SECRET_ARN },
        { ...deps(), env: { ...env(), LIFEBOAT_BUCKET: fresh } },
      ),
    ).rejects.toThrow(/authentication failed for user "no_such_user"/);
    expect(
      await new Catalog(new S3Repository({ client: s3(), bucket: fresh, prefix: 'dev' })).list(),
    ).toEqual([]);
  });
});
