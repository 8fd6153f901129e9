import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../lib/paths.ts';

/**
 * Every `npm run bench:…` command the docs show is one the benchmark accepts: the script exists,
 * and every option it is given is one the script reads (`option(argv, '…')` / `flag(argv, '…')`).
 * bench:backup's `--only` names variants it has; bench:bundles' names handlers.
 */

const FILES = [
  'README.md',
  'bench/README.md',
  ...readdirSync(path.join(PROJECT_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

const scripts = (
  JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

interface Shown {
  readonly file: string;
  readonly script: string;
  readonly args: string[];
}

/** The bench commands of a Markdown file: in code blocks, and in inline code (which may wrap). */
function benchCommands(file: string): Shown[] {
  const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
  const found: Shown[] = [];
  // `a && b`: two commands, each checked.
  const add = (command: string) => {
    for (const part of command.replace(/#.*$/s, '').split('&&')) {
      const m = /npm run (bench:[\w-]+)(?:\s+--\s+(.*))?/s.exec(part);
      if (m) found.push({ file, script: m[1]!, args: (m[2] ?? '').split(/\s+/).filter(Boolean) });
    }
  };
  const blocks = [...text.matchAll(/```(?:sh|bash)?\n([\s\S]*?)```/g)].map((b) => b[1]!);
  for (const block of blocks) for (const line of block.split('\n')) add(line);
  const prose = text.replace(/```[\s\S]*?```/g, '');
  for (const span of prose.matchAll(/`([^`]*npm run bench:[^`]*)`/g)) add(span[1]!.replace(/\n/g, ' '));
  return found;
}

const shown = FILES.flatMap(benchCommands);

/** The options a bench script reads. */
function optionsOf(source: string): Set<string> {
  return new Set([...source.matchAll(/(?:option|flag)\(argv, '([\w-]+)'\)/g)].map((m) => m[1]!));
}

describe('bench commands in the docs', () => {
  it('finds the commands (this check has something to check)', () => {
    expect(shown.length).toBeGreaterThan(15);
    expect(shown.some((s) => s.args.includes('--cpu-limit'))).toBe(true);
  });

  it.each(shown.map((s) => [`${s.file}: ${s.script} ${s.args.join(' ')}`, s] as const))('%s', (_name, s) => {
    const script = scripts[s.script];
    expect(script, `package.json has no script ${s.script}`).toBeDefined();
    const file = /bench\/[\w-]+\.ts/.exec(script!)?.[0];
    expect(file, `${s.script} runs a bench/*.ts file`).toBeDefined();
    const source = readFileSync(path.join(PROJECT_ROOT, file!), 'utf8');
    const known = optionsOf(source);
    for (let i = 0; i < s.args.length; i++) {
      const arg = s.args[i]!;
      if (!arg.startsWith('--')) continue;
      const name = arg.slice(2).split('=')[0]!;
      expect(known, `${s.script} does not read --${name}`).toContain(name);
      if (name !== 'only') continue;
      const ids = (arg.includes('=') ? arg.split('=')[1]! : s.args[i + 1]!).split(',');
      for (const id of ids) {
        if (s.script === 'bench:backup') {
          expect(source, `bench:backup has no variant ${id}`).toMatch(
            new RegExp(`(?:id: |barePipeline\\()'${id}'`),
          );
        } else if (s.script === 'bench:bundles') {
          expect(existsSync(path.join(PROJECT_ROOT, 'functions', id)), `no handler ${id}`).toBe(true);
        }
      }
    }
  });
});
