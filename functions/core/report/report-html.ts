import type { AgeSeries, DatabaseReport, EvidenceReport, Interval } from './report-model.ts';
import { ageLine, checksText, gapText, headline, percent, span, tierText, when } from './report-text.ts';

/**
 * The report as one self-contained HTML file: inline CSS, charts as inline SVG, no script, no
 * external resource, so it opens anywhere, can be archived as evidence, and prints to PDF (each
 * database starts on a new page).
 */

export function esc(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const COLOR = {
  completed: '#1f6feb',
  verified: '#1a7f37',
  warn: '#bf8700',
  crit: '#cf222e',
  gap: 'rgba(207,34,46,0.16)',
  grid: '#d0d7de',
  text: '#24292f',
  muted: '#57606a',
  failover: '#8250df',
} as const;

const CSS = `
  * { box-sizing: border-box; }
  body { font: 13px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; color: ${COLOR.text}; margin: 24px; }
  h1 { font-size: 22px; margin: 0 0 4px; }
  h2 { font-size: 18px; margin: 0 0 8px; border-bottom: 2px solid ${COLOR.grid}; padding-bottom: 4px; }
  h3 { font-size: 14px; margin: 16px 0 6px; }
  .meta, .note { color: ${COLOR.muted}; }
  .cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; }
  .card { border: 1px solid ${COLOR.grid}; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
  .card b { display: block; font-size: 20px; }
  .bad { color: ${COLOR.crit}; font-weight: 600; }
  .good { color: ${COLOR.verified}; }
  table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; font-size: 12px; }
  th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid ${COLOR.grid}; vertical-align: top; }
  th { background: #f6f8fa; }
  tr { break-inside: avoid; }
  ul.gaps li { color: ${COLOR.crit}; }
  svg { display: block; max-width: 100%; height: auto; }
  section.database { break-before: page; margin-top: 28px; }
  @page { size: A4; margin: 12mm; }
  @media print { body { margin: 0; } section.database { margin-top: 0; } }
`;

const W = 720;
const H = 230;
const M = { left: 52, right: 110, top: 14, bottom: 30 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;
/** Where the age chart draws its plot, in its own pixels (tests look there). */
export const AGE_CHART_PLOT = { x: M.left, y: M.top, width: PW, height: PH } as const;

function niceStep(max: number, ticks: number): number {
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= raw) return m * pow;
  return 10 * pow;
}

function dayTicks(from: number, to: number): number[] {
  const day = 86_400_000;
  const days = (to - from) / day;
  const every = days <= 10 ? 1 : days <= 21 ? 3 : days <= 70 ? 7 : days <= 200 ? 14 : 30;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / day) * day; t <= to; t += every * day) ticks.push(t);
  return ticks;
}

/** The age of the newest completed and newest verified backup over the period, against the targets. */
export function ageChart(d: DatabaseReport, r: EvidenceReport): string {
  const from = Date.parse(r.from);
  const to = Date.parse(r.to);
  const { newestCompleted: c, newestVerified: v } = d.age;
  const t = r.targets;
  const targetHours = [t.backupAgeWarnHours, t.backupAgeCritHours, t.verifiedAgeHours];
  const maxHours = Math.max(...targetHours) * 1.5;
  const seen = Math.max(c.maxSeconds ?? 0, v.maxSeconds ?? 0) / 3600;
  // Far over target the detail no longer matters: the scale stops at 4× the largest target.
  const top = Math.max(maxHours, Math.min(seen * 1.05, Math.max(...targetHours) * 4));
  const x = (ms: number) => M.left + ((ms - from) / (to - from)) * PW;
  const y = (seconds: number) => M.top + PH - (Math.min(seconds / 3600, top) / top) * PH;
  const step = niceStep(top, 5);
  const parts: string[] = [];
  parts.push(
    `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="#fff" stroke="${COLOR.grid}"/>`,
  );
  for (const g of d.gaps) parts.push(band(g, x, COLOR.gap));
  for (let h = 0; h <= top + 1e-9; h += step) {
    parts.push(
      `<line x1="${M.left}" x2="${M.left + PW}" y1="${y(h * 3600).toFixed(1)}" y2="${y(h * 3600).toFixed(1)}" stroke="${COLOR.grid}" stroke-width="0.5"/>`,
      `<text x="${M.left - 6}" y="${(y(h * 3600) + 4).toFixed(1)}" text-anchor="end" font-size="10" fill="${COLOR.muted}">${+h.toFixed(1)} h</text>`,
    );
  }
  for (const tick of dayTicks(from, to)) {
    parts.push(
      `<line x1="${x(tick).toFixed(1)}" x2="${x(tick).toFixed(1)}" y1="${M.top + PH}" y2="${M.top + PH + 4}" stroke="${COLOR.muted}"/>`,
      `<text x="${x(tick).toFixed(1)}" y="${M.top + PH + 16}" text-anchor="middle" font-size="10" fill="${COLOR.muted}">${new Date(tick).toISOString().slice(5, 10)}</text>`,
    );
  }
  const targetLine = (hours: number, color: string, label: string, dy: number) =>
    `<line x1="${M.left}" x2="${M.left + PW}" y1="${y(hours * 3600).toFixed(1)}" y2="${y(hours * 3600).toFixed(1)}" stroke="${color}" stroke-dasharray="5 3" stroke-width="1.2"/>` +
    `<text x="${M.left + PW + 4}" y="${(y(hours * 3600) + 4 + dy).toFixed(1)}" font-size="10" fill="${color}">${esc(label)}</text>`;
  parts.push(targetLine(t.backupAgeWarnHours, COLOR.warn, `warn ${t.backupAgeWarnHours} h`, 0));
  parts.push(
    targetLine(
      t.backupAgeCritHours,
      COLOR.crit,
      `critical ${t.backupAgeCritHours} h`,
      t.backupAgeCritHours === t.verifiedAgeHours ? -6 : 0,
    ),
  );
  parts.push(
    targetLine(
      t.verifiedAgeHours,
      COLOR.verified,
      `verified ${t.verifiedAgeHours} h`,
      t.backupAgeCritHours === t.verifiedAgeHours ? 6 : 0,
    ),
  );
  parts.push(polyline(c, x, y, COLOR.completed, 1.4), polyline(v, x, y, COLOR.verified, 2));
  const legend = `<text x="${M.left}" y="${H - 2}" font-size="10" fill="${COLOR.completed}">━ newest completed backup (age since it finished)</text><text x="${M.left + 270}" y="${H - 2}" font-size="10" fill="${COLOR.verified}">━ newest verified backup (age of its data)</text><text x="${M.left + 520}" y="${H - 2}" font-size="10" fill="${COLOR.crit}">▇ gap</text>`;
  const title = `Age of the newest completed and verified backup of ${d.database}, ${when(r.from)} to ${when(r.to)}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H + 8}" width="${W}" height="${H + 8}" role="img" aria-label="${esc(title)}" class="chart age-chart"><title>${esc(title)}</title>${parts.join('')}${legend}</svg>`;
}

function band(g: Interval, x: (ms: number) => number, fill: string): string {
  const a = x(Date.parse(g.from));
  const b = x(Date.parse(g.to));
  return `<rect class="gap" x="${a.toFixed(1)}" y="${M.top}" width="${Math.max(1, b - a).toFixed(1)}" height="${PH}" fill="${fill}"/>`;
}

function polyline(
  s: AgeSeries,
  x: (ms: number) => number,
  y: (seconds: number) => number,
  color: string,
  width: number,
): string {
  // A run of points with a restore point is one line; where there is none, the line breaks.
  const runs: string[][] = [];
  let run: string[] = [];
  for (const [t, age] of s.points) {
    if (age === null) {
      if (run.length) runs.push(run);
      run = [];
      continue;
    }
    run.push(`${x(t).toFixed(1)},${y(age).toFixed(1)}`);
  }
  if (run.length) runs.push(run);
  return runs
    .map(
      (r) =>
        `<polyline points="${r.join(' ')}" fill="none" stroke="${color}" stroke-width="${width}" stroke-linejoin="round"/>`,
    )
    .join('');
}

/** One bar per restore test and failover: its RTO against its target (the dashed tick). */
export function rtoChart(d: DatabaseReport): string {
  const items = [
    ...d.restoreTests.map((rt) => ({
      label: `restore ${rt.startedAt.slice(5, 16).replace('T', ' ')}`,
      rto: rt.rtoSeconds,
      target: rt.rtoTargetSeconds,
      ok: rt.rtoMet,
      color: rt.passed ? COLOR.completed : COLOR.crit,
    })),
    ...d.failovers.map((f) => ({
      label: `${f.drill ? 'drill' : 'failover'} ${f.startedAt.slice(5, 16).replace('T', ' ')}`,
      rto: f.rtoSeconds,
      target: f.rtoTargetSeconds,
      ok: f.rtoMet,
      color: COLOR.failover,
    })),
  ];
  if (items.length === 0) return '';
  const shown = items.slice(-24);
  const rowH = 18;
  const left = 170;
  const width = 720;
  const plot = width - left - 170;
  const height = shown.length * rowH + 24;
  // Each bar is against its own target (restore tests and failovers have different ones): the
  // target sits at the same place on every row, a bar past it is late by that much.
  const targetX = left + plot * 0.6;
  const sx = (i: { rto: number; target: number }) =>
    left + Math.min(i.rto / i.target, 1 / 0.6) * (targetX - left);
  const rows = shown
    .map((i, n) => {
      const top = 8 + n * rowH;
      const end = sx(i);
      return (
        `<text x="${left - 6}" y="${top + 12}" text-anchor="end" font-size="10" fill="${COLOR.text}">${esc(i.label)}</text>` +
        `<rect class="bar" x="${left}" y="${top + 2}" width="${Math.max(1, end - left).toFixed(1)}" height="${rowH - 6}" fill="${i.color}"/>` +
        `<line x1="${targetX.toFixed(1)}" x2="${targetX.toFixed(1)}" y1="${top}" y2="${top + rowH - 2}" stroke="${COLOR.crit}" stroke-dasharray="3 2" stroke-width="1.5"/>` +
        `<text x="${(Math.max(end, targetX) + 6).toFixed(1)}" y="${top + 12}" font-size="10" fill="${i.ok ? COLOR.verified : COLOR.crit}">${esc(`${span(i.rto)} / ${span(i.target)}${i.ok ? '' : ' ✗'}`)}</text>`
      );
    })
    .join('');
  const title = `RTO of each restore test and failover of ${d.database} against its target`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(title)}" class="chart rto-chart"><title>${esc(title)}</title>${rows}<text x="${left}" y="${height - 4}" font-size="10" fill="${COLOR.muted}">bar: RTO against its own target (dashed); restore test blue, failed red; failover purple${items.length > shown.length ? ` · the last ${shown.length} of ${items.length}` : ''}</text></svg>`;
}

function htmlTable(headers: string[], rows: string[][], empty = 'none'): string {
  if (rows.length === 0) return `<p class="note">${esc(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const td = (v: string, cls?: string) => `<td${cls ? ` class="${cls}"` : ''}>${esc(v)}</td>`;
const met = (ok: boolean | null) => (ok === null ? td('n/a') : ok ? td('yes', 'good') : td('no', 'bad'));

function databaseSection(d: DatabaseReport, r: EvidenceReport): string {
  const b = d.backups;
  return `<section class="database" id="db-${esc(encodeURIComponent(d.database))}">
<h2>${esc(d.database)}</h2>
<h3>Gaps: periods with no verified backup younger than ${esc(span(r.targets.verifiedAgeHours * 3600))}</h3>
${d.gaps.length === 0 ? '<p class="good">none</p>' : `<ul class="gaps">${d.gaps.map((g) => `<li>${esc(gapText(g))}</li>`).join('')}</ul>`}
<div class="cards">
  <div class="card">backups completed<b>${b.completed}</b></div>
  <div class="card">backups failed<b${b.failed ? ' class="bad"' : ''}>${b.failed}</b></div>
  <div class="card">verifications passed<b>${d.verifications.passed}</b></div>
  <div class="card">verifications failed<b${d.verifications.failed ? ' class="bad"' : ''}>${d.verifications.failed}</b></div>
  <div class="card">restore tests / failovers<b>${d.restoreTests.length} / ${d.failovers.length}</b></div>
</div>
<p class="note">${b.taken} ${b.taken === 1 ? 'backup' : 'backups'} taken (${b.byKind['logical-dump']} dumps, ${b.byKind['rds-snapshot']} snapshots): ${b.completed} completed, ${b.failed} failed, ${b.abandoned} abandoned, ${b.inProgress} in progress, ${b.unreadable} unreadable.</p>
${ageChart(d, r)}
<p class="note">${esc(ageLine('Newest completed backup', d.age.newestCompleted))}.<br>${esc(ageLine('Newest verified backup', d.age.newestVerified))}.</p>
<h3>Restore tests and failovers (drills included)</h3>
${rtoChart(d)}
${htmlTable(
  ['kind', 'started', 'backup / from → to', 'result', 'RTO', 'target', 'met', 'RPO', 'target', 'met'],
  [
    ...d.restoreTests.map((t) => [
      td(`restore test (${t.method})`),
      td(when(t.startedAt)),
      td(t.backupId),
      t.passed ? td('passed', 'good') : td('FAILED', 'bad'),
      td(span(t.rtoSeconds)),
      td(span(t.rtoTargetSeconds)),
      met(t.rtoMet),
      td(span(t.rpoSeconds)),
      td(span(t.rpoTargetSeconds)),
      met(t.rpoMet),
    ]),
    ...d.failovers.map((f) => [
      td(`${f.drill ? 'drill' : 'failover'} (${f.mode}, ${f.trigger})`),
      td(when(f.startedAt)),
      td(`${f.from} → ${f.to}`),
      td('completed', 'good'),
      td(span(f.rtoSeconds)),
      td(span(f.rtoTargetSeconds)),
      met(f.rtoMet),
      td(span(f.rpoSeconds)),
      td(span(f.rpoTargetSeconds)),
      met(f.rpoMet),
    ]),
  ],
  'no restore test or failover in the period',
)}
<h3>Verifications: ${d.verifications.passed} passed, ${d.verifications.failed} failed (${esc(percent(d.verifications.passRate))})</h3>
${htmlTable(
  ['when', 'backup', 'method', 'result', 'checks', 'restore', 'total'],
  d.verifications.list.map((v) => [
    td(when(v.at)),
    td(v.backupId),
    td(v.method),
    v.passed ? td('passed', 'good') : td('FAILED', 'bad'),
    td(checksText(v.checks) + (v.error ? ` — ${v.error.name}: ${v.error.message}` : '')),
    td(span(v.restoreSeconds)),
    td(span(v.totalSeconds)),
  ]),
)}
<h3>Snapshot copies to the DR region: ${d.snapshotCopies.copied} of ${d.snapshotCopies.sources} snapshots copied</h3>
${htmlTable(
  ['arrived', 'copy', 'region', 'taken', 'copy lag'],
  d.snapshotCopies.list.map((c) => [
    td(when(c.arrivedAt)),
    td(c.snapshotIdentifier),
    td(c.region),
    td(when(c.takenAt)),
    td(span(c.lagSeconds)),
  ]),
)}
<h3>Retention</h3>
<p>Restorable now: <b>${d.retention.restorable}</b>; oldest restorable point: <b>${esc(
    d.retention.oldestRestorable ? when(d.retention.oldestRestorable.at) : 'none',
  )}</b>; oldest verified: <b>${esc(d.retention.oldestVerified ? when(d.retention.oldestVerified.at) : 'none')}</b>.<br>Kept per tier: ${esc(tierText(d))}.</p>
${d.problems.length ? `<h3 class="bad">Catalog documents that could not be read</h3><ul>${d.problems.map((p) => `<li>${esc(p)}</li>`).join('')}</ul>` : ''}
</section>`;
}

export function renderHtml(r: EvidenceReport): string {
  const t = r.targets;
  const s = r.summary;
  const gaps = r.databases.flatMap((d) => d.gaps.map((g) => ({ database: d.database, g })));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DR evidence report: ${esc(r.subject)}</title>
<style>${CSS}</style></head>
<body>
<header>
<h1>DR evidence report: ${esc(r.subject)}</h1>
<p class="meta">Period ${esc(when(r.from))} → ${esc(when(r.to))} · generated ${esc(when(r.generatedAt))} by lifeboat from the catalog's records.</p>
<p class="meta">Targets: newest backup ${t.backupAgeWarnHours} h (warning) / ${t.backupAgeCritHours} h (critical) · newest verified backup ${t.verifiedAgeHours} h (RPO of a restore from backup) · restore RTO ${esc(span(t.restoreRtoSeconds))} · failover RTO ${esc(span(t.failoverRtoSeconds))}, RPO ${esc(span(t.failoverRpoSeconds))}.</p>
</header>
<h2>Gaps first</h2>
${
  gaps.length === 0
    ? `<p class="good">${esc(headline(r)[0]!)}</p>`
    : `<ul class="gaps">${gaps.map(({ database, g }) => `<li><b>${esc(database)}</b>: ${esc(gapText(g))}</li>`).join('')}</ul>`
}
<div class="cards">
  <div class="card">databases<b>${s.databases}</b></div>
  <div class="card">backups completed / failed<b>${s.backupsCompleted} / <span${s.backupsFailed ? ' class="bad"' : ''}>${s.backupsFailed}</span></b></div>
  <div class="card">verification pass rate<b>${esc(percent(s.verificationPassRate))}</b>${s.verificationsPassed} passed, ${s.verificationsFailed} failed</div>
  <div class="card">restore tests within RTO<b>${s.restoreTestsWithinRto} / ${s.restoreTests}</b></div>
  <div class="card">failovers within RTO<b>${s.failoversWithinRto} / ${s.failovers}</b></div>
</div>
<ul>${headline(r)
    .slice(1)
    .map((l) => `<li>${esc(l)}</li>`)
    .join('')}</ul>
${htmlTable(
  [
    'database',
    'gaps',
    'completed',
    'failed',
    'verified',
    'verification failed',
    'newest verified at end',
    'restore tests',
    'failovers',
  ],
  r.databases.map((d) => [
    `<td><a href="#db-${esc(encodeURIComponent(d.database))}">${esc(d.database)}</a></td>`,
    d.gaps.length ? td(String(d.gaps.length), 'bad') : td('0', 'good'),
    td(String(d.backups.completed)),
    d.backups.failed ? td(String(d.backups.failed), 'bad') : td('0'),
    td(String(d.verifications.passed)),
    d.verifications.failed ? td(String(d.verifications.failed), 'bad') : td('0'),
    td(d.age.newestVerified.endSeconds === null ? 'none' : span(d.age.newestVerified.endSeconds)),
    td(String(d.restoreTests.length)),
    td(String(d.failovers.length)),
  ]),
  'no database in the catalog',
)}
${r.problems.length ? `<p class="bad">${r.problems.length} catalog document(s) could not be read; the figures may miss what they say (listed per database).</p>` : ''}
${r.databases.map((d) => databaseSection(d, r)).join('\n')}
</body></html>
`;
}
