import { Readable } from 'node:stream';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DBSnapshotNotFoundFault,
  type DBSnapshot,
  DescribeDBSnapshotsCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-vitest/extend';
import { beforeEach, describe, expect, it } from 'vitest';
import { backupEnvCommand, type DeployedClients } from '../../bin/cli/commands/deployed.ts';
import { INVOKE_ATTEMPTS } from '../../bin/cli/commands/deployed-snapshot.ts';
import { checkCommandLine } from '../../bin/cli/syntax.ts';

/**
 * `lifeboat backup --env E --database D --kind snapshot [--wait]` against the SDK mocks: the
 * deployed take-snapshot function invoked with the slot's event, the snapshot and its DR copy
 * followed through RDS to the catalog, and every answer that may be lost on the way.
 */

const lambda = mockClient(LambdaClient);
const rds = mockClient(RDSClient);
const s3 = mockClient(S3Client);
const ssm = mockClient(SSMClient);

const TAKE_SNAPSHOT = 'arn:aws:lambda:eu-west-1:111111111111:function:Lifeboat-dev-Primary-TakeSnapshot-AbC';
const DEV_DUMP = 'arn:aws:lambda:eu-west-1:111111111111:function:Lifeboat-dev-Primary-DumpordersFunction-AbC';
const IDENTIFIER = 'lifeboat-orders-dev-202612012250';
const BUCKET = 'lifeboat-dev-111111111111-eu-west-1';
const COPY_MANIFEST = 'catalog/orders/20261201T225000Z-rds-eu-central-1/manifest.json';
const NOW = new Date('2026-12-01T22:50:31Z');

function clients(): DeployedClients {
  return {
    pollMs: 1,
    rdsPollMs: 1,
    tickMs: 5,
    sfn: (region) => new SFNClient({ region }),
    ssm: (region) => new SSMClient({ region }),
    lambda: (region) => new LambdaClient({ region }),
    s3: (region) => new S3Client({ region }),
    rds: (region) => new RDSClient({ region }),
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

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v)) as never;
const notFound = () => new DBSnapshotNotFoundFault({ message: `${IDENTIFIER} not found`, $metadata: {} });
const lostAnswer = () => Object.assign(new Error('socket hang up'), { name: 'TimeoutError' });
const serverError = () =>
  Object.assign(new Error('internal error'), {
    name: 'ServiceException',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
  });
const http404 = () =>
  Object.assign(new Error('NotFound'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });

function snapshot(status: string, percent: number, region = 'eu-west-1'): { DBSnapshots: DBSnapshot[] } {
  return {
    DBSnapshots: [
      {
        DBSnapshotIdentifier: IDENTIFIER,
        DBSnapshotArn: `arn:aws:rds:${region}:111111111111:snapshot:${IDENTIFIER}`,
        DBInstanceIdentifier: 'orders-dev',
        Status: status,
        PercentProgress: percent,
      },
    ],
  };
}

/** RDS answers per region, in order; the last one repeats. */
function rdsAnswers(answers: Record<string, Array<() => unknown>>) {
  const seen: Record<string, number> = {};
  rds.on(DescribeDBSnapshotsCommand).callsFake(async (_input, getClient) => {
    const region = await getClient().config.region();
    const list = answers[region] ?? [];
    const i = Math.min(seen[region] ?? 0, list.length - 1);
    seen[region] = (seen[region] ?? 0) + 1;
    const answer = list[i]!();
    if (answer instanceof Error) throw answer;
    return answer;
  });
}

const started = (created = true) =>
  json({
    database: 'orders',
    snapshotIdentifier: IDENTIFIER,
    snapshotType: 'instance',
    snapshotArn: `arn:aws:rds:eu-west-1:111111111111:snapshot:${IDENTIFIER}`,
    backupId: '20261201T225000Z-rds-eu-west-1',
    status: created ? 'creating' : 'available',
    created,
    quota: null,
  });

const ARGS = ['--env', 'dev', '--database', 'orders', '--kind', 'snapshot'];

beforeEach(() => {
  lambda.reset();
  rds.reset();
  s3.reset();
  ssm.reset();
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/dev/snapshots' })
    .resolves({ Parameter: { Value: TAKE_SNAPSHOT } });
  ssm
    .on(GetParameterCommand, { Name: '/lifeboat/dev/dumps/orders' })
    .resolves({ Parameter: { Value: DEV_DUMP } });
});

function invokedEvents(): unknown[] {
  return lambda
    .commandCalls(InvokeCommand)
    .map((c) => JSON.parse(new TextDecoder().decode(c.args[0].input.Payload as Uint8Array)));
}

describe('lifeboat backup --env --kind snapshot', () => {
  it("without --wait invokes take-snapshot with the database's scheduled event for this minute and prints the command to follow it", async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: started() });
    const out = output();

    const code = await backupEnvCommand(ARGS, clients(), out.stream, () => NOW);

    expect(code).toBe(0);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: TAKE_SNAPSHOT,
      InvocationType: 'RequestResponse',
    });
    expect(invokedEvents()).toEqual([
      {
        database: 'orders',
        identifier: 'orders-dev',
        type: 'instance',
        policy: 'standard',
        scheduledTime: '2026-12-01T22:50:00.000Z',
      },
    ]);
    expect(rds).not.toHaveReceivedCommand(DescribeDBSnapshotsCommand);
    expect(out.text()).toMatch(`snapshot ${IDENTIFIER} of "orders" (instance orders-dev) in eu-west-1`);
    expect(out.text()).toMatch(/started \(creating\)/);
    const follow = /^follow it: (lifeboat .*)$/m.exec(out.text())![1]!;
    expect(follow).toBe(
      'lifeboat backup --env dev --database orders --kind snapshot --slot 2026-12-01T22:50:00Z --wait',
    );
    // The printed command is one the CLI accepts, and it names the same snapshot.
    expect(() => checkCommandLine(follow.split(' ').slice(1))).not.toThrow();
    lambda.reset();
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: started(false) });
    rdsAnswers({
      'eu-west-1': [() => snapshot('available', 100)],
      'eu-central-1': [() => snapshot('available', 100, 'eu-central-1')],
    });
    s3.on(HeadObjectCommand).resolves({ ContentLength: 800 });
    const again = output();
    const later = () => new Date('2026-12-01T23:40:00Z');
    expect(await backupEnvCommand(follow.split(' ').slice(2), clients(), again.stream, later)).toBe(0);
    expect(invokedEvents()).toEqual([expect.objectContaining({ scheduledTime: '2026-12-01T22:50:00.000Z' })]);
    expect(again.text()).toMatch(/already there \(available\): not taken again/);
  });

  it('--wait follows the snapshot with its progress, then its copy in the DR region, to the catalog', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: started() });
    rdsAnswers({
      'eu-west-1': [
        () => snapshot('creating', 0),
        // A throttled read is tried again.
        () =>
          Object.assign(new Error('Rate exceeded'), {
            name: 'Throttling',
            $metadata: { httpStatusCode: 400 },
          }),
        () => snapshot('creating', 45),
        () => snapshot('creating', 45),
        () => snapshot('available', 100),
      ],
      'eu-central-1': [
        notFound,
        () => snapshot('copying', 30, 'eu-central-1'),
        () => snapshot('available', 100, 'eu-central-1'),
      ],
    });
    s3.on(HeadObjectCommand, { Bucket: BUCKET, Key: COPY_MANIFEST })
      .rejectsOnce(http404())
      .resolves({ ContentLength: 700 });
    const out = output();

    const code = await backupEnvCommand([...ARGS, '--wait'], clients(), out.stream, () => NOW);

    expect(code).toBe(0);
    const lines = out.text().split('\n');
    const steps = lines.filter((l) => l.includes('▶')).map((l) => l.replace(/^\S+ +▶ /, ''));
    expect(steps).toEqual([
      'snapshot creating 0 %',
      'snapshot creating 45 %',
      'snapshot available 100 %',
      'copy to eu-central-1: not started yet (copy-snapshot starts it from its queue)',
      'copy to eu-central-1: copying 30 %',
      'copy to eu-central-1: available 100 %',
    ]);
    expect(out.text()).toMatch(/reading snapshot .* failed \(.*RDS kept throttling.*\); trying again/);
    expect(out.text()).toMatch(
      `snapshot ${IDENTIFIER} of "orders" complete: available in eu-west-1, copied to eu-central-1 and cataloged (20261201T225000Z-rds-eu-central-1)`,
    );
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
  });

  it('--wait --json prints one outcome; a copy that fails in the DR region exits 1 naming it', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: started() });
    rdsAnswers({
      'eu-west-1': [() => snapshot('available', 100)],
      'eu-central-1': [
        () => snapshot('copying', 10, 'eu-central-1'),
        () => snapshot('failed', 10, 'eu-central-1'),
      ],
    });
    const out = output();

    const code = await backupEnvCommand([...ARGS, '--wait', '--json'], clients(), out.stream, () => NOW);

    expect(code).toBe(1);
    expect(JSON.parse(out.text())).toMatchObject({
      database: 'orders',
      kind: 'snapshot',
      slot: '2026-12-01T22:50:00Z',
      snapshotIdentifier: IDENTIFIER,
      outcome: 'failed',
      status: 'available',
      error: `the copy of ${IDENTIFIER} in eu-central-1 is failed`,
      cataloged: false,
    });
  });

  it('a copy that never arrives fails after the copy bound (snapshotCopies.maxWaitHours)', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, Payload: started() });
    rdsAnswers({ 'eu-west-1': [() => snapshot('available', 100)], 'eu-central-1': [notFound] });
    // The slot is read first; every later reading of the clock is an hour on.
    let t = NOW.getTime() - 3600_000;
    const clock = () => new Date((t += 3600_000));
    const out = output();
    expect(await backupEnvCommand([...ARGS, '--wait'], clients(), out.stream, clock)).toBe(1);
    expect(out.text()).toMatch(/FAILED: no copy of .* available in eu-central-1 within 48 h of the snapshot/);
  });

  it('a lost answer: RDS says no snapshot was taken, so take-snapshot is invoked again for the same slot', async () => {
    lambda.on(InvokeCommand).rejectsOnce(lostAnswer()).resolves({ StatusCode: 200, Payload: started() });
    rdsAnswers({ 'eu-west-1': [notFound] });
    const out = output();

    expect(await backupEnvCommand(ARGS, clients(), out.stream, () => NOW)).toBe(0);

    const events = invokedEvents();
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual(events[0]);
    expect(out.text()).toMatch(
      /the answer of take-snapshot was lost \(TimeoutError: socket hang up\); RDS has no snapshot .*: nothing was taken/,
    );
    expect(out.text()).toMatch(/invoking again for the same slot/);
  });

  it('a lost answer (5xx): RDS has the snapshot, so it is not invoked again; answers lost every time end in exit 1 saying what is known', async () => {
    lambda.on(InvokeCommand).rejects(serverError());
    rdsAnswers({ 'eu-west-1': [() => snapshot('creating', 5)] });
    const found = output();
    expect(await backupEnvCommand(ARGS, clients(), found.stream, () => NOW)).toBe(0);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(found.text()).toMatch(/RDS has snapshot .* \(creating\): it was taken/);

    rds.reset();
    rdsAnswers({ 'eu-west-1': [notFound] });
    lambda.resetHistory();
    const never = output();
    expect(await backupEnvCommand([...ARGS, '--json'], clients(), never.stream, () => NOW)).toBe(1);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, INVOKE_ATTEMPTS);
    const outcome = JSON.parse(never.text()) as { outcome: string; error: string; notes: string[] };
    expect(outcome.outcome).toBe('failed');
    expect(outcome.error).toMatch(
      /did not answer 4 times; no snapshot .* exists. Running the same command again \(with its --slot\) is safe/,
    );
    expect(outcome.notes).toHaveLength(INVOKE_ATTEMPTS);
  });

  it('a refusal is not retried; a snapshot that failed in RDS or a function error exits 1', async () => {
    lambda.on(InvokeCommand).rejects(
      Object.assign(new Error('not authorized to perform lambda:InvokeFunction'), {
        name: 'AccessDeniedException',
        $fault: 'client',
        $metadata: { httpStatusCode: 403 },
      }),
    );
    await expect(backupEnvCommand(ARGS, clients(), output().stream, () => NOW)).rejects.toThrow(
      /was refused: AccessDeniedException: not authorized/,
    );
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);

    lambda.reset();
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      Payload: json({
        ...JSON.parse(new TextDecoder().decode(started(false) as Uint8Array)),
        status: 'failed',
      }),
    });
    const failed = output();
    expect(await backupEnvCommand(ARGS, clients(), failed.stream, () => NOW)).toBe(1);
    expect(failed.text()).toMatch(/failed in RDS; its name stays taken: pass another --slot/);

    lambda.reset();
    lambda.on(InvokeCommand).resolves({
      StatusCode: 200,
      FunctionError: 'Unhandled',
      Payload: json({ errorType: 'SnapshotQuotaExceeded', errorMessage: 'manual snapshot quota reached' }),
    });
    const quota = output();
    expect(await backupEnvCommand(ARGS, clients(), quota.stream, () => NOW)).toBe(1);
    expect(quota.text()).toMatch(/FAILED: SnapshotQuotaExceeded: manual snapshot quota reached/);
  });

  it('refuses a bad --kind or --slot before calling anything', async () => {
    await expect(
      backupEnvCommand(
        ['--env', 'dev', '--database', 'orders', '--kind', 'image'],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow('--kind expects dump or snapshot, got "image"');
    await expect(
      backupEnvCommand([...ARGS, '--slot', 'yesterday'], clients(), output().stream),
    ).rejects.toThrow('--slot expects a UTC time such as 2026-12-01T22:50:00Z, got "yesterday"');
    await expect(
      backupEnvCommand([...ARGS, '--slot', '2026-12-01T22:51:00Z'], clients(), output().stream, () => NOW),
    ).rejects.toThrow('--slot 2026-12-01T22:51:00Z is in the future');
    await expect(
      backupEnvCommand(
        ['--env', 'dev', '--database', 'orders', '--slot', '2026-12-01T22:50:00Z'],
        clients(),
        output().stream,
      ),
    ).rejects.toThrow('--slot names a snapshot: it goes with --kind snapshot');
    expect(ssm).not.toHaveReceivedCommand(GetParameterCommand);
  });
});

describe('lifeboat backup --env --kind dump --wait: a lost answer', () => {
  const record = (id: string, at: string) => ({
    kind: 'started',
    backupId: id,
    database: 'orders',
    at,
    backupKind: 'logical-dump',
    runner: 'lambda:req-9',
  });

  it('is never followed by a second invocation; the catalog says what started since', async () => {
    lambda.on(InvokeCommand).rejects(lostAnswer());
    const key = 'catalog/orders/20261201T225040Z-ab12cd/records/20261201T225040Z-started-0a0b0c0d.json';
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: key }], IsTruncated: false });
    s3.on(GetObjectCommand, { Key: key }).callsFake(() => ({
      Body: Readable.from([
        Buffer.from(JSON.stringify(record('20261201T225040Z-ab12cd', '2026-12-01T22:50:40.000Z'))),
      ]),
    }));
    const out = output();

    const code = await backupEnvCommand(
      ['--env', 'dev', '--database', 'orders', '--wait'],
      clients(),
      out.stream,
      () => NOW,
    );

    expect(code).toBe(2);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(out.text()).toMatch(
      /the answer of the dump's invocation was lost \(TimeoutError: socket hang up\); not invoked again/,
    );
    expect(out.text()).toMatch(
      /the catalog has, since 2026-12-01T22:49:31.000Z: 20261201T225040Z-ab12cd \(in-progress\)/,
    );
    expect(out.text()).toMatch(/see where it is with lifeboat list --env dev --database orders/);
  });

  it('with nothing in the catalog says that none has started yet, and without --wait the same', async () => {
    lambda.on(InvokeCommand).rejects(serverError());
    s3.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
    const out = output();
    expect(
      await backupEnvCommand(['--env', 'dev', '--database', 'orders'], clients(), out.stream, () => NOW),
    ).toBe(2);
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    expect(out.text()).toMatch(/the catalog has no dump of "orders" started since 2026-12-01T22:49:31.000Z/);
  });
});
