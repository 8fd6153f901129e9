/**
 * Tag keys lifeboat puts on AWS resources. IAM conditions (lib/) and the code that tags
 * (state-machines/, functions/) read them from here, so a condition can never name a tag nobody sets.
 */
export const TAG = {
  /**
   * What a workflow creates carries `lifeboat:workflow=<workflow>` (its value: WORKFLOW_TAG_VALUE);
   * the workflow may create only with it and delete only what carries it.
   */
  workflow: 'lifeboat:workflow',
  /** The execution that created a resource (a workflow's creates; a restored database's comment). */
  createdBy: 'lifeboat:created-by',
  /** The environment a stack's resources and a snapshot belong to. */
  environment: 'lifeboat:environment',
  /** A snapshot's retention policy; on a database, the policy discovery applies to it. */
  policy: 'lifeboat:policy',
  /** A snapshot's schedule slot (2026-11-23T09:15:00Z). */
  slot: 'lifeboat:slot',
  /** A snapshot's catalog name; on a database, the catalog name discovery gives it. */
  database: 'lifeboat:database',
} as const;

/** Values of the `lifeboat:workflow` tag: the workflows that create RDS resources. */
export const WORKFLOW_TAG_VALUE = {
  restore: 'restore',
  restoreTest: 'restore-test',
  failback: 'failback',
} as const;
export type WorkflowTagValue = (typeof WORKFLOW_TAG_VALUE)[keyof typeof WORKFLOW_TAG_VALUE];
