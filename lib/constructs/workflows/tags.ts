/**
 * Tag `lifeboat:workflow` marks what a workflow creates (state-machines/rds-steps.ts and
 * wf-create-replica tag every create): deletions are allowed only on resources carrying it.
 */
export const WORKFLOW_TAG = 'lifeboat:workflow';
