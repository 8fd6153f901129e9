import { InvalidArgument } from '#core/shared/errors.ts';
import { parse, type Syntax } from './args.ts';
import {
  executionsSyntax,
  failbackSyntax,
  failoverSyntax,
  gateSyntax,
  restoreAwsSyntax,
} from './commands/aws.ts';
import { backupSyntax } from './commands/backup.ts';
import { backupEnvSyntax, isEnvInvocation, verifyEnvSyntax } from './commands/deployed.ts';
import { doctorSyntax } from './commands/doctor.ts';
import { drillSyntax } from './commands/drill.ts';
import { listSyntax } from './commands/list.ts';
import { pruneSyntax } from './commands/prune.ts';
import { reportSyntax } from './commands/report.ts';
import { restoreSyntax } from './commands/restore.ts';
import { statusSyntax } from './commands/status.ts';
import { verifySyntax } from './commands/verify.ts';

/**
 * Every command line the CLI accepts, checked without running anything: the command exists, every
 * option is one it has with a value of the right kind, the required options are there, and values
 * the usage line enumerates (`--region primary|dr`) are among them. The docs test holds every
 * `lifeboat …` command of the README and docs/ against it.
 */

interface Variant {
  readonly syntax: Syntax;
  /** Applies to these arguments (the first variant that applies is used). */
  readonly when?: (argv: readonly string[]) => boolean;
}

export const SYNTAX: Readonly<Record<string, readonly Variant[]>> = {
  drill: [{ syntax: drillSyntax }],
  backup: [{ syntax: backupEnvSyntax, when: isEnvInvocation }, { syntax: backupSyntax }],
  list: [{ syntax: listSyntax }],
  verify: [{ syntax: verifyEnvSyntax, when: isEnvInvocation }, { syntax: verifySyntax }],
  restore: [{ syntax: restoreAwsSyntax, when: isEnvInvocation }, { syntax: restoreSyntax }],
  prune: [{ syntax: pruneSyntax }],
  status: [{ syntax: statusSyntax }],
  report: [{ syntax: reportSyntax }],
  failover: [{ syntax: failoverSyntax }],
  failback: [{ syntax: failbackSyntax }],
  approve: [{ syntax: gateSyntax('approve') }],
  abort: [{ syntax: gateSyntax('abort') }],
  executions: [{ syntax: executionsSyntax }],
  doctor: [{ syntax: doctorSyntax }],
};

/** The usage line without its optional parts (`[...]`, nested too). */
function withoutOptional(usage: string): string {
  let s = usage;
  for (let previous = ''; previous !== s;) {
    previous = s;
    s = s.replace(/\[[^[\]]*\](\.\.\.)?/g, '');
  }
  return s;
}

/** Groups of options of which one group must be given in full (`--repo URL | --env NAME`: two groups). */
export function requiredOptions(usage: string): string[][] {
  const rest = withoutOptional(usage).replace(/^lifeboat \S+/, '');
  return rest.split(/ \| /).map((part) => [...part.matchAll(/--([a-z0-9-]+)/g)].map((m) => m[1]!));
}

/** Values a usage line enumerates for an option: `--mode planned|unplanned`. */
export function enumeratedValues(usage: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of usage.matchAll(/--([a-z0-9-]+) ([A-Za-z][\w-]*(?:\|[A-Za-z][\w-]*)+)(?=[\s\]]|$)/g))
    out.set(m[1]!, m[2]!.split('|'));
  return out;
}

/** Checks `argv` (without the leading `lifeboat`) as the CLI would; throws InvalidArgument. */
export function checkCommandLine(argv: readonly string[]): void {
  const [name, ...rest] = argv;
  const variants = name === undefined || !Object.hasOwn(SYNTAX, name) ? undefined : SYNTAX[name];
  if (!variants) {
    throw new InvalidArgument(
      `unknown command "${name ?? ''}"; expected one of: ${Object.keys(SYNTAX).join(', ')}`,
    );
  }
  if (rest.includes('--help') || rest.includes('-h')) return;
  const { syntax } = variants.find((v) => !v.when || v.when(rest))!;
  const p = parse(syntax.usage, [...rest], syntax.options, syntax.positionals);
  const given = (option: string) => p.values[option] !== undefined;
  const groups = requiredOptions(syntax.usage);
  if (!groups.some((group) => group.every(given))) {
    const missing = groups
      .map((g) =>
        g
          .filter((o) => !given(o))
          .map((o) => `--${o}`)
          .join(' '),
      )
      .join(' or ');
    throw new InvalidArgument(`missing ${missing}\nusage: ${syntax.usage}`);
  }
  for (const [option, values] of enumeratedValues(syntax.usage)) {
    const v = p.values[option];
    if (typeof v === 'string' && !values.includes(v))
      throw new InvalidArgument(
        `--${option} expects ${values.join(', ')}, got "${v}"\nusage: ${syntax.usage}`,
      );
  }
}
