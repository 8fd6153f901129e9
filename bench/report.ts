/**
 * `npm run bench:report [-- --records 10000] [--databases 10] [--repeat 3]`
 *
 * Writes a catalog of about `--records` documents (a dump a day per database: its started record,
 * manifest and verification; a failed dump, a restore test and a failover now and then) into a
 * file repository, then times in the same run: (a) `buildReport` over the whole history and each
 * rendering, and (b) the raw floor: listing and reading every document and JSON.parse of each,
 * with the same concurrency and nothing else. Prints figures only.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Catalog } from '#core/catalog/catalog.ts';
import { buildReport, reportJson } from '#core/report/report.ts';
import { renderHtml } from '#core/report/report-html.ts';
import { renderMarkdown } from '#core/report/report-md.ts';
import { FileRepository } from '#core/repository/file.ts';
import { dump, failoverDoc, verification } from '../test/support/report-history.ts';
import { option, summarize, table } from './lib/measure.ts';

const argv = process.argv.slice(2);
const records = Number(option(argv, 'records') ?? 10_000);
const databases = Number(option(argv, 'databases') ?? 10);
const repeat = Number(option(argv, 'repeat') ?? 3);

const DAY = 86_400_000;
const END = Date.parse('2026-11-30T00:00:00Z');

async function writeCatalog(repo: FileRepository): Promise<number> {
  const catalog = new Catalog(repo);
  // Three documents a successful day (started, manifest, verification).
  const days = Math.ceil(records / databases / 3);
  const jobs: Array<() => Promise<unknown>> = [];
  for (let d = 0; d < databases; d++) {
    const database = `db-${String(d).padStart(2, '0')}`;
    for (let i = days; i >= 1; i--) {
      const start = new Date(END - i * DAY + 2 * 3600_000);
      const at = (minutes: number) => new Date(start.getTime() + minutes * 60_000).toISOString();
      const id = `${start
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d{3}/, '')}-b${d}`;
      jobs.push(() =>
        catalog.record({
          kind: 'started',
          backupId: id,
          database,
          at: at(0),
          backupKind: 'logical-dump',
          runner: 'bench',
        }),
      );
      if (i % 37 === 0) {
        jobs.push(() =>
          catalog.record({
            kind: 'failed',
            backupId: id,
            database,
            at: at(5),
            error: { name: 'PgDumpFailed', message: 'connection lost' },
            cleanup: 'partial file removed',
          }),
        );
        continue;
      }
      jobs.push(() => catalog.writeManifest(dump(database, id, at(0), at(10))));
      jobs.push(() => catalog.record(verification(database, id, at(60), i % 23 !== 0)));
      if (i % 7 === 0) {
        jobs.push(() => catalog.record(verification(database, id, at(300), true, 'restore', 900_000)));
      }
      if (i % 30 === 0) {
        const f = failoverDoc(database, at(600), 120 + (i % 5) * 60, i % 4, i % 60 === 0);
        jobs.push(() => repo.putOnce(f.key, JSON.stringify(f.record)));
      }
    }
  }
  for (let i = 0; i < jobs.length; i += 64) {
    await Promise.all(jobs.slice(i, i + 64).map((j) => j()));
  }
  return jobs.length;
}

/** The floor: every document listed, read and parsed, 16 at a time (as the catalog reads). */
async function rawRead(dir: string): Promise<number> {
  const files = (await readdir(path.join(dir, 'catalog'), { recursive: true })).filter((f) =>
    f.endsWith('.json'),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < files.length) {
        const text = await readFile(path.join(dir, 'catalog', files[next++]!), 'utf8');
        JSON.parse(text);
      }
    }),
  );
  return files.length;
}

async function time<T>(fn: () => Promise<T> | T): Promise<{ seconds: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { seconds: (performance.now() - started) / 1000, value };
}

const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-report-'));
try {
  const repo = new FileRepository(pathToFileURL(dir).href, dir);
  const wrote = await time(() => writeCatalog(repo));
  process.stdout.write(
    `catalog: ${wrote.value.toLocaleString('en-US')} documents, ${databases} databases, written in ${wrote.seconds.toFixed(1)} s\n`,
  );
  const from = new Date(END - 400 * DAY);
  const to = new Date(END);
  const rows: string[][] = [];
  const raw: number[] = [];
  const build: number[] = [];
  const html: number[] = [];
  const md: number[] = [];
  const json: number[] = [];
  let sizes = { html: 0, md: 0, json: 0, docs: 0 };
  for (let r = 0; r < repeat; r++) {
    const floor = await time(() => rawRead(dir));
    raw.push(floor.seconds);
    const built = await time(() => buildReport(repo, { from, to, now: to }));
    build.push(built.seconds);
    const h = await time(() => renderHtml(built.value));
    const m = await time(() => renderMarkdown(built.value));
    const j = await time(() => reportJson(built.value));
    html.push(h.seconds);
    md.push(m.seconds);
    json.push(j.seconds);
    sizes = {
      html: Buffer.byteLength(h.value),
      md: Buffer.byteLength(m.value),
      json: Buffer.byteLength(j.value),
      docs: floor.value,
    };
  }
  const s = (xs: number[]) => summarize(xs);
  rows.push([
    'raw: list + read + JSON.parse every document',
    s(raw).best.toFixed(2),
    s(raw).median.toFixed(2),
    '1.00',
  ]);
  rows.push([
    'lifeboat: buildReport (read, validate, derive)',
    s(build).best.toFixed(2),
    s(build).median.toFixed(2),
    (s(build).best / s(raw).best).toFixed(2),
  ]);
  rows.push(['render HTML', s(html).best.toFixed(3), s(html).median.toFixed(3), '']);
  rows.push(['render Markdown', s(md).best.toFixed(3), s(md).median.toFixed(3), '']);
  rows.push(['render JSON', s(json).best.toFixed(3), s(json).median.toFixed(3), '']);
  process.stdout.write(`${table(['step', 'best s', 'median s', '× raw'], rows)}\n`);
  process.stdout.write(
    `documents read: ${sizes.docs.toLocaleString('en-US')}; sizes: HTML ${(sizes.html / 1024).toFixed(0)} KiB, Markdown ${(sizes.md / 1024).toFixed(0)} KiB, JSON ${(sizes.json / 1024).toFixed(0)} KiB; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
