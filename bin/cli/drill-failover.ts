import type { RDSClient } from '@aws-sdk/client-rds';
import type { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { primaryUnwritableAlarmName } from '#core/failover/canary.ts';
import { type Heartbeat, heartbeatToItem } from '#core/failover/heartbeat.ts';
import type { EphemeralCluster } from '#core/verify/ephemeral.ts';
import { FailoverTarget } from '#core/failover/failover.ts';
import {
  type PreflightEvent,
  type PreflightFacts,
  type PreflightOutput,
  runPreflight,
} from '#core/failover/preflight.ts';
import {
  catchUp,
  estimateDataLoss,
  fencedPrimaryLsn,
  replayLsn,
  verifyWrite,
} from '#core/failover/failover-pg.ts';
import { type Repository } from '#core/repository/index.ts';
import { startFromAlarm } from '../../functions/wf-alarm-start/index.ts';
import { type FenceEvent, fence } from '../../functions/wf-fence/index.ts';
import {
  type CheckWritableEvent,
  checkWritable,
  confirmPromotion,
} from '../../functions/wf-check-writable/index.ts';
import { type RecordFailoverEvent, recordFailover } from '../../functions/wf-record-failover/index.ts';
import { type AslDefinition } from '../../state-machines/render.ts';
import { type LocalRun, runLocalWorkflow } from '../../state-machines/local-run.ts';
import type { DrillReport, DrillScenario } from './drill-model.ts';
import { DATABASE, type EndpointRecord, type Writer, sql } from './drill-local.ts';

/**
 * The drill's failover: the failover workflow's ASL run here, each task bound to what it means on
 * this machine, started directly (planned) or from the trigger alarm through wf-alarm-start.
 */

/** The drill's stand-in names: a primary "region" and the DR "region", as AWS spells them. */
const PRIMARY_REGION = 'eu-west-1';
const DR_REGION = 'eu-central-1';
export const DRILL_ENVIRONMENT = 'drill';

export interface FailoverContext {
  readonly primary: EphemeralCluster;
  readonly standby: EphemeralCluster;
  readonly endpoint: EndpointRecord;
  readonly writer: Writer;
  readonly repository: Repository;
  readonly scenario: DrillScenario;
  readonly lagSeconds: number;
  readonly asl: AslDefinition;
  readonly canary: { lastAcknowledged(): Heartbeat | null } | undefined;
}

export interface FailoverOutcome {
  readonly path: string[];
  readonly events: string[];
  readonly verifiedAt: number | null;
  readonly executionName: string;
  readonly approvalMessage: Record<string, unknown> | null;
  readonly estimate: DrillReport['rpoEstimate'];
  readonly figures: {
    readonly workflowSeconds: number | null;
    readonly lagAtTriggerSeconds: number | null;
    readonly lagAtTriggerBytes: number | null;
  };
}

/**
 * The alarm path: the trigger alarm's state change, as the EventBridge rule hands it to
 * wf-alarm-start (the deployed handler's startFromAlarm), which starts the workflow through a
 * Step Functions stand-in that runs the ASL here.
 */
export async function failoverFromAlarm(
  ctx: FailoverContext,
  alarmAt: number,
): Promise<FailoverOutcome & { readonly startReason: string | null }> {
  const alarmName = primaryUnwritableAlarmName(DRILL_ENVIRONMENT, DATABASE);
  let outcome: Promise<FailoverOutcome> | undefined;
  let startReason: string | null = null;
  const sfn = {
    send: async (command: StartExecutionCommand) => {
      const input = JSON.parse(command.input.input ?? '{}') as Record<string, unknown>;
      startReason = typeof input.reason === 'string' ? input.reason : null;
      outcome = failover(ctx, { input, executionName: command.input.name! });
      // Step Functions answers once the execution exists; the run goes on.
      outcome.catch(() => undefined);
      return {
        executionArn: `arn:aws:states:${DR_REGION}:000000000000:execution:failover:${command.input.name}`,
      };
    },
  } as unknown as Pick<SFNClient, 'send'>;
  const started = await startFromAlarm(
    {
      // The rule's input transformer: database, $.detail.alarmName, $.detail.state.value, $.time.
      database: DATABASE,
      alarmName,
      state: 'ALARM',
      time: new Date(alarmAt).toISOString(),
    },
    sfn,
    {
      LIFEBOAT_ENVIRONMENT: DRILL_ENVIRONMENT,
      LIFEBOAT_FAILOVER_STATE_MACHINE_ARN: `arn:aws:states:${DR_REGION}:000000000000:stateMachine:failover`,
    },
  );
  if (!started.started || !outcome)
    throw new Error(`wf-alarm-start did not start the failover: ${started.reason}`);
  return { ...(await outcome), startReason };
}

/** Runs the failover workflow's ASL with each task bound to what it means on this machine. */
export async function failover(
  ctx: FailoverContext,
  start: { readonly input: Record<string, unknown>; readonly executionName: string },
): Promise<FailoverOutcome> {
  const { primary, standby, endpoint } = ctx;
  const target = FailoverTarget.parse({
    database: DATABASE,
    kind: 'instance',
    // Stand-ins with the shape of AWS names: the primary's "region" and the DR "region".
    primary: { region: PRIMARY_REGION, identifier: 'drill-primary' },
    replica: { region: DR_REGION, identifier: 'drill-standby' },
    engineVersion: standby.version,
    dns: { hostedZoneId: 'ZLOCALDRILL', recordName: 'drill.db.local' },
    maxLagSeconds: 30,
    fenceSecurityGroupId: 'sg-0d0d0d0d0d0d0d0d0',
  });
  const lock = new Map<string, string>();
  const events: string[] = [];
  let lagAtTrigger: { seconds: number | null; bytes: number | null } = { seconds: null, bytes: null };
  let verifiedWriteAt: string | null = null;
  let approvalMessage: Record<string, unknown> | null = null;
  let estimate: DrillReport['rpoEstimate'] = null;
  const published = (type: string) => (input: { Message?: Record<string, unknown> & { type?: string } }) => {
    events.push(input.Message?.type ?? type);
    if (input.Message?.type === 'failover.approval-needed') approvalMessage = input.Message;
    return { MessageId: `local-${events.length}` };
  };
  const lockItem = (input: {
    Item?: { lockId: { S: string }; executionId: { S: string } };
    Key?: { lockId: { S: string } };
  }) => input.Item?.lockId.S ?? input.Key?.lockId.S ?? '';

  const observe = async (): Promise<{ facts: PreflightFacts; replicaArn: string }> => {
    // The replica's own view of its lag (what RDS's ReplicaLag metric reports): blind to WAL it
    // never received, which is what the heartbeat estimate is for.
    const [s] = await sql<{ version: string; recovery: boolean; replay: string | null; lag: number | null }>(
      standby.connection(),
      `SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS recovery,
              pg_last_wal_replay_lsn()::text AS replay,
              CASE WHEN pg_last_wal_replay_lsn() = pg_last_wal_receive_lsn() THEN 0
                   ELSE greatest(0, extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())) END AS lag`,
    );
    let source: PreflightFacts['source'] = { reachable: false, engineVersion: null, status: null };
    try {
      const [p] = await sql<{ version: string; lsn: string }>(
        primary.connection(),
        `SELECT current_setting('server_version') AS version, pg_current_wal_lsn()::text AS lsn`,
      );
      source = { reachable: true, engineVersion: p!.version.split(' ')[0]!, status: 'available' };
      if (s!.replay) {
        const [d] = await sql<{ bytes: string }>(
          primary.connection(),
          'SELECT pg_wal_lsn_diff($1, $2) AS bytes',
          [p!.lsn, s!.replay],
        );
        lagAtTrigger = { seconds: Number(s!.lag ?? 0), bytes: Math.max(0, Number(d!.bytes)) };
      }
    } catch {
      // an unreachable primary is a fact preflight weighs, not an error
      lagAtTrigger = { seconds: s!.lag === null ? null : Number(s!.lag), bytes: null };
    }
    return {
      facts: {
        target: {
          exists: true,
          status: 'available',
          engineVersion: s!.version.split(' ')[0]!,
          role: s!.recovery ? 'replica' : 'writer',
          endpoint: `127.0.0.1:${standby.port}`,
        },
        source,
        replicaLagSeconds: s!.lag === null ? null : Number(s!.lag),
      },
      replicaArn: `arn:aws:rds:${DR_REGION}:000000000000:db:drill-standby`,
    };
  };

  // RDS of the DR region as CheckWritable and ConfirmPromotion describe the standby: a read replica
  // of the primary until promoted, `modifying` while a requested promotion is under way, then an
  // available instance that names no source. Its address carries the port (local clusters listen
  // on free ports), which VerifyWrite reads back from the endpoint.
  let promoteRequested = false;
  const standbyRds = {
    send: async () => {
      const [r] = await sql<{ recovery: boolean }>(
        standby.connection(),
        'SELECT pg_is_in_recovery() AS recovery',
      );
      return {
        DBInstances: [
          {
            DBInstanceIdentifier: target.replica.identifier,
            DBInstanceStatus: r!.recovery && promoteRequested ? 'modifying' : 'available',
            ...(r!.recovery ? { ReadReplicaSourceDBInstanceIdentifier: target.primary.identifier } : {}),
            Endpoint: { Address: `127.0.0.1:${standby.port}` },
          },
        ],
      };
    },
  } as unknown as RDSClient;

  // RDS of the primary's region, as the deployed fence (functions/wf-fence) calls it.
  const primaryRegionRds = {
    send: async () => {
      if (!primary.running || ctx.scenario === 'primary-lost') {
        // The region is gone with the primary: the API does not answer.
        throw Object.assign(new Error(`connect ETIMEDOUT rds.${PRIMARY_REGION}.amazonaws.com:443`), {
          name: 'TimeoutError',
          code: 'ETIMEDOUT',
        });
      }
      // ModifyDBInstance into the closed security group: the old primary takes no more writes.
      await closeOldPrimary();
      return {};
    },
  } as unknown as RDSClient;

  const closeOldPrimary = async () => {
    await sql(primary.connection(), 'ALTER SYSTEM SET default_transaction_read_only = on');
    await sql(primary.connection(), 'SELECT pg_reload_conf()');
    // New sessions fork from the postmaster, which applies the reload asynchronously: wait until
    // a new session is read-only, so no session that can still write starts after the terminate.
    for (let i = 0; ; i++) {
      const [r] = await sql<{ default_transaction_read_only?: string }>(
        primary.connection(),
        'SHOW default_transaction_read_only',
      );
      if (r?.default_transaction_read_only === 'on') break;
      if (i > 500)
        throw Object.assign(new Error('the old primary did not become read-only'), { name: 'FenceFailed' });
      await new Promise((res) => setTimeout(res, 10));
    }
    const ended = await sql<{ pid: number }>(
      primary.connection(),
      `SELECT pid FROM pg_stat_activity, pg_terminate_backend(pid)
        WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      [DATABASE],
    );
    // pg_terminate_backend only signals: a session may still commit until it has exited.
    for (let i = 0; ; i++) {
      const [r] = await sql<{ n: string }>(
        primary.connection(),
        'SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1)',
        [ended.map((e) => e.pid)],
      );
      if (Number(r!.n) === 0) break;
      if (i > 500)
        throw Object.assign(new Error('sessions on the old primary did not end'), { name: 'FenceFailed' });
      await new Promise((res) => setTimeout(res, 10));
    }
  };

  const release = (input: never) => {
    lock.delete(lockItem(input));
    return {};
  };
  const releaseCheck = (input: never) =>
    lock.has(lockItem(input)) ? { Item: { lockId: { S: lockItem(input) } } } : {};
  const tasks = {
    AcquireLock: (input: never) => {
      const key = lockItem(input);
      if (lock.has(key)) {
        const err = new Error('the conditional request failed');
        err.name = 'DynamoDB.ConditionalCheckFailedException';
        throw err;
      }
      lock.set(key, 'held');
      return {};
    },
    ReleaseLock: release,
    ReleaseLockAfterFailure: release,
    ReleaseLockAfterPartial: release,
    // After a release that failed: is the item still there?
    ReleaseLockCheck: releaseCheck,
    ReleaseLockAfterFailureCheck: releaseCheck,
    ReleaseLockAfterPartialCheck: releaseCheck,
    NotifyStarted: published('failover.started'),
    NotifyInputRefused: published('failover.refused'),
    NotifyPreflightRefused: published('failover.refused'),
    NotifyCompleted: published('failover.completed'),
    NotifyFailed: published('failover.failed'),
    NotifyPartial: published('failover.partial'),
    NotifyDryRun: published('failover.dry-run'),
    NotifyLockRefused: published('failover.refused'),
    NotifyApprovalNeeded: published('failover.approval-needed'),
    Preflight: (event: PreflightEvent): Promise<PreflightOutput> => runPreflight(event, [target], observe),
    RecheckPreflight: (event: PreflightEvent): Promise<PreflightOutput> =>
      runPreflight(event, [target], observe),
    // The canary's last acknowledged heartbeat, as the lock table's item holds it.
    GetLastHeartbeat: () => {
      const last = ctx.canary?.lastAcknowledged() ?? null;
      return last ? { Item: heartbeatToItem(DATABASE, last, new Date()) } : {};
    },
    // The workflow's own estimate (wf-verify-write's core): what the approval message tells.
    EstimateDataLoss: async (input: { acknowledged: unknown }) => {
      const result = await estimateDataLoss(standby.connection(DATABASE), input.acknowledged, new Date());
      estimate = { ...result, at: new Date().toISOString() };
      return result;
    },
    // The drill approves at once (`lifeboat approve` sends the same output).
    RequestApproval: () => ({ approvedBy: 'lifeboat drill', at: new Date().toISOString() }),
    FenceOldPrimary: (event: FenceEvent) => fence(event, primaryRegionRds),
    // Planned: the workflow's own catch-up — the fenced primary's last WAL position, then the
    // standby's replay position until it gets there (bounded), as wf-verify-write does in AWS.
    WaitForReplicaCatchUp: () =>
      catchUp(
        () => fencedPrimaryLsn(primary.connection()),
        () => replayLsn(standby.connection()),
        { timeoutMs: 30_000 + ctx.lagSeconds * 1000, intervalMs: 10 },
      ),
    // The deployed ConfirmPromotion and CheckWritable (functions/wf-check-writable) over the
    // standby as RDS describes it.
    ConfirmPromotion: (event: CheckWritableEvent) => confirmPromotion(event, standbyRds),
    PromoteReadReplica: async () => {
      promoteRequested = true;
      await sql(standby.connection(), 'SELECT pg_promote(true, 30)');
      return { DbInstance: { DbInstanceStatus: 'modifying' } };
    },
    SwitchoverGlobalCluster: () => {
      throw new Error('not an Aurora global database');
    },
    FailoverGlobalCluster: () => {
      throw new Error('not an Aurora global database');
    },
    CheckWritable: (event: CheckWritableEvent) => checkWritable(event, standbyRds),
    SwitchDns: () => {
      endpoint.target = { host: '127.0.0.1', port: standby.port };
      return { ChangeInfo: { Id: '/change/local-1', Status: 'PENDING' } };
    },
    GetDnsChange: () => ({ ChangeInfo: { Id: '/change/local-1', Status: 'INSYNC' } }),
    // The deployed write check (functions/wf-verify-write): not in recovery, a committed write read back.
    // The deployed write check (wf-verify-write's core), on the promoted standby before DNS moves.
    VerifyWrite: async (input: { endpoint: string; executionName: string }) => {
      const [host, port] = input.endpoint.split(':');
      const result = await verifyWrite(
        { host: host!, port: Number(port), user: 'postgres', database: DATABASE },
        input.executionName,
      );
      verifiedWriteAt = result.at;
      return result;
    },
    // The deployed record (functions/wf-record-failover) into the drill's repository.
    RecordFailover: (event: RecordFailoverEvent) => recordFailover(event, ctx.repository),
  };

  ctx.writer.longestGapMs = 0;
  const run: LocalRun = await runLocalWorkflow('failover', ctx.asl, start.input, tasks as never, {
    executionName: start.executionName,
    waitMs: 50,
  });
  if (run.status !== 'SUCCEEDED') {
    throw new Error(`failover workflow ${run.error}: ${run.cause} (path: ${run.path.join(' → ')})`);
  }
  // In AWS a failed catalog write does not fail a verified failover; the drill checks the record too.
  if (run.output?.record?.recorded !== true) {
    throw new Error(`failover workflow succeeded without its record: ${JSON.stringify(run.output?.record)}`);
  }
  const verifiedAt = verifiedWriteAt === null ? null : Date.parse(verifiedWriteAt);
  return {
    path: run.entered.map((p) => `${p.state}@${Math.round(p.atMs)}`),
    events,
    verifiedAt,
    executionName: start.executionName,
    approvalMessage,
    estimate,
    figures: {
      workflowSeconds: verifiedAt === null ? null : (verifiedAt - run.startedAt) / 1000,
      lagAtTriggerSeconds: lagAtTrigger.seconds,
      lagAtTriggerBytes: lagAtTrigger.bytes,
    },
  };
}
