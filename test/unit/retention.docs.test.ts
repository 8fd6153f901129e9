import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pruneHelp, pruneOptions } from '../../bin/cli/commands/prune.ts';

/** The retention docs show commands and options: each one is one the CLI accepts. */

const DOCS = ['README.md', 'docs/retention.md', 'docs/runbook.md'].map((file) => ({
  file,
  text: readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'),
}));

/** `lifeboat prune ...` lines of code blocks (with or without `npx` or a `$ ` prompt). */
function commands(text: string): string[][] {
  const lines: string[] = [];
  let inBlock = false;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('```')) inBlock = !inBlock;
    else if (inBlock) lines.push(line);
  }
  return lines
    .map((line) => /^(?:\$ )?(?:npx )?lifeboat prune (.*)$/.exec(line.trim())?.[1])
    .filter((rest): rest is string => rest !== undefined)
    .map((rest) => rest.split(/\s+/));
}

describe('lifeboat prune in the docs', () => {
  it('every command shown is accepted as written', () => {
    const shown = DOCS.flatMap((d) => commands(d.text).map((argv) => ({ file: d.file, argv })));
    expect(shown.length).toBeGreaterThanOrEqual(4);
    for (const { file, argv } of shown)
      expect(() => pruneOptions(argv), `${file}: ${argv.join(' ')}`).not.toThrow();
  });

  it('every option named in the README and in docs/retention.md is one the command has', () => {
    for (const { file, text } of DOCS.slice(0, 2)) {
      const mentions = [...text.matchAll(/lifeboat prune[^|`\n]*/g)].flatMap(
        (m) => m[0].match(/--[a-z0-9-]+/g) ?? [],
      );
      for (const option of new Set(mentions)) expect(pruneHelp, `${file}: ${option}`).toContain(option);
    }
  });
});
