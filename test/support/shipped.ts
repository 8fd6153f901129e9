import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { addEnvironment } from '../../lib/app.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import {
  type DeployedMachine,
  deployedMachines,
  resolveTokens,
  type TemplateJson,
} from './environment-asl.ts';

/**
 * What ships, built as `cdk synth` builds it: an environment synthesized with real bundling (the
 * same esbuild options, minified, as deployed), each Lambda function traced to the code that
 * runs in AWS:
 *
 * - a zip function: its staged asset directory (`asset.<hash>` for `Code.S3Key <hash>.zip`);
 * - a container-image function: the image's handler bundles, built from the staged image context
 *   with the exact `npx esbuild …` commands of its Dockerfile (the image itself is only built at
 *   deploy time, and needs Docker).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface ShippedFunction {
  readonly logicalId: string;
  /** The file Lambda loads and the export it calls. */
  readonly module: string;
  readonly exportName: string;
  /** Environment variables as the template sets them (tokens as placeholders). */
  readonly environment: Record<string, string>;
}

export interface ShippedStack {
  readonly name: string;
  readonly region: string;
  readonly template: TemplateJson;
  readonly machines: DeployedMachine[];
  readonly functions: Map<string, ShippedFunction>;
}

export interface ShippedEnvironment {
  readonly environment: string;
  readonly outdir: string;
  readonly stacks: ShippedStack[];
  dispose(): void;
}

/** Runs the Dockerfile's esbuild commands against the staged context; returns their outdir. */
function buildImageHandlers(contextDir: string, dockerFile: string, outdir: string): void {
  const text = readFileSync(path.join(contextDir, dockerFile), 'utf8').replace(/\\\n/g, ' ');
  const commands = text
    .split('\n')
    .filter((line) => /^RUN npx esbuild /.test(line))
    .map((line) => line.replace(/^RUN npx esbuild /, ''));
  if (commands.length === 0) throw new Error(`${dockerFile}: no "RUN npx esbuild" step`);
  const esbuild = path.join(ROOT, 'node_modules/.bin/esbuild');
  mkdirSync(outdir, { recursive: true });
  for (const args of commands) {
    execFileSync('sh', ['-c', `"${esbuild}" ${args.replaceAll('/out/', `${outdir}/`)} --log-level=warning`], {
      cwd: contextDir,
      // The image runs `npm ci` in the context; here the project's node_modules stand in for it.
      env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
      stdio: 'inherit',
    });
  }
}

function environmentOf(props: Record<string, unknown>, template: TemplateJson, region: string) {
  const vars = (props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, resolveTokens(v, template, region)]));
}

function shippedFunctions(outdir: string, stackName: string, template: TemplateJson, region: string) {
  const manifest = JSON.parse(readFileSync(path.join(outdir, `${stackName}.assets.json`), 'utf8')) as {
    dockerImages?: Record<string, { source: { directory: string; dockerFile?: string } }>;
  };
  const functions = new Map<string, ShippedFunction>();
  for (const [logicalId, r] of Object.entries(template.Resources ?? {})) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const props = r.Properties ?? {};
    const code = props.Code as { S3Key?: unknown; ImageUri?: unknown };
    const environment = environmentOf(props, template, region);
    if (typeof code.S3Key === 'string') {
      const dir = path.join(outdir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
      const [file, exportName] = (props.Handler as string).split('.') as [string, string];
      const module = ['mjs', 'js', 'cjs'].map((ext) => path.join(dir, `${file}.${ext}`)).find(existsSync);
      if (!module) throw new Error(`${logicalId}: no ${file}.mjs/.js in ${dir}`);
      functions.set(logicalId, { logicalId, module, exportName, environment });
    } else if (code.ImageUri) {
      const hash = /:([0-9a-f]{64})$/.exec(resolveTokens(code.ImageUri, template, region))?.[1];
      const image = hash ? manifest.dockerImages?.[hash] : undefined;
      if (!image?.source.dockerFile) throw new Error(`${logicalId}: image asset not found in the manifest`);
      const context = path.join(outdir, image.source.directory);
      const built = path.join(outdir, `image-handlers.${hash}`);
      if (!existsSync(built)) buildImageHandlers(context, image.source.dockerFile, built);
      const command =
        (props.ImageConfig as { Command?: string[] } | undefined)?.Command?.[0] ?? 'index.handler';
      const [file, exportName] = command.split('.') as [string, string];
      functions.set(logicalId, {
        logicalId,
        module: path.join(built, `${file}.mjs`),
        exportName,
        environment,
      });
    }
  }
  return functions;
}

/** Synthesizes `environment` with real bundling into a temp directory. */
export function synthesizeShipped(environment: string): ShippedEnvironment {
  const outdir = mkdtempSync(path.join(tmpdir(), `lifeboat-shipped-${environment}-`));
  const app = new App({ outdir });
  const config = loadEnvironmentConfig(environment, { [environment]: ENVIRONMENTS[environment]! });
  const stacks = addEnvironment(app, environment, config);
  app.synth();
  const result: ShippedStack[] = [];
  for (const stack of [stacks.primary, stacks.dr]) {
    const template = JSON.parse(
      readFileSync(path.join(outdir, `${stack.artifactId}.template.json`), 'utf8'),
    ) as TemplateJson;
    result.push({
      name: stack.stackName,
      region: stack.region,
      template,
      machines: deployedMachines(template, stack.region),
      functions: shippedFunctions(outdir, stack.artifactId, template, stack.region),
    });
  }
  return {
    environment,
    outdir,
    stacks: result,
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** Every staged bundle of an outdir (zip assets and image handlers). */
export function bundleFiles(outdir: string): string[] {
  return readdirSync(outdir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && (e.name.startsWith('asset.') || e.name.startsWith('image-handlers.')))
    .flatMap((e) =>
      readdirSync(path.join(outdir, e.name))
        .filter((f) => /\.(mjs|js|cjs)$/.test(f))
        .map((f) => path.join(outdir, e.name, f)),
    );
}
