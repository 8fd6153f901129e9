// Retention: which backups stay, and the prune that removes the rest.
// The grandfather-father-son policy as a pure function.
export * from './retention.ts';
// The daily prune of snapshots and dumps.
export * from './prune.ts';
