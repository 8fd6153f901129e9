import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../bin/lifeboat.ts';
import { checkCommandLine, enumeratedValues, requiredOptions, SYNTAX } from '../../bin/cli/syntax.ts';

/**
 * Every `lifeboat …` command the README and docs/ show is one the CLI accepts. Commands in code
 * blocks, and inline ones with concrete values, are checked in full (options, values, required
 * options, enumerated values) without running; inline usage lines with placeholders (`NAME`,
 * `[--json]`, `<id|latest>`) have their command names and options checked.
 */

const ROOT = new URL('../../', import.meta.url);
const FILES = [
  'README.md',
  ...readdirSync(new URL('docs/', ROOT))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

interface Shown {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

/** Splits a shell command line into words (quotes and backslash-escapes as a shell reads them). */
export function words(line: string): string[] {
  const out: string[] = [];
  let current = '';
  let quote: '"' | "'" | null = null;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else current += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      started = true;
    } else if (c === '\\' && i + 1 < line.length) {
      current += line[++i];
      started = true;
    } else if (/\s/.test(c)) {
      if (started) out.push(current);
      current = '';
      started = false;
    } else if (c === '#' && !started) {
      break;
    } else {
      current += c;
      started = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in: ${line}`);
  if (started) out.push(current);
  return out;
}

function extract(file: string): { blocks: Shown[]; inline: Shown[] } {
  const text = readFileSync(new URL(file, ROOT), 'utf8');
  const blocks: Shown[] = [];
  const inline: Shown[] = [];
  let inBlock = false;
  let pending: { line: number; text: string } | null = null;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line.startsWith('```')) {
      inBlock = !inBlock;
      return;
    }
    if (inBlock) {
      if (pending) {
        pending.text += ` ${line.replace(/\\$/, '')}`;
        if (!line.endsWith('\\')) {
          blocks.push({ file, ...pending });
          pending = null;
        }
        return;
      }
      const command = /^(?:\$ )?(?:npx )?(lifeboat .*)$/.exec(line)?.[1];
      if (!command) return;
      if (command.endsWith('\\')) pending = { line: i + 1, text: command.replace(/\\$/, '') };
      else blocks.push({ file, line: i + 1, text: command });
      return;
    }
    for (const m of line.matchAll(/`(?:npx )?(lifeboat [^`]+)`/g))
      inline.push({ file, line: i + 1, text: m[1]! });
  });
  return { blocks, inline };
}

const SHOWN = FILES.map(extract);
const BLOCKS = SHOWN.flatMap((s) => s.blocks);
const INLINE = SHOWN.flatMap((s) => s.inline);

/** Usage notation or placeholders: only names and options can be checked. */
const isUsage = (text: string) =>
  /[[<…]|\.\.\.|\\\||\s\|\s|(?:^|\s)[A-Z][A-Z_]*(?=\s|$)|\s--[a-z0-9-]+$/.test(text) ||
  !/\s--/.test(text) ||
  /^lifeboat [a-z]+\|/.test(text);
const FULL = [...BLOCKS, ...INLINE.filter((s) => !isUsage(s.text))];
const NAMES_ONLY = INLINE.filter((s) => isUsage(s.text));

describe('lifeboat commands in README.md and docs/', () => {
  it('the checker knows every command of the CLI, and nothing else', () => {
    expect(Object.keys(SYNTAX).sort()).toEqual([...COMMAND_NAMES].sort());
  });

  it('every command in a code block, and every inline one with concrete values, is accepted as written', () => {
    expect(FULL.length).toBeGreaterThanOrEqual(25);
    const refused: string[] = [];
    for (const s of FULL) {
      try {
        checkCommandLine(words(s.text).slice(1));
      } catch (err) {
        refused.push(`${s.file}:${s.line}: ${s.text}\n    ${(err as Error).message.split('\n')[0]}`);
      }
    }
    expect(refused).toEqual([]);
  });

  it('every command named inline, and every option shown with it, exists', () => {
    expect(NAMES_ONLY.length).toBeGreaterThanOrEqual(15);
    const unknown: string[] = [];
    for (const s of NAMES_ONLY) {
      const names = s.text
        .replace(/^lifeboat /, '')
        .split(/\s--|\s\.\.\.|\s(?=<)|\s(?=\[)/)[0]!
        .split(/\s*\\?\|\s*/)
        .filter((n) => n !== '');
      for (const name of names) {
        const variants = Object.hasOwn(SYNTAX, name) ? SYNTAX[name] : undefined;
        if (!variants) {
          if (name === '<command>') continue; // `lifeboat <command>`: the general form
          unknown.push(`${s.file}:${s.line}: no command "${name}" (${s.text})`);
          continue;
        }
        for (const option of s.text.match(/--[a-z0-9-]+/g) ?? []) {
          if (!variants.some((v) => Object.hasOwn(v.syntax.options, option.slice(2))))
            unknown.push(`${s.file}:${s.line}: lifeboat ${name} has no ${option} (${s.text})`);
        }
      }
    }
    expect(unknown).toEqual([]);
  });
});

describe('the checker refuses what the CLI refuses', () => {
  it.each([
    ['an unknown command', 'lifeboat rollback --env prod --database orders', /unknown command "rollback"/],
    [
      'an unknown option',
      'lifeboat restore --env prod --database orders --source snapshot --latest-verified --target-id x',
      /Unknown option '--latest-verified'/,
    ],
    ['a missing required option', 'lifeboat failover --env prod --database orders', /missing --reason/],
    [
      'a value outside the enumeration',
      'lifeboat list --env prod --region west',
      /--region expects primary, dr/,
    ],
    ['neither alternative', 'lifeboat status --database orders', /missing --repo or --env/],
    ['a surplus positional', 'lifeboat list --env prod orders', /unexpected argument "orders"/],
    ['a string option without its value', 'lifeboat status --env', /argument missing/],
  ])('%s', (_what, line, message) => {
    expect(() => checkCommandLine(words(line).slice(1))).toThrow(message);
  });

  it('reads required options and enumerations from the usage lines', () => {
    expect(requiredOptions('lifeboat list --repo URL | --env NAME [--region primary|dr] [--json]')).toEqual([
      ['repo'],
      ['env'],
    ]);
    expect(requiredOptions('lifeboat x --a A [--b B [--c C]] --d D')).toEqual([['a', 'd']]);
    expect(enumeratedValues('lifeboat x --mode planned|unplanned --repo file:///d|s3://b')).toEqual(
      new Map([['mode', ['planned', 'unplanned']]]),
    );
  });
});
