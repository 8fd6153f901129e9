// RDS snapshots: naming, taking, discovering, copying to the DR region.
// Identifiers, tags and schedule slots of lifeboat's snapshots.
export * from './snapshot-naming.ts';
// RDS snapshot descriptions, paging, quotas and RDS error mapping.
export * from './rds.ts';
// One scheduled snapshot of one database.
export * from './take-snapshot.ts';
// Databases found by tag, and their snapshots.
export * from './discovery.ts';
// Cross-region copies driven by RDS snapshot events.
export * from './copy-snapshot.ts';
