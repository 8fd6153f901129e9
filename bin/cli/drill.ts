import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { RDSClient } from '@aws-sdk/client-rds';
import type { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type pg from 'pg';
import { runBackup } from '#core/dumps/backup.ts';
import {
  CANARY_WRITER,
  type CanaryResult,
  type HeartbeatStore,
  primaryUnwritableAlarmName,
  probePrimary,
} from '#core/failover/canary.ts';
import { type Heartbeat, heartbeatToItem, readHeartbeat } from '#core/failover/heartbeat.ts';
import { EphemeralCluster } from '#core/verify/ephemeral.ts';
import { errorMessage } from '#core/shared/errors.ts';
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
import { type ConnectionInfo, connect } from '#core/shared/pg.ts';
import { type Repository } from '#core/repository/index.ts';
import { openRepository } from './repository.ts';
import { runRestore } from '#core/restore/restore.ts';
import { runVerify } from '#core/verify/verify.ts';
import { canaryClient } from '../../functions/canary/index.ts';
import { startFromAlarm } from '../../functions/wf-alarm-start/index.ts';
import { type FenceEvent, fence } from '../../functions/wf-fence/index.ts';
import {
  type CheckWritableEvent,
  checkWritable,
  confirmPromotion,
} from '../../functions/wf-check-writable/index.ts';
import { type RecordFailoverEvent, recordFailover } from '../../functions/wf-record-failover/index.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { type LocalRun, prepareLocalWorkflow, runLocalWorkflow } from '../../state-machines/local-run.ts';
import type { DrillOptions, DrillReport, DrillScenario, DrillStep } from './drill-model.ts';
import {
  DATABASE,
  DelayLine,
  EndpointRecord,
  SAMPLE_SCHEMA,
  Writer,
  killCluster,
  sql,
} from './drill-local.ts';

/** The drill's stand-in names: a primary "region" and the DR "region", as AWS spells them. */
const PRIMARY_REGION = 'eu-west-1';
const DR_REGION = 'eu-central-1';
const DRILL_ENVIRONMENT = 'drill';

/**
 * The primary canary on this machine: the deployed canary's core (probePrimary, core/failover/canary.ts)
 * and connection (canaryClient, functions/canary), through the endpoint record, every
 * `intervalMs` (the drill's minute); its last acknowledged heartbeat in memory (the lock table's
 * stand-in). The trigger alarm is evaluated as CloudWatch evaluates `alarms.primaryUnwritableMinutes`:
 * `runs` failed runs in a row and the last acknowledged heartbeat older than `runs - 0.5` periods.
 */
class LocalCanary {
  readonly results: Array<CanaryResult & { readonly at: number }> = [];
  private readonly kept = new Map<string, Heartbeat>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private alarmed: ((at: number) => void) | undefined;
  readonly alarm: Promise<number>;
  readonly store: HeartbeatStore = {
    load: async (database) => this.kept.get(database) ?? null,
    save: async (database, heartbeat) => {
      this.kept.set(database, heartbeat);
    },
  };

  constructor(
    private readonly endpoint: EndpointRecord,
    private readonly intervalMs: number,
    private readonly runs: number,
  ) {
    this.alarm = new Promise((resolve) => (this.alarmed = resolve));
  }

  start(): void {
    const tick = async () => {
      const result = await probePrimary(DATABASE, {
        connect: async () => {
          const { host, port } = this.endpoint.target;
          const client = canaryClient({ host, port, user: 'postgres', database: DATABASE });
          await client.connect();
          return client;
        },
        store: this.store,
      });
      this.results.push({ ...result, at: Date.now() });
      this.evaluate();
    };
    const loop = () => {
      this.running = tick()
        .catch(() => undefined)
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(loop, this.intervalMs);
        });
    };
    this.timer = setTimeout(loop, 0);
  }

  private evaluate(): void {
    const last = this.results.slice(-this.runs);
    const age = last.at(-1)?.heartbeatAgeSeconds;
    if (
      last.length === this.runs &&
      last.every((r) => !r.writable) &&
      age !== null &&
      age !== undefined &&
      age >= ((this.runs - 0.5) * this.intervalMs) / 1000
    ) {
      this.alarmed?.(Date.now());
      this.alarmed = undefined;
    }
  }

  lastAcknowledged(): Heartbeat | null {
    return this.kept.get(DATABASE) ?? null;
  }

  /** Resolves once a run after `since` found the primary (whichever it is) writable. */
  async writableSince(since: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.results.some((r) => r.at > since && r.writable)) return true;
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * The drill: a primary and a streaming standby (ephemeral clusters; with `lagSeconds`, WAL reaches
 * the standby that much later), an application writing all along, then backup → verify → restore
 * into a new database → the failover workflow's ASL with local adapters → writes checked on the
 * new primary. Scenario `planned`: started by hand, the old primary fenced, the standby caught up,
 * no acknowledged row may be lost. Scenario `primary-lost`: the primary is killed with SIGKILL mid
 * write (nothing can fence it); the canary notices, its alarm starts the workflow through
 * wf-alarm-start, the drill approves, and the report counts what was lost next to what the
 * heartbeats estimated. Everything is removed afterwards.
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const scenario = options.scenario ?? 'planned';
  const lagSeconds = options.lagSeconds ?? 0;
  const steps: DrillStep[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let tempRepoDir: string | undefined;
  const report = {
    backupId: null as string | null,
    rtoSeconds: null as number | null,
    detectionSeconds: null as number | null,
    workflowSeconds: null as number | null,
    application: {
      acknowledged: 0,
      found: null,
      lost: null,
      lostWindowSeconds: null,
    } as DrillReport['application'],
    rpoEstimate: null as DrillReport['rpoEstimate'],
    trigger: null as DrillReport['trigger'],
    rpoRowsLost: null as number | null,
    lagAtTriggerSeconds: null as number | null,
    lagAtTriggerBytes: null as number | null,
    writerDowntimeMs: null as number | null,
    failoverPath: [] as string[],
  };

  async function step<T>(name: string, fn: () => Promise<{ value: T; detail: string }>): Promise<T> {
    if (options.signal?.aborted) throw new Error('interrupted');
    const started = performance.now();
    try {
      const { value, detail } = await fn();
      const s = { name, ok: true, ms: Math.round(performance.now() - started), detail };
      steps.push(s);
      options.onStep?.(s);
      return value;
    } catch (err) {
      const s = { name, ok: false, ms: Math.round(performance.now() - started), detail: errorMessage(err) };
      steps.push(s);
      options.onStep?.(s);
      throw err;
    }
  }

  let repository: Repository;
  if (options.repo) {
    repository = openRepository(options.repo, { s3Endpoint: options.s3Endpoint });
  } else {
    tempRepoDir = await mkdtemp(path.join(tmpdir(), 'lifeboat-drill-repo-'));
    repository = openRepository(pathToFileURL(tempRepoDir).href);
  }
  let writer: Writer | undefined;
  let canary: LocalCanary | undefined;
  try {
    const primary = await step('start primary', async () => {
      const c = await EphemeralCluster.start({ settings: { synchronous_commit: 'on' } });
      cleanups.push(() => c.stop());
      return { value: c, detail: `PostgreSQL ${c.version} on 127.0.0.1:${c.port}` };
    });
    const endpoint = new EndpointRecord({ host: '127.0.0.1', port: primary.port });

    await step('load sample data', async () => {
      await sql(primary.connection(), `CREATE DATABASE ${DATABASE}`);
      const rows = options.rows ?? 20_000;
      await sql(
        primary.connection(DATABASE),
        `${SAMPLE_SCHEMA}
         INSERT INTO app.customers (name, tags, meta)
           SELECT 'customer ' || g, ARRAY['t' || g % 7], jsonb_build_object('n', g) FROM generate_series(1, ${Math.ceil(rows / 10)}) g;
         INSERT INTO "Billing Dept"."Invoice Lines" (customer_id, amount, note)
           SELECT 1 + g % ${Math.ceil(rows / 10)}, (g % 1000) / 10.0, md5(g::text) FROM generate_series(1, ${rows}) g;`,
      );
      return {
        value: undefined,
        detail: `${rows.toLocaleString('en-US')} invoice lines, ${Math.ceil(rows / 10).toLocaleString('en-US')} customers`,
      };
    });

    const standby = await step('start streaming standby', async () => {
      let upstream = primary.port;
      let link: DelayLine | undefined;
      if (lagSeconds > 0) {
        link = new DelayLine(primary.port, lagSeconds * 1000);
        upstream = await link.start();
        cleanups.unshift(() => link!.close());
      }
      const s = await EphemeralCluster.standbyOf(primary, {
        settings: {
          primary_conninfo: `'host=127.0.0.1 port=${upstream} user=postgres application_name=drill-standby'`,
        },
      });
      cleanups.unshift(() => s.stop());
      return {
        value: s,
        detail: `pg_basebackup + streaming replication on 127.0.0.1:${s.port}${link ? `, WAL ${lagSeconds} s late (link 127.0.0.1:${link.port})` : ''}`,
      };
    });

    // Synthesizing the workflow is CPU work that would stall the writer: do it before it starts.
    const asl = await step('render failover workflow', async () => {
      const rendered = renderAsl('failover');
      prepareLocalWorkflow(rendered);
      return {
        value: rendered,
        detail: `${Object.keys(rendered.States).length} states, the ASL deployed to AWS, validated`,
      };
    });

    writer = new Writer(endpoint);
    await step('application writing', async () => {
      writer!.start();
      await writer!.waitForMore(20, 5000);
      return { value: undefined, detail: `a row every ~5 ms through the endpoint record` };
    });

    const intervalMs = options.canaryIntervalMs ?? 250;
    const unwritableRuns = options.unwritableRuns ?? 3;
    if (scenario === 'primary-lost') {
      canary = new LocalCanary(endpoint, intervalMs, unwritableRuns);
      await step('primary canary', async () => {
        canary!.start();
        const deadline = Date.now() + 10_000 + lagSeconds * 1000;
        // The standby must have replayed a heartbeat, or nothing could be estimated.
        for (;;) {
          const replayed = await withClient(standby.connection(DATABASE), (c) =>
            readHeartbeat(c, CANARY_WRITER),
          );
          if (replayed && canary!.results.filter((r) => r.writable).length >= 2) break;
          if (Date.now() > deadline) throw new Error('the canary wrote no heartbeat the standby replayed');
          await new Promise((r) => setTimeout(r, 50));
        }
        return {
          value: undefined,
          detail: `a heartbeat every ${intervalMs} ms through the endpoint record (the deployed canary's code); trigger: ${unwritableRuns} failed runs in a row`,
        };
      });
    }

    const manifest = await step('backup', async () => {
      const m = await runBackup({ connection: primary.connection(DATABASE), repository, database: DATABASE });
      report.backupId = m.id;
      return {
        value: m,
        detail: `${m.id}, ${(m.artifact.bytes / 1024).toFixed(0)} KiB, sha256 ${m.artifact.sha256.slice(0, 12)}…`,
      };
    });

    await step('verify', async () => {
      const v = await runVerify({ repository, ref: manifest.id, database: DATABASE });
      if (!v.passed) {
        throw new Error(
          `verification failed: ${v.checks
            .filter((c) => !c.passed)
            .map((c) => `${c.name}: ${c.detail}`)
            .join('; ')}`,
        );
      }
      return { value: v, detail: `${v.checks.length} checks passed, restore ${v.restoreDurationMs} ms` };
    });

    await step('restore into a new database', async () => {
      await sql(primary.connection(), 'CREATE DATABASE drill_restored');
      const r = await runRestore({
        repository,
        ref: manifest.id,
        target: primary.connection('drill_restored'),
      });
      if (!r.passed)
        throw new Error(
          `checks failed after restore: ${r.checks
            .filter((c) => !c.passed)
            .map((c) => c.name)
            .join(', ')}`,
        );
      return {
        value: r,
        detail: `drill_restored: ${r.checks.length} checks passed, restore ${r.restoreDurationMs} ms`,
      };
    });

    const ctx: FailoverContext = {
      primary,
      standby,
      endpoint,
      writer: writer!,
      repository,
      asl,
      scenario,
      lagSeconds,
      canary,
    };
    let killedAt: number | null = null;
    if (scenario === 'planned') {
      await step('failover workflow', async () => {
        const outcome = await failover(ctx, {
          input: { database: DATABASE, mode: 'planned', reason: 'lifeboat drill' },
          executionName: `drill-${new Date().toISOString().replace(/[-:.]/g, '')}`,
        });
        Object.assign(report, outcome.figures);
        report.rtoSeconds = outcome.figures.workflowSeconds;
        report.failoverPath = outcome.path;
        return {
          value: undefined,
          detail: `${outcome.path.length} states, RTO ${report.rtoSeconds?.toFixed(2)} s`,
        };
      });
    } else {
      killedAt = await step('primary lost', async () => {
        // Mid-write: the application is committing a row every few ms, the canary its heartbeats.
        await writer!.waitForMore(50, 5000);
        const pid = await killCluster(primary);
        const at = Date.now();
        return {
          value: at,
          detail: `SIGKILL to the primary's postmaster and every backend (process group ${pid}) while the application was writing; nothing fenced it`,
        };
      });
      const alarmAt = await step('canary alarm', async () => {
        const at = await Promise.race([
          canary!.alarm,
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error('the canary raised no alarm')), 30_000 + intervalMs * 10),
          ),
        ]);
        report.detectionSeconds = (at - killedAt!) / 1000;
        const failed = canary!.results.filter((r) => !r.writable).at(-1);
        return {
          value: at,
          detail: `${primaryUnwritableAlarmName(DRILL_ENVIRONMENT, DATABASE)} in ALARM after ${report.detectionSeconds.toFixed(2)} s (${failed?.failure?.reason}: ${failed?.failure?.detail})`,
        };
      });
      await step('failover workflow', async () => {
        const outcome = await failoverFromAlarm(ctx, alarmAt);
        Object.assign(report, outcome.figures);
        report.rtoSeconds = outcome.verifiedAt === null ? null : (outcome.verifiedAt - killedAt!) / 1000;
        report.failoverPath = outcome.path;
        report.rpoEstimate = outcome.estimate;
        report.trigger = {
          canaryRuns: canary!.results.length,
          canaryFailures: canary!.results.filter((r) => !r.writable).length,
          lastAcknowledgedSeq: canary!.lastAcknowledged()?.seq ?? null,
          alarmName: primaryUnwritableAlarmName(DRILL_ENVIRONMENT, DATABASE),
          executionName: outcome.executionName,
          startReason: outcome.startReason,
          approvalMessage: outcome.approvalMessage,
          canaryFollowedNewPrimary: false,
        };
        return {
          value: undefined,
          detail: `alarm-start → approval → ${outcome.path.length} states; RTO ${report.rtoSeconds?.toFixed(2)} s from the primary's death (workflow ${report.workflowSeconds?.toFixed(2)} s)`,
        };
      });
    }

    await step('writes on the new primary', async () => {
      await writer!.waitForMore(50, 5000);
      const switchedAt = Date.now();
      await writer!.stop();
      const acked = writer!.acked;
      const present = new Set(
        (
          await sql<{ payload: string }>(
            standby.connection(DATABASE),
            'SELECT payload FROM app.writes WHERE payload = ANY($1::text[])',
            [acked.map((a) => a.payload)],
          )
        ).map((r) => r.payload),
      );
      const lost = acked.filter((a) => !present.has(a.payload));
      report.application = {
        acknowledged: acked.length,
        found: present.size,
        lost: lost.length,
        lostWindowSeconds:
          lost.length === 0
            ? 0
            : killedAt === null
              ? null
              : (killedAt - Math.min(...lost.map((l) => l.at))) / 1000,
      };
      report.rpoRowsLost = lost.length;
      report.writerDowntimeMs = Math.round(writer!.longestGapMs);
      if (canary && report.trigger) {
        report.trigger = {
          ...report.trigger,
          canaryFollowedNewPrimary: await canary.writableSince(switchedAt - 1, 5000),
        };
        await canary.stop();
      }
      if (lost.length > 0 && scenario === 'planned') {
        throw new Error(
          `${lost.length} acknowledged rows are missing on the new primary after a planned switchover`,
        );
      }
      return {
        value: undefined,
        detail: `${acked.length.toLocaleString('en-US')} acknowledged rows, ${present.size.toLocaleString('en-US')} found, ${lost.length} lost; writer paused ${report.writerDowntimeMs} ms at most`,
      };
    });
  } catch {
    // the failed step is in the report
  } finally {
    await canary?.stop();
    await writer?.stop();
    const started = performance.now();
    let cleanupError: string | null = null;
    for (const c of cleanups) await c().catch((err) => (cleanupError = errorMessage(err)));
    if (tempRepoDir) await rm(tempRepoDir, { recursive: true, force: true });
    const s = {
      name: 'clean up',
      ok: cleanupError === null,
      ms: Math.round(performance.now() - started),
      detail:
        cleanupError ?? `clusters stopped and removed${tempRepoDir ? ', temporary repository removed' : ''}`,
    };
    steps.push(s);
    options.onStep?.(s);
  }
  return {
    passed: steps.every((s) => s.ok),
    scenario,
    lagSeconds,
    steps,
    ...report,
    rowsWritten: writer?.acked.length ?? 0,
    repository: tempRepoDir ? '(temporary)' : repository.url,
  };
}

async function withClient<T>(conn: ConnectionInfo, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(conn);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

interface FailoverContext {
  readonly primary: EphemeralCluster;
  readonly standby: EphemeralCluster;
  readonly endpoint: EndpointRecord;
  readonly writer: Writer;
  readonly repository: Repository;
  readonly scenario: DrillScenario;
  readonly lagSeconds: number;
  readonly asl: AslDefinition;
  readonly canary: LocalCanary | undefined;
}

interface FailoverOutcome {
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
async function failoverFromAlarm(
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
async function failover(
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
