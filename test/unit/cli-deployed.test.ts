import { InvokeCommand, LambdaClient, TooManyRequestsException } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { RDSClient } from '@aws-sdk/client-rds';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { failbackCommand } from '../../bin/cli/commands/aws.ts';
import { dumpManifest } from './handlers/prune-world.ts';
import { backupEnvCommand, type DeployedClients, verifyEnvCommand } from '../../bin/cli/commands/deployed.ts';

const lambda = mockClient(LambdaClient);
const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);

const DEV_DUMP = 'arn:aws:lambda:eu-west-1:111111111111:function:Lifeboat-dev-Primary-DumpordersFunction-AbC';
const DEV_VERIFY = 'arn:aws:lambda:eu-west-1:111111111111:function:Lifeboat-dev-Primary-VerifyBackup-XyZ';
const PROD_DUMP_WF = 'arn:aws:states:us-east-1:333333333333:stateMachine:DumpTaskordersJobStateMachine-Q1';
const PROD_VERIFY_WF = 'arn:aws:states:us-east-1:333333333333:stateMachine:VerifyTaskordersJob-Q2';
const FAILBACK = 'arn:aws:states:eu-central-1:222222222222:stateMachine:lifeboat-staging-failback';

function clients(): DeployedClients & { regions: string[] } {
  const regions: string[] = [];
  return {
    regions,
    pollMs: 1,
    tickMs: 5,
    sfn: (region) => (regions.push(`sfn:${region}`), new SFNClient({ region })),
    ssm: (region) => (regions.push(`ssm:${region}`), new SSMClient({ region })),
    lambda: (region) => (regions.push(`lambda:${region}`), new LambdaClient({ region })),
    s3: (region) => (regions.push(`s3:${region}`), new S3Client({ region })),
    rds: (region) => (regions.push(`rds:${region}`), new RDSClient({ region })),
  };
}

function output() {
  let text = '';
  const write = (s: string) => {
    text += s;
    return true;
  };
  return { stream: { write } as unknown as NodeJS.WritableStream, text: () => text };
}

// The SDK types the payload as its blob adapter; the bytes are what the client hands back.
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)) as never;

beforeEach(() => {
  lambda.reset();
  sfn.reset();
  ssm.reset();
  s3.reset();
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/dev/dumps/orders' })
    .resolves({ Parameter: { Value: DEV_DUMP } });
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/dev/verify/orders' })
    .resolves({ Parameter: { Value: DEV_VERIFY } });
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/prod/dumps/orders' })
    .resolves({ Parameter: { Value: PROD_DUMP_WF } });
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/prod/verify/orders' })
    .resolves({ Parameter: { Value: PROD_VERIFY_WF } });
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/staging/workflows/failback' })
    .resolves({ Parameter: { Value: FAILBACK } });
  sfn.on(StartExecutionCommand).callsFake((input) => ({
    executionArn: `${String(input.stateMachineArn).replace(':stateMachine:', ':execution:')}:${input.name}`,
  }));
});

describe('lifeboat backup --env', () => {
  it("--wait invokes the database's deployed dump function with its scheduled event, in the primary region, to its catalog entry", async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: json({
        manifestKey: 'catalog/orders/x/manifest.json',
        manifest: {
          id: '20261201T161500Z-ab12cd',
          bytes: 3 * 1024 * 1024,
          startedAt: '2026-12-01T16:15:00.000Z',
          finishedAt: '2026-12-01T16:15:42.000Z',
        },
      }),
    });
    s3.on(HeadObjectCommand, {
      Bucket: 'lifeboat-dev-111111111111-eu-west-1',
      Key: 'catalog/orders/20261201T161500Z-ab12cd/manifest.json',
    }).resolves({ ContentLength: 900 });
    const c = clients();
    const out = output();

    const code = await backupEnvCommand(['--env', 'dev', '--database', 'orders', '--wait'], c, out.stream);

    expect(code).toBe(0);
    expect(c.regions).toEqual(['ssm:eu-west-1', 's3:eu-west-1', 's3:eu-west-1', 'lambda:eu-west-1']);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: DEV_DUMP,
      InvocationType: 'RequestResponse',
    });
    const payload = lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array;
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({
      database: 'orders',
      secretArn: 'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/dev/orders-AbCdEf',
      compression: 'zstd:2',
    });
    expect(out.text()).toMatch(
      /backup 20261201T161500Z-ab12cd of "orders": 3.0 MiB in 42.0 s, cataloged \(lifeboat list --env dev --database orders\)/,
    );

    // The function answered, but its manifest is not in the bucket: not complete.
    s3.reset();
    s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }),
    );
    const missing = output();
    expect(
      await backupEnvCommand(['--env', 'dev', '--database', 'orders', '--wait'], c, missing.stream),
    ).toBe(1);
    // Reading it back fails (S3 throttled past the SDK's retries): the outcome is unknown, exit 2.
    s3.reset();
    s3.on(HeadObjectCommand).rejects(
      Object.assign(new Error('Slow Down'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }),
    );
    const unknown = output();
    expect(
      await backupEnvCommand(['--env', 'dev', '--database', 'orders', '--wait'], c, unknown.stream),
    ).toBe(2);
    expect(unknown.text()).toMatch(
      /backup 20261201T161500Z-ab12cd of "orders" finished, but its catalog entry could not be read back \(.*\); lifeboat list --env dev --database orders shows it/,
    );
    expect(missing.text()).toMatch(
      /FAILED: the function answered, but catalog\/orders\/20261201T161500Z-ab12cd\/manifest.json is not in/,
    );
  });

  it('--wait shows the bytes the running dump has stored, its rate and an ETA from the previous dump in the catalog', async () => {
    const before = dumpManifest(7);
    const previous = {
      ...before,
      startedAt: '2026-11-30T02:00:00.000Z',
      finishedAt: '2026-11-30T02:00:32.000Z',
      artifact: { ...before.artifact, bytes: 64 * 1024 * 1024 },
    };
    const manifestKey = `catalog/orders/${previous.id}/manifest.json`;
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: manifestKey }], IsTruncated: false });
    s3.on(GetObjectCommand, { Key: manifestKey }).callsFake(() => ({
      Body: Readable.from([Buffer.from(JSON.stringify(previous))]),
    }));
    s3.on(ListMultipartUploadsCommand, { Prefix: 'artifacts/orders/' }).resolves({
      Uploads: [
        // An older upload (another run's, abandoned) is not this dump's.
        {
          Key: 'artifacts/orders/old.dump.zst',
          UploadId: 'u0',
          Initiated: new Date(Date.now() - 86_400_000),
        },
        { Key: 'artifacts/orders/new.dump.zst', UploadId: 'u1', Initiated: new Date(Date.now() - 8000) },
      ],
    });
    s3.on(ListPartsCommand, { UploadId: 'u1' }).resolves({
      Parts: [
        { PartNumber: 1, Size: 8 * 1024 * 1024 },
        { PartNumber: 2, Size: 8 * 1024 * 1024 },
      ],
      IsTruncated: false,
    });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 900 });
    lambda.on(InvokeCommand).callsFake(async () => {
      await new Promise((r) => setTimeout(r, 60));
      return {
        StatusCode: 200,
        Payload: json({ manifest: { id: '20261201T161500Z-ab12cd', bytes: 60 * 1024 * 1024 } }),
      };
    });
    const out = output();

    expect(
      await backupEnvCommand(['--env', 'dev', '--database', 'orders', '--wait'], clients(), out.stream),
    ).toBe(0);

    expect(out.text()).toMatch(`  (ETA from the previous dump, ${previous.id}: 64.0 MiB in 32.0 s)\n`);
    expect(out.text()).toMatch(
      / {2}… dump: 16\.0 MiB of ~64\.0 MiB \(25 %\) {2}[\d.]+ MiB\/s {2}ETA [\d.]+ s\n/,
    );
    expect(s3).not.toHaveReceivedCommandWith(ListPartsCommand, { UploadId: 'u0' });
    // Nothing is printed after the outcome.
    expect(out.text().trimEnd().split('\n').at(-1)).toMatch(
      /^backup 20261201T161500Z-ab12cd of "orders": .* cataloged/,
    );
  });

  it('without --wait starts the dump as the schedule does (asynchronously) and says how to see it', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202, $metadata: { requestId: 'req-1' } });
    const out = output();
    expect(await backupEnvCommand(['--env', 'dev', '--database', 'orders'], clients(), out.stream)).toBe(0);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: DEV_DUMP,
      InvocationType: 'Event',
    });
    expect(out.text()).toMatch(/request req-1; its catalog record names runner lambda:req-1/);
    expect(out.text()).toMatch(/lifeboat list --env dev --database orders shows it once cataloged/);
  });

  it('exits 1 with the error when the dump fails, and says so when a scheduled dump holds the slot', async () => {
    lambda.on(InvokeCommand).resolvesOnce({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: json({ errorType: 'DumpFailed', errorMessage: 'pg_dump exited with code 1' }),
    });
    const out = output();
    expect(
      await backupEnvCommand(['--env', 'dev', '--database', 'orders', '--wait'], clients(), out.stream),
    ).toBe(1);
    expect(out.text()).toMatch(/backup of "orders" FAILED: DumpFailed: pg_dump exited with code 1/);

    lambda
      .on(InvokeCommand)
      .rejects(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    await expect(
      backupEnvCommand(['--env', 'dev', '--database', 'orders', '--wait'], clients(), output().stream),
    ).rejects.toThrow(/is busy: one run at a time per database/);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 2);
  });

  it('starts the Fargate dump workflow of a large database and follows it to its end', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 1,
          type: 'TaskStateEntered',
          timestamp: new Date(),
          stateEnteredEventDetails: { name: 'Dump' },
        },
      ],
    });
    sfn.on(DescribeExecutionCommand).resolvesOnce({ status: 'RUNNING' }).resolves({ status: 'SUCCEEDED' });
    const c = clients();
    const out = output();

    const code = await backupEnvCommand(['--env', 'prod', '--database', 'orders', '--wait'], c, out.stream);

    expect(code).toBe(0);
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: PROD_DUMP_WF,
      name: expect.stringMatching(/^dump-orders-\d{8}T\d{6}Z$/),
    });
    expect(c.regions).toContain('sfn:us-east-1');
    expect(out.text()).toMatch(/▶ Dump\n.*backup of "orders" complete/s);
  });

  it('names what is wrong before calling anything: unknown database, nothing deployed', async () => {
    await expect(
      backupEnvCommand(['--env', 'dev', '--database', 'order'], clients(), output().stream),
    ).rejects.toThrow('environment "dev" has no database "order"; configured: orders');
    expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
    await expect(backupEnvCommand(['--env', 'dev'], clients(), output().stream)).rejects.toThrow(
      /--database is required/,
    );
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    await expect(
      backupEnvCommand(['--env', 'dev', '--database', 'orders'], clients(), output().stream),
    ).rejects.toThrow(
      /the dump of "orders" of environment "dev" is not deployed in eu-west-1 \(no SSM parameter \/lifeboat\/dev\/dumps\/orders\)/,
    );
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });
});

describe('lifeboat verify --env', () => {
  it('invokes the deployed verify-backup function for the given backup and prints each check', async () => {
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: json({
        backupId: '20261201T161500Z-ab12cd',
        database: 'orders',
        passed: false,
        checks: [
          { name: 'checksum', passed: true, detail: 'sha256 matches', failures: [] },
          {
            name: 'row-counts',
            passed: false,
            detail: '1 of 3 tables differ',
            failures: ['public.t: 1 ≠ 2'],
          },
        ],
        totalDurationMs: 61_000,
      }),
    });
    const out = output();

    const code = await verifyEnvCommand(
      ['--env', 'dev', '--database', 'orders', '20261201T161500Z-ab12cd'],
      clients(),
      out.stream,
    );

    expect(code).toBe(1);
    const payload = lambda.commandCalls(InvokeCommand)[0]!.args[0].input.Payload as Uint8Array;
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({
      database: 'orders',
      backupId: '20261201T161500Z-ab12cd',
    });
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: DEV_VERIFY });
    expect(out.text()).toMatch(
      /✓ checksum +sha256 matches\n✗ row-counts +1 of 3 tables differ\n {4}public.t: 1 ≠ 2/,
    );
    expect(out.text()).toMatch(/FAILED: backup 20261201T161500Z-ab12cd of "orders" — 1 of 2 checks failed/);
  });

  it('a large database: the Fargate verification of the newest dump; a given id is refused with the way to do it', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'FAILED', error: 'JobFailed', cause: 'exit 1' });
    const out = output();
    expect(await verifyEnvCommand(['--env', 'prod', '--database', 'orders'], clients(), out.stream)).toBe(1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: PROD_VERIFY_WF });
    expect(out.text()).toMatch(/verification of "orders" FAILED: JobFailed exit 1/);

    await expect(
      verifyEnvCommand(
        ['--env', 'prod', '--database', 'orders', '20261201T161500Z-ab12cd'],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow(
      /verifies the newest dump only: pass latest, or verify .* --repo s3:\/\/lifeboat-prod-333333333333-us-east-1/,
    );
    await expect(
      verifyEnvCommand(['--env', 'dev', '--database', 'orders', 'yesterday'], clients(), output().stream),
    ).rejects.toThrow(/expected a backup id such as 20261122T020000Z-ab12cd, or latest; got "yesterday"/);
  });
});

describe('lifeboat verify --env of an archived dump', () => {
  it('--tier, --days and --wait go with --request-restore, refused before anything is called', async () => {
    const c = clients();
    await expect(
      verifyEnvCommand(['--env', 'dev', '--database', 'orders', '--tier', 'Bulk'], c, output().stream),
    ).rejects.toThrow('--tier, --days and --wait go with --request-restore');
    await expect(
      verifyEnvCommand(
        ['--env', 'dev', '--database', 'orders', '--request-restore', '--tier', 'Fast'],
        c,
        output().stream,
      ),
    ).rejects.toThrow('--tier expects Standard, Bulk, Expedited, got "Fast"');
    expect(c.regions).toEqual(['s3:eu-west-1', 's3:eu-west-1']);
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });
});

describe('lifeboat failback --env', () => {
  it('starts the failback workflow in the DR region with the database and the reason, and follows it', async () => {
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', output: '{"replica":"orders-staging-rp-1"}' });
    const c = clients();
    const out = output();

    const code = await failbackCommand(
      ['--env', 'staging', '--database', 'orders', '--reason', 'eu-west-1 recovered'],
      c,
      out.stream,
    );

    expect(code).toBe(0);
    expect(c.regions).toEqual(['ssm:eu-central-1', 'sfn:eu-central-1']);
    const input = sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input;
    expect(input.stateMachineArn).toBe(FAILBACK);
    expect(JSON.parse(input.input!)).toEqual({ database: 'orders', reason: 'eu-west-1 recovered' });
    await expect(
      failbackCommand(['--env', 'staging', '--database', 'orders'], c, out.stream),
    ).rejects.toThrow(/--reason is required/);
  });
});
