import type { DatabaseReport, EvidenceReport } from './report-model.ts';
import { ageLine, checksText, gapText, headline, percent, span, tierText, when } from './report-text.ts';

const cell = (v: string) => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function table(headers: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['(none)'];
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ];
}

const yes = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'yes' : '**no**');

function database(d: DatabaseReport): string[] {
  const b = d.backups;
  return [
    `## ${d.database}`,
    '',
    '### Gaps (no verified backup young enough)',
    '',
    ...(d.gaps.length === 0 ? ['none'] : d.gaps.map((g) => `- ${gapText(g)}`)),
    '',
    '### Backups',
    '',
    `${b.taken} ${b.taken === 1 ? 'backup' : 'backups'} taken: ${b.completed} completed, ${b.failed} failed, ${b.abandoned} abandoned, ${b.inProgress} in progress, ${b.unreadable} unreadable (${b.byKind['logical-dump']} dumps, ${b.byKind['rds-snapshot']} snapshots).`,
    '',
    `- ${ageLine('Newest completed backup', d.age.newestCompleted)}`,
    `- ${ageLine('Newest verified backup', d.age.newestVerified)}`,
    '',
    `### Verifications: ${d.verifications.passed} passed, ${d.verifications.failed} failed (${percent(d.verifications.passRate)})`,
    '',
    ...table(
      ['when', 'backup', 'method', 'result', 'checks', 'restore', 'total'],
      d.verifications.list.map((v) => [
        when(v.at),
        v.backupId,
        v.method,
        v.passed ? 'passed' : '**FAILED**',
        checksText(v.checks) + (v.error ? ` — ${v.error.name}: ${v.error.message}` : ''),
        span(v.restoreSeconds),
        span(v.totalSeconds),
      ]),
    ),
    '',
    '### Restore tests',
    '',
    ...table(
      ['started', 'backup', 'method', 'result', 'RTO', 'target', 'met', 'RPO', 'target', 'met'],
      d.restoreTests.map((r) => [
        when(r.startedAt),
        r.backupId,
        r.method,
        r.passed ? 'passed' : '**FAILED**',
        span(r.rtoSeconds),
        span(r.rtoTargetSeconds),
        yes(r.rtoMet),
        span(r.rpoSeconds),
        span(r.rpoTargetSeconds),
        yes(r.rpoMet),
      ]),
    ),
    '',
    '### Failovers (drills included)',
    '',
    ...table(
      ['started', 'kind', 'from → to', 'RTO', 'target', 'met', 'RPO', 'target', 'met'],
      d.failovers.map((f) => [
        when(f.startedAt),
        `${f.drill ? 'drill, ' : ''}${f.mode}, ${f.trigger}`,
        `${f.from} → ${f.to}`,
        span(f.rtoSeconds),
        span(f.rtoTargetSeconds),
        yes(f.rtoMet),
        span(f.rpoSeconds),
        span(f.rpoTargetSeconds),
        yes(f.rpoMet),
      ]),
    ),
    '',
    `### Snapshot copies to the DR region: ${d.snapshotCopies.copied} of ${d.snapshotCopies.sources} snapshots copied`,
    '',
    ...table(
      ['arrived', 'copy', 'region', 'taken', 'copy lag'],
      d.snapshotCopies.list.map((c) => [
        when(c.arrivedAt),
        c.snapshotIdentifier,
        c.region,
        when(c.takenAt),
        span(c.lagSeconds),
      ]),
    ),
    '',
    '### Retention',
    '',
    `- restorable now: ${d.retention.restorable}; oldest restorable point: ${
      d.retention.oldestRestorable
        ? `${when(d.retention.oldestRestorable.at)} (${d.retention.oldestRestorable.id})`
        : 'none'
    }; oldest verified: ${d.retention.oldestVerified ? `${when(d.retention.oldestVerified.at)} (${d.retention.oldestVerified.id})` : 'none'}`,
    `- kept per tier: ${tierText(d)}`,
    ...(d.problems.length
      ? ['', '### Catalog documents that could not be read', '', ...d.problems.map((p) => `- ${p}`)]
      : []),
    '',
  ];
}

export function renderMarkdown(r: EvidenceReport): string {
  const t = r.targets;
  return [
    `# DR evidence report: ${r.subject}`,
    '',
    `Period ${when(r.from)} → ${when(r.to)}; generated ${when(r.generatedAt)}.`,
    '',
    `Targets: newest backup ${t.backupAgeWarnHours} h (warning) / ${t.backupAgeCritHours} h (critical); newest verified ${t.verifiedAgeHours} h; restore RTO ${span(t.restoreRtoSeconds)}; failover RTO ${span(t.failoverRtoSeconds)}, RPO ${span(t.failoverRpoSeconds)}.`,
    '',
    '## Summary',
    '',
    ...headline(r).map((l) => `- ${l}`),
    '',
    ...r.databases.flatMap(database),
  ].join('\n');
}
