import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Catalog } from '#core/catalog/catalog.ts';
import { openRepository } from '#core/repository/index.ts';
import { runDrill } from '../../bin/cli/drill.ts';

describe('lifeboat drill', () => {
  it('runs backup → verify → restore → failover workflow with local adapters; no committed row is lost', async () => {
    // Prepare: a repository we keep, to look at what the drill recorded
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-drill-'));
    await chmod(dir, 0o755);
    const repo = pathToFileURL(path.join(dir, 'repo')).href;
    // Act
    const report = await runDrill({ repo, rows: 5000 });

    // Assess
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect(report.steps.map((s) => s.name)).toEqual([
      'start primary',
      'load sample data',
      'start streaming standby',
      'render failover workflow',
      'application writing',
      'backup',
      'verify',
      'restore into a new database',
      'failover workflow',
      'writes on the new primary',
      'clean up',
    ]);
    expect(report.passed).toBe(true);
    expect(report.rpoRowsLost).toBe(0);
    expect(report.rtoSeconds).toBeGreaterThan(0);
    expect(report.rowsWritten).toBeGreaterThan(50);
    const path_ = report.failoverPath.map((p) => p.split('@')[0]);
    expect(path_).toEqual(
      expect.arrayContaining([
        'AcquireLock',
        'Preflight',
        'FenceOldPrimary',
        'WaitForReplicaCatchUp',
        'PromoteReadReplica',
        'SwitchDns',
        'VerifyWrite',
        'RecordFailover',
        'ReleaseLock',
      ]),
    );
    expect(path_.at(-1)).toBe('FailoverSucceeded');

    const repository = openRepository(repo);
    const [backup] = await new Catalog(repository).list({ database: 'drill' });
    expect(backup).toMatchObject({ id: report.backupId, state: 'completed', verification: 'verified' });
    const failovers = await repository.list('catalog/drill/_failovers/');
    expect(failovers).toHaveLength(1);
    const record = JSON.parse((await repository.read(failovers[0]!)).toString());
    expect(record).toMatchObject({
      kind: 'failover',
      database: 'drill',
      mode: 'planned',
      rtoSeconds: expect.any(Number),
    });

    // The primary's and the standby's servers are gone (ports from the steps' details).
    const ports = report.steps.flatMap((s) =>
      [...s.detail.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => m[1]!),
    );
    expect(ports).toHaveLength(2);
    for (const port of ports) {
      const ready = execFileSync('sh', [
        '-c',
        `pg_isready -h 127.0.0.1 -p ${port} -t 1 >/dev/null 2>&1; echo $?`,
      ])
        .toString()
        .trim();
      expect(ready).toBe('2');
    }
    // The drill used the repository it was given, not a temporary one of its own.
    expect(report.repository).toBe(repository.url);
    await rm(dir, { recursive: true, force: true });
  });
});
