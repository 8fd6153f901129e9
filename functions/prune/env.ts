/** Environment variables the prune function reads (the CDK stack imports these names). */
export const ENV = {
  /** The environment's name: only snapshots tagged lifeboat:environment=<it> are considered. */
  environment: 'LIFEBOAT_ENVIRONMENT',
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
  /** The DR region whose snapshot copies are pruned too. */
  drRegion: 'LIFEBOAT_DR_REGION',
} as const;
