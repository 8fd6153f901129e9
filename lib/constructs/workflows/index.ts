/**
 * The deployed workflows (flows 3, 5, 6): the state machines of state-machines/ with their task
 * functions (functions/wf-*), one role each with exactly what its handler calls. One module per
 * workflow (restore, restore-test, failover, failback, alarm-start), composed per region by
 * RestoreWorkflows and FailoverWorkflows; RDS grants through rds-grants.ts.
 */
export type { RegionRole, WorkflowsBaseProps } from './common.ts';
export { FailoverWorkflows, type FailoverWorkflowsProps } from './failover-workflows.ts';
export { RestoreWorkflows, type RestoreWorkflowsProps } from './restore-workflows.ts';
export { grantSecrets } from './secrets.ts';
export { addVerificationSchedules, type VerificationSchedulesProps } from './verification-schedules.ts';
