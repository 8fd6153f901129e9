// Failover: requests, preflight, promotion, the heartbeat and the canary that watches the primary.
// Failover and failback requests, preflight, promotion polling, catch-up.
export * from './failover.ts';
// The failover's questions to PostgreSQL: LSNs, catch-up, the verifying write.
export * from './failover-pg.ts';
// The primary's heartbeat, its stored form and the RPO estimate.
export * from './heartbeat.ts';
// The primary canary.
export * from './canary.ts';
