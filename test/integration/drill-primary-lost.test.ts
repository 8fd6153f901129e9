import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDrill } from '../../bin/cli/drill.ts';
import { openRepository } from '../../functions/core/repository/index.ts';

describe('lifeboat drill --scenario primary-lost', () => {
  it('SIGKILLs the primary mid-write; the canary alarm starts the failover; loss is counted and bounded by the estimate', async () => {
    // Prepare: a repository of this test's own (other drills on the machine share the temp folder).
    const dir = await mkdtemp(path.join(tmpdir(), 'lb-drill-lost-'));
    await chmod(dir, 0o755);
    const repo = pathToFileURL(path.join(dir, 'repo')).href;
    const lagSeconds = 2;

    // Act
    const report = await runDrill({ scenario: 'primary-lost', lagSeconds, rows: 2000, repo });

    // Assess: every step, the alarm path among them.
    expect(report.steps.filter((s) => !s.ok)).toEqual([]);
    expect(report.steps.map((s) => s.name)).toEqual([
      'start primary',
      'load sample data',
      'start streaming standby',
      'render failover workflow',
      'application writing',
      'primary canary',
      'backup',
      'verify',
      'restore into a new database',
      'primary lost',
      'canary alarm',
      'failover workflow',
      'writes on the new primary',
      'clean up',
    ]);
    expect(report).toMatchObject({ passed: true, scenario: 'primary-lost', lagSeconds });
    expect(report.trigger).toMatchObject({
      alarmName: 'lifeboat-drill-drill-primary-unwritable',
      executionName: expect.stringMatching(/^alarm-drill-\d{8}T\d{4}Z-[0-9a-f]{10}$/),
      startReason: expect.stringContaining('has not accepted writes'),
      approvalMessage: expect.objectContaining({ type: 'failover.approval-needed' }),
      canaryFollowedNewPrimary: true,
    });
    expect(report.trigger!.canaryFailures).toBeGreaterThanOrEqual(3);
    const states = report.failoverPath.map((p) => p.split('@')[0]);
    const order = [
      'Preflight',
      'NotifyApprovalNeeded',
      'RequestApproval',
      'FenceOldPrimary',
      'PromoteReadReplica',
      'VerifyWrite',
      'SwitchDns',
      'FailoverSucceeded',
    ];
    const positions = order.map((s) => states.indexOf(s));
    expect(
      positions.every((p) => p >= 0),
      states.join(' → '),
    ).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(report.steps.find((s) => s.name === 'failover workflow')!.detail).toMatch(
      /alarm-start → approval/,
    );

    // The application's rows: acknowledged = found + lost, and with the standby 2 s behind, some are lost.
    const app = report.application;
    expect(app.found! + app.lost!).toBe(app.acknowledged);
    expect(app.lost).toBeGreaterThan(0);
    expect(report.rpoRowsLost).toBe(app.lost);
    // The estimate shown at approval: the standby's replayed heartbeat about `lag` behind the last
    // acknowledged one, and the loss within what it names (known part + unobserved tail).
    const est = report.rpoEstimate!;
    expect(est.known).toBe(true);
    expect(est.rpoSeconds!).toBeGreaterThan(lagSeconds - 0.75);
    expect(est.rpoSeconds!).toBeLessThan(lagSeconds + 1.5);
    expect(app.lostWindowSeconds!).toBeLessThanOrEqual(est.rpoSeconds! + est.unobservedSeconds! + 0.25);
    expect(report.detectionSeconds!).toBeGreaterThan(0);
    expect(report.rtoSeconds!).toBeGreaterThan(report.detectionSeconds!);
    expect(report.workflowSeconds!).toBeLessThan(report.rtoSeconds!);

    // Nothing left running: the killed primary's and the standby's servers are gone.
    const ports = report.steps.flatMap((s) =>
      [...s.detail.matchAll(/on 127\.0\.0\.1:(\d+)/g)].map((m) => m[1]!),
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
    expect(report.repository).toBe(openRepository(repo).url);
    await rm(dir, { recursive: true, force: true });
  });
});
