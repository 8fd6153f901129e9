import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { drillHelp, parseDrillArgs } from '../../bin/cli/commands/drill.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';

const DOCS = ['README.md', 'docs/runbook.md', 'docs/workflows.md'];

/** Every `lifeboat drill ...` the docs show, in code blocks and inline code, with its arguments. */
function drillCommands(): { file: string; argv: string[] }[] {
  return DOCS.flatMap((file) => {
    const text = readFileSync(path.join(PROJECT_ROOT, file), 'utf8');
    return [...text.matchAll(/(?:^|[`\s])(?:npx )?lifeboat drill((?: (?:\\\||[^`|\n#])*)?)/gm)].map((m) => ({
      file,
      argv: m[1]!.trim().split(/\s+/).filter(Boolean),
    }));
  });
}

describe('lifeboat drill in the docs', () => {
  it('every drill command the docs show is one the CLI accepts', () => {
    const commands = drillCommands();
    expect(commands.some((c) => c.argv.includes('primary-lost'))).toBe(true);
    for (const { file, argv } of commands) {
      // Usage lines show alternatives (`planned|primary-lost`) and placeholders (`SECONDS`): take
      // each alternative in turn, and the example value of a placeholder.
      const concrete = argv
        .map((a) => a.replace(/\\\|/g, '|').replace(/[[\]]/g, ''))
        .map((a) => (a === 'SECONDS' ? '2' : a === 'URL' ? 'file:///tmp/x' : a === 'N' ? '100' : a));
      const alternatives = concrete.flatMap((a) => (a.includes('|') ? [a.split('|')] : []));
      const variants = alternatives.length
        ? alternatives[0]!.map((alt) => concrete.map((a) => (a.includes('|') ? alt : a)))
        : [concrete];
      for (const variant of variants) {
        expect(() => parseDrillArgs(variant), `${file}: lifeboat drill ${variant.join(' ')}`).not.toThrow();
      }
    }
  });

  it('refuses what the help says it refuses, naming the option', () => {
    expect(() => parseDrillArgs(['--scenario', 'unplanned'])).toThrow(
      /--scenario expects planned or primary-lost/,
    );
    expect(() => parseDrillArgs(['--lag=-1'])).toThrow(/--lag expects seconds from 0 to 60/);
    expect(() => parseDrillArgs(['--lag', '61'])).toThrow(/--lag expects seconds from 0 to 60, got "61"/);
    expect(() => parseDrillArgs(['--mode', 'unplanned'])).toThrow(/usage: lifeboat drill/);
    expect(parseDrillArgs(['--scenario', 'primary-lost', '--lag', '0.5'])).toMatchObject({
      scenario: 'primary-lost',
      lagSeconds: 0.5,
    });
    expect(drillHelp).toContain('--scenario S');
  });
});
