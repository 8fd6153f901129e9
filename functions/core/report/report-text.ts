import type { AgeSeries, DatabaseReport, EvidenceReport, Interval } from './report-model.ts';

/** Formatting shared by the HTML and Markdown reports, so both say the same figures the same way. */

/** 2026-11-23 09:15 UTC */
export function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** 42 s, 3 min 5 s, 26.0 h, 3.5 d */
export function span(seconds: number | null): string {
  if (seconds === null) return 'n/a';
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  if (seconds < 3600) {
    const rest = Math.round(seconds % 60);
    return `${Math.floor(seconds / 60)} min${rest === 0 ? '' : ` ${rest} s`}`;
  }
  if (seconds < 4 * 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

export function percent(rate: number | null): string {
  return rate === null ? 'n/a' : `${(rate * 100).toFixed(1)} %`;
}

export function gapText(g: Interval): string {
  return `${when(g.from)} → ${g.open ? 'end of period (still open)' : when(g.to)}: ${span(g.seconds)}${
    g.worstAgeSeconds === null
      ? ', no verified backup at all'
      : `, newest verified up to ${span(g.worstAgeSeconds)} old`
  }`;
}

export function ageLine(name: string, s: AgeSeries): string {
  return `${name}: ${s.endSeconds === null ? 'none' : span(s.endSeconds)} at the end of the period, at most ${span(
    s.maxSeconds,
  )}; target ${span(s.targetSeconds)}, ${
    s.over.length === 0
      ? 'never over it'
      : `over it ${s.over.length} time${s.over.length === 1 ? '' : 's'} (${span(
          s.over.reduce((n, o) => n + o.seconds, 0),
        )} in all)`
  }`;
}

export function checksText(checks: ReadonlyArray<{ name: string; passed: boolean; detail: string }>): string {
  const failed = checks.filter((c) => !c.passed);
  return failed.length === 0
    ? `${checks.length} checks passed`
    : `${checks.length - failed.length}/${checks.length} passed; failed: ${failed
        .map((c) => `${c.name} (${c.detail})`)
        .join('; ')}`;
}

export function headline(r: EvidenceReport): string[] {
  const s = r.summary;
  return [
    s.gaps === 0
      ? `No gaps: every database had a verified backup younger than ${span(r.targets.verifiedAgeHours * 3600)} throughout.`
      : `${s.gaps} gap${s.gaps === 1 ? '' : 's'} with no verified backup younger than ${span(
          r.targets.verifiedAgeHours * 3600,
        )}; the longest: ${s.worstGap!.database}, ${gapText(s.worstGap!)}.`,
    `Backups: ${s.backupsCompleted} completed, ${s.backupsFailed} failed.`,
    `Verifications: ${s.verificationsPassed} passed, ${s.verificationsFailed} failed (pass rate ${percent(
      s.verificationPassRate,
    )}).`,
    `Restore tests: ${s.restoreTestsWithinRto} of ${s.restoreTests} passed within the RTO target; failovers: ${s.failoversWithinRto} of ${s.failovers} within the RTO target.`,
    ...(s.slowestRecovery
      ? [
          `Slowest recovery: ${s.slowestRecovery.database} ${s.slowestRecovery.kind}, RTO ${span(
            s.slowestRecovery.rtoSeconds,
          )} against a target of ${span(s.slowestRecovery.rtoTargetSeconds)}.`,
        ]
      : []),
  ];
}

export function tierText(d: DatabaseReport): string {
  const t = d.retention.tiers;
  if (!t) return 'no retention policy given: tiers not shown';
  return `daily ${t.daily}, weekly ${t.weekly}, monthly ${t.monthly}, yearly ${t.yearly}, newest-verified guard ${t.verifiedGuard}`;
}
