import type { z } from 'zod';
import { ConfigError } from '#core/shared/errors.ts';
import { ENVIRONMENT_NAME, ENVIRONMENT_NAME_RULE, environmentNameTooLong } from '../naming.ts';
import { ENVIRONMENTS } from './environments.ts';
import { type EnvironmentConfig, type EnvironmentConfigInput, EnvironmentConfigSchema } from './schema.ts';

/** `databases[0].secretArn` from zod's `['databases', 0, 'secretArn']`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .flatMap((issue) =>
      // One line per misspelt key, each with its own path, reads better than zod's summary.
      issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `${formatPath([...issue.path, key])}: unknown key`)
        : [`${formatPath(issue.path)}: ${issue.message}`],
    )
    .join('; ');
}

/**
 * The validated configuration of environment `name`. Throws ConfigError naming the environment
 * (and, for an invalid configuration, every offending field) so that synthesis stops with one
 * line a person can act on.
 */
export function loadEnvironmentConfig(
  name: string | undefined,
  environments: Readonly<Record<string, EnvironmentConfigInput>> = ENVIRONMENTS,
): EnvironmentConfig {
  const known = Object.keys(environments).sort().join(', ');
  if (name === undefined || name === '') {
    throw new ConfigError(`no environment given: pass -c env=<name>; known environments: ${known}`);
  }
  if (!Object.hasOwn(environments, name)) {
    throw new ConfigError(`unknown environment "${name}"; known environments: ${known}`);
  }
  if (!ENVIRONMENT_NAME.test(name))
    throw new ConfigError(`environment "${name}": name: ${ENVIRONMENT_NAME_RULE}`);
  const parsed = EnvironmentConfigSchema.safeParse(environments[name]);
  if (!parsed.success) {
    throw new ConfigError(`config for environment "${name}": ${describeIssues(parsed.error.issues)}`);
  }
  const config = parsed.data;
  // Bucket, table, alarm ... names embed the environment's name: they must fit AWS's limits.
  const tooLong = environmentNameTooLong(name, {
    account: config.account,
    regions: [config.primaryRegion, config.drRegion],
    databases: config.databases.map((db) => db.name),
  });
  if (tooLong) throw new ConfigError(`environment "${name}": name: ${tooLong}`);
  return config;
}
