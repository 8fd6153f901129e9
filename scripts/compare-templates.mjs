#!/usr/bin/env node
// Compares two syntheses of the same app, stack by stack: which resources were added, removed or
// changed (with the path of every changed value), and any change outside Resources (Outputs,
// Parameters, Conditions, Rules, Mappings). Asset hashes (S3 keys of bundles, image tags, asset
// paths) are normalized: they change with any byte of a bundle, not with what is deployed.
// Usage: node scripts/compare-templates.mjs <before> <after>
//   <before>, <after>: directories holding `<stack>.template.json` files (a cdk.out directory).
// Exit code 0: same templates; 1: differences (listed); 2: usage.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [before, after] = process.argv.slice(2);
if (!before || !after) {
  console.error('usage: compare-templates.mjs <before-dir> <after-dir>');
  process.exit(2);
}

const ASSET_HASH = /[0-9a-f]{64}/g;

/** Every asset hash becomes `<asset>`. */
function normalize(value) {
  if (typeof value === 'string') return value.replace(ASSET_HASH, '<asset>');
  if (Array.isArray(value)) return value.map(normalize);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

function templates(dir) {
  return new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => [f.replace(/\.template\.json$/, ''), JSON.parse(readFileSync(path.join(dir, f), 'utf8'))]),
  );
}

/** Paths (`Properties.Policies[0].Statement[2]`) at which `a` and `b` differ. */
function differences(a, b, at = '') {
  if (a === b) return [];
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') {
    return [{ at: at || '(value)', before: a, after: b }];
  }
  if (Array.isArray(a) !== Array.isArray(b)) return [{ at, before: a, after: b }];
  const out = [];
  if (Array.isArray(a)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++)
      out.push(...differences(a[i], b[i], `${at}[${i}]`));
    return out;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    out.push(...differences(a[key], b[key], at ? `${at}.${key}` : key));
  }
  return out;
}

const show = (v) => (v === undefined ? '(absent)' : JSON.stringify(v).slice(0, 300));

const left = templates(before);
const right = templates(after);
let changed = 0;
for (const stack of [...new Set([...left.keys(), ...right.keys()])].sort()) {
  const a = left.get(stack);
  const b = right.get(stack);
  if (!a || !b) {
    console.log(`${stack}: stack ${a ? 'removed' : 'added'}`);
    changed += 1;
    continue;
  }
  const ra = normalize(a.Resources ?? {});
  const rb = normalize(b.Resources ?? {});
  const lines = [];
  for (const id of Object.keys(ra)
    .filter((id) => !(id in rb))
    .sort()) {
    lines.push(`  removed ${id} (${ra[id].Type}) ${ra[id].Metadata?.['aws:cdk:path'] ?? ''}`);
  }
  for (const id of Object.keys(rb)
    .filter((id) => !(id in ra))
    .sort()) {
    lines.push(`  added   ${id} (${rb[id].Type}) ${rb[id].Metadata?.['aws:cdk:path'] ?? ''}`);
  }
  for (const id of Object.keys(ra)
    .filter((id) => id in rb)
    .sort()) {
    const diffs = differences(ra[id], rb[id]);
    if (diffs.length === 0) continue;
    lines.push(`  changed ${id} (${ra[id].Type})`);
    for (const d of diffs) lines.push(`    ${d.at}: ${show(d.before)} -> ${show(d.after)}`);
  }
  for (const section of ['Parameters', 'Conditions', 'Mappings', 'Outputs', 'Rules', 'Description']) {
    for (const d of differences(normalize(a[section]), normalize(b[section]), section)) {
      lines.push(`  ${d.at}: ${show(d.before)} -> ${show(d.after)}`);
    }
  }
  const count = Object.keys(rb).length;
  console.log(
    `${stack}: ${lines.length === 0 ? `same (${count} resources)` : `DIFFERENT (${count} resources)`}`,
  );
  for (const line of lines) console.log(line);
  if (lines.length > 0) changed += 1;
}
process.exit(changed === 0 ? 0 : 1);
