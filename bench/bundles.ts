/**
 * `npm run bench:bundles [-- --repeat 7] [--only canary,prune] [--sdk-tracing] [--node PATH]`
 *
 * Every handler bundled as it ships (lib/constructs/handler-bundle.ts), with its size and its cold
 * init: the time to import the bundle in a fresh Node process with the function's NODE_OPTIONS,
 * which is what a Lambda cold start spends in the module before the first event. Rounds alternate
 * between the handlers (and a fixed reference bundle), so a change in the machine's load falls on
 * all of them alike; each figure is the median of `--repeat` processes: wall-clock milliseconds,
 * CPU milliseconds of the process (user + system, steadier than wall-clock on a shared machine),
 * and the wall-clock ratio to a reference bundle that is built and imported the same way in every
 * run. With `--sdk-tracing`, each handler is also bundled as an environment with
 * `tracing.sdkCalls` would ship it (`<name>+sdk-tracing`), in the same rounds. With `--node PATH`,
 * the bundles are imported by that Node executable instead of the one running the bench: Lambda
 * runs Node 22 (bench/README.md says how to get one from the npm registry). Prints figures.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { HANDLER_FILE, HANDLER_NODE_OPTIONS } from '../lib/constructs/handler-bundle.ts';
import { BUNDLE_LIMIT_BYTES, type Bundle, bundleHandler, handlerNames, ROOT } from './lib/bundle.ts';
import { flag, option, summarize, table } from './lib/measure.ts';

const INIT_GOAL_MS = 150;
const REFERENCE = 'reference';
/** Node's https (what the SDK's transport loads at init), imported alone: the Node part of every init. */
const NODE_HTTPS = 'node:https alone';
const FIXTURES = new Set([REFERENCE, NODE_HTTPS]);

interface Sample {
  readonly wall: number;
  readonly cpu: number;
}

/** Wall-clock and CPU milliseconds `import(file)` takes in a new Node process. */
function importTime(node: string, file: string, nodeOptions: string): Promise<Sample> {
  const script = [
    'const c = process.cpuUsage(); const t = performance.now();',
    `await import(${JSON.stringify(pathToFileURL(file).href)});`,
    'const wall = performance.now() - t; const u = process.cpuUsage(c);',
    'process.stdout.write(JSON.stringify({ wall, cpu: (u.user + u.system) / 1000 }));',
  ].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(node, ['--input-type=module', '-e', script], {
      // What a handler's module scope may read; nothing reaches AWS at import.
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'x',
        AWS_SECRET_ACCESS_KEY: 'x',
        ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out) as Sample)
        : reject(new Error(`importing ${file} failed: ${err.trim().slice(-500)}`)),
    );
  });
}

/**
 * A fixed fixture (bench/fixtures/): bundled and imported the same way in every run, whatever the
 * handlers' settings (one minified file, no NODE_OPTIONS), so its time moves only with the machine.
 */
async function bundleFixture(outdir: string, name: string, source: string): Promise<Bundle> {
  const file = path.join(outdir, name.replace(/\W+/g, '-'), HANDLER_FILE);
  await build({
    entryPoints: [path.join(ROOT, 'bench/fixtures', source)],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    logLevel: 'silent',
  });
  return { file, bytes: 0, initBytes: 0, inputs: [] };
}

const argv = process.argv.slice(2);
const repeat = Number(option(argv, 'repeat') ?? '7');
const only = option(argv, 'only')?.split(',');
const withSdkTracing = flag(argv, 'sdk-tracing');
const node = option(argv, 'node') ?? process.execPath;
let nodeVersion: string;
try {
  nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
} catch (err) {
  process.stderr.write(
    `--node expects a Node executable; ${node} did not run: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exit(2);
}
const work = await mkdtemp(path.join(tmpdir(), 'lifeboat-bundles-'));
try {
  const names = (await handlerNames()).filter((n) => !only || only.includes(n));
  const bundles = new Map<string, Bundle>();
  for (const name of names) {
    bundles.set(name, await bundleHandler(name, work));
    if (withSdkTracing)
      bundles.set(`${name}+sdk-tracing`, await bundleHandler(name, work, { sdkTracing: true }));
  }
  bundles.set(REFERENCE, await bundleFixture(work, REFERENCE, 'reference-handler.ts'));
  bundles.set(NODE_HTTPS, await bundleFixture(work, NODE_HTTPS, 'node-https-handler.ts'));

  const samples = new Map<string, Sample[]>([...bundles.keys()].map((n) => [n, []]));
  const load = [loadavg()[0]!];
  for (let round = 0; round < repeat; round++) {
    for (const [name, bundle] of bundles) {
      const nodeOptions = FIXTURES.has(name) ? '' : HANDLER_NODE_OPTIONS;
      samples.get(name)!.push(await importTime(node, bundle.file, nodeOptions));
    }
    load.push(loadavg()[0]!);
    process.stderr.write(`  round ${round + 1}/${repeat}, load ${loadavg()[0]!.toFixed(1)}\n`);
  }

  const median = (name: string, key: keyof Sample) => summarize(samples.get(name)!.map((s) => s[key])).median;
  const ref = median(REFERENCE, 'wall');
  const rows = [...bundles].map(([name, b]) => {
    const wall = median(name, 'wall');
    return [
      name,
      FIXTURES.has(name) ? '—' : `${(b.bytes / 1e6).toFixed(3)} MB`,
      FIXTURES.has(name) ? '—' : `${(b.initBytes / 1e6).toFixed(3)} MB`,
      FIXTURES.has(name) ? '—' : b.bytes <= BUNDLE_LIMIT_BYTES ? 'ok' : 'OVER',
      wall.toFixed(0),
      median(name, 'cpu').toFixed(0),
      (wall / ref).toFixed(2),
      FIXTURES.has(name) ? '—' : wall <= INIT_GOAL_MS ? 'ok' : 'OVER',
    ];
  });
  process.stdout.write(
    `\nhandler bundles (lib/constructs/handler-bundle.ts) — size (goal ≤ ${BUNDLE_LIMIT_BYTES / 1e6} MB; INIT: the entry and the chunks it imports statically) and cold init = import in a fresh Node ${nodeVersion} process${HANDLER_NODE_OPTIONS ? ` with NODE_OPTIONS=${HANDLER_NODE_OPTIONS}` : ''}, median of ${repeat} alternating rounds (goal ≤ ${INIT_GOAL_MS} ms wall-clock on an idle machine); × REF: wall-clock over the reference bundle's (bench/fixtures/reference-handler.ts) in the same run; ${NODE_HTTPS}: Node's own https (tls, http's internals), which the AWS SDK's transport loads (bench/fixtures/node-https-handler.ts); 1-minute load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}\n\n`,
  );
  process.stdout.write(
    `${table(['HANDLER', 'SIZE', 'INIT', '≤ 1 MB', 'WALL MS', 'CPU MS', '× REF', `≤ ${INIT_GOAL_MS} MS`], rows)}\n`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
