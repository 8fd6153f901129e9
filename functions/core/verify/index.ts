// Verification: a dump restored into a throw-away cluster and checked against its source.
// runVerify and the backup selector.
export * from './verify.ts';
// The data checks, one per kind of object.
export * from './checks.ts';
// Statistics of a database's objects (recorded at backup, compared at verify).
export * from './stats.ts';
// A throw-away PostgreSQL cluster.
export * from './ephemeral.ts';
