import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { Catalog } from '#core/catalog/catalog.ts';
import { buildReport } from '#core/report/report.ts';
import { type EvidenceReport } from '#core/report/report-model.ts';
import { AGE_CHART_PLOT, ageChart, renderHtml } from '#core/report/report-html.ts';
import { openRepository, S3Repository } from '#core/repository/index.ts';
import { reportCommand } from '../../bin/cli/commands/report.ts';
import { runDrill } from '../../bin/cli/drill.ts';
import { countPixels, decodePng, near, notWhite, pdfPages, render } from '../support/chromium.ts';
import {
  dump,
  failoverDoc,
  knownHistoryRepository,
  PERIOD,
  verification,
} from '../support/report-history.ts';
import { s3Client } from '../support/s3.ts';

describe('the HTML report as a person sees it (headless Chromium)', () => {
  let history: Awaited<ReturnType<typeof knownHistoryRepository>>;
  let report: EvidenceReport;

  beforeAll(async () => {
    history = await knownHistoryRepository();
    report = await buildReport(history.repository, { ...PERIOD });
  });
  afterAll(async () => history.dispose());

  it('draws the page, and prints a summary page and each database from a new page', async () => {
    const { png, pdf } = await render(renderHtml(report), { width: 1000, height: 1400 });
    const shot = decodePng(png);
    expect([shot.width, shot.height]).toEqual([1000, 1400]);
    const all = { x: 0, y: 0, width: shot.width, height: shot.height };
    // Text, cards, tables and a chart: a blank or unstyled page has far fewer ink pixels.
    expect(countPixels(shot, all, notWhite)).toBeGreaterThan(40_000);
    // The summary, billing (one page), orders (two: its verifications run over): every section
    // starts a page (break-before), and nothing is cut or blank in between.
    expect(pdfPages(pdf)).toBe(4);
  });

  it("draws each chart's lines, targets and gaps where they belong", async () => {
    const chartPage = (database: string) => {
      const d = report.databases.find((x) => x.database === database)!;
      return `<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0;background:#fff}</style></head><body>${ageChart(d, report)}</body></html>`;
    };
    const look = async (html: string) => decodePng((await render(html, { width: 720, height: 240 })).png);
    const orders = await look(chartPage('orders'));
    const plot = AGE_CHART_PLOT;
    const inPlot = (match: (r: number, g: number, b: number) => boolean) => countPixels(orders, plot, match);
    const completedLine = inPlot(near('#1f6feb', 50));
    const verifiedLine = inPlot(near('#1a7f37', 50));
    const gapBand = inPlot(near('#f7dcde', 6));
    expect(completedLine).toBeGreaterThan(300);
    expect(verifiedLine).toBeGreaterThan(300);
    // Two gaps: 25 h and 1 h of 240 h across a 558 px plot, 186 px high: about 58 + 2 px wide.
    expect(gapBand).toBeGreaterThan(50 * 150);
    expect(gapBand).toBeLessThan(70 * 186);
    expect(inPlot(notWhite)).toBeGreaterThan(completedLine + verifiedLine);

    // The control: a database with nothing recorded draws no line and no gap, only the frame.
    const empty = await buildReport(history.repository, { ...PERIOD, databases: ['nothing-here'] });
    const blank = decodePng(
      (
        await render(
          `<!DOCTYPE html><html><body style="margin:0">${ageChart(empty.databases[0]!, empty)}</body></html>`,
          { width: 720, height: 240 },
        )
      ).png,
    );
    expect(countPixels(blank, plot, near('#1f6feb', 50))).toBe(0);
    expect(countPixels(blank, plot, near('#1a7f37', 50))).toBeLessThan(verifiedLine / 10); // the dashed target only
    expect(countPixels(blank, plot, near('#f7dcde', 6))).toBe(0);
  });
});

describe('lifeboat drill --repo: the drill shows in the report', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-report-drill-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('records the backup, its verification, the restore and the failover, and the report lists each', async () => {
    const repo = pathToFileURL(path.join(dir, 'repo')).href;
    const from = new Date(Date.now() - 60_000);
    const drill = await runDrill({ repo, rows: 2000 });
    expect(drill.steps.filter((s) => !s.ok)).toEqual([]);

    const report = await buildReport(openRepository(repo), { from, to: new Date(Date.now() + 1000) });
    expect(report.databases.map((d) => d.database)).toEqual(['drill']);
    const d = report.databases[0]!;
    expect(d.backups).toMatchObject({ taken: 1, completed: 1, failed: 0 });
    // The verification in an ephemeral cluster and the restore into a new database.
    expect(d.verifications).toMatchObject({ passed: 2, failed: 0 });
    expect(d.restoreTests).toHaveLength(1);
    expect(d.restoreTests[0]).toMatchObject({ backupId: drill.backupId, method: 'restore', passed: true });
    expect(d.failovers).toHaveLength(1);
    expect(d.failovers[0]).toMatchObject({ drill: true, mode: 'planned', trigger: 'manual' });
    // The RTO the report shows is the one the drill measured: the record counts from the
    // execution's start time, the drill's summary from its own clock a few milliseconds apart.
    expect(d.failovers[0]!.rtoSeconds).toBeCloseTo(drill.rtoSeconds!, 1);
    expect(d.gaps).toEqual([]);

    const { png } = await render(renderHtml(report), { width: 1000, height: 1400 });
    const shot = decodePng(png);
    expect(countPixels(shot, { x: 0, y: 0, width: 1000, height: 1400 }, notWhite)).toBeGreaterThan(20_000);
  });
});

describe("lifeboat report --env: both regions' buckets through the S3 protocol", () => {
  const PRIMARY = 'lifeboat-dev-111111111111-eu-west-1';
  const DR = 'lifeboat-dev-111111111111-eu-central-1';
  const DATABASE = 'rpt-env';
  const ARGS = [
    '--env',
    'dev',
    '--database',
    DATABASE,
    '--from',
    PERIOD.from.toISOString(),
    '--to',
    PERIOD.to.toISOString(),
  ];

  async function run(argv: string[], unreachable: string[] = []) {
    let err = '';
    let out = '';
    const stream = new PassThrough();
    stream.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => {
      err += String(c);
      return true;
    });
    try {
      const code = await reportCommand(
        argv,
        (region) =>
          unreachable.includes(region) ? s3Client('http://127.0.0.1:1') : s3Client(inject('s3Endpoint')),
        stream,
      );
      return { code, out, err };
    } finally {
      vi.restoreAllMocks();
    }
  }

  beforeAll(async () => {
    const s3 = s3Client(inject('s3Endpoint'));
    for (const bucket of [PRIMARY, DR])
      await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
    const primary = new S3Repository({ client: s3, bucket: PRIMARY, prefix: '' });
    const dr = new S3Repository({ client: s3, bucket: DR, prefix: '' });
    const id = '20261105T020000Z-env001';
    const catalog = new Catalog(primary);
    await catalog.writeManifest(dump(DATABASE, id, '2026-11-05T02:00:00.000Z', '2026-11-05T02:10:00.000Z'));
    await catalog.record(verification(DATABASE, id, '2026-11-05T03:00:00.000Z', true));
    // Only the DR region's bucket holds the failover it ran (replication goes the other way).
    const f = failoverDoc(DATABASE, '2026-11-06T10:00:00.000Z', 95, 2, false);
    await dr.putOnce(f.key, JSON.stringify(f.record));
  });

  it("reads the primary region's catalog and adds what only the DR region's holds", async () => {
    const { code, out, err } = await run([...ARGS, '--format', 'json']);
    expect(code).toBe(0);
    expect(err).toBe('');
    const report = JSON.parse(out) as EvidenceReport;
    expect(report.subject).toBe('environment dev');
    const d = report.databases[0]!;
    expect(d.database).toBe(DATABASE);
    expect(d.backups).toMatchObject({ completed: 1, failed: 0 });
    expect(d.verifications).toMatchObject({ passed: 1, failed: 0 });
    expect(d.failovers.map((x) => [x.rtoSeconds, x.rpoSeconds, x.rtoMet])).toEqual([[95, 2, true]]);
  });

  it('reports what one region holds when the other cannot be reached, and says so', async () => {
    const { code, out, err } = await run([...ARGS, '--format', 'json'], ['eu-central-1']);
    expect(code).toBe(0);
    expect(err).toMatch(/note: s3:\/\/lifeboat-dev-111111111111-eu-central-1\/ could not be read/);
    const d = (JSON.parse(out) as EvidenceReport).databases[0]!;
    expect(d.backups.completed).toBe(1);
    expect(d.failovers).toEqual([]);
  });
});
