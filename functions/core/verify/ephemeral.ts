import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ClusterError, errorMessage } from '../shared/errors.ts';
import type { ConnectionInfo } from '../shared/pg.ts';
import { type InstalledTool, installedTools, newestTool } from '../shared/pgtools.ts';

const run = promisify(execFile);

export interface EphemeralClusterOptions {
  /** Server major the cluster must be at least (the dump's source). @default the newest installed */
  readonly minMajor?: number | undefined;
  /** Parent of the temporary directory. @default os.tmpdir() */
  readonly parentDir?: string | undefined;
  /**
   * Durability off (fsync, full_page_writes, synchronous_commit): the cluster only lives for a
   * check. Streaming replication needs WAL kept, so drills turn this off. @default true
   */
  readonly fast?: boolean;
  /** Extra postgresql.conf lines. */
  readonly settings?: Readonly<Record<string, string>>;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * A throw-away PostgreSQL cluster: initdb in a temporary directory, a free port on 127.0.0.1,
 * trust authentication for local connections only. When lifeboat runs as root the server runs as
 * the `postgres` OS user (PostgreSQL refuses root). `stop()` removes everything; clusters still
 * running when the process exits (Ctrl-C, a crash) are stopped and removed by an exit hook.
 */
export class EphemeralCluster {
  private stopped = false;

  private constructor(
    readonly dir: string,
    readonly dataDir: string,
    readonly port: number,
    readonly bin: string,
    readonly version: string,
    private readonly runAs: string | null,
  ) {}

  static async start(options: EphemeralClusterOptions = {}): Promise<EphemeralCluster> {
    const initdb = await serverBinaries(options.minMajor, options.env);
    const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), 'lifeboat-pg-'));
    const runAs = userInfo().uid === 0 ? 'postgres' : null;
    const cluster = new EphemeralCluster(
      dir,
      path.join(dir, 'data'),
      0,
      path.dirname(initdb.path),
      initdb.version,
      runAs,
    );
    live.add(cluster);
    try {
      await cluster.init(options);
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Makes a standby of `primary` with pg_basebackup (streaming WAL), started and replicating. */
  static async standbyOf(
    primary: EphemeralCluster,
    options: Omit<EphemeralClusterOptions, 'minMajor'> = {},
  ): Promise<EphemeralCluster> {
    const dir = await mkdtemp(path.join(options.parentDir ?? tmpdir(), 'lifeboat-pg-'));
    const cluster = new EphemeralCluster(
      dir,
      path.join(dir, 'data'),
      0,
      primary.bin,
      primary.version,
      primary.runAs,
    );
    live.add(cluster);
    try {
      await cluster.prepareDir();
      await cluster.exec('pg_basebackup', [
        '-h',
        '127.0.0.1',
        '-p',
        String(primary.port),
        '-U',
        'postgres',
        '-D',
        cluster.dataDir,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
      ]);
      await cluster.startServer(options.settings ?? {});
      return cluster;
    } catch (err) {
      await cluster.stop();
      throw err;
    }
  }

  /** Connection to a database of this cluster as the superuser `postgres`. */
  connection(database = 'postgres'): ConnectionInfo {
    return { host: '127.0.0.1', port: this.port, user: 'postgres', database };
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${encodeURIComponent(database)}`;
  }

  get running(): boolean {
    return !this.stopped;
  }

  private async prepareDir(): Promise<void> {
    if (this.runAs) {
      const { uid, gid } = await osUser(this.runAs);
      await chown(this.dir, uid, gid);
    }
    await chmod(this.dir, 0o700);
  }

  private async init(options: EphemeralClusterOptions): Promise<void> {
    await this.prepareDir();
    await this.exec('initdb', [
      '-D',
      this.dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    const fast = options.fast ?? true;
    const settings: Record<string, string> = {
      ...(fast ? { fsync: 'off', full_page_writes: 'off', synchronous_commit: 'off' } : {}),
      ...(options.settings ?? {}),
    };
    await this.startServer(settings);
  }

  private async startServer(settings: Record<string, string>): Promise<void> {
    (this as { port: number }).port = await freePort();
    const lines = {
      listen_addresses: "'127.0.0.1'",
      port: String(this.port),
      unix_socket_directories: `'${this.dir}'`,
      max_connections: '40',
      shared_buffers: '128MB',
      max_wal_senders: '5',
      wal_level: 'replica',
      hot_standby: 'on',
      logging_collector: 'off',
      ...settings,
    };
    const conf = path.join(this.dataDir, 'postgresql.auto.conf');
    const existing = await readFile(conf, 'utf8').catch(() => '');
    const keep = existing
      .split('\n')
      .filter(
        (l) => !Object.keys(lines).some((k) => l.trim().startsWith(`${k} `) || l.trim().startsWith(`${k}=`)),
      );
    await writeFile(
      conf,
      `${[...keep, ...Object.entries(lines).map(([k, v]) => `${k} = ${v}`)].join('\n')}\n`,
    );
    if (this.runAs) {
      const { uid, gid } = await osUser(this.runAs);
      await chown(conf, uid, gid);
    }
    await this.exec('pg_ctl', [
      'start',
      '-w',
      '-t',
      '60',
      '-D',
      this.dataDir,
      '-l',
      path.join(this.dir, 'server.log'),
    ]);
  }

  /** Runs a server binary of this cluster's version (as the cluster's OS user). */
  async exec(tool: string, args: string[]): Promise<string> {
    const file = path.join(this.bin, tool);
    const [cmd, argv] = this.runAs ? ['runuser', ['-u', this.runAs, '--', file, ...args]] : [file, args];
    try {
      const { stdout } = await run(cmd, argv, {
        cwd: this.dir,
        timeout: 120_000,
        maxBuffer: 16 * 1024 * 1024,
      });
      return stdout;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      const log = await readFile(path.join(this.dir, 'server.log'), 'utf8').catch(() => '');
      throw new ClusterError(
        `${tool} failed: ${stderr || errorMessage(err)}${log ? `\nserver log: ${log.trim().split('\n').slice(-5).join('\n')}` : ''}`,
        { cause: err },
      );
    }
  }

  /** Stops the server at once and removes the directory. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    await this.exec('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30']).catch(
      () => undefined,
    );
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The synchronous variant for exit hooks, where nothing asynchronous runs any more. */
  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    live.delete(this);
    const file = path.join(this.bin, 'pg_ctl');
    const args = ['stop', '-D', this.dataDir, '-m', 'immediate', '-w', '-t', '30'];
    try {
      if (this.runAs) execFileSync('runuser', ['-u', this.runAs, '--', file, ...args], { stdio: 'ignore' });
      else execFileSync(file, args, { stdio: 'ignore' });
    } catch {
      // not running
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const live = new Set<EphemeralCluster>();
let hooked = false;

/** Clusters left running when the process ends are stopped and removed (crash, Ctrl-C, kill). */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const c of [...live]) c.stopSync();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      // Only act when nobody else handles the signal (the CLI aborts work and cleans up itself).
      if (process.listenerCount(signal) > 1) return;
      for (const c of [...live]) c.stopSync();
      process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1));
    });
  }
}
hookExit();

async function serverBinaries(minMajor: number | undefined, env?: NodeJS.ProcessEnv): Promise<InstalledTool> {
  if (minMajor === undefined) return newestTool('initdb', env);
  const all = await installedTools('initdb', env);
  const fit = all.filter((t) => t.major >= minMajor).sort((a, b) => a.major - b.major)[0];
  if (!fit) {
    const list = all.length ? all.map((t) => `${t.version} (${t.path})`).join(', ') : 'none';
    throw new ClusterError(
      `PostgreSQL server binaries (initdb, pg_ctl) of major ${minMajor} or newer are needed for an ephemeral cluster; found ${list}` +
        ' (install the server package, or set LIFEBOAT_PG_BIN_DIRS, or pass --scratch-url)',
    );
  }
  return fit;
}

const osUsers = new Map<string, { uid: number; gid: number }>();
async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const cached = osUsers.get(name);
  if (cached) return cached;
  try {
    const uid = Number((await run('id', ['-u', name])).stdout.trim());
    const gid = Number((await run('id', ['-g', name])).stdout.trim());
    osUsers.set(name, { uid, gid });
    return { uid, gid };
  } catch (err) {
    throw new ClusterError(
      `running as root, but there is no "${name}" OS user to run PostgreSQL as (PostgreSQL refuses root)`,
      { cause: err },
    );
  }
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
