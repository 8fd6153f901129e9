/**
 * The commands that start and follow deployed workflows, one module each under aws/: failover,
 * restore --env, approve/abort (the approval gate), executions, failback; aws/shared.ts has the
 * clients and the start-and-follow path they share.
 */
export { executionArnOf } from '../aws/workflows.ts';
export * from './aws/executions.ts';
export * from './aws/failback.ts';
export * from './aws/failover.ts';
export * from './aws/gate.ts';
export * from './aws/restore.ts';
export { type AwsClients, defaultClients, regionOf } from './aws/shared.ts';
