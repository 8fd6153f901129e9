import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '#core/catalog/catalog.ts';
import { buildReport, parseSince } from '#core/report/report.ts';
import { type DatabaseReport, type EvidenceReport } from '#core/report/report-model.ts';
import { renderHtml } from '#core/report/report-html.ts';
import { FileRepository } from '#core/repository/file.ts';
import { UnionRepository } from '#core/repository/union.ts';
import { reportCommand } from '../../bin/cli/commands/report.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import { reportSettings } from '../../lib/config/report.ts';
import { ReportSchema } from '../../lib/config/schema.ts';
import {
  dump,
  failoverDoc,
  KNOWN,
  knownHistoryRepository,
  PERIOD,
  verification,
} from '../support/report-history.ts';

const PERIOD_ARGS = ['--from', PERIOD.from.toISOString(), '--to', PERIOD.to.toISOString()];

/** Runs `lifeboat report` and returns what it printed. */
async function cli(argv: string[]): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  const code = await reportCommand(argv, undefined, out, new Date('2026-11-20T12:00:00Z'));
  expect(code).toBe(0);
  return text;
}

/** The text of an HTML fragment, tags dropped and entities of the report decoded. */
function textOf(html: string): string {
  return html
    .replace(/<title>[^<]*<\/title>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

function section(html: string, database: string): string {
  const start = html.indexOf(`<section class="database" id="db-${encodeURIComponent(database)}">`);
  expect(start).toBeGreaterThan(0);
  const end = html.indexOf('</section>', start);
  return html.slice(start, end);
}

describe('lifeboat report of a repository with a known history', () => {
  let history: Awaited<ReturnType<typeof knownHistoryRepository>>;
  let json: EvidenceReport;
  let html: string;
  let md: string;

  beforeAll(async () => {
    history = await knownHistoryRepository();
    const base = ['--repo', history.url, ...PERIOD_ARGS, '--keep-daily', '7'];
    json = JSON.parse(await cli([...base, '--format', 'json'])) as EvidenceReport;
    html = await cli([...base, '--format', 'html']);
    md = await cli([...base]);
  });
  afterAll(async () => history.dispose());

  const db = (name: string) => json.databases.find((d) => d.database === name) as DatabaseReport;

  it('counts backups completed and failed, and verifications passed and failed, as they happened', () => {
    const o = KNOWN.orders;
    expect(db('orders').backups).toEqual({
      taken: o.backups.taken,
      completed: o.backups.completed,
      failed: o.backups.failed,
      abandoned: 0,
      inProgress: 0,
      unreadable: 0,
      byKind: { 'logical-dump': o.backups.dumps, 'rds-snapshot': o.backups.snapshots },
    });
    expect(db('orders').verifications).toMatchObject({ ...o.verifications, passRate: 0.8 });
    expect(db('orders').verifications.list).toHaveLength(10);
    const failed = db('orders').verifications.list.filter((v) => !v.passed);
    expect(failed.map((v) => [v.backupId, v.method, v.at])).toEqual([
      ['20261107T020000Z-d07', 'ephemeral', '2026-11-07T03:00:00.000Z'],
      ['20261107T020000Z-d07', 'restore', '2026-11-07T10:00:00.000Z'],
    ]);
    expect(failed[0]!.checks.find((c) => !c.passed)?.name).toBe('row counts');
    expect(db('billing').backups).toMatchObject(KNOWN.billing.backups);
    expect(db('billing').verifications).toMatchObject({ passed: 0, failed: 0, passRate: null });
  });

  it('finds exactly the gaps the history has, with their length and the worst age in each', () => {
    expect(
      db('orders').gaps.map((g) => ({
        from: g.from,
        to: g.to,
        seconds: g.seconds,
        worst: g.worstAgeSeconds,
      })),
    ).toEqual(KNOWN.orders.gaps);
    expect(db('billing').gaps).toEqual([{ ...KNOWN.billing.gaps[0], worstAgeSeconds: null }]);
    expect(json.summary.gaps).toBe(KNOWN.summary.gaps);
    expect(json.summary.worstGap).toMatchObject({
      database: 'orders',
      seconds: KNOWN.orders.gaps[0].seconds,
    });
  });

  it('measures the age of the newest completed and newest verified backup at the end against the targets', () => {
    expect(db('orders').age.newestVerified.endSeconds).toBe(KNOWN.orders.endAge.verified);
    expect(db('orders').age.newestCompleted.endSeconds).toBe(KNOWN.orders.endAge.completed);
    expect(db('orders').age.newestVerified.maxSeconds).toBe(KNOWN.orders.gaps[0].worst);
    expect(db('orders').age.newestVerified.targetSeconds).toBe(48 * 3600);
    expect(db('billing').age.newestCompleted.endSeconds).toBe(KNOWN.billing.endAge.completed);
    expect(db('billing').age.newestVerified.endSeconds).toBeNull();
  });

  it('lists every restore test and failover (the drill included) with RTO and RPO against the targets', () => {
    expect(
      db('orders').restoreTests.map((r) => ({
        backup: r.backupId,
        passed: r.passed,
        rto: r.rtoSeconds,
        rpo: r.rpoSeconds,
        rtoMet: r.rtoMet,
      })),
    ).toEqual(KNOWN.orders.restoreTests);
    expect(db('orders').restoreTests.every((r) => r.rtoTargetSeconds === 4 * 3600)).toBe(true);
    expect(
      db('orders').failovers.map((f) => ({
        drill: f.drill,
        mode: f.mode,
        rto: f.rtoSeconds,
        rpo: f.rpoSeconds,
        rtoMet: f.rtoMet,
        rpoMet: f.rpoMet,
      })),
    ).toEqual(KNOWN.orders.failovers);
    expect(json.summary).toMatchObject({
      restoreTests: KNOWN.summary.restoreTests,
      restoreTestsWithinRto: KNOWN.summary.restoreTestsWithinRto,
      failovers: KNOWN.summary.failovers,
      failoversWithinRto: KNOWN.summary.failoversWithinRto,
      slowestRecovery: { database: 'orders', kind: 'failover', rtoSeconds: 1200, rtoTargetSeconds: 900 },
    });
  });

  it('reports snapshot copies to the DR region, retention per tier and the oldest restorable point', () => {
    expect(db('orders').snapshotCopies).toMatchObject({
      sources: KNOWN.orders.snapshotCopies.sources,
      copied: KNOWN.orders.snapshotCopies.copied,
    });
    expect(db('orders').snapshotCopies.list.map((c) => [c.region, c.lagSeconds])).toEqual([
      ['eu-central-1', KNOWN.orders.snapshotCopies.lagSeconds],
    ]);
    expect(db('orders').retention).toMatchObject({
      restorable: KNOWN.orders.retention.restorable,
      oldestRestorable: { at: KNOWN.orders.retention.oldest },
      oldestVerified: { at: KNOWN.orders.retention.oldest },
      tiers: KNOWN.orders.retention.tiers,
    });
  });

  it('names the document it could not read, and the summary adds up the databases', () => {
    expect(db('billing').problems).toHaveLength(KNOWN.billing.problems);
    expect(db('billing').problems[0]).toMatch(/verification-bad\.json: unparseable/);
    expect(json.summary).toMatchObject({
      databases: 2,
      backupsCompleted: KNOWN.summary.completed,
      backupsFailed: KNOWN.summary.failed,
      verificationsPassed: KNOWN.summary.passed,
      verificationsFailed: KNOWN.summary.failedVerifications,
      verificationPassRate: 0.8,
    });
    // The chart's points stay out of the JSON (they are the HTML's); the figures are all there.
    expect(JSON.stringify(json)).not.toContain('"points"');
  });

  it('shows the same numbers in the HTML: summary, gaps first, each database, each recovery', () => {
    const all = textOf(html);
    expect(all).toMatch(/backups completed \/ failed 12 \/ 2 /);
    expect(all).toMatch(/verification pass rate 80\.0 % 8 passed, 2 failed/);
    expect(all).toMatch(/restore tests within RTO 1 \/ 2 /);
    expect(all).toMatch(/failovers within RTO 1 \/ 2 /);
    // Gaps come before any database's section, the longest first in the headline.
    const gapsAt = html.indexOf('<h2>Gaps first</h2>');
    expect(gapsAt).toBeGreaterThan(0);
    expect(gapsAt).toBeLessThan(html.indexOf('<section class="database"'));
    const gapList = textOf(html.slice(gapsAt, html.indexOf('<div class="cards">', gapsAt)));
    expect(gapList).toContain('billing : 2026-11-10 02:00 UTC → end of period (still open): 22.0 h');
    expect(gapList).toContain(
      'orders : 2026-11-05 02:00 UTC → 2026-11-06 03:00 UTC: 25.0 h, newest verified up to 73.0 h old',
    );
    expect(gapList).toContain(
      'orders : 2026-11-08 02:00 UTC → 2026-11-08 03:00 UTC: 1.0 h, newest verified up to 49.0 h old',
    );

    const orders = section(html, 'orders');
    const o = textOf(orders);
    expect(o).toMatch(
      /backups completed 11 backups failed 2 verifications passed 8 verifications failed 2 restore tests \/ failovers 2 \/ 2 /,
    );
    expect(o).toContain('13 backups taken (10 dumps, 3 snapshots): 11 completed, 2 failed');
    expect(o).toContain(
      'restore test (restore) 2026-11-07 09:30 UTC 20261107T020000Z-d07 FAILED 30 min 4.0 h no 7.5 h 48.0 h yes',
    );
    expect(o).toContain(
      'restore test (restore) 2026-11-09 11:50 UTC 20261109T020000Z-d09 passed 10 min 4.0 h yes 9.8 h 48.0 h yes',
    );
    expect(o).toContain(
      'failover (unplanned, alarm) 2026-11-08 20:00 UTC orders-db (eu-west-1) → orders-dr (eu-central-1) completed 20 min 15 min no 12.0 s 1 min yes',
    );
    expect(o).toContain(
      'drill (planned, manual) 2026-11-10 14:00 UTC orders-db (eu-west-1) → orders-dr (eu-central-1) completed 3.50 s 15 min yes 0.00 s 1 min yes',
    );
    expect(o).toContain('Snapshot copies to the DR region: 1 of 2 snapshots copied');
    expect(o).toContain('Restorable now: 10 ; oldest restorable point: 2026-11-02 02:00 UTC');
    expect(o).toContain('Kept per tier: daily 10, weekly 0, monthly 0, yearly 0, newest-verified guard 2.');
    expect(o).toContain('2/3 passed; failed: row counts (1 table differs)');
    // Every verification is a row of the table; the RTO chart has a bar per restore test and failover.
    expect(orders.match(/<tr><td>2026-11-/g)).toHaveLength(10 + 1); // + the copy's row
    expect(orders.match(/<rect class="bar"/g)).toHaveLength(4);
    expect(orders.match(/<rect class="gap"/g)).toHaveLength(2);

    const billing = textOf(section(html, 'billing'));
    expect(billing).toMatch(
      /backups completed 1 backups failed 0 verifications passed 0 verifications failed 0 /,
    );
    expect(billing).toContain('verification-bad.json: unparseable');
  });

  it('writes one self-contained HTML file: no script, no external resource', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(|src=/i);
    // The only URL is the SVG namespace, which is a name, not a fetch.
    expect(html.match(/https?:\/\/[^"]+/g)?.every((u) => u === 'http://www.w3.org/2000/svg')).toBe(true);
    expect(html.match(/<svg /g)).toHaveLength(2 + 1); // an age chart each, an RTO chart for orders
  });

  it('says the same in Markdown', () => {
    expect(md).toContain('- Backups: 12 completed, 2 failed.');
    expect(md).toContain('- Verifications: 8 passed, 2 failed (pass rate 80.0 %).');
    expect(md).toContain(
      '- 2026-11-05 02:00 UTC → 2026-11-06 03:00 UTC: 25.0 h, newest verified up to 73.0 h old',
    );
    expect(md).toContain(
      '| 2026-11-10 14:00 UTC | drill, planned, manual | orders-db (eu-west-1) → orders-dr (eu-central-1) | 3.50 s | 15 min | yes | 0.00 s | 1 min | yes |',
    );
    expect(md).toContain('### Snapshot copies to the DR region: 1 of 2 snapshots copied');
  });

  it('limits the report to the period asked for', async () => {
    const narrow = JSON.parse(
      await cli([
        '--repo',
        history.url,
        '--from',
        '2026-11-09T00:00:00Z',
        '--to',
        '2026-11-11T00:00:00Z',
        '--format',
        'json',
        '--database',
        'orders',
      ]),
    ) as EvidenceReport;
    expect(narrow.databases.map((d) => d.database)).toEqual(['orders']);
    const o = narrow.databases[0]!;
    // Nov 9 and 10: two dumps, two snapshots and the copy; three verifications; the drill.
    expect(o.backups).toMatchObject({ taken: 5, completed: 5, failed: 0 });
    expect(o.verifications).toMatchObject({ passed: 3, failed: 0 });
    expect(o.failovers.map((f) => f.drill)).toEqual([true]);
    expect(o.gaps).toEqual([]);
    expect(o.retention.tiers).toBeNull();
  });

  it('holds recoveries to the targets given on the command line', async () => {
    const strict = JSON.parse(
      await cli([
        '--repo',
        history.url,
        ...PERIOD_ARGS,
        '--format',
        'json',
        '--restore-rto',
        '5m',
        '--failover-rto',
        '2s',
        '--rpo-target',
        '72',
      ]),
    ) as EvidenceReport;
    const o = strict.databases.find((d) => d.database === 'orders')!;
    expect(o.restoreTests.map((r) => r.rtoMet)).toEqual([false, false]);
    expect(o.failovers.map((f) => f.rtoMet)).toEqual([false, false]);
    // With 72 h, the Nov 5–6 gap shrinks to the hour past 72 h, and the Nov 8 one is gone.
    expect(o.gaps.map((g) => [g.from, g.seconds])).toEqual([['2026-11-06T02:00:00.000Z', 3600]]);
  });
});

describe('lifeboat report: bad input is named, nothing is written', () => {
  let dir: string;
  let url: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-report-empty-'));
    url = pathToFileURL(dir).href;
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it.each([
    [['--format', 'pdf'], '--format expects html, md or json, got "pdf"'],
    [['--since', '0d'], '--since expects a duration such as 90d, 12w or 36h, got "0d"'],
    [['--since', '3 months'], '--since expects a duration such as 90d'],
    [['--since', '30d', '--from', '2026-10-01T00:00:00Z'], 'pass --since or --from, not both'],
    [['--from', '2026-11-02T00:00:00Z', '--to', '2026-11-01T00:00:00Z'], 'must be before --to'],
    [['--from', 'yesterday'], '--from expects an ISO 8601 time'],
    [['--restore-rto', '4 hours'], '--restore-rto expects a duration such as 90s, 15m or 4h, got "4 hours"'],
    [['--rpo-target', '0'], '--rpo-target expects a number of hours such as 48, got "0"'],
    [['--keep-daily', 'seven'], '--keep-daily expects a whole number from 0 to 10000, got "seven"'],
    [['--min-verified', '2'], '--min-verified and --time-zone go with a --keep-* count'],
    [['--keep-daily', '7', '--time-zone', 'Mars/Olympus'], '--time-zone expects an IANA time zone'],
    [['--env', 'dev', '--repo', 'file:///tmp/x'], 'pass --env or --repo, not both'],
    [['--env', 'nope'], 'unknown environment "nope"'],
  ])('%j → %s', async (argv, message) => {
    const args = argv.includes('--env') ? argv : ['--repo', url, ...argv];
    await expect(reportCommand(args, undefined, new PassThrough())).rejects.toThrow(message);
  });

  it('refuses a repository that does not exist, and creates none', async () => {
    const missing = path.join(dir, 'missing');
    await expect(
      reportCommand(['--repo', pathToFileURL(missing).href], undefined, new PassThrough()),
    ).rejects.toThrow(/missing/);
    await expect(readFile(missing)).rejects.toThrow(/ENOENT/);
  });

  it('parses --since units', () => {
    expect(parseSince('36h')).toBe(36 * 3600_000);
    expect(parseSince('90d')).toBe(90 * 86_400_000);
    expect(parseSince('12w')).toBe(84 * 86_400_000);
  });
});

describe('the report of both regions (a union of repositories)', () => {
  let dirs: string[];
  let primary: FileRepository;
  let dr: FileRepository;

  beforeAll(async () => {
    dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(tmpdir(), 'lifeboat-union-'))));
    primary = new FileRepository(pathToFileURL(dirs[0]!).href, dirs[0]!);
    dr = new FileRepository(pathToFileURL(dirs[1]!).href, dirs[1]!);
    const id = '20261105T020000Z-u01';
    const catalog = new Catalog(primary);
    await catalog.writeManifest(dump('orders', id, '2026-11-05T02:00:00.000Z', '2026-11-05T02:10:00.000Z'));
    await catalog.record(verification('orders', id, '2026-11-05T03:00:00.000Z', true));
    // The replica holds what the primary wrote, under the same keys (S3 replication) ...
    await cp(dirs[0]!, dirs[1]!, { recursive: true });
    // ... and, only itself, what the DR region wrote: a failover run there, a restore test there.
    const f = failoverDoc('orders', '2026-11-06T10:00:00.000Z', 240, 4, false);
    await dr.putOnce(f.key, JSON.stringify(f.record));
    await new Catalog(dr).record({
      ...verification('orders', id, '2026-11-06T12:00:00.000Z', true, 'restore', 900_000),
      region: 'eu-central-1',
    });
  });
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('reads each document once, from the first repository holding it, and adds what only the DR region has', async () => {
    const union = new UnionRepository([primary, dr]);
    const report = await buildReport(union, { ...PERIOD });
    const o = report.databases[0]!;
    expect(o.backups).toMatchObject({ taken: 1, completed: 1 });
    expect(o.verifications).toMatchObject({ passed: 2, failed: 0 });
    expect(o.failovers.map((f) => [f.rtoSeconds, f.rpoSeconds])).toEqual([[240, 4]]);
    expect(o.restoreTests.map((r) => r.rtoSeconds)).toEqual([900]);
    expect(union.unavailable).toEqual([]);
  });

  it('is read-only', async () => {
    const union = new UnionRepository([primary, dr]);
    await expect(union.putOnce()).rejects.toThrow('is read-only');
    await expect(union.remove()).rejects.toThrow('is read-only');
  });

  it('reports from the repositories it can list, naming the one it could not', async () => {
    const gone = new FileRepository('file:///nonexistent-lifeboat-region', '/nonexistent-lifeboat-region');
    const failing = Object.assign(Object.create(gone) as FileRepository, {
      list: () => Promise.reject(new Error('region unreachable')),
    });
    const union = new UnionRepository([failing, dr]);
    const report = await buildReport(union, { ...PERIOD });
    expect(report.databases[0]!.failovers).toHaveLength(1);
    expect(union.unavailable).toEqual([
      { url: 'file:///nonexistent-lifeboat-region', error: 'region unreachable' },
    ]);
    const none = new UnionRepository([failing]);
    await expect(none.list('catalog/')).rejects.toThrow('none of the repositories could be listed');
  });
});

describe("an environment's report settings", () => {
  it("holds databases to the environment's alarm thresholds, report targets and each database's retention", () => {
    const settings = reportSettings(loadEnvironmentConfig('dev'));
    expect(settings.targets).toEqual({
      backupAgeWarnHours: 26,
      backupAgeCritHours: 48,
      // dev's verified-age alarms are off: the backup-age critical threshold stands in.
      verifiedAgeHours: 48,
      restoreRtoSeconds: 4 * 3600,
      failoverRtoSeconds: 15 * 60,
      failoverRpoSeconds: 60,
    });
    expect(settings.retention.orders).toEqual({
      daily: 3,
      weekly: 2,
      monthly: 0,
      yearly: 0,
      minVerified: 1,
      maxDeletionsPerRun: 10,
      timeZone: 'Europe/Dublin',
    });
    expect(settings.periodDays).toBe(90);
  });

  it('validates the schedule: a cron, at most once a day', () => {
    expect(ReportSchema.parse({}).schedule).toEqual({ cron: 'cron(0 6 1 * ? *)', timeZone: 'UTC' });
    const everyMinute = ReportSchema.safeParse({ schedule: { cron: 'cron(* * * * ? *)' } });
    expect(everyMinute.success).toBe(false);
    expect(everyMinute.error?.issues[0]?.message).toMatch(/at most once a day/);
    expect(ReportSchema.safeParse({ schedule: { cron: 'rate(30 days)' } }).success).toBe(false);
    expect(ReportSchema.safeParse({ linkExpiryDays: 8 }).success).toBe(false);
    expect(ReportSchema.safeParse({ periodDays: 90, extra: 1 }).success).toBe(false);
  });

  it('wants the report-link key in the primary region', () => {
    expect(() =>
      loadEnvironmentConfig('dev', {
        dev: {
          ...ENVIRONMENTS.dev!,
          report: {
            linkSignerSecretArn: 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:link-AbCdEf',
          },
        },
      }),
    ).toThrow('report.linkSignerSecretArn: expected a secret in the primary region eu-west-1');
  });
});

describe('HTML escaping', () => {
  it('escapes what the catalog says, names included', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-report-esc-'));
    try {
      const repo = new FileRepository(pathToFileURL(dir).href, dir);
      const name = '<img src=x onerror=alert(1)>&"';
      const id = '20261105T020000Z-e01';
      await new Catalog(repo).writeManifest(
        dump(name, id, '2026-11-05T02:00:00.000Z', '2026-11-05T02:10:00.000Z'),
      );
      const html = renderHtml(await buildReport(repo, { ...PERIOD }));
      expect(html).not.toContain('<img');
      expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&amp;&quot;');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
