import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from './ports.ts';

export interface S3Server {
  readonly endpoint: string;
  /** The s3rver process (benchmarks read its CPU time: it shares the machine with what it serves). */
  readonly pid: number | undefined;
  stop(): Promise<void>;
}

export interface S3rverOptions {
  /** Module files s3rver's Node loads first (`--import`): the benchmarks' instrumentation. */
  readonly preload?: readonly string[];
  /** Environment added to s3rver's. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts s3rver in its own Node process. `--openssl-legacy-provider` is needed for its MD5-based
 * ListObjectsV2 paging (it answers 500 otherwise).
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3Server> {
  const require = createRequire(import.meta.url);
  const bin = path.join(path.dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js');
  const directory = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3rver-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--openssl-legacy-provider',
      ...(options.preload ?? []).flatMap((m) => ['--import', pathToFileURL(m).href]),
      bin,
      ...['-d', directory, '-a', '127.0.0.1', '-p', String(port), '--silent'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`s3rver exited early: ${stderr}`);
    try {
      await fetch(endpoint);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`s3rver did not start: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    endpoint,
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}
