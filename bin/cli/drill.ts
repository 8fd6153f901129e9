import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type pg from 'pg';
import { runBackup } from '#core/dumps/backup.ts';
import {
  CANARY_WRITER,
  type CanaryResult,
  type HeartbeatStore,
  primaryUnwritableAlarmName,
  probePrimary,
} from '#core/failover/canary.ts';
import { type Heartbeat, readHeartbeat } from '#core/failover/heartbeat.ts';
import { EphemeralCluster } from '#core/verify/ephemeral.ts';
import { errorMessage } from '#core/shared/errors.ts';
import { type ConnectionInfo, connect } from '#core/shared/pg.ts';
import { type Repository } from '#core/repository/index.ts';
import { openRepository } from './repository.ts';
import { runRestore } from '#core/restore/restore.ts';
import { runVerify } from '#core/verify/verify.ts';
import { canaryClient } from '../../functions/canary/index.ts';
import { renderAsl } from '../../state-machines/render.ts';
import { prepareLocalWorkflow } from '../../state-machines/local-run.ts';
import type { DrillOptions, DrillReport, DrillStep } from './drill-model.ts';
import {
  DATABASE,
  DelayLine,
  EndpointRecord,
  SAMPLE_SCHEMA,
  Writer,
  killCluster,
  sql,
} from './drill-local.ts';
import { DRILL_ENVIRONMENT, type FailoverContext, failover, failoverFromAlarm } from './drill-failover.ts';

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
