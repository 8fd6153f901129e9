import { describe, expect, it } from 'vitest';
import {
  COMPLETE_SECRET_ARN,
  failbackReplicaIdentifier,
  failbackReplicaPattern,
  SECRET_ARN,
} from '#core/contracts/index.ts';
import { CanaryTarget } from '#core/failover/canary.ts';
import { FailoverTarget } from '#core/failover/failover.ts';
import { secretArn as ConfigSecretArn } from '../../lib/config/schema.ts';

const complete = [
  'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/prod/orders-AbCdEf',
  'arn:aws-cn:secretsmanager:cn-north-1:111111111111:secret:orders-a1B2c3',
  'arn:aws-us-gov:secretsmanager:us-gov-west-1:111111111111:secret:app/db_main+rw=1.x@y-Zz9Yy8',
  'arn:aws-iso-b:secretsmanager:us-isob-east-1:111111111111:secret:db-123456',
];
const partial = [
  // No 6-character suffix: Secrets Manager resolves it; IAM on it would name every secret starting so.
  'arn:aws:secretsmanager:eu-west-1:111111111111:secret:lifeboat/prod/orders',
  'arn:aws-us-gov:secretsmanager:us-gov-east-1:111111111111:secret:reports-admin',
];
const invalid = [
  '',
  'orders-AbCdEf',
  'arn:aws:secretsmanager:eu-west-1:111111111111:secret:',
  'arn:awsx:secretsmanager:eu-west-1:111111111111:secret:orders-AbCdEf',
  'arn:aws:secretmanager:eu-west-1:111111111111:secret:orders-AbCdEf',
  'arn:aws:secretsmanager:eu-west-1:11111111111:secret:orders-AbCdEf',
  'arn:aws:secretsmanager:eu-west-1:111111111111:key:orders-AbCdEf',
  'arn:aws:secretsmanager:eu-west-1:111111111111:secret:orders AbCdEf',
  'arn:aws:secretsmanager:eu-west-1:111111111111:secret:orders-AbCdEf\n',
  ' arn:aws:secretsmanager:eu-west-1:111111111111:secret:orders-AbCdEf',
];

describe('Secrets Manager ARN: one grammar for the configuration and the functions', () => {
  it.each(complete)('complete: %s', (arn) => {
    expect(COMPLETE_SECRET_ARN.test(arn)).toBe(true);
    expect(SECRET_ARN.test(arn)).toBe(true);
  });

  it.each(partial)(
    'partial (no 6-character suffix): accepted as input, refused by the configuration: %s',
    (arn) => {
      expect(SECRET_ARN.test(arn)).toBe(true);
      expect(COMPLETE_SECRET_ARN.test(arn)).toBe(false);
    },
  );

  it.each(invalid)('not a secret ARN: %j', (arn) => {
    expect(SECRET_ARN.test(arn)).toBe(false);
    expect(COMPLETE_SECRET_ARN.test(arn)).toBe(false);
  });

  it('the configuration and the functions that take an ARN judge alike, and name the field', () => {
    const canary = (secretArn: string) => CanaryTarget.safeParse({ database: 'orders', secretArn }).success;
    const failover = (secretArn: string) => FailoverTarget.shape.secretArn.safeParse(secretArn).success;
    for (const arn of [...complete, ...partial]) expect([canary(arn), failover(arn)]).toEqual([true, true]);
    for (const arn of invalid) expect([canary(arn), failover(arn)]).toEqual([false, false]);
    for (const arn of complete) expect(ConfigSecretArn.safeParse(arn).success).toBe(true);
    for (const arn of [...partial, ...invalid]) {
      expect(ConfigSecretArn.safeParse(arn).error?.issues[0]?.message).toBe('expected a Secrets Manager ARN');
    }
  });
});

describe('failback replica names', () => {
  it('fit RDS (63 characters), are stable per execution and match the IAM pattern of their primary', () => {
    const primary = 'a'.repeat(63);
    const name = failbackReplicaIdentifier(primary, 'exec-1');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toBe(failbackReplicaIdentifier(primary, 'exec-1'));
    expect(name).not.toBe(failbackReplicaIdentifier(primary, 'exec-2'));
    const pattern = failbackReplicaPattern(primary);
    expect(name.startsWith(pattern.slice(0, -1))).toBe(true);
    expect(failbackReplicaIdentifier('orders-db', 'x')).toMatch(/^orders-db-rp-[0-9a-f]{6}$/);
  });
});
