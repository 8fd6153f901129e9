// Retention: which backups stay, and the prune that removes the rest.
// The grandfather-father-son policy as a pure function.
export * from './retention.ts';
// The daily prune of snapshots and dumps: its settings and event, its report, the run itself.
export * from './prune-settings.ts';
export * from './prune-report.ts';
export * from './prune.ts';
// RDS snapshot status as a retention state.
export { retentionState } from './prune-candidates.ts';
