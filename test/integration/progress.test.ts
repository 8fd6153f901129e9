import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '#core/dumps/backup.ts';
import type { DumpManifest } from '#core/catalog/manifest.ts';
import { parseDatabaseUrl } from '#core/shared/pg.ts';
import { openRepository, type Repository } from '#core/repository/index.ts';
import { runRestore } from '#core/restore/restore.ts';
import { entriesReporter, previousBackup, progressReporter } from '../../bin/cli/progress.ts';
import { createDatabase, databaseUrl, dropDatabase, query } from '../support/postgres.ts';

/**
 * Progress with real pg_dump and pg_restore on the local PostgreSQL: a backup's ETA comes from the
 * previous backup of the same database in the catalog, and a restore counts the table-of-contents
 * entries pg_restore --verbose reports against `pg_restore --list`.
 */

const PG_RESTORE = '/usr/lib/postgresql/15/bin/pg_restore';

function tty() {
  const writes: string[] = [];
  return {
    isTTY: true,
    writes,
    write(text: string) {
      writes.push(text);
      return true;
    },
  };
}

describe('progress people can plan with', () => {
  let source: string;
  const targets: string[] = [];
  let dir: string;
  let repository: Repository;
  let first: DumpManifest;

  beforeAll(async () => {
    source = await createDatabase('lb_progress');
    await query(
      source,
      `CREATE TABLE t (id int PRIMARY KEY, payload text);
       INSERT INTO t SELECT g, md5(g::text) || repeat(md5((g * 7)::text), 20) FROM generate_series(1, 60000) g;
       CREATE INDEX t_payload ON t (payload);
       CREATE TABLE u (id int REFERENCES t, note text);
       INSERT INTO u SELECT g, 'n' || g FROM generate_series(1, 5000) g;
       CREATE VIEW v AS SELECT id FROM t WHERE id < 10;
       CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';
       COMMENT ON TABLE t IS 'the big one';`,
    );
    dir = await mkdtemp(path.join(tmpdir(), 'lb-progress-'));
    repository = openRepository(pathToFileURL(path.join(dir, 'repo')).href);
    // Uncompressed, so that pg_restore --list can read the stored archive directly below.
    first = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      database: 'progress',
      compression: { method: 'none' },
    });
  }, 120_000);

  afterAll(async () => {
    for (const t of [source, ...targets]) if (t) await dropDatabase(t);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("a backup's line shows bytes, rate and an ETA from the previous backup of the same database", async () => {
    const previous = await previousBackup(repository, 'progress');
    expect(previous).toEqual({
      id: first.id,
      bytes: first.artifact.bytes,
      durationMs: Date.parse(first.finishedAt) - Date.parse(first.startedAt),
    });
    expect(await previousBackup(repository, 'another')).toBeNull();

    const out = tty();
    const reporter = progressReporter('backing up progress:', out, { previous, intervalMs: 0 });
    const counts: number[] = [];
    const second = await runBackup({
      connection: parseDatabaseUrl(databaseUrl(source)),
      repository,
      database: 'progress',
      compression: { method: 'none' },
      onProgress: (n) => {
        counts.push(n);
        reporter.update(n);
      },
    });
    reporter.done();

    expect(counts.length).toBeGreaterThan(1);
    expect(counts.at(-1)).toBe(second.artifact.bytes);
    const lines = out.writes.filter((w) => w.includes('backing up'));
    expect(lines.length).toBe(counts.length);
    // Every line before the end estimates against the first backup's size.
    const early = lines.filter((l) => / of ~/.test(l));
    expect(early.length).toBeGreaterThan(0);
    for (const l of early)
      expect(l).toMatch(
        /backing up progress: [\d.]+ [KMG]?i?B of ~[\d.]+ [KMG]?i?B \(\d+ %\) {2}[\d.]+ [KMG]?i?B\/s {2}ETA [\d.]+ (ms|s|min)/,
      );
    expect(out.writes.at(-1)).toBe('\r\x1b[K');
  });

  it("a restore's progress counts table-of-contents entries against pg_restore --list, with one job and with two", async () => {
    const archive = path.join(dir, 'repo', first.artifact.key);
    const listed = spawnSync(PG_RESTORE, ['--list', archive], { encoding: 'utf8' });
    expect(listed.status).toBe(0);
    const total = listed.stdout.split('\n').filter((l) => /^\d+; /.test(l)).length;
    expect(total).toBeGreaterThanOrEqual(10);

    for (const jobs of [1, 2]) {
      const target = await createDatabase('lb_progress_to');
      targets.push(target);
      const seen: Array<[number, number]> = [];
      const out = tty();
      const reporter = entriesReporter('restoring:', out, { intervalMs: 0 });
      const report = await runRestore({
        repository,
        ref: first.id,
        target: parseDatabaseUrl(databaseUrl(target)),
        jobs,
        onRestoreProgress: (done, n) => {
          seen.push([done, n]);
          reporter.update(done, n);
        },
      });
      expect(report.passed).toBe(true);
      expect(seen[0]).toEqual([0, total]);
      expect(seen.at(-1)).toEqual([total, total]);
      expect(seen.every(([, n]) => n === total)).toBe(true);
      const done = seen.map(([d]) => d);
      expect(done).toEqual([...done].sort((a, b) => a - b));
      // pg_restore reported entries as it went, not only the end: most counts are in between.
      expect(done.filter((d) => d > 0 && d < total).length, `jobs ${jobs}`).toBeGreaterThanOrEqual(total / 2);
      expect(out.writes.at(-1)).toMatch(
        new RegExp(`^\\r\\x1b\\[Krestoring: ${total}/${total} entries \\(100 %\\) {2}\\S+`),
      );
    }
  });
});
