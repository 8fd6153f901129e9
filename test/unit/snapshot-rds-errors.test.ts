import { Readable } from 'node:stream';
import { CreateDBSnapshotCommand, RDSClient } from '@aws-sdk/client-rds';
import { describe, expect, it } from 'vitest';
import { mapRdsError } from '../../functions/core/snapshots/rds.ts';

/**
 * The error names mapRdsError matches are the ones the real SDK produces from RDS's XML error
 * responses (not names made up in a mock): a real RDSClient, with a request handler in place of
 * the network, parses each error as it would in Lambda.
 */

function rdsAnswering(code: string, message: string, status = 400) {
  let calls = 0;
  const client = new RDSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 3,
    requestHandler: {
      handle: async () => {
        calls++;
        const body = `<ErrorResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>r-${calls}</RequestId></ErrorResponse>`;
        return {
          response: {
            statusCode: status,
            headers: { 'content-type': 'text/xml' },
            body: Readable.from([Buffer.from(body)]),
          },
        };
      },
    },
  });
  return { client, calls: () => calls };
}

async function sdkError(
  code: string,
  message: string,
  status = 400,
): Promise<{ error: unknown; calls: number }> {
  const rds = rdsAnswering(code, message, status);
  const error = await rds.client
    .send(
      new CreateDBSnapshotCommand({
        DBSnapshotIdentifier: 'lifeboat-x-202611230915',
        DBInstanceIdentifier: 'x',
      }),
    )
    .then(
      () => null,
      (err: unknown) => err,
    );
  return { error, calls: rds.calls() };
}

describe('RDS errors as the SDK surfaces them', () => {
  it.each([
    ['InvalidDBInstanceState', 'DB instance is not in available state (backing-up).', 'DatabaseBusy'],
    ['InvalidDBClusterStateFault', 'DBCluster is in backing-up state', 'DatabaseBusy'],
    ['SnapshotQuotaExceeded', 'Cannot create more than 100 manual snapshots', 'SnapshotQuotaExceeded'],
    ['KMSKeyNotAccessibleFault', 'The specified KMS key is disabled.', 'KmsKeyNotAccessible'],
    ['DBInstanceNotFound', 'DBInstance x not found.', 'DatabaseNotFound'],
    ['InvalidParameterValue', 'bad identifier', 'SnapshotError'],
  ])('maps %s to %s', async (code, message, expected) => {
    // Act
    const { error } = await sdkError(code, message);

    // Assess
    expect(mapRdsError(error, 'creating snapshot')).toMatchObject({
      name: expected,
      message: expect.stringContaining(message),
    });
  });

  it('retries throttling in the SDK (maxAttempts) before it surfaces as Throttled', async () => {
    // Act
    const { error, calls } = await sdkError('Throttling', 'Rate exceeded');

    // Assess
    expect(calls).toBe(3);
    expect(mapRdsError(error, 'creating snapshot')).toMatchObject({ name: 'Throttled' });
  }, 30_000);
});
