import { describe, expect, it } from 'vitest';
import {
  alarmExecutionName,
  FailoverTarget,
  InvalidFailoverInput,
  parseFailoverRequest,
  parseFailoverTargets,
  UnknownDatabase,
} from '../../functions/core/failover/failover.ts';
import {
  evaluatePreflight,
  type PreflightFacts,
  runPreflight,
  sameEngineVersion,
} from '../../functions/core/failover/preflight.ts';
import { buildFailoverRecord, failoverRecordKey } from '../../functions/core/failover/record.ts';

const target = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  maxLagSeconds: 30,
});

const healthy: PreflightFacts = {
  target: { exists: true, status: 'available', engineVersion: '16.4', role: 'replica', endpoint: 'e' },
  source: { reachable: true, engineVersion: '16.4', status: 'available' },
  replicaLagSeconds: 3,
};

describe('evaluatePreflight', () => {
  it('passes a healthy replica within the lag bound and reports every check', () => {
    const report = evaluatePreflight(target, healthy, { force: false });

    expect(report.passed).toBe(true);
    expect(report.refusal).toBeNull();
    expect(report.checks.map((c) => [c.name, c.passed])).toEqual([
      ['target-exists', true],
      ['target-available', true],
      ['not-already-primary', true],
      ['engine-version', true],
      ['replica-lag', true],
    ]);
    expect(report.rpoSeconds).toBe(3);
  });

  it.each([
    ['TargetNotFound', { ...healthy, target: { ...healthy.target, exists: false } }],
    ['TargetUnavailable', { ...healthy, target: { ...healthy.target, status: 'modifying' } }],
    ['AlreadyPrimary', { ...healthy, target: { ...healthy.target, role: 'writer' as const } }],
    ['EngineVersionMismatch', { ...healthy, target: { ...healthy.target, engineVersion: '16.3' } }],
    ['EngineVersionMismatch', { ...healthy, target: { ...healthy.target, engineVersion: null } }],
    ['ReplicationLagTooHigh', { ...healthy, replicaLagSeconds: 31 }],
    ['ReplicationLagTooHigh', { ...healthy, replicaLagSeconds: null }],
  ] satisfies [string, PreflightFacts][])('refuses with %s', (name, facts) => {
    const report = evaluatePreflight(target, facts, { force: false });

    expect(report.passed).toBe(false);
    expect(report.refusal?.Error).toBe(name);
    expect(report.refusal?.Cause).toMatch(/^preflight refused: /);
  });

  it('reads a lag a little below zero (two clocks) as none, so the failover record still validates', () => {
    const report = evaluatePreflight(target, { ...healthy, replicaLagSeconds: -0.004 }, { force: false });

    expect(report.passed).toBe(true);
    expect(report.rpoSeconds).toBe(0);
    const record = buildFailoverRecord({
      target,
      request: parseFailoverRequest({ database: 'orders', mode: 'planned', reason: 'drill' }),
      executionId: 'arn:aws:states:eu-west-1:123456789012:execution:f:x',
      startedAt: '2026-12-01T10:00:00Z',
      verifiedWriteAt: '2026-12-01T10:01:00Z',
      rpoSeconds: report.rpoSeconds,
      fence: 'fenced',
    });
    expect(record.rpoSeconds).toBe(0);
  });

  it('accepts lag exactly at the bound', () => {
    expect(evaluatePreflight(target, { ...healthy, replicaLagSeconds: 30 }, { force: false }).passed).toBe(
      true,
    );
  });

  it('compares with the configured version when the old primary cannot be asked', () => {
    const unreachable = { ...healthy, source: { reachable: false, engineVersion: null, status: null } };

    expect(evaluatePreflight(target, unreachable, { force: false }).passed).toBe(true);
    const drifted = { ...unreachable, target: { ...healthy.target, engineVersion: '17.1' } };
    const report = evaluatePreflight(target, drifted, { force: false });
    expect(report.refusal).toEqual({
      Error: 'EngineVersionMismatch',
      Cause:
        'preflight refused: primary not asked (unreachable): replica runs 17.1, configured 16.4; force (unplanned mode) skips this comparison with the configuration',
    });
  });

  it('during an outage, a minor version drift from the configuration is no refusal', () => {
    const drifted = {
      ...healthy,
      source: { reachable: false, engineVersion: null, status: null },
      target: { ...healthy.target, engineVersion: '16.6' },
    };

    const report = evaluatePreflight(target, drifted, { force: false, mode: 'unplanned' });

    expect(report.passed).toBe(true);
    expect(report.checks.find((c) => c.name === 'engine-version')?.detail).toContain('minor versions differ');
  });

  it('during an outage, force skips the comparison with the configured version', () => {
    const drifted = {
      ...healthy,
      source: { reachable: false, engineVersion: null, status: null },
      target: { ...healthy.target, engineVersion: '17.1' },
    };

    const report = evaluatePreflight(target, drifted, { force: true, mode: 'unplanned' });

    expect(report.passed).toBe(true);
    expect(report.checks.find((c) => c.name === 'engine-version')).toMatchObject({ skipped: true });
  });

  it('a primary that answers with another version refuses even under force', () => {
    const facts = { ...healthy, source: { ...healthy.source, engineVersion: '16.6' } };

    expect(evaluatePreflight(target, facts, { force: true, mode: 'unplanned' }).refusal?.Error).toBe(
      'EngineVersionMismatch',
    );
  });

  it('an alarm-started unplanned failover is not refused for lag above maxLagSeconds (it reports it)', () => {
    const lagging = { ...healthy, replicaLagSeconds: 600 };

    const report = evaluatePreflight(target, lagging, { force: false, mode: 'unplanned', trigger: 'alarm' });

    expect(report.passed).toBe(true);
    expect(report.rpoSeconds).toBe(600);
    expect(report.checks.find((c) => c.name === 'replica-lag')).toMatchObject({
      passed: true,
      skipped: true,
      detail: expect.stringContaining('estimated from the heartbeat'),
    });
    // The same lag still refuses a manual run, and a planned one started by an alarm.
    expect(evaluatePreflight(target, lagging, { force: false, mode: 'unplanned' }).passed).toBe(false);
    expect(
      evaluatePreflight(target, lagging, { force: false, mode: 'planned', trigger: 'alarm' }).passed,
    ).toBe(false);
  });

  it('force skips the lag check and marks it skipped', () => {
    const report = evaluatePreflight(target, { ...healthy, replicaLagSeconds: 600 }, { force: true });

    expect(report.passed).toBe(true);
    expect(report.checks.find((c) => c.name === 'replica-lag')).toMatchObject({
      passed: true,
      skipped: true,
    });
    expect(report.rpoSeconds).toBe(600);
  });

  it('force skips nothing but the lag check', () => {
    const facts = { ...healthy, replicaLagSeconds: 600, target: { ...healthy.target, status: 'rebooting' } };

    expect(evaluatePreflight(target, facts, { force: true }).refusal?.Error).toBe('TargetUnavailable');
  });

  it('does not mark a passing lag check as skipped under force', () => {
    const report = evaluatePreflight(target, healthy, { force: true });

    expect(report.checks.find((c) => c.name === 'replica-lag')?.skipped).toBe(false);
  });
});

describe('sameEngineVersion', () => {
  it.each([
    ['16.4', '16.4', true],
    ['16', '16.4', true],
    ['16.4', '16.3', false],
    ['15.8', '16.4', false],
  ])('%s vs %s → %s', (a, b, expected) => {
    expect(sameEngineVersion(a, b)).toBe(expected);
  });
});

describe('parseFailoverRequest', () => {
  it('fills defaults', () => {
    expect(parseFailoverRequest({ database: 'orders', mode: 'planned', reason: 'drill' })).toEqual({
      database: 'orders',
      mode: 'planned',
      reason: 'drill',
      force: false,
      dryRun: false,
      trigger: { source: 'manual' },
    });
  });

  it('accepts the alarm trigger object and the older string form', () => {
    const alarm = {
      source: 'alarm',
      alarmName: 'lifeboat-prod-orders-primary-not-writable',
      state: 'ALARM',
      time: '2026-11-23T10:00:00.000+00:00',
    };
    expect(
      parseFailoverRequest({ database: 'orders', mode: 'unplanned', reason: 'x', trigger: alarm }).trigger,
    ).toEqual(alarm);
    expect(
      parseFailoverRequest({
        database: 'orders',
        mode: 'unplanned',
        reason: 'x',
        trigger: 'alarm',
        requestedBy: 'orders-alarm',
      }).trigger,
    ).toEqual({ source: 'alarm' });
  });

  it.each([
    [{ source: 'alarm' }, 'field trigger.alarmName'],
    [{ source: 'alarm', alarmName: 'a', colour: 'red' }, 'unknown field'],
    [{ source: 'pager' }, 'field trigger'],
  ])('names the bad trigger field of %j', (trigger, message) => {
    expect(() =>
      parseFailoverRequest({ database: 'orders', mode: 'unplanned', reason: 'x', trigger }),
    ).toThrow(message);
  });

  it('refuses force in planned mode', () => {
    expect(() =>
      parseFailoverRequest({ database: 'orders', mode: 'planned', reason: 'x', force: true }),
    ).toThrow('field force: not allowed in planned mode');
    expect(
      parseFailoverRequest({ database: 'orders', mode: 'unplanned', reason: 'x', force: true }).force,
    ).toBe(true);
  });

  it.each([
    [{ mode: 'planned', reason: 'x' }, 'field database'],
    [{ database: 'orders', mode: 'later', reason: 'x' }, 'field mode'],
    [{ database: 'orders', mode: 'planned', reason: '' }, 'field reason'],
    [{ database: 'orders', mode: 'planned', reason: 'x', force: 'yes' }, 'field force'],
    [{ database: 'orders', mode: 'planned', reason: 'x', dryrun: true }, 'unknown field dryrun'],
  ])('names the bad field of %j', (input, field) => {
    expect(() => parseFailoverRequest(input)).toThrow(InvalidFailoverInput);
    expect(() => parseFailoverRequest(input)).toThrow(field);
  });
});

describe('parseFailoverTargets', () => {
  it('requires a global cluster identifier for Aurora', () => {
    const json = JSON.stringify([{ ...target, kind: 'cluster' }]);

    expect(() => parseFailoverTargets(json)).toThrow('field 0.globalClusterIdentifier');
  });

  it('reads a list of targets with defaults', () => {
    const [parsed] = parseFailoverTargets(
      JSON.stringify([
        {
          database: 'orders',
          kind: 'instance',
          primary: { region: 'eu-west-1', identifier: 'orders-db' },
          replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
          engineVersion: '16.4',
          dns: { hostedZoneId: 'Z0123456789ABC', recordName: 'orders.db.example.com' },
        },
      ]),
    );

    expect(parsed).toMatchObject({ maxLagSeconds: 60, dns: { ttl: 60 } });
  });

  it('says where bad JSON came from', () => {
    expect(() => parseFailoverTargets('{', 'LIFEBOAT_FAILOVER_TARGETS')).toThrow(
      'LIFEBOAT_FAILOVER_TARGETS is not JSON',
    );
  });
});

describe('runPreflight', () => {
  it('refuses an unknown database naming the known ones', async () => {
    const act = runPreflight(
      { input: { database: 'x', mode: 'planned', reason: 'r' }, executionId: 'e' },
      [target],
      () => {
        throw new Error('must not gather facts');
      },
    );

    await expect(act).rejects.toThrow(UnknownDatabase);
    await expect(act).rejects.toThrow('known: orders');
  });

  it('returns the report with the request, the target and the replica ARN', async () => {
    const out = await runPreflight(
      { input: { database: 'orders', mode: 'unplanned', reason: 'r', force: true }, executionId: 'e' },
      [target],
      async () => ({
        facts: { ...healthy, replicaLagSeconds: 99 },
        replicaArn: 'arn:aws:rds:eu-central-1:1:db:orders-db-dr',
      }),
    );

    expect(out).toMatchObject({
      passed: true,
      request: { force: true, mode: 'unplanned' },
      target: { database: 'orders' },
      replicaArn: 'arn:aws:rds:eu-central-1:1:db:orders-db-dr',
      rpoSeconds: 99,
    });
  });
});

describe('alarmExecutionName', () => {
  const at = new Date('2026-11-23T10:07:00Z');

  it('is the same for state changes inside one window (a flapping alarm yields one execution)', () => {
    const first = alarmExecutionName('orders', 'orders-lag-critical', at);

    expect(alarmExecutionName('orders', 'orders-lag-critical', new Date('2026-11-23T10:29:59Z'))).toBe(first);
    expect(alarmExecutionName('orders', 'orders-lag-critical', new Date('2026-11-23T10:30:00Z'))).not.toBe(
      first,
    );
  });

  it('differs per database and per alarm', () => {
    const a = alarmExecutionName('orders', 'lag', at);

    expect(alarmExecutionName('billing', 'lag', at)).not.toBe(a);
    expect(alarmExecutionName('orders', 'health', at)).not.toBe(a);
  });

  it('is a valid Step Functions execution name', () => {
    const name = alarmExecutionName(
      'a very long database name with spaces and "quotes" that goes on',
      'x'.repeat(255),
      at,
    );

    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(alarmExecutionName('orders', 'lag', at)).toMatch(/^alarm-orders-20261123T1000Z-[0-9a-f]{10}$/);
  });
});

describe('failover record', () => {
  it('measures RTO from the start to the verified write and keeps lag at start as RPO', () => {
    const record = buildFailoverRecord({
      target,
      request: parseFailoverRequest({ database: 'orders', mode: 'planned', reason: 'drill' }),
      executionId: 'arn:aws:states:eu-central-1:1:execution:m:e1',
      startedAt: '2026-11-23T10:00:00.000Z',
      verifiedWriteAt: '2026-11-23T10:03:12.500Z',
      rpoSeconds: 4,
      fence: 'fenced',
    });

    expect(record).toMatchObject({
      rtoSeconds: 192.5,
      rpoSeconds: 4,
      from: target.primary,
      to: target.replica,
    });
  });

  it('is keyed under the database, apart from any backup id', () => {
    expect(failoverRecordKey('my db', '2026-11-23T10:03:12.500Z', 'exec/1')).toBe(
      'catalog/my%20db/_failovers/20261123T100312Z-exec-1.json',
    );
  });
});
