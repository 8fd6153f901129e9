import { parseArgs } from 'node:util';
import { InvalidArgument } from '#core/shared/errors.ts';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

/**
 * Strict argument parsing: an unknown option or a missing value says what was expected, with
 * the command's usage line.
 */
export function parse(usage: string, argv: string[], options: OptionSpec, maxPositionals = 0): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true }) as Parsed;
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new InvalidArgument(`${message}\nusage: ${usage}`);
  }
  if (parsed.positionals.length > maxPositionals) {
    throw new InvalidArgument(`unexpected argument "${parsed.positionals[maxPositionals]}"\nusage: ${usage}`);
  }
  return parsed;
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(p: Parsed, name: string, usage: string, envName?: string): string {
  const v = str(p, name) ?? (envName ? process.env[envName] : undefined);
  if (v === undefined || v === '') {
    throw new InvalidArgument(
      `--${name} is required${envName ? ` (or set ${envName})` : ''}\nusage: ${usage}`,
    );
  }
  return v;
}

export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function positiveInt(p: Parsed, name: string, fallback: number): number {
  const v = str(p, name);
  if (v === undefined) return fallback;
  if (!/^[1-9][0-9]*$/.test(v)) throw new InvalidArgument(`--${name} expects a positive integer, got "${v}"`);
  return Number(v);
}

/**
 * A command's command line: its usage line, its options and how many positionals it takes. Commands
 * parse with it, and the docs test checks every documented command against it without running it.
 */
export interface Syntax {
  readonly usage: string;
  readonly options: OptionSpec;
  readonly positionals: number;
}
