import { type CheckResult } from '#core/catalog/catalog.ts';
import { InvalidArgument } from '#core/shared/errors.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { ARCHIVE_USAGE, archiveHelp, archiveOptions, archivePreflight } from '../../archived.ts';
import { bool, parse, required, str, type Syntax } from '../../args.ts';
import { checkLine } from '../../checklist.ts';
import { databaseOf, resolveEnvironment, verifyTargetParameter } from '../../env.ts';
import { duration } from '../../format.ts';
import {
  type DeployedClients,
  defaultDeployedClients,
  followWorkflow,
  invoke,
  isStateMachine,
  requireDumps,
  targetArn,
} from './shared.ts';

/** `lifeboat verify --env`: the deployed verification of a dump (its function or Fargate workflow), followed. */

function elapsed(out: NodeJS.WritableStream, what: string) {
  return (ms: number) => out.write(`  … ${what} still running (${duration(ms)})\n`);
}

const VERIFY_USAGE = `lifeboat verify --env NAME --database NAME [ID|latest] ${ARCHIVE_USAGE} [--json]`;

export const verifyEnvHelp = `Verifies a logical dump of a deployed environment now: starts the deployed verification (the
verify-backup function, or the Fargate verification workflow of a large database, which verifies
the newest dump) in the primary region, follows it, and prints each check. The outcome is
recorded in the catalog as a scheduled verification is. For a dump in an archive tier, first
--request-restore (with your credentials, on the primary region's bucket).

usage: ${VERIFY_USAGE}

${archiveHelp}

exit status: 0 all checks passed, 1 a check failed, 2 an error prevented checking`;

export const verifyEnvSyntax = {
  usage: VERIFY_USAGE,
  options: {
    env: { type: 'string' },
    database: { type: 'string' },
    json: { type: 'boolean' },
    ...archiveOptions,
  },
  positionals: 1,
} satisfies Syntax;

export async function verifyEnvCommand(
  argv: string[],
  clients: DeployedClients = defaultDeployedClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(VERIFY_USAGE, argv, verifyEnvSyntax.options, 1);
  const env = resolveEnvironment(required(p, 'env', VERIFY_USAGE));
  const db = databaseOf(env, required(p, 'database', VERIFY_USAGE));
  requireDumps(env, db);
  const ref = p.positionals[0] ?? 'latest';
  if (ref !== 'latest' && !/^[0-9]{8}T[0-9]{6}Z-[0-9a-z-]{1,64}$/.test(ref)) {
    throw new InvalidArgument(
      `expected a backup id such as 20261122T020000Z-ab12cd, or latest; got "${ref}"`,
    );
  }
  const json = bool(p, 'json');
  const region = env.regions.primary;
  if (bool(p, 'request-restore') || str(p, 'tier') || str(p, 'days')) {
    const repository = new S3Repository({
      client: clients.s3(region),
      bucket: env.buckets.primary,
      prefix: '',
    });
    const archived = await archivePreflight(
      p,
      repository,
      { ref, database: db.name },
      { name: 'verify', argv },
      out,
    );
    if (archived !== null) return archived;
  }
  const arn = await targetArn(
    clients.ssm(region),
    verifyTargetParameter(env, db.name),
    env,
    `verification of "${db.name}"`,
  );
  if (isStateMachine(arn)) {
    if (ref !== 'latest') {
      throw new InvalidArgument(
        `"${db.name}" is verified as a Fargate task, which verifies the newest dump only: pass latest, or verify ${ref} locally with lifeboat verify ${ref} --repo s3://${env.buckets.primary} --database ${db.name}`,
      );
    }
    const result = await followWorkflow(clients, region, arn, `verify-${db.name}`, json, out);
    const ok = result.status === 'SUCCEEDED';
    if (json) out.write(`${JSON.stringify({ database: db.name, region, ...result }, null, 2)}\n`);
    else
      out.write(
        ok
          ? `verified: the newest dump of "${db.name}" (lifeboat list --env ${env.name} --database ${db.name})\n`
          : `verification of "${db.name}" ${result.status}: ${result.error ?? ''} ${result.cause ?? ''}\n`,
      );
    // The task exits 1 when a check failed and 2 when it could not check; both fail the workflow.
    return ok ? 0 : 1;
  }
  if (!json) out.write(`verifying ${ref} of "${db.name}" with ${arn.split(':')[6]} in ${region}\n`);
  const outcome = await invoke(
    clients.lambda(region),
    arn,
    { database: db.name, backupId: ref },
    json ? null : elapsed(out, 'verification'),
    clients.tickMs ?? 30_000,
  );
  if (json) {
    out.write(`${JSON.stringify({ database: db.name, region, ...outcome }, null, 2)}\n`);
    return outcome.ok ? ((outcome.result as { passed?: boolean }).passed ? 0 : 1) : 2;
  }
  if (!outcome.ok) {
    out.write(`could not verify ${ref} of "${db.name}": ${outcome.error}\n`);
    return 2;
  }
  const r = outcome.result as {
    backupId: string;
    passed: boolean;
    checks: CheckResult[];
    totalDurationMs: number;
  };
  for (const c of r.checks) out.write(`${checkLine(c)}\n`);
  const failed = r.checks.filter((c) => !c.passed).length;
  out.write(
    r.passed
      ? `verified: backup ${r.backupId} of "${db.name}" — all ${r.checks.length} checks passed in ${duration(r.totalDurationMs)}\n`
      : `FAILED: backup ${r.backupId} of "${db.name}" — ${failed} of ${r.checks.length} checks failed\n`,
  );
  return r.passed ? 0 : 1;
}
