import { COMMON_ENV } from '#core/contracts/function-env.ts';

/** Environment variables the prune function reads (the CDK stack imports these names). */
export const ENV = {
  /** The environment's name: only snapshots tagged lifeboat:environment=<it> are considered. */
  environment: COMMON_ENV.environment,
  /** The backup bucket: the catalog (dumps, verification records) and the dump artifacts. */
  bucket: 'LIFEBOAT_BUCKET',
  /**
   * JSON, per database (the logical name used in the catalog and the lifeboat:database tag):
   * `{ "orders": { "daily": 7, "weekly": 4, "monthly": 12, "yearly": 3, "minVerified": 2,
   *   "maxDeletionsPerRun": 20, "timeZone": "Europe/Paris" } }` (timeZone optional, default UTC).
   */
  policies: 'LIFEBOAT_POLICIES',
  /**
   * Optional JSON, the same retention per policy name: applies to databases found by discovery
   * (tagged lifeboat:policy=<name>), whose snapshots carry the policy in their tags.
   */
  policiesByName: 'LIFEBOAT_POLICIES_BY_NAME',
  /** The DR region whose snapshot copies are pruned too (scope `snapshots-and-dumps`). */
  drRegion: 'LIFEBOAT_DR_REGION',
  /**
   * `snapshots-and-dumps` (the primary region: snapshots of both regions and the bucket's dumps) or
   * `dumps` (the DR region: its own bucket's dumps only). @default snapshots-and-dumps
   */
  scope: 'LIFEBOAT_PRUNE_SCOPE',
  /** Deletions across all databases in one run. @default 200 */
  maxDeletionsPerRun: 'LIFEBOAT_MAX_DELETIONS_PER_RUN',
  /** Deletions across all databases in any 24 hours (from the catalog's deleted records). @default 200 */
  maxDeletionsPerDay: 'LIFEBOAT_MAX_DELETIONS_PER_DAY',
} as const;
