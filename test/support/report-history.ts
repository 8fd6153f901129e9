import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Catalog, type CheckResult, manifestKey } from '../../functions/core/catalog/catalog.ts';
import { FailoverTarget } from '../../functions/core/failover/failover.ts';
import { buildFailoverRecord, failoverRecordKey } from '../../functions/core/failover/record.ts';
import type {
  DumpManifest,
  SnapshotManifest,
  SourceStatistics,
} from '../../functions/core/catalog/manifest.ts';
import { FileRepository } from '../../functions/core/repository/file.ts';
import type { Repository } from '../../functions/core/repository/types.ts';

/**
 * A repository with a known history, written as the product writes it (Catalog.writeManifest,
 * Catalog.record, failover records under _failovers), so a report's figures can be checked
 * against what happened. `KNOWN` says what a report of PERIOD must find.
 *
 * orders, daily dumps 02:00–02:10 on Nov 1–10, each verified at 03:00 (ephemeral):
 *   Nov 4, Nov 5: the dump failed (no manifest);  Nov 7: verification failed (a check);
 *   Nov 7 10:00: restore test (30 min) failed;    Nov 9 12:00: restore test (10 min) passed;
 *   Nov 8 20:00: unplanned failover by alarm, RTO 1200 s, RPO 12 s;
 *   Nov 10 14:00: a drill (lifeboat drill), RTO 3.5 s, RPO 0;
 *   snapshots Nov 9 and Nov 10 04:00 (available 04:20) in eu-west-1; Nov 9's copied to
 *   eu-central-1 (available 05:00); Nov 10 04:00: retention deleted the Nov 1 dump.
 * billing: one dump on Nov 8 (02:00–02:30), never verified, and one record that is not JSON.
 */

export const PERIOD = { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-11T00:00:00Z') };

const H = 3600;
export const KNOWN = {
  orders: {
    backups: { taken: 13, completed: 11, failed: 2, dumps: 10, snapshots: 3 },
    verifications: { passed: 8, failed: 2 },
    gaps: [
      // Nov 3's dump (02:00) is the newest verified until Nov 6 03:00; it is 48 h old on Nov 5 02:00.
      { from: '2026-11-05T02:00:00.000Z', to: '2026-11-06T03:00:00.000Z', seconds: 25 * H, worst: 73 * H },
      // Nov 7's failed: Nov 6 02:00 turns 48 h old on Nov 8 02:00, an hour before Nov 8's is verified.
      { from: '2026-11-08T02:00:00.000Z', to: '2026-11-08T03:00:00.000Z', seconds: 1 * H, worst: 49 * H },
    ],
    restoreTests: [
      { backup: '20261107T020000Z-d07', passed: false, rto: 1800, rpo: 7.5 * H, rtoMet: false },
      { backup: '20261109T020000Z-d09', passed: true, rto: 600, rpo: 9 * H + 50 * 60, rtoMet: true },
    ],
    failovers: [
      { drill: false, mode: 'unplanned', rto: 1200, rpo: 12, rtoMet: false, rpoMet: true },
      { drill: true, mode: 'planned', rto: 3.5, rpo: 0, rtoMet: true, rpoMet: true },
    ],
    snapshotCopies: { sources: 2, copied: 1, lagSeconds: 3600 },
    // At the end: newest verified Nov 10 02:00 (22 h); newest completed Nov 10's snapshot, 04:20.
    endAge: { verified: 22 * H, completed: 19 * H + 40 * 60 },
    retention: {
      restorable: 10,
      oldest: '2026-11-02T02:00:00.000Z',
      // daily 7: 7 dumps + 2 snapshots + 1 copy, each its own series; guard: the 2 newest verified dumps.
      tiers: { daily: 10, weekly: 0, monthly: 0, yearly: 0, verifiedGuard: 2 },
    },
  },
  billing: {
    backups: { taken: 1, completed: 1, failed: 0 },
    // No verified backup since its first backup (Nov 8 02:00): a gap once 48 h have passed, still open.
    gaps: [{ from: '2026-11-10T02:00:00.000Z', to: '2026-11-11T00:00:00.000Z', seconds: 22 * H, open: true }],
    endAge: { completed: 69.5 * H },
    problems: 1,
  },
  summary: {
    gaps: 3,
    completed: 12,
    failed: 2,
    passed: 8,
    failedVerifications: 2,
    restoreTests: 2,
    restoreTestsWithinRto: 1,
    failovers: 2,
    failoversWithinRto: 1,
  },
} as const;

const STATS: SourceStatistics = {
  databaseSizeBytes: 1 << 20,
  tables: [],
  indexes: [],
  constraints: [],
  functions: [],
  policies: [],
  extensions: [],
  views: [],
  sequences: [],
  largeObjects: 0,
};

export function dump(database: string, id: string, startedAt: string, finishedAt: string): DumpManifest {
  return {
    schemaVersion: 1,
    kind: 'logical-dump',
    id,
    database,
    source: { host: 'db.internal', port: 5432, database, serverVersion: '16.4', serverVersionNum: 160004 },
    tool: { name: 'pg_dump', version: '16.4', path: '/usr/lib/postgresql/16/bin/pg_dump', format: 'custom' },
    snapshotId: '00000003-0000002A-1',
    startedAt,
    finishedAt,
    durationMs: Date.parse(finishedAt) - Date.parse(startedAt),
    artifact: {
      key: `artifacts/${encodeURIComponent(database)}/${id}.dump`,
      bytes: 52_428_800,
      sha256: 'c'.repeat(64),
      encryption: { type: 'none', kmsKeyId: null },
    },
    statistics: STATS,
  };
}

export function snapshot(
  database: string,
  id: string,
  region: string,
  takenAt: string,
  availableAt: string,
  copiedFrom: string | null = null,
): SnapshotManifest {
  return {
    schemaVersion: 1,
    schemaMinor: 1,
    kind: 'rds-snapshot',
    id,
    database,
    engine: 'postgres',
    engineVersion: '16.4',
    snapshotType: 'instance',
    snapshotArn: `arn:aws:rds:${region}:111111111111:snapshot:lifeboat-${id}`,
    snapshotIdentifier: `lifeboat-${id}`,
    region,
    copiedFrom,
    kmsKeyId: null,
    startedAt: takenAt,
    finishedAt: availableAt,
    allocatedStorageGiB: 20,
    tags: {},
    source: { identifier: `${database}-db`, resourceId: 'db-ABCDEFGHIJ' },
  };
}

export const CHECKS_OK: CheckResult[] = [
  { name: 'checksum', passed: true, detail: 'sha256 matches the manifest', failures: [] },
  { name: 'row counts', passed: true, detail: '12 tables, 1,204,331 rows', failures: [] },
  { name: 'schema', passed: true, detail: '31 indexes, 18 constraints, 4 functions', failures: [] },
];
const CHECKS_BAD: CheckResult[] = [
  CHECKS_OK[0]!,
  { name: 'row counts', passed: false, detail: '1 table differs', failures: ['public.orders: 1,000 ≠ 999'] },
  CHECKS_OK[2]!,
];

const day = (d: number, time: string) => `2026-11-${String(d).padStart(2, '0')}T${time}.000Z`;

export function verification(
  database: string,
  backupId: string,
  at: string,
  passed: boolean,
  method: 'ephemeral' | 'restore' | 'snapshot-restore-test' = 'ephemeral',
  totalDurationMs = 120_000,
) {
  return {
    kind: 'verification' as const,
    backupId,
    database,
    at,
    passed,
    method,
    checks: passed ? CHECKS_OK : CHECKS_BAD,
    restoreDurationMs: Math.round(totalDurationMs * 0.8),
    totalDurationMs,
    error: null,
  };
}

export function failoverDoc(
  database: string,
  startedAt: string,
  rtoSeconds: number,
  rpo: number,
  drill: boolean,
) {
  const target = FailoverTarget.parse({
    database,
    kind: 'instance',
    primary: { region: 'eu-west-1', identifier: `${database}-db` },
    replica: { region: 'eu-central-1', identifier: `${database}-dr` },
    engineVersion: '16.4',
  });
  const name = drill ? `drill-${startedAt.replace(/[-:.]/g, '')}` : `alarm-${database}-x`;
  const record = buildFailoverRecord({
    target,
    request: {
      database,
      mode: drill ? 'planned' : 'unplanned',
      reason: drill ? 'lifeboat drill' : 'primary region unreachable',
      force: false,
      dryRun: false,
      trigger: drill
        ? { source: 'manual' }
        : { source: 'alarm', alarmName: `lifeboat-prod-${database}-primary-unreachable` },
    },
    executionId: `arn:aws:states:eu-central-1:111111111111:execution:lifeboat-prod-failover:${name}`,
    startedAt,
    verifiedWriteAt: new Date(Date.parse(startedAt) + rtoSeconds * 1000).toISOString(),
    rpoSeconds: rpo,
    fence: drill ? 'old primary read-only' : 'not fenced',
  });
  return { key: failoverRecordKey(database, record.startedAt, name), record };
}

/** Writes the known history into `repository`. */
export async function writeKnownHistory(repository: Repository): Promise<void> {
  const catalog = new Catalog(repository);
  for (let d = 1; d <= 10; d++) {
    const id = `202611${String(d).padStart(2, '0')}T020000Z-d${String(d).padStart(2, '0')}`;
    await catalog.record({
      kind: 'started',
      backupId: id,
      database: 'orders',
      at: day(d, '02:00:00'),
      backupKind: 'logical-dump',
      runner: 'test',
    });
    if (d === 4 || d === 5) {
      await catalog.record({
        kind: 'failed',
        backupId: id,
        database: 'orders',
        at: day(d, '02:05:00'),
        error: { name: 'PgDumpFailed', message: 'pg_dump: error: connection to server lost' },
        cleanup: 'multipart upload aborted',
      });
      continue;
    }
    await catalog.writeManifest(dump('orders', id, day(d, '02:00:00'), day(d, '02:10:00')));
    await catalog.record(verification('orders', id, day(d, '03:00:00'), d !== 7));
  }
  await catalog.record(
    verification('orders', '20261107T020000Z-d07', day(7, '10:00:00'), false, 'restore', 1_800_000),
  );
  await catalog.record(
    verification('orders', '20261109T020000Z-d09', day(9, '12:00:00'), true, 'restore', 600_000),
  );
  await catalog.record({
    kind: 'deleted',
    backupId: '20261101T020000Z-d01',
    database: 'orders',
    at: day(10, '04:00:00'),
    reason: 'in no daily/weekly/monthly/yearly slot',
  });
  const s9 = snapshot(
    'orders',
    '20261109T040000Z-rds-eu-west-1',
    'eu-west-1',
    day(9, '04:00:00'),
    day(9, '04:20:00'),
  );
  await catalog.writeManifest(s9);
  await catalog.writeManifest(
    snapshot(
      'orders',
      '20261110T040000Z-rds-eu-west-1',
      'eu-west-1',
      day(10, '04:00:00'),
      day(10, '04:20:00'),
    ),
  );
  await catalog.writeManifest(
    snapshot(
      'orders',
      '20261109T040000Z-rds-eu-central-1',
      'eu-central-1',
      day(9, '04:00:00'),
      day(9, '05:00:00'),
      s9.snapshotArn,
    ),
  );
  for (const f of [
    failoverDoc('orders', day(8, '20:00:00'), 1200, 12, false),
    failoverDoc('orders', day(10, '14:00:00'), 3.5, 0, true),
  ]) {
    await repository.putOnce(f.key, `${JSON.stringify(f.record, null, 2)}\n`);
  }

  const billing = '20261108T020000Z-b01';
  await catalog.record({
    kind: 'started',
    backupId: billing,
    database: 'billing',
    at: day(8, '02:00:00'),
    backupKind: 'logical-dump',
    runner: 'test',
  });
  await catalog.writeManifest(dump('billing', billing, day(8, '02:00:00'), day(8, '02:30:00')));
  await repository.putOnce(
    manifestKey('billing', billing).replace(
      'manifest.json',
      'records/20261109T000000Z-verification-bad.json',
    ),
    '{"kind": "verification", "passed": tr',
  );
}

/** A temporary file repository holding the known history; `dispose` removes it. */
export async function knownHistoryRepository(): Promise<{
  repository: FileRepository;
  url: string;
  dir: string;
  dispose: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-report-'));
  const url = pathToFileURL(dir).href;
  const repository = new FileRepository(url, dir);
  await writeKnownHistory(repository);
  return { repository, url, dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}
