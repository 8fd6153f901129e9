#!/usr/bin/env node
// `npm run synth`: synthesizes every environment, one `cdk synth` each, fully offline:
// no telemetry, no notices, no EC2 metadata probing, CDK's state kept inside the project.
// Usage: node scripts/synth-all.mjs [env ...]   (default: every environment in lib/config)
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cdkHome = path.join(root, '.cdk-home');
mkdirSync(cdkHome, { recursive: true });

const env = {
  ...process.env,
  CDK_DISABLE_CLI_TELEMETRY: 'true',
  CDK_HOME: cdkHome,
  AWS_EC2_METADATA_DISABLED: 'true',
};

function knownEnvironments() {
  const listed = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      "const { ENVIRONMENTS } = await import('./lib/config/environments.ts'); console.log(Object.keys(ENVIRONMENTS).join(' '));",
    ],
    { cwd: root, env, encoding: 'utf8' },
  );
  if (listed.status !== 0) {
    process.stderr.write(listed.stderr);
    process.exit(1);
  }
  return listed.stdout.trim().split(/\s+/);
}

const environments = process.argv.length > 2 ? process.argv.slice(2) : knownEnvironments();
const cdk = path.join(root, 'node_modules', '.bin', 'cdk');
let failed = 0;
for (const name of environments) {
  const outdir = path.join(root, `cdk.out.${name}`);
  // CDK never removes staged assets of earlier runs: start each environment from an empty directory.
  rmSync(outdir, { recursive: true, force: true });
  const started = process.hrtime.bigint();
  const result = spawnSync(cdk, ['synth', '-q', '--no-notices', '-c', `env=${name}`, '-o', outdir], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const ok = result.status === 0;
  if (!ok) failed += 1;
  console.log(
    `${ok ? 'ok  ' : 'FAIL'} ${name.padEnd(10)} ${seconds.toFixed(1)} s  ${path.relative(root, outdir)}`,
  );
}
process.exit(failed === 0 ? 0 : 1);
