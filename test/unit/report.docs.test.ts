import { describe, expect, it } from 'vitest';
import { reportHelp, reportOptions } from '../../bin/cli/commands/report.ts';
import { readDoc, shownCommands } from '../support/docs.ts';

/** The report docs show commands and options: each one is one the CLI accepts. */

const DOCS = ['README.md', 'docs/report.md'].map(readDoc);

describe('lifeboat report in the docs', () => {
  it('every command shown is accepted as written', () => {
    const shown = DOCS.flatMap((d) =>
      shownCommands(d.text, 'report').map((argv) => ({ file: d.file, argv })),
    );
    expect(shown.length).toBeGreaterThanOrEqual(5);
    for (const { file, argv } of shown)
      expect(() => reportOptions(argv), `${file}: ${argv.join(' ')}`).not.toThrow();
  });

  it('every option the docs name is one the command has', () => {
    for (const { file, text } of DOCS) {
      const mentions = [...text.matchAll(/lifeboat report[^|\n]*/g)].flatMap(
        (m) => m[0].match(/--[a-z0-9-]+/g) ?? [],
      );
      const table =
        file === 'docs/report.md' ? [...text.matchAll(/^\| `(--[a-z0-9-]+)/gm)].map((m) => m[1]!) : [];
      for (const option of new Set([...mentions, ...table]))
        expect(reportHelp, `${file}: ${option}`).toContain(option);
    }
  });
});
