import fc from 'fast-check';
import type { Catalog } from '../../functions/core/catalog/catalog.ts';
import { DatabaseUnreachable } from '../../functions/core/shared/errors.ts';
import {
  type PlannedRestore,
  planRestore,
  type RestoreRoute,
  VerificationFailed,
} from '../../functions/core/restore/restore-plan.ts';
import { dropOwnedDatabase } from '../../functions/core/restore/restore-target.ts';
import { finishRestore } from '../../functions/wf-finish-restore/index.ts';
import { type RestoreDumpEvent, restoreDump } from '../../functions/wf-restore-dump/index.ts';
import { resolveRestorePoint } from '../../functions/wf-resolve-restore-point/index.ts';
import { dumpBackup, REGION, snapshotBackup } from '../state-machines/catalog-fixtures.ts';
import { type FaultSchedule, faultScheduleArb, singleTransientArb } from './faults.ts';
import type { LambdaHandler, WorldRun } from './runner.ts';
import { FakeAws } from './world.ts';

/**
 * The restore workflow in the fake world: its scenarios (route, timing, what already exists,
 * whether the data checks pass), the task functions bound to the world, and the invariants every
 * run must keep.
 */

export const SECRET = 'arn:aws:secretsmanager:eu-central-1:111111111111:secret:orders-restore-AbCdEf';
export const DNS_NAME = 'orders.db.example.com';
const OLD_ENDPOINT = 'orders-db.c0ffee.eu-central-1.rds.amazonaws.com';

export const backups = [
  snapshotBackup('20261122T030000Z-ver', '2026-11-22T03:00:00.000Z', { verified: true }),
  snapshotBackup('20261122T030000Z-clu', '2026-11-22T03:00:00.000Z', { verified: true, type: 'cluster' }),
  dumpBackup('20261122T020000Z-dmp', '2026-11-22T02:00:00.000Z', { verified: true }),
];

export const ROUTES: readonly RestoreRoute[] = [
  'instance-snapshot',
  'instance-pitr',
  'cluster-snapshot',
  'cluster-pitr',
  'dump',
];

export interface RestoreScenario {
  readonly route: RestoreRoute;
  readonly verify: boolean;
  readonly cutover: boolean;
  /** Minutes until the restored instance (or cluster) is available. */
  readonly restoreMinutes: number;
  /** The restore ends in a status other than available. */
  readonly endsAs: string | null;
  readonly dataMatches: boolean;
  /** target: the target exists before the run; race: it appears after the resolve step checked. */
  readonly preexisting: 'none' | 'target' | 'race';
  readonly faults: FaultSchedule;
}

/** Which target identifiers / database a route creates. */
export function targetsOf(route: RestoreRoute) {
  const cluster = route.startsWith('cluster');
  return {
    instance: cluster ? 'orders-aurora-restored-1' : 'orders-restored',
    cluster: cluster ? 'orders-aurora-restored' : null,
    server: 'reports-db',
    database: 'orders_restored',
  };
}

export function restoreInput(
  s: Pick<RestoreScenario, 'route' | 'verify' | 'cutover'>,
): Record<string, unknown> {
  const t = targetsOf(s.route);
  const cutover = s.cutover ? { cutover: { hostedZoneId: 'Z0123456789ABC', recordName: DNS_NAME } } : {};
  if (s.route === 'dump') {
    return {
      database: 'orders',
      source: 'dump',
      target: { identifier: t.server, databaseName: t.database, secretArn: SECRET },
      verify: s.verify,
      ...cutover,
    };
  }
  const cluster = s.route.startsWith('cluster');
  const pitr = s.route.endsWith('pitr');
  return {
    database: 'orders',
    source: pitr ? 'point-in-time' : 'snapshot',
    ...(pitr
      ? {
          sourceIdentifier: cluster ? 'orders-aurora' : 'orders-db',
          restorePoint: { kind: 'time', time: '2026-11-23T08:15:00Z' },
        }
      : {}),
    target: {
      kind: cluster ? 'cluster' : 'instance',
      identifier: cluster ? t.cluster : t.instance,
      instanceClass: 'db.r6g.large',
      subnetGroupName: 'lifeboat-restore',
      securityGroupIds: ['sg-0123456789abcdef0'],
      secretArn: SECRET,
    },
    verify: s.verify,
    ...cutover,
  };
}

/** The world a restore runs in: the sources, a dump target server, DNS pointing at the old primary. */
export function restoreWorld(s: RestoreScenario): FakeAws {
  const world = new FakeAws({
    region: REGION,
    restoreSeconds: s.restoreMinutes * 60,
    restoreEndsAs: s.endsAs,
  });
  world.addSnapshot('lifeboat-20261122T030000Z-ver', 'instance');
  world.addSnapshot('lifeboat-20261122T030000Z-clu', 'cluster');
  world.addInstance('orders-db');
  world.addCluster('orders-aurora');
  world.addServer('reports-db', { app: 500 });
  world.records.set(DNS_NAME, OLD_ENDPOINT);
  if (s.preexisting === 'target') preexist(world, s.route);
  return world;
}

/** Someone else's resource under the target's name (rows in it, for a database). */
function preexist(world: FakeAws, route: RestoreRoute): void {
  const t = targetsOf(route);
  if (route === 'dump')
    world.servers.get(t.server)!.set(t.database, { mark: null, rows: 42, createdBy: 'operator' });
  else if (t.cluster) world.addCluster(t.cluster);
  else world.addInstance(t.instance);
}

const catalog = {
  list: async () => backups,
  record: async () => 'catalog/orders/records/x.json',
} as unknown as Catalog;

const readableDump = {
  readable: true,
  artifacts: 1,
  readableNow: 1,
  archived: 0,
  restoring: 0,
  storageClasses: ['STANDARD'],
  waitingFor: [],
};

/** The task functions' core logic, bound to the world. */
export function restoreLambdas(
  world: FakeAws,
  s: RestoreScenario,
  executionName: string,
): Record<string, LambdaHandler> {
  let raced = false;
  const endpointAvailable = (endpoint: string) =>
    [...world.instances.keys()].some(
      (id) => world.endpointOf(id) === endpoint && world.instanceStatus(id) === 'available',
    ) ||
    [...world.clusters.keys()].some(
      (id) => world.clusterEndpointOf(id) === endpoint && world.clusterStatus(id) === 'available',
    );
  return {
    ValidateInput: ((e: { input: unknown }) => planRestore(e.input)) as LambdaHandler,
    ResolveRestorePoint: (async (e: { request: PlannedRestore }) => {
      const point = await resolveRestorePoint(e, {
        catalog,
        rds: world.rdsClient() as never,
        region: REGION,
        databaseExists: async (r) =>
          (await world.server(r.target.identifier, executionName).markOf(r.target.databaseName!)) !==
          undefined,
      });
      if (s.preexisting === 'race' && !raced) {
        raced = true;
        preexist(world, s.route);
      }
      return point;
    }) as LambdaHandler,
    // The world's dumps are in STANDARD: readable at once (the archive path: restore-archived.test.ts).
    CheckDumpArtifacts: (() => readableDump) as LambdaHandler,
    RequestArchiveRestore: (() => {
      throw new Error('a readable dump is never restored from an archive tier');
    }) as LambdaHandler,
    CheckArchiveRestore: (() => readableDump) as LambdaHandler,
    RestoreDump: ((e: RestoreDumpEvent) =>
      restoreDump(e, {
        server: world.server(e.target.identifier, e.executionName),
        endpoint: world.endpointOf(e.target.identifier),
        restore: async (name) => {
          world.servers.get(e.target.identifier)!.get(name)!.rows = 100;
          return {
            passed: s.dataMatches,
            checks: [{ name: 'tables', passed: s.dataMatches, detail: '1 table', failures: [] }],
            restoreDurationMs: 1000,
          };
        },
      })) as LambdaHandler,
    VerifyRestore: ((e: { endpoint: string }) => {
      if (!endpointAvailable(e.endpoint)) throw new DatabaseUnreachable(`cannot connect to ${e.endpoint}`);
      if (!s.dataMatches) throw new VerificationFailed('restored data does not match: 1 table differs');
      return { passed: true, checks: [{ name: 'tables', passed: true, detail: 'ok', failures: [] }] };
    }) as LambdaHandler,
    DropCreatedDatabase: ((e: { database: string; target: { identifier: string }; executionName: string }) =>
      dropOwnedDatabase(
        world.server(e.target.identifier, e.executionName),
        e.database,
        e.executionName,
        e.target.identifier,
      )) as LambdaHandler,
    FinishRestore: ((e: Parameters<typeof finishRestore>[0]) =>
      finishRestore(e, catalog, new Date('2026-11-23T09:00:00Z'))) as LambdaHandler,
  };
}

/** Tasks a fault may hit. */
export const RESTORE_FAULT_TASKS = [
  'ValidateInput',
  'NotifyRestoreStarted',
  'ResolveRestorePoint',
  'RestoreInstanceFromSnapshot',
  'RestoreInstanceToPointInTime',
  'RestoreClusterFromSnapshot',
  'RestoreClusterToPointInTime',
  'CreateClusterInstance',
  'CheckDumpArtifacts',
  'RestoreDump',
  'DescribeRestoredInstance',
  'DescribeRestoredCluster',
  'VerifyRestore',
  'Cutover',
  'GetCutoverChange',
  'FinishRestore',
  'NotifyRestored',
  'DeleteCreatedInstance',
  'DeleteCreatedCluster',
  'DropCreatedDatabase',
  'NotifyRestoreFailed',
] as const;

const scenarioBase = {
  route: fc.constantFrom(...ROUTES),
  verify: fc.boolean(),
  cutover: fc.boolean(),
  restoreMinutes: fc.integer({ min: 5, max: 180 }),
};

/** Any scenario: anything may already exist, the restore may end badly, any faults. */
export const anyRestoreScenario: fc.Arbitrary<RestoreScenario> = fc.record({
  ...scenarioBase,
  endsAs: fc.constantFrom(null, null, null, 'incompatible-restore', 'storage-full'),
  dataMatches: fc.boolean(),
  preexisting: fc.constantFrom('none', 'none', 'target', 'race'),
  faults: faultScheduleArb(RESTORE_FAULT_TASKS, 4),
});

/** A restore that succeeds without faults, with exactly one transient fault somewhere. */
export const healthyRestoreWithOneTransient: fc.Arbitrary<RestoreScenario> = fc.record({
  ...scenarioBase,
  endsAs: fc.constant(null),
  dataMatches: fc.constant(true),
  preexisting: fc.constant('none' as const),
  faults: singleTransientArb(RESTORE_FAULT_TASKS),
});

// --- invariants ---------------------------------------------------------------------------------------

export interface Verdict {
  readonly ok: boolean;
  readonly problems: string[];
}

const TERMINAL = ['restore.completed', 'restore.failed'];

/** Whether a persistent fault keeps the notification task from ever publishing. */
function notificationBlocked(s: RestoreScenario, task: string): boolean {
  return s.faults.some((f) => f.task === task && (f.kind === 'denied' || f.kind === 'unreachable'));
}

/**
 * The invariants every restore run keeps, whatever the scenario and faults:
 * 1. it ends (no run exceeds the transition bound);
 * 2. nothing is deleted or dropped that this execution did not create;
 * 3. DNS never points at something the run deleted;
 * 4. the terminal state is notified with the true state: success names an endpoint that is there
 *    and available; failure names the execution's own error, and every resource the run created
 *    and left behind is listed, with its cleanup error;
 * 5. success means the restored database exists, available, and is what the report names.
 */
export function restoreInvariants(
  s: RestoreScenario,
  world: FakeAws,
  run: WorldRun,
  executionName: string,
): Verdict {
  const problems: string[] = [];
  if (run.status === 'ABORTED') problems.push(`did not end: ${run.cause}`);
  for (const r of world.removals)
    if (r.createdBy !== executionName) problems.push(`removed ${r.kind} ${r.id} created by ${r.createdBy}`);
  for (const [name, value] of world.records) {
    const pointsAt = [...world.removals].find(
      (r) => value === world.endpointOf(r.id) || value === world.clusterEndpointOf(r.id),
    );
    if (pointsAt)
      problems.push(`DNS ${name} points at ${pointsAt.kind} ${pointsAt.id}, which the run deleted`);
  }
  const terminal = world.published.filter((p) => TERMINAL.includes(String(p.message.type)));
  const last = terminal.at(-1)?.message as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  const left = world.leftBy(executionName);
  const t = targetsOf(s.route);
  const leftDatabase = [...(world.servers.get(t.server)?.entries() ?? [])].find(
    ([, db]) => db.createdBy === executionName,
  );
  if (run.status === 'SUCCEEDED') {
    if (!notificationBlocked(s, 'NotifyRestored') && last?.type !== 'restore.completed')
      problems.push(`succeeded but the last notification is ${last?.type ?? 'none'}`);
    const endpoint = run.output?.endpoint as string | undefined;
    const available =
      s.route === 'dump'
        ? endpoint === world.endpointOf(t.server) && leftDatabase !== undefined
        : t.cluster
          ? endpoint === world.clusterEndpointOf(t.cluster) &&
            world.clusterStatus(t.cluster) === 'available' &&
            world.instanceStatus(t.instance) === 'available'
          : endpoint === world.endpointOf(t.instance) && world.instanceStatus(t.instance) === 'available';
    if (!available) problems.push(`succeeded but ${endpoint} is not an available restored database`);
    if (last?.type === 'restore.completed' && last.endpoint !== endpoint)
      problems.push(`notified endpoint ${last.endpoint} but the output says ${endpoint}`);
  } else if (run.status === 'FAILED') {
    if (!notificationBlocked(s, 'NotifyRestoreFailed')) {
      if (last?.type !== 'restore.failed')
        problems.push(`failed but the last notification is ${last?.type ?? 'none'}`);
      else {
        if (last.error?.Error !== run.error)
          problems.push(`notified error ${last.error?.Error} but the execution failed with ${run.error}`);
        const cleanupErrors = (last.cleanupErrors ?? {}) as Record<
          string,
          { identifier?: string } | undefined
        >;
        const created = (last.removed ?? {}) as Record<string, { identifier?: string; name?: string }>;
        // Reported: created and its deletion failed, or named as unconfirmed (could not be checked).
        const reported = (kind: 'instance' | 'cluster', id: string) =>
          (created[kind]?.identifier === id && cleanupErrors[kind] !== undefined) ||
          cleanupErrors.unconfirmed?.identifier === id;
        for (const id of left.instances)
          if (!reported('instance', id)) problems.push(`instance ${id} was left behind and not reported`);
        for (const id of left.clusters)
          if (!reported('cluster', id)) problems.push(`cluster ${id} was left behind and not reported`);
        if (leftDatabase && (created.database?.name !== leftDatabase[0] || !cleanupErrors.database))
          problems.push(`database ${leftDatabase[0]} was left behind and not reported`);
      }
    }
  }
  return { ok: problems.length === 0, problems };
}
