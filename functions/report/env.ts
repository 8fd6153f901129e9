/** Environment variables the report function reads (the CDK construct imports these names). */
export const ENV = {
  /** The primary region's backup bucket: its catalog is read, the reports are written under reports/. */
  bucket: 'LIFEBOAT_BUCKET',
  /** The DR region's backup bucket (the replica): its catalog is read too. */
  drBucket: 'LIFEBOAT_DR_BUCKET',
  /**
   * JSON: `{ environment, primaryRegion, drRegion, periodDays, linkExpiryDays, targets, retention,
   * databases }` (see ScheduledReportSettings in functions/core/report/report-publish.ts).
   */
  settings: 'LIFEBOAT_REPORT_SETTINGS',
  /**
   * Optional: ARN of the secret holding the access key the link is signed with (a user allowed only
   * to read reports/*), so that it lasts its days; without it the function's role signs.
   */
  linkSigner: 'LIFEBOAT_REPORT_LINK_SIGNER_SECRET_ARN',
} as const;
