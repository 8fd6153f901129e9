import { defineConfig } from 'vitest/config';

// Five layers, one runner. Integration tests share the local PostgreSQL and one s3rver process
// that test/integration/global-setup.ts starts and stops.
export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/setup/polyfills.ts'],
        },
      },
      {
        test: {
          name: 'cdk',
          include: ['test/cdk/**/*.test.ts'],
          // The first synthesis in a process pays seconds of aws-cdk-lib/cdk-nag warm-up; sharing
          // workers between files pays it once per worker (test files build their own Apps and
          // share no state). About 4x faster on two cores.
          isolate: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // AWS's authorization rules: synthesized policies evaluated with iam-simulate, offline.
          name: 'authz',
          include: ['test/authz/**/*.test.ts'],
          isolate: false,
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'state-machines',
          include: ['test/state-machines/**/*.test.ts'],
          setupFiles: ['test/setup/polyfills.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          // The fault world: the workflows' ASL against a stateful fake AWS with fault schedules,
          // property-based (fast-check, seeded; FAULT_SEED / FAULT_RUNS). See docs/testing.md.
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          setupFiles: ['test/setup/polyfills.ts'],
          testTimeout: 600_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          setupFiles: ['test/setup/polyfills.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
