import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { runBackup } from '#core/backup.ts';
import { EphemeralCluster } from '#core/ephemeral.ts';
import { errorMessage } from '#core/errors.ts';
import {
  buildFailoverRecord,
  FailoverTarget,
  failoverRecordKey,
  nextPollWaitSeconds,
  type PreflightEvent,
  type PreflightFacts,
  type PreflightOutput,
  promotionAfterError,
  promotionCheckCommand,
  runPreflight,
} from '#core/failover.ts';
import { catchUp, estimateDataLoss, fencedPrimaryLsn, replayLsn, verifyWrite } from '#core/failover-pg.ts';
import { type ConnectionInfo, clientConfig, connect } from '#core/pg.ts';
import { openRepository, type Repository } from '#core/repository/index.ts';
import { runRestore } from '#core/restore.ts';
import { runVerify } from '#core/verify.ts';
import { type AslDefinition, renderAsl } from '../../state-machines/render.ts';
import { runLocalWorkflow } from './local-workflow.ts';

export interface DrillStep {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly detail: string;
}

export interface DrillReport {
  readonly passed: boolean;
  readonly steps: DrillStep[];
  readonly backupId: string | null;
  /** Trigger (execution start) to the verified write on the new primary. */
  readonly rtoSeconds: number | null;
  /** Committed (acknowledged) rows the new primary does not have. */
  readonly rpoRowsLost: number | null;
  readonly lagAtTriggerSeconds: number | null;
  readonly lagAtTriggerBytes: number | null;
  /** How long the application's writer saw no successful write. */
  readonly writerDowntimeMs: number | null;
  readonly rowsWritten: number;
  readonly failoverPath: string[];
  readonly repository: string;
}

export interface DrillOptions {
  /** Keep backups here; a temporary directory (removed afterwards) otherwise. */
  readonly repo?: string | undefined;
  readonly s3Endpoint?: string | undefined;
  readonly mode?: 'planned' | 'unplanned';
  readonly rows?: number;
  readonly onStep?: (step: DrillStep) => void;
  readonly signal?: AbortSignal | undefined;
}

const DATABASE = 'drill';

/** Where applications connect: the local stand-in for the Route 53 record the workflow switches. */
class EndpointRecord {
  constructor(public target: { host: string; port: number }) {}
}

/**
 * An application writing a row every few milliseconds through the endpoint record, reconnecting
 * when its connection breaks. It remembers which rows the database acknowledged.
 */
class Writer {
  readonly acked: number[] = [];
  private stopped = false;
  private lastOk = 0;
  longestGapMs = 0;
  failuresSinceOk = 0;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly endpoint: EndpointRecord,
    private readonly intervalMs = 5,
  ) {}

  start(): void {
    this.lastOk = performance.now();
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let client: pg.Client | null = null;
    while (!this.stopped) {
      try {
        if (!client) {
          const { host, port } = this.endpoint.target;
          client = new pg.Client({
            ...clientConfig({ host, port, user: 'postgres', database: DATABASE }),
            connectionTimeoutMillis: 1000,
          });
          client.on('error', () => undefined);
          await client.connect();
        }
        const r = await client.query<{ id: string }>(
          'INSERT INTO app.writes (payload) VALUES ($1) RETURNING id',
          [`row written at ${new Date().toISOString()}`],
        );
        this.acked.push(Number(r.rows[0]!.id));
        const now = performance.now();
        this.longestGapMs = Math.max(this.longestGapMs, now - this.lastOk);
        this.lastOk = now;
        this.failuresSinceOk = 0;
      } catch {
        this.failuresSinceOk++;
        await client?.end().catch(() => undefined);
        client = null;
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
    await client?.end().catch(() => undefined);
  }

  /** Resolves once `n` more rows have been acknowledged (or rejects after `timeoutMs`). */
  async waitForMore(n: number, timeoutMs: number): Promise<void> {
    const target = this.acked.length + n;
    const deadline = performance.now() + timeoutMs;
    while (this.acked.length < target) {
      if (performance.now() > deadline) throw new Error(`the writer committed no rows for ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

async function sql<T extends pg.QueryResultRow>(
  conn: ConnectionInfo,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const client = await connect(conn);
  try {
    return (await client.query<T>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** A small database with the shapes that trip tools up: quoted names, a foreign key, RLS, a function. */
const SAMPLE_SCHEMA = `
  CREATE ROLE drill_app NOLOGIN;
  CREATE SCHEMA app;
  CREATE SCHEMA "Billing Dept";
  CREATE TABLE app.customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL, tags text[], meta jsonb);
  CREATE TABLE "Billing Dept"."Invoice Lines" (
    id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES app.customers (id),
    amount numeric(12, 2) NOT NULL CHECK (amount >= 0), note text);
  CREATE INDEX ON "Billing Dept"."Invoice Lines" (customer_id);
  CREATE TABLE app.writes (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), payload text);
  CREATE FUNCTION app.balance(p bigint) RETURNS numeric LANGUAGE sql STABLE
    AS $$ SELECT coalesce(sum(amount), 0) FROM "Billing Dept"."Invoice Lines" WHERE customer_id = p $$;
  ALTER TABLE app.customers ENABLE ROW LEVEL SECURITY;
  CREATE POLICY own_rows ON app.customers TO drill_app USING (name = current_user);
`;

/**
 * The drill: a primary and a streaming standby (ephemeral clusters), an application writing all
 * along, then backup → verify → restore into a new database → the failover workflow's ASL with
 * local adapters (promotion = pg_promote() on the standby, DNS = the endpoint record the writer
 * follows) → writes verified on the new primary. Everything is removed afterwards.
 */
export async function runDrill(options: DrillOptions = {}): Promise<DrillReport> {
  const steps: DrillStep[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  let tempRepoDir: string | undefined;
  const report = {
    backupId: null as string | null,
    rtoSeconds: null as number | null,
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
      const s = await EphemeralCluster.standbyOf(primary);
      cleanups.unshift(() => s.stop());
      return { value: s, detail: `pg_basebackup + streaming replication on 127.0.0.1:${s.port}` };
    });

    // Synthesizing the workflow is CPU work that would stall the writer: do it before it starts.
    const asl = await step('render failover workflow', async () => {
      const rendered = renderAsl('failover');
      return {
        value: rendered,
        detail: `${Object.keys(rendered.States).length} states, the ASL deployed to AWS`,
      };
    });

    writer = new Writer(endpoint);
    await step('application writing', async () => {
      writer!.start();
      await writer!.waitForMore(20, 5000);
      return { value: undefined, detail: `a row every ~5 ms through the endpoint record` };
    });

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

    await step('failover workflow', async () => {
      const outcome = await failover({
        primary,
        standby,
        endpoint,
        writer: writer!,
        repository,
        asl,
        mode: options.mode ?? 'planned',
      });
      Object.assign(report, outcome.figures);
      report.failoverPath = outcome.path;
      return {
        value: undefined,
        detail: `${outcome.path.length} states, RTO ${outcome.figures.rtoSeconds?.toFixed(2)} s`,
      };
    });

    await step('writes on the new primary', async () => {
      await writer!.waitForMore(50, 5000);
      await writer!.stop();
      const acked = writer!.acked;
      const present = await sql<{ n: string }>(
        standby.connection(DATABASE),
        'SELECT count(*) AS n FROM app.writes WHERE id = ANY($1::bigint[])',
        [acked],
      );
      report.rpoRowsLost = acked.length - Number(present[0]!.n);
      report.writerDowntimeMs = Math.round(writer!.longestGapMs);
      if (report.rpoRowsLost > 0 && (options.mode ?? 'planned') === 'planned') {
        throw new Error(
          `${report.rpoRowsLost} committed rows are missing on the new primary after a planned switchover`,
        );
      }
      return {
        value: undefined,
        detail: `${acked.length.toLocaleString('en-US')} acknowledged rows, ${report.rpoRowsLost} lost; writer paused ${report.writerDowntimeMs} ms at most`,
      };
    });
  } catch {
    // the failed step is in the report
  } finally {
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
    steps,
    ...report,
    rowsWritten: writer?.acked.length ?? 0,
    repository: tempRepoDir ? '(temporary)' : repository.url,
  };
}

interface FailoverContext {
  readonly primary: EphemeralCluster;
  readonly standby: EphemeralCluster;
  readonly endpoint: EndpointRecord;
  readonly writer: Writer;
  readonly repository: Repository;
  readonly mode: 'planned' | 'unplanned';
  readonly asl: AslDefinition;
}

/** Runs the failover workflow's ASL with each task bound to what it means on this machine. */
async function failover(ctx: FailoverContext) {
  const { primary, standby, endpoint } = ctx;
  const target = FailoverTarget.parse({
    database: DATABASE,
    kind: 'instance',
    // Stand-ins with the shape of AWS names: the primary's "region" and the DR "region".
    primary: { region: 'eu-west-1', identifier: 'drill-primary' },
    replica: { region: 'eu-central-1', identifier: 'drill-standby' },
    engineVersion: standby.version,
    dns: { hostedZoneId: 'ZLOCALDRILL', recordName: 'drill.db.local' },
    maxLagSeconds: 30,
  });
  const lock = new Map<string, string>();
  const events: string[] = [];
  let fenceDetail = 'not fenced';
  let lagAtTrigger: { seconds: number | null; bytes: number | null } = { seconds: null, bytes: null };
  let verifiedWriteAt: string | null = null;
  const published = (type: string) => (input: { Message?: { type?: string } }) => {
    events.push(input.Message?.type ?? type);
    return { MessageId: `local-${events.length}` };
  };
  const lockItem = (input: {
    Item?: { lockId: { S: string }; executionId: { S: string } };
    Key?: { lockId: { S: string } };
  }) => input.Item?.lockId.S ?? input.Key?.lockId.S ?? '';

  const observe = async (): Promise<{ facts: PreflightFacts; replicaArn: string }> => {
    const [s] = await sql<{ version: string; recovery: boolean; replay: string | null; lag: number | null }>(
      standby.connection(),
      `SELECT current_setting('server_version') AS version, pg_is_in_recovery() AS recovery,
              pg_last_wal_replay_lsn()::text AS replay,
              CASE WHEN pg_last_wal_replay_lsn() = pg_last_wal_receive_lsn() THEN 0
                   ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag`,
    );
    let source: PreflightFacts['source'] = { reachable: false, engineVersion: null, status: null };
    try {
      const [p] = await sql<{ version: string; lsn: string }>(
        primary.connection(),
        `SELECT current_setting('server_version') AS version, pg_current_wal_lsn()::text AS lsn`,
      );
      source = {
        reachable: true,
        engineVersion: p!.version.split(' ')[0]!,
        status: 'available',
        endpoint: `127.0.0.1:${primary.port}`,
      };
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
      replicaArn: `local:standby:${standby.port}`,
    };
  };

  const release = (input: never) => {
    lock.delete(lockItem(input));
    return {};
  };
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
    // No canary runs in this drill: no acknowledged heartbeat, so the estimate says it is unknown.
    GetLastHeartbeat: () => ({}),
    EstimateDataLoss: (input: { acknowledged: unknown }) =>
      estimateDataLoss(standby.connection(DATABASE), input.acknowledged, new Date()),
    RequestApproval: () => {
      throw Object.assign(new Error('the drill never waits for a person'), { name: 'FailoverAborted' });
    },
    FenceOldPrimary: async () => {
      // Planned: the old primary stops taking writes, and the standby replays everything it wrote.
      await sql(primary.connection(), 'ALTER SYSTEM SET default_transaction_read_only = on');
      await sql(primary.connection(), 'SELECT pg_reload_conf()');
      // New sessions fork from the postmaster, which applies the reload asynchronously: wait until
      // a new session is read-only, so no session that can still write starts after the terminate.
      for (let i = 0; ; i++) {
        const [r] = await sql<{ ro: string }>(primary.connection(), 'SHOW default_transaction_read_only');
        if (
          (r as { default_transaction_read_only?: string } | undefined)?.default_transaction_read_only ===
          'on'
        )
          break;
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
      fenceDetail = 'old primary read-only, sessions ended';
      return { status: 'fenced', detail: fenceDetail };
    },
    // Planned mode: the workflow's own catch-up — the fenced primary's last WAL position, then
    // the standby's replay position until it gets there (bounded), as wf-verify-write does in AWS.
    WaitForReplicaCatchUp: () =>
      catchUp(
        () => fencedPrimaryLsn(primary.connection()),
        () => replayLsn(standby.connection()),
        { timeoutMs: 10_000, intervalMs: 10 },
      ),
    ConfirmPromotion: async (input: { promoteError: { Error?: string; Cause?: string } }) => {
      const [r] = await sql<{ recovery: boolean }>(
        standby.connection(),
        'SELECT pg_is_in_recovery() AS recovery',
      );
      const { promotion, detail } = promotionAfterError(input.promoteError, {
        role: r!.recovery ? 'replica' : 'writer',
        status: 'available',
      });
      return { status: promotion, detail, check: promotionCheckCommand(target) };
    },
    PromoteReadReplica: async () => {
      await sql(standby.connection(), 'SELECT pg_promote(true, 30)');
      return { DbInstance: { DbInstanceStatus: 'modifying' } };
    },
    SwitchoverGlobalCluster: () => {
      throw new Error('not an Aurora global database');
    },
    FailoverGlobalCluster: () => {
      throw new Error('not an Aurora global database');
    },
    CheckWritable: async (input: { attempts: number }) => {
      const [r] = await sql<{ writable: boolean }>(
        standby.connection(),
        'SELECT NOT pg_is_in_recovery() AS writable',
      );
      return {
        writable: r!.writable,
        status: 'available',
        endpoint: `127.0.0.1:${standby.port}`,
        role: r!.writable ? 'writer' : 'promoting',
        attempts: input.attempts + 1,
        waitSeconds: nextPollWaitSeconds(input.attempts + 1),
      };
    },
    SwitchDns: () => {
      endpoint.target = { host: '127.0.0.1', port: standby.port };
      return { ChangeInfo: { Id: '/change/local-1', Status: 'PENDING' } };
    },
    GetDnsChange: () => ({ ChangeInfo: { Id: '/change/local-1', Status: 'INSYNC' } }),
    // The function's own check (wf-verify-write), on the promoted standby before DNS moves.
    VerifyWrite: async (input: { endpoint: string; executionName: string }) => {
      const [host, port] = input.endpoint.split(':');
      const result = await verifyWrite(
        { ...standby.connection(DATABASE), host: host!, port: Number(port) },
        input.executionName,
      );
      verifiedWriteAt = result.at;
      return result;
    },
    RecordFailover: async (input: {
      executionId: string;
      executionName: string;
      startedAt: string;
      request: PreflightOutput['request'];
      rpoSeconds: number | null;
      verifiedWriteAt: string;
    }) => {
      const record = buildFailoverRecord({
        target,
        request: input.request,
        executionId: input.executionId,
        startedAt: input.startedAt,
        verifiedWriteAt: input.verifiedWriteAt,
        rpoSeconds: input.rpoSeconds,
        fence: fenceDetail,
      });
      const key = failoverRecordKey(DATABASE, record.startedAt, input.executionName);
      await ctx.repository.putOnce(key, `${JSON.stringify(record, null, 2)}\n`);
      return { recorded: true, rtoSeconds: record.rtoSeconds, rpoSeconds: record.rpoSeconds, key };
    },
  };

  const executionName = `drill-${new Date().toISOString().replace(/[-:.]/g, '')}`;
  ctx.writer.longestGapMs = 0;
  const run = await runLocalWorkflow(
    'failover',
    ctx.asl,
    { database: DATABASE, mode: ctx.mode, reason: 'lifeboat drill' },
    tasks as never,
    {
      executionName,
      waitMs: 50,
    },
  );
  if (run.status !== 'SUCCEEDED') {
    throw new Error(
      `failover workflow ${run.error}: ${run.cause} (path: ${run.path.map((p) => p.state).join(' → ')})`,
    );
  }
  const output = run.output as { record?: { rtoSeconds?: number } };
  const rto = verifiedWriteAt
    ? (Date.parse(verifiedWriteAt) - run.startedAt) / 1000
    : (output.record?.rtoSeconds ?? null);
  return {
    path: run.path.map((p) => `${p.state}@${Math.round(p.atMs)}`),
    events,
    figures: {
      rtoSeconds: rto,
      lagAtTriggerSeconds: lagAtTrigger.seconds,
      lagAtTriggerBytes: lagAtTrigger.bytes,
    },
  };
}
