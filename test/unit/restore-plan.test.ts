import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../functions/core/catalog/catalog.ts';
import {
  chooseRestorePoint,
  elapsedMs,
  InvalidRestoreInput,
  matchingDump,
  NoRestorePoint,
  planRestore,
  planRestoreTest,
  relaxRowCounts,
  restoreTestIdentifier,
  restoreTestRecord,
} from '../../functions/core/restore/restore-plan.ts';
import { dumpBackup, REGION, snapshotBackup } from '../state-machines/catalog-fixtures.ts';

const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-AbCdEf';
const target = {
  identifier: 'orders-restored',
  instanceClass: 'db.r6g.large',
  subnetGroupName: 'restore',
  securityGroupIds: ['sg-0123456789abcdef0'],
  secretArn: SECRET,
};

describe('planRestore', () => {
  it.each([
    [{ source: 'snapshot', target }, 'instance-snapshot', 'orders-restored'],
    [{ source: 'snapshot', target: { ...target, kind: 'cluster' } }, 'cluster-snapshot', 'orders-restored-1'],
    [
      {
        source: 'point-in-time',
        sourceIdentifier: 'orders-db',
        restorePoint: { kind: 'time', time: '2026-11-01T00:00:00Z' },
        target,
      },
      'instance-pitr',
      'orders-restored',
    ],
    [{ source: 'dump', target: { identifier: 'srv', databaseName: 'o2', secretArn: SECRET } }, 'dump', 'srv'],
  ])('routes %j to %s', (input, route, instanceIdentifier) => {
    const plan = planRestore({ database: 'orders', ...input });

    expect(plan.route).toBe(route);
    expect(plan.target.instanceIdentifier).toBe(instanceIdentifier);
  });

  it('defaults to the latest verified restore point, with verification', () => {
    expect(planRestore({ database: 'orders', source: 'snapshot', target })).toMatchObject({
      restorePoint: { kind: 'latest-verified' },
      verify: true,
    });
  });

  it.each([
    [{ source: 'snapshot', target: { ...target, instanceClass: undefined } }, 'field target.instanceClass'],
    [{ source: 'dump', target: { identifier: 'srv', secretArn: SECRET } }, 'field target.databaseName'],
    [
      { source: 'point-in-time', restorePoint: { kind: 'time', time: '2026-11-01T00:00:00Z' }, target },
      'field sourceIdentifier',
    ],
    [{ source: 'snapshot', target: { ...target, secretArn: undefined } }, 'field target.secretArn'],
    [
      { source: 'snapshot', restorePoint: { kind: 'time', time: '2999-01-01T00:00:00Z' }, target },
      'field restorePoint.time: is in the future',
    ],
    [{ source: 'snapshot', restorePoint: { kind: 'backup' }, target }, 'field restorePoint.backupId'],
  ])('names the bad field of %j', (input, message) => {
    expect(() => planRestore({ database: 'orders', ...input })).toThrow(InvalidRestoreInput);
    expect(() => planRestore({ database: 'orders', ...input })).toThrow(message);
  });

  it('lets an unverified restore go without a secret', () => {
    expect(
      planRestore({
        database: 'orders',
        source: 'snapshot',
        verify: false,
        target: { ...target, secretArn: undefined },
      }).verify,
    ).toBe(false);
  });
});

describe('chooseRestorePoint', () => {
  const backups = [
    snapshotBackup('20261123T030000Z-new', '2026-11-23T03:00:00.000Z'),
    snapshotBackup('20261122T030000Z-oth', '2026-11-22T03:00:00.000Z', {
      verified: true,
      region: 'eu-west-1',
    }),
    snapshotBackup('20261122T020000Z-ver', '2026-11-22T02:00:00.000Z', { verified: true }),
    dumpBackup('20261121T020000Z-dmp', '2026-11-21T02:00:00.000Z', { verified: true }),
    {
      ...snapshotBackup('20261120T030000Z-bad', '2026-11-20T03:00:00.000Z'),
      verification: 'verification-failed' as const,
    },
  ];
  const plan = (extra: object) => planRestore({ database: 'orders', source: 'snapshot', target, ...extra });

  it('latest verified takes the newest verified snapshot of this region', () => {
    expect(chooseRestorePoint(plan({}), backups, REGION)).toMatchObject({
      kind: 'snapshot',
      backupId: '20261122T020000Z-ver',
    });
  });

  it('never takes a snapshot of another region or of the other kind', () => {
    const clusterPlan = plan({ target: { ...target, kind: 'cluster' } });

    expect(() => chooseRestorePoint(clusterPlan, backups, REGION)).toThrow(NoRestorePoint);
  });

  it('a backup id must be a completed backup of the right kind that did not fail verification', () => {
    expect(
      chooseRestorePoint(
        plan({ restorePoint: { kind: 'backup', backupId: '20261123T030000Z-new' } }),
        backups,
        REGION,
      ),
    ).toMatchObject({
      verified: false,
    });
    expect(() =>
      chooseRestorePoint(
        plan({ restorePoint: { kind: 'backup', backupId: '20261120T030000Z-bad' } }),
        backups,
        REGION,
      ),
    ).toThrow('failed its last verification');
    expect(() =>
      chooseRestorePoint(
        plan({ restorePoint: { kind: 'backup', backupId: '20261121T020000Z-dmp' } }),
        backups,
        REGION,
      ),
    ).toThrow('not a completed instance snapshot');
  });

  it('by time takes the newest finished at or before it, skipping failed verifications', () => {
    expect(
      chooseRestorePoint(
        plan({ restorePoint: { kind: 'time', time: '2026-11-22T02:30:00Z' } }),
        backups,
        REGION,
      ),
    ).toMatchObject({
      backupId: '20261122T020000Z-ver',
    });
    expect(() =>
      chooseRestorePoint(
        plan({ restorePoint: { kind: 'time', time: '2026-11-20T12:00:00Z' } }),
        backups,
        REGION,
      ),
    ).toThrow(NoRestorePoint);
  });

  it('a dump restore takes dumps', () => {
    const dumpPlan = planRestore({
      database: 'orders',
      source: 'dump',
      target: { identifier: 's', databaseName: 'x', secretArn: SECRET },
    });

    expect(chooseRestorePoint(dumpPlan, backups, REGION)).toEqual({
      kind: 'dump',
      backupId: '20261121T020000Z-dmp',
      artifactKey: 'artifacts/orders/20261121T020000Z-dmp.dump',
      takenAt: '2026-11-21T02:00:00.000Z',
      verified: true,
    });
  });

  it('a point in time needs no backup', () => {
    const pitr = planRestore({
      database: 'orders',
      source: 'point-in-time',
      sourceIdentifier: 'orders-db',
      restorePoint: { kind: 'time', time: '2026-11-23T08:15:00+01:00' },
      target,
    });

    expect(chooseRestorePoint(pitr, [], REGION)).toEqual({
      kind: 'point-in-time',
      restoreTime: '2026-11-23T07:15:00.000Z',
      sourceIdentifier: 'orders-db',
    });
  });
});

describe('restore test planning', () => {
  it('matches the newest dump taken before the snapshot within the window', () => {
    const snap = snapshotBackup('20261123T030000Z-snp', '2026-11-23T03:00:00.000Z');
    const backups = [
      dumpBackup('20261123T040000Z-aft', '2026-11-23T04:00:00.000Z'),
      snap,
      dumpBackup('20261123T020000Z-bef', '2026-11-23T02:00:00.000Z'),
      dumpBackup('20261120T020000Z-old', '2026-11-20T02:00:00.000Z'),
    ];

    expect(matchingDump(snap, backups)?.id).toBe('20261123T020000Z-bef');
    expect(matchingDump(snap, backups.slice(0, 2))).toBeNull();
  });

  it('plans the newest snapshot with temporary names', () => {
    const plan = planRestoreTest({
      database: 'orders',
      backups: [snapshotBackup('20261123T030000Z-clu', '2026-11-23T03:00:00.000Z', { type: 'cluster' })],
      region: REGION,
      executionName: 'exec-1',
      secretArn: SECRET,
    });

    expect(plan).toMatchObject({
      route: 'cluster-snapshot',
      backupId: '20261123T030000Z-clu',
      statisticsBackupId: null,
    });
    expect(plan.instanceIdentifier).toBe(`${plan.identifier}-1`);
  });

  it('temporary identifiers are valid RDS identifiers, unique per execution', () => {
    const a = restoreTestIdentifier('Orders DB (EU) with a very long name indeed', 'e1');

    expect(a).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
    expect(a).not.toContain('--');
    expect(restoreTestIdentifier('orders', 'e2')).not.toBe(restoreTestIdentifier('orders', 'e1'));
  });
});

describe('relaxRowCounts', () => {
  const tables = (failures: string[]): CheckResult => ({
    name: 'tables',
    passed: false,
    detail: '2 of 3 tables differ',
    failures,
  });

  it('passes when only row counts differ, and says so', () => {
    const out = relaxRowCounts(
      tables(['table public.a: 1,200 rows, expected 1,000', 'table public.b: 5 rows, expected 6']),
    );

    expect(out.passed).toBe(true);
    expect(out.failures).toEqual([]);
    expect(out.detail).toContain('2 row count difference(s) not compared exactly');
  });

  it('still fails on structure', () => {
    const out = relaxRowCounts(tables(['missing table public.c', 'table public.a: 1 rows, expected 2']));

    expect(out.passed).toBe(false);
    expect(out.failures).toEqual(['missing table public.c']);
  });

  it('leaves other checks alone', () => {
    const size: CheckResult = { name: 'database-size', passed: false, detail: 'x', failures: ['x'] };

    expect(relaxRowCounts(size)).toBe(size);
  });
});

describe('restoreTestRecord', () => {
  const base = {
    plan: { backupId: '20261123T030000Z-snp' },
    database: 'orders',
    startedAt: '2026-11-23T05:00:00.000Z',
    restoredAt: '2026-11-23T05:12:00.000Z',
    finishedAt: '2026-11-23T05:20:00.000Z',
  };

  it('records durations and the outcome of the checks', () => {
    const record = restoreTestRecord({ ...base, checks: { passed: true, checks: [] }, error: undefined });

    expect(record).toMatchObject({
      kind: 'verification',
      method: 'snapshot-restore-test',
      passed: true,
      restoreDurationMs: 12 * 60_000,
      totalDurationMs: 20 * 60_000,
      error: null,
    });
  });

  it('records an error as a failed verification', () => {
    const record = restoreTestRecord({
      ...base,
      restoredAt: undefined,
      checks: undefined,
      error: { Error: 'RestoreFailed', Cause: 'x' },
    });

    expect(record).toMatchObject({
      passed: false,
      restoreDurationMs: null,
      error: { name: 'RestoreFailed', message: 'x' },
    });
  });

  it('has nothing to record without a planned backup', () => {
    expect(
      restoreTestRecord({ ...base, plan: {}, checks: undefined, error: { Error: 'NoRestorePoint' } }),
    ).toBeNull();
  });

  it('elapsedMs refuses what is not a time', () => {
    expect(() => elapsedMs('yesterday', base.finishedAt)).toThrow(InvalidRestoreInput);
  });
});
