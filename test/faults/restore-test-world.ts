import fc from 'fast-check';
import type { Catalog, VerificationRecord } from '../../functions/core/catalog/catalog.ts';
import { DatabaseUnreachable } from '../../functions/core/shared/errors.ts';
import { planRestoreTest, restoreTestIdentifier } from '../../functions/core/restore/restore-plan.ts';
import { recordRestoreTest } from '../../functions/wf-record-restore-test/index.ts';
import { dumpBackup, REGION, snapshotBackup } from '../state-machines/catalog-fixtures.ts';
import { type FaultSchedule, faultScheduleArb, singleTransientArb } from './faults.ts';
import type { LambdaHandler, WorldRun } from './runner.ts';
import { FakeAws } from './world.ts';

/**
 * The restore-test workflow in the fault world: the newest snapshot restored into a temporary
 * instance (or Aurora cluster), checked, deleted, recorded. Its invariants: the temporary
 * resources are gone (or reported), nothing else is touched, the record and the notification tell
 * the true outcome.
 */

const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-AbCdEf';

export interface RestoreTestScenario {
  readonly kind: 'instance' | 'cluster';
  readonly restoreMinutes: number;
  readonly endsAs: string | null;
  readonly dataMatches: boolean;
  /** race: an instance (not ours) already has the temporary identifier. */
  readonly preexisting: 'none' | 'race';
  readonly faults: FaultSchedule;
}

function backupsFor(kind: 'instance' | 'cluster') {
  return [
    snapshotBackup('20261123T030000Z-snp', '2026-11-23T03:00:00.000Z', { type: kind }),
    dumpBackup('20261123T020000Z-dmp', '2026-11-23T02:00:00.000Z'),
  ];
}

export function restoreTestWorld(s: RestoreTestScenario, executionName: string): FakeAws {
  const world = new FakeAws({
    region: REGION,
    restoreSeconds: s.restoreMinutes * 60,
    restoreEndsAs: s.endsAs,
  });
  world.addSnapshot('lifeboat-20261123T030000Z-snp', s.kind);
  world.addInstance('orders-db');
  if (s.preexisting === 'race') {
    const id = restoreTestIdentifier('orders', executionName);
    if (s.kind === 'cluster') world.addCluster(id);
    else world.addInstance(id);
  }
  return world;
}

export function restoreTestLambdas(
  world: FakeAws,
  s: RestoreTestScenario,
  records: VerificationRecord[],
): Record<string, LambdaHandler> {
  const catalog = {
    record: async (r: VerificationRecord) => {
      records.push(r);
      return `catalog/orders/${r.backupId}/records/${records.length}.json`;
    },
  } as unknown as Catalog;
  const record = ((e: Parameters<typeof recordRestoreTest>[0]) =>
    recordRestoreTest(e, catalog, new Date('2026-11-23T09:00:00Z'))) as LambdaHandler;
  return {
    PlanRestoreTest: ((e: { database: string; executionName: string }) =>
      planRestoreTest({
        ...e,
        backups: backupsFor(s.kind),
        region: REGION,
        secretArn: SECRET,
      })) as LambdaHandler,
    RunDataChecks: ((e: { endpoint: string }) => {
      const ok = [...world.instances.keys()].some(
        (id) => world.endpointOf(id) === e.endpoint && world.instanceStatus(id) === 'available',
      );
      if (!ok) throw new DatabaseUnreachable(`cannot connect to ${e.endpoint}`);
      return {
        passed: s.dataMatches,
        checks: [{ name: 'tables', passed: s.dataMatches, detail: '1 table', failures: [] }],
      };
    }) as LambdaHandler,
    RecordRestoreTest: record,
    RecordFailedRestoreTest: record,
  };
}

export const RESTORE_TEST_FAULT_TASKS = [
  'PlanRestoreTest',
  'RestoreTestInstance',
  'RestoreTestCluster',
  'CreateTestClusterInstance',
  'DescribeTestInstance',
  'RunDataChecks',
  'DeleteTestInstance',
  'DeleteTestCluster',
  'RecordRestoreTest',
  'RecordFailedRestoreTest',
  'NotifyRestoreTestPassed',
  'NotifyRestoreTestChecksFailed',
  'NotifyRestoreTestError',
] as const;

const base = {
  kind: fc.constantFrom('instance' as const, 'cluster' as const),
  restoreMinutes: fc.integer({ min: 5, max: 180 }),
};

export const anyRestoreTestScenario: fc.Arbitrary<RestoreTestScenario> = fc.record({
  ...base,
  endsAs: fc.constantFrom(null, null, null, 'incompatible-restore'),
  dataMatches: fc.boolean(),
  preexisting: fc.constantFrom('none' as const, 'none' as const, 'none' as const, 'race' as const),
  faults: faultScheduleArb(RESTORE_TEST_FAULT_TASKS, 4),
});

export const healthyRestoreTestWithOneTransient: fc.Arbitrary<RestoreTestScenario> = fc.record({
  ...base,
  endsAs: fc.constant(null),
  dataMatches: fc.constant(true),
  preexisting: fc.constant('none' as const),
  faults: singleTransientArb(RESTORE_TEST_FAULT_TASKS),
});

const blocked = (s: RestoreTestScenario, task: string) =>
  s.faults.some((f) => f.task === task && (f.kind === 'denied' || f.kind === 'unreachable'));

/**
 * 1. it ends; 2. it removes only what it created; 3. its temporary resources are deleted (or
 * being deleted), or named in the notification's cleanupErrors; 4. the notification is the true
 * outcome (passed / checks-failed / failed with the execution's error); 5. what is recorded is the
 * true outcome (passed only when the checks passed).
 */
export function restoreTestInvariants(
  s: RestoreTestScenario,
  world: FakeAws,
  run: WorldRun,
  executionName: string,
  records: readonly VerificationRecord[],
): string[] {
  const problems: string[] = [];
  if (run.status === 'ABORTED') problems.push(`did not end: ${run.cause}`);
  for (const r of world.removals)
    if (r.createdBy !== executionName) problems.push(`removed ${r.kind} ${r.id} created by ${r.createdBy}`);
  const last = world.published.at(-1)?.message as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const expected =
    run.status === 'SUCCEEDED'
      ? 'restore-test.passed'
      : run.error === 'VerificationFailed'
        ? 'restore-test.checks-failed'
        : 'restore-test.failed';
  const notifyTask = {
    'restore-test.passed': 'NotifyRestoreTestPassed',
    'restore-test.checks-failed': 'NotifyRestoreTestChecksFailed',
    'restore-test.failed': 'NotifyRestoreTestError',
  }[expected];
  if (run.status !== 'ABORTED' && !blocked(s, notifyTask)) {
    if (last?.type !== expected)
      problems.push(`${run.status} ${run.error} but notified ${last?.type ?? 'nothing'}`);
    else if (expected === 'restore-test.failed' && last.error?.Error !== run.error)
      problems.push(`notified error ${last.error?.Error} but the execution failed with ${run.error}`);
  }
  // A terminal notification that could never be published leaves the execution's history (and
  // the failed-execution alarm) as the only report: leftovers are then not checked against it.
  const left = blocked(s, notifyTask) ? { instances: [], clusters: [] } : world.leftBy(executionName);
  const cleanupErrors = (last?.cleanupErrors ?? {}) as Record<string, { identifier?: string } | undefined>;
  const reported = (kind: 'instance' | 'cluster', id: string) =>
    cleanupErrors[kind] !== undefined || cleanupErrors.unconfirmed?.identifier === id;
  for (const id of left.instances)
    if (!reported('instance', id)) problems.push(`temporary instance ${id} left behind, not reported`);
  for (const id of left.clusters)
    if (!reported('cluster', id)) problems.push(`temporary cluster ${id} left behind, not reported`);
  const recordBlocked = blocked(s, 'RecordRestoreTest') || blocked(s, 'RecordFailedRestoreTest');
  if (records.some((r) => r.passed) && run.status !== 'SUCCEEDED')
    problems.push(`recorded as passed but the execution ${run.status} (${run.error})`);
  if (run.status === 'SUCCEEDED' && !recordBlocked && !records.some((r) => r.passed))
    problems.push('passed but no passing verification record');
  return problems;
}
