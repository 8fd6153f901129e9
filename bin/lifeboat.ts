import { LifeboatError } from '#core/shared/errors.ts';

type Loaded = { run: (argv: string[]) => Promise<number>; help: string };
/**
 * Commands load on use: `lifeboat list` need not import the CDK, the drill or the AWS SDK clients.
 * `load` gets the command's arguments, so a command with a local and a deployed form imports only
 * the form it runs (see `dual`).
 */
type Command = { summary: string; load: (argv: readonly string[]) => Promise<Loaded> };

type Form = { run: (argv: string[]) => Promise<number>; help: string };

const wantsHelp = (argv: readonly string[]) => argv.includes('--help') || argv.includes('-h');
const isEnvInvocation = (argv: readonly string[]) =>
  argv.some((a) => a === '--env' || a.startsWith('--env='));

/**
 * A command with a local form and a deployed form (`--env`): only the form in use is imported
 * (the deployed forms load the AWS SDK's clients, which took `lifeboat backup` about a second to
 * import before its dump could start); `--help` loads both, to describe both.
 */
function dual(
  summary: string,
  local: () => Promise<Form>,
  deployed: () => Promise<Form>,
  isDeployed: (argv: readonly string[]) => boolean = isEnvInvocation,
): Command {
  return {
    summary,
    load: async (argv) => {
      if (wantsHelp(argv)) {
        const [l, d] = await Promise.all([local(), deployed()]);
        return { run: l.run, help: `${l.help}\n\n--- on AWS ---\n\n${d.help}` };
      }
      const form = isDeployed(argv) ? await deployed() : await local();
      return { run: form.run, help: form.help };
    },
  };
}

const commands: Record<string, Command> = {
  drill: {
    summary: 'run a local backup → verify → restore → failover drill',
    load: async () => {
      const m = await import('./cli/commands/drill.ts');
      return { run: m.drillCommand, help: m.drillHelp };
    },
  },
  backup: dual(
    'take a logical backup into a repository, or a deployed dump or snapshot now (--env)',
    async () => {
      const m = await import('./cli/commands/backup.ts');
      return { run: m.backupCommand, help: m.backupHelp };
    },
    async () => {
      const m = await import('./cli/commands/deployed.ts');
      return { run: m.backupEnvCommand, help: m.backupEnvHelp };
    },
  ),
  list: {
    summary: 'list the catalog of a repository or of a deployed environment (--env)',
    load: async () => {
      const m = await import('./cli/commands/list.ts');
      return { run: m.listCommand, help: m.listHelp };
    },
  },
  verify: dual(
    'prove a backup restores and equals its source (--env: the deployed verification)',
    async () => {
      const m = await import('./cli/commands/verify.ts');
      return { run: m.verifyCommand, help: m.verifyHelp };
    },
    async () => {
      const m = await import('./cli/commands/deployed.ts');
      return { run: m.verifyEnvCommand, help: m.verifyEnvHelp };
    },
  ),
  restore: dual(
    'restore a backup into a database (--repo), or run the restore workflow (--env)',
    async () => {
      const m = await import('./cli/commands/restore.ts');
      return { run: m.restoreCommand, help: m.restoreHelp };
    },
    async () => {
      const m = await import('./cli/commands/aws.ts');
      return { run: m.restoreAwsCommand, help: m.restoreAwsHelp };
    },
  ),
  prune: {
    summary: 'apply a retention policy to the dumps of a repository (--dry-run lists)',
    load: async () => {
      const m = await import('./cli/commands/prune.ts');
      return { run: m.pruneCommand, help: m.pruneHelp };
    },
  },
  status: {
    summary: 'each database against its backup and RPO targets',
    load: async () => {
      const m = await import('./cli/commands/status.ts');
      return { run: m.statusCommand, help: m.statusHelp };
    },
  },
  report: {
    summary: 'DR evidence report (html, md, json): backups, verifications, restore tests, failovers, gaps',
    load: async () => {
      const m = await import('./cli/commands/report.ts');
      return { run: (argv) => m.reportCommand(argv), help: m.reportHelp };
    },
  },
  failover: {
    summary: 'AWS: start the failover workflow of an environment and follow it',
    load: async () => {
      const m = await import('./cli/commands/aws.ts');
      return { run: (argv) => m.failoverCommand(argv), help: m.failoverHelp };
    },
  },
  failback: {
    summary: 'AWS: re-protect a database after a failover (a new replica in the recovered region)',
    load: async () => {
      const m = await import('./cli/commands/aws.ts');
      return { run: (argv) => m.failbackCommand(argv), help: m.failbackHelp };
    },
  },
  approve: {
    summary: 'AWS: approve a failover waiting at its approval gate',
    load: async () => {
      const m = await import('./cli/commands/aws.ts');
      return { run: (argv) => m.gateCommand('approve', argv), help: m.approveHelp };
    },
  },
  abort: {
    summary: 'AWS: abort a failover waiting at its approval gate',
    load: async () => {
      const m = await import('./cli/commands/aws.ts');
      return { run: (argv) => m.gateCommand('abort', argv), help: m.abortHelp };
    },
  },
  doctor: {
    summary: 'AWS: what would fail during an incident (IAM simulated, workflows validated, config described)',
    load: async () => {
      const m = await import('./cli/commands/doctor.ts');
      return { run: (argv) => m.doctorCommand(argv), help: m.doctorHelp };
    },
  },
  executions: {
    summary: "AWS: recent executions of an environment's workflows",
    load: async () => {
      const m = await import('./cli/commands/aws.ts');
      return { run: (argv) => m.executionsCommand(argv), help: m.executionsHelp };
    },
  },
};

/** The command names, as `lifeboat --help` lists them. */
export const COMMAND_NAMES: readonly string[] = Object.keys(commands);

function overview(): string {
  const names = Object.keys(commands);
  const width = Math.max(...names.map((n) => n.length));
  return [
    'lifeboat — backup, verification and disaster recovery for PostgreSQL',
    '',
    'usage: lifeboat <command> [options]   (lifeboat <command> --help for its options)',
    '',
    ...names.map((n) => `  ${n.padEnd(width)}  ${commands[n]!.summary}`),
  ].join('\n');
}

/** Runs the CLI; returns the exit code (0 ok, 1 a check failed, 2 could not do the job). */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${overview()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(
      `lifeboat: unknown command "${name}"; expected one of: ${Object.keys(commands).join(', ')}\n`,
    );
    return 2;
  }
  const loaded = await command.load(rest);
  if (wantsHelp(rest)) {
    process.stdout.write(`${loaded.help}\n`);
    return 0;
  }
  try {
    return await loaded.run(rest);
  } catch (err) {
    if (err instanceof LifeboatError) {
      process.stderr.write(`lifeboat ${name}: ${err.message}\n`);
      if (process.env.LIFEBOAT_DEBUG) process.stderr.write(`${err.stack}\n`);
      return err.exitCode;
    }
    process.stderr.write(`lifeboat ${name}: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 2;
  }
}
