/**
 * `npx tsx bench/roles.ts [--database-url URL] [--repeat 5]`
 *
 * What capturing the roles beside a dump adds to a backup: the time of the roles step (catalog
 * queries + pg_dumpall --roles-only + storing the document) and the size of its artifact, against
 * the whole backup of the same database to a file repository. Prints figures; asserts none.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runBackup } from '#core/dumps/backup.ts';
import { silentLogger } from '#core/shared/logger.ts';
import { connect, parseDatabaseUrl } from '#core/shared/pg.ts';
import { majorOf } from '#core/shared/pgtools.ts';
import { openRepository } from '#core/repository/index.ts';
import { storeRoles } from '#core/dumps/roles.ts';
import { option, summarize, table } from './lib/measure.ts';

const argv = process.argv.slice(2);
const url = option(argv, 'database-url') ?? 'postgres://postgres@127.0.0.1:5432/lifeboat_bench_410mb';
const repeat = Number(option(argv, 'repeat') ?? '5');
const connection = parseDatabaseUrl(url);
const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bench-roles-'));
try {
  const repository = openRepository(pathToFileURL(path.join(work, 'repo')).href);
  await repository.check({ write: true });
  const backupStart = performance.now();
  const manifest = await runBackup({ connection, repository, database: 'bench' });
  const backupSeconds = (performance.now() - backupStart) / 1000;

  const client = await connect(connection);
  const seconds: number[] = [];
  try {
    const num = Number(
      (await client.query<{ n: string }>(`SELECT current_setting('server_version_num') AS n`)).rows[0]!.n,
    );
    for (let i = 0; i < repeat; i++) {
      const t = performance.now();
      await storeRoles({
        client,
        connection,
        repository,
        artifactKey: `artifacts/bench/run-${i}.dump`,
        serverMajor: majorOf(num),
        log: silentLogger,
      });
      seconds.push((performance.now() - t) / 1000);
    }
  } finally {
    await client.end();
  }
  const { best, median } = summarize(seconds);
  process.stdout.write(
    `${table(
      ['what', 'value'],
      [
        [
          'database',
          `${connection.database} (${(manifest.statistics.databaseSizeBytes / 1024 ** 2).toFixed(0)} MiB)`,
        ],
        ['backup (dump + statistics + roles), s', backupSeconds.toFixed(2)],
        ['dump artifact, bytes', String(manifest.artifact.bytes)],
        [`roles step, s (best / median of ${repeat})`, `${best.toFixed(3)} / ${median.toFixed(3)}`],
        ['roles artifact, bytes', String(manifest.roles?.bytes ?? manifest.rolesError)],
        ['roles captured', String(manifest.roles?.count ?? 0)],
        ['roles step / backup', `${((median / backupSeconds) * 100).toFixed(2)} %`],
        [
          'roles artifact / dump',
          `${(((manifest.roles?.bytes ?? 0) / manifest.artifact.bytes) * 100).toFixed(4)} %`,
        ],
      ],
    )}\n`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
