// Failover: requests, preflight, promotion, the heartbeat and the canary that watches the primary.
// Failover requests and targets, alarm-started execution names.
export * from './failover.ts';
// Preflight: the facts, the checks, the commands for an operator.
export * from './preflight.ts';
// After the promote request: what is known, poll timing, catch-up (planned mode).
export * from './promotion.ts';
// The failover record in the catalog.
export * from './record.ts';
// Failback requests and plans.
export * from './failback.ts';
// The failover's questions to PostgreSQL: LSNs, catch-up, the verifying write.
export * from './failover-pg.ts';
// The primary's heartbeat, its stored form and the RPO estimate.
export * from './heartbeat.ts';
// The primary canary.
export * from './canary.ts';
