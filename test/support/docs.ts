import { readFileSync } from 'node:fs';

/** A documentation file of the project, by path from its root. */
export function readDoc(file: string): { file: string; text: string } {
  return { file, text: readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8') };
}

/**
 * The arguments of every `lifeboat <command> ...` line in the code blocks of `text` (with or without
 * `npx` or a `$ ` prompt), split on white space.
 */
export function shownCommands(text: string, command: string): string[][] {
  const lines: string[] = [];
  let inBlock = false;
  for (const line of text.split('\n')) {
    if (line.trimStart().startsWith('```')) inBlock = !inBlock;
    else if (inBlock) lines.push(line);
  }
  const pattern = new RegExp(`^(?:\\$ )?(?:npx )?lifeboat ${command} (.*)$`);
  return lines
    .map((line) => pattern.exec(line.trim())?.[1])
    .filter((rest): rest is string => rest !== undefined)
    .map((rest) => rest.split(/\s+/));
}
