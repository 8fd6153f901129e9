/**
 * Names of the environment variables each function reads, imported from the function's own
 * `env.ts` so that the stack and the handler cannot drift apart.
 */
export { ENV as COPY_SNAPSHOT_ENV } from '../functions/copy-snapshot/env.ts';
export { ENV as LOGICAL_DUMP_ENV } from '../functions/logical-dump/env.ts';
export { ENV as PRUNE_ENV } from '../functions/prune/env.ts';
export { ENV as TAKE_SNAPSHOT_ENV } from '../functions/take-snapshot/env.ts';

/** What take-snapshot publishes about the manual snapshot quota. */
export { QUOTA_METRIC } from '../functions/core/contracts/index.ts';
