import * as z from '../shared/zod.ts';
import { ConfigError, errorMessage, InvalidArgument } from '../shared/errors.ts';
import { RetentionPolicy } from './retention.ts';

/** What prune is configured with and invoked with: retention per database, caps, the event. */

/** One database's retention, with the time zone its day/week/month/year boundaries are in. */
export const DatabaseRetention = z.strictObject({
  ...RetentionPolicy.shape,
  /** IANA zone, usually the snapshot schedule's. @default UTC */
  timeZone: z._default(z.string().check(z.minLength(1)), 'UTC'),
});
export type DatabaseRetention = z.infer<typeof DatabaseRetention>;

/** LIFEBOAT_POLICIES: `{ "<database>": { daily, weekly, monthly, yearly, minVerified, maxDeletionsPerRun, timeZone } }`. */
export const RetentionPolicies = z.record(z.string().check(z.minLength(1)), DatabaseRetention);
export type RetentionPolicies = z.infer<typeof RetentionPolicies>;

/**
 * Parses and validates retention policies by name. The result has no prototype, and is only ever
 * read with `policyOf`: a database called `constructor` or `__proto__` is a name like any other.
 */
export function parseRetentionPolicies(json: string, variable: string): RetentionPolicies {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${variable} is not JSON: ${errorMessage(err)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${variable}: (root): expected an object of policies by name`);
  }
  const policies = Object.create(null) as RetentionPolicies;
  const problems: string[] = [];
  for (const [database, value] of Object.entries(raw)) {
    if (database === '') {
      problems.push('(root): a policy name is empty');
      continue;
    }
    const parsed = DatabaseRetention.safeParse(value);
    if (!parsed.success) {
      problems.push(...parsed.error.issues.map((i) => `${[database, ...i.path].join('.')}: ${i.message}`));
      continue;
    }
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: parsed.data.timeZone });
    } catch {
      throw new ConfigError(`${variable}: ${database}.timeZone: unknown time zone "${parsed.data.timeZone}"`);
    }
    Object.defineProperty(policies, database, { value: parsed.data, enumerable: true });
  }
  if (problems.length > 0) throw new ConfigError(`${variable}: ${problems.join('; ')}`);
  return policies;
}

/** The policy of a name, only if it is one of the object's own. */
export function policyOf(policies: RetentionPolicies, name: string): DatabaseRetention | undefined {
  return Object.hasOwn(policies, name) ? policies[name] : undefined;
}

/** Deletions across all databases of one prune. */
export const PruneLimits = z.strictObject({
  maxDeletionsPerRun: z.int().check(z.gte(0), z.lte(100_000)),
  /** Counted over the last 24 hours, from the catalog's `deleted` records. */
  maxDeletionsPerDay: z.int().check(z.gte(0), z.lte(100_000)),
});
export type PruneLimits = z.infer<typeof PruneLimits>;
export const DEFAULT_PRUNE_LIMITS: PruneLimits = { maxDeletionsPerRun: 200, maxDeletionsPerDay: 200 };

export const PruneEvent = z.strictObject({
  /** List what would be deleted and why; delete nothing. @default false */
  dryRun: z._default(z.boolean(), false),
});
export type PruneEvent = z.infer<typeof PruneEvent>;

export function parsePruneEvent(event: unknown): PruneEvent {
  const parsed = PruneEvent.safeParse(event ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`);
    throw new InvalidArgument(`prune event: ${problems.join('; ')}`);
  }
  return parsed.data;
}
