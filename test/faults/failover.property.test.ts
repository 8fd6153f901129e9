import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FailoverTarget,
  type FailoverTargetInput,
  type PreflightEvent,
  runPreflight,
} from '../../functions/core/failover.ts';
import { type FaultSchedule, faultScheduleArb, propertySettings } from './faults.ts';
import { type LambdaHandler, type PreparedWorkflow, pinnedAsl, prepare, runInWorld } from './runner.ts';
import { printStats, recordRun, runStats } from './stats.ts';
import { FakeAws } from './world.ts';

/**
 * The failover workflow in the fault world: an RDS primary and its cross-region read replica, DNS
 * pointing at the primary, faults at any task. The invariants asserted here are the safety ones
 * the workflow keeps: it ends, it deletes nothing, a dry run changes nothing, and a success means
 * the replica was promoted and DNS points at it (never at a replica that is not writable).
 */

const { seed, numRuns } = propertySettings();
const EXECUTION = 'failover-fault-run';
const DNS_NAME = 'orders.db.example.com';

const target = FailoverTarget.parse({
  database: 'orders',
  kind: 'instance',
  primary: { region: 'eu-west-1', identifier: 'orders-db' },
  replica: { region: 'eu-central-1', identifier: 'orders-db-dr' },
  engineVersion: '16.4',
  dns: { hostedZoneId: 'Z0123456789ABC', recordName: DNS_NAME },
  maxLagSeconds: 30,
} satisfies FailoverTargetInput);

interface FailoverScenario {
  readonly mode: 'planned' | 'unplanned';
  readonly dryRun: boolean;
  readonly lagSeconds: number;
  readonly faults: FaultSchedule;
}

const FAILOVER_FAULT_TASKS = [
  'AcquireLock',
  'NotifyStarted',
  'Preflight',
  'FenceOldPrimary',
  'PromoteReadReplica',
  'CheckWritable',
  'SwitchDns',
  'GetDnsChange',
  'VerifyWrite',
  'RecordFailover',
  'ReleaseLock',
  'NotifyCompleted',
  'ReleaseLockAfterFailure',
  'NotifyFailed',
  'ReleaseLockAfterPartial',
  'NotifyPartial',
] as const;

const anyFailoverScenario: fc.Arbitrary<FailoverScenario> = fc.record({
  mode: fc.constantFrom('planned' as const, 'unplanned' as const),
  dryRun: fc.boolean(),
  lagSeconds: fc.constantFrom(1, 5, 120),
  faults: faultScheduleArb(FAILOVER_FAULT_TASKS, 4),
});

function failoverWorld(): FakeAws {
  const world = new FakeAws();
  world.addInstance('orders-db');
  world.addInstance('orders-db-dr', { replicaOf: 'orders-db' });
  world.records.set(DNS_NAME, world.endpointOf('orders-db'));
  return world;
}

function failoverLambdas(world: FakeAws, s: FailoverScenario): Record<string, LambdaHandler> {
  const replica = () => world.instances.get('orders-db-dr');
  const writable = () =>
    replica()?.replicaOf === null && world.instanceStatus('orders-db-dr') === 'available';
  return {
    // The real preflight logic over facts read from the world.
    Preflight: ((e: PreflightEvent) =>
      runPreflight(e, [target], async () => ({
        facts: {
          target: {
            exists: replica() !== undefined,
            status: world.instanceStatus('orders-db-dr'),
            engineVersion: '16.4',
            role: replica()?.replicaOf ? 'replica' : 'writer',
            endpoint: world.endpointOf('orders-db-dr'),
          },
          source: { reachable: true, engineVersion: '16.4', status: world.instanceStatus('orders-db') },
          replicaLagSeconds: s.lagSeconds,
        },
        replicaArn: 'arn:aws:rds:eu-central-1:111111111111:db:orders-db-dr',
      }))) as LambdaHandler,
    FenceOldPrimary: (() => ({ status: 'fenced', detail: 'writes stopped on orders-db' })) as LambdaHandler,
    CheckWritable: (() => ({
      writable: writable(),
      status: world.instanceStatus('orders-db-dr'),
      endpoint: world.endpointOf('orders-db-dr'),
    })) as LambdaHandler,
    VerifyWrite: (() => {
      if (!writable()) throw new Error('cannot write');
      return { ok: true, at: '2026-11-23T10:00:42.000Z', detail: 'wrote and read back 1 row' };
    }) as LambdaHandler,
    RecordFailover: (() => ({ recorded: true, rtoSeconds: 42, rpoSeconds: 2, key: 'k' })) as LambdaHandler,
  };
}

describe('failover workflow in the fault world', () => {
  let prepared: PreparedWorkflow;
  beforeAll(() => {
    prepared = prepare('failover', pinnedAsl('failover'));
  });
  afterAll(printStats);

  it(`keeps its safety invariants under any faults (${numRuns} runs, seed ${seed})`, async () => {
    const before = runStats('failover').runs;
    await fc.assert(
      fc.asyncProperty(anyFailoverScenario, async (s) => {
        const world = failoverWorld();
        const run = await runInWorld(prepared, {
          input: { database: 'orders', mode: s.mode, reason: 'fault world', dryRun: s.dryRun },
          world,
          lambdas: failoverLambdas(world, s),
          faults: s.faults,
          executionName: EXECUTION,
        });
        recordRun('failover', run);
        const promoted = world.instances.get('orders-db-dr')?.replicaOf === null;
        const dns = world.records.get(DNS_NAME);

        expect(run.status).not.toBe('ABORTED');
        expect(world.removals).toEqual([]);
        if (s.dryRun)
          expect({ promoted, dns }).toEqual({ promoted: false, dns: world.endpointOf('orders-db') });
        if (run.status === 'SUCCEEDED' && !s.dryRun)
          expect({ promoted, dns }).toEqual({ promoted: true, dns: world.endpointOf('orders-db-dr') });
        if (dns === world.endpointOf('orders-db-dr')) expect(promoted).toBe(true);
      }),
      { seed, numRuns, interruptAfterTimeLimit: 240_000, markInterruptAsFailure: true },
    );
    expect(runStats('failover').runs - before).toBeGreaterThanOrEqual(numRuns);
  });
});
