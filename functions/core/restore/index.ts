// Restores: planning a restore or restore test, owning its target, restoring a dump.
// Restore requests, routes and restore points.
export * from './restore-plan.ts';
// The database a restore creates, marked as this execution's.
export * from './restore-target.ts';
// runRestore: a dump into a target the user names.
export * from './restore.ts';
