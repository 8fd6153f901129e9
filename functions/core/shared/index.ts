// Basics every domain uses.
// Named errors (their `name` is what Step Functions and the CLI match on) and requireEnv.
export * from './errors.ts';
// The logger interface core code writes to.
export * from './logger.ts';
// Metric names and dimensions, and Powertools Metrics in lifeboat's namespace.
export * from './metrics.ts';
export * from './emf.ts';
// Reaching PostgreSQL: connection info, libpq environment, pg errors; the installed pg tools.
export * from './pg.ts';
export * from './pgtools.ts';
// A database's connection from its Secrets Manager secret.
export * from './secrets.ts';
