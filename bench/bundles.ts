/**
 * `npm run bench:bundles [-- --repeat 5]`
 *
 * Every handler bundled as it ships (minified ESM, SDK inside), with its size and its cold init:
 * the time to import the bundle in a fresh Node process (the median of `--repeat` processes), which
 * is what a Lambda cold start spends in the module before the first event. Prints figures.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUNDLE_LIMIT_BYTES, bundleHandler, handlerNames } from './lib/bundle.ts';
import { option, summarize, table } from './lib/measure.ts';

const INIT_GOAL_MS = 150;

/** Milliseconds `import(file)` takes in a new Node process (the handler's own module scope). */
function importTime(file: string): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); process.stdout.write(String(performance.now() - t));`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      // What a handler's module scope may read; nothing reaches AWS at import.
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', (code) =>
      code === 0
        ? resolve(Number(out))
        : reject(new Error(`importing ${file} failed: ${err.trim().slice(-500)}`)),
    );
  });
}

const repeat = Number(option(process.argv.slice(2), 'repeat') ?? '5');
const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bundles-'));
try {
  const rows: string[][] = [];
  const load = [loadavg()[0]!];
  for (const name of await handlerNames()) {
    const { file, bytes } = await bundleHandler(name, work);
    const times: number[] = [];
    for (let i = 0; i < repeat; i++) times.push(await importTime(file));
    const t = summarize(times);
    rows.push([
      name,
      `${(bytes / 1e6).toFixed(3)} MB`,
      bytes <= BUNDLE_LIMIT_BYTES ? 'ok' : 'OVER',
      t.median.toFixed(0),
      t.best.toFixed(0),
      t.median <= INIT_GOAL_MS ? 'ok' : 'OVER',
    ]);
    process.stderr.write(`  ${name}: ${(bytes / 1e6).toFixed(3)} MB, import ${t.median.toFixed(0)} ms\n`);
  }
  load.push(loadavg()[0]!);
  process.stdout.write(
    `\nhandler bundles (minified ESM, node22, SDK inside) — size (goal ≤ ${BUNDLE_LIMIT_BYTES / 1e6} MB) and cold init = import in a fresh Node ${process.version} process, median of ${repeat} (goal ≤ ${INIT_GOAL_MS} ms); 1-minute load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}\n\n`,
  );
  process.stdout.write(
    `${table(['HANDLER', 'SIZE', '≤ 1 MB', 'INIT MS', 'BEST MS', `≤ ${INIT_GOAL_MS} MS`], rows)}\n`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
