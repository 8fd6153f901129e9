import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { addChecks, addEnvironment, type LifeboatStacks } from '../../lib/app.ts';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import { loadEnvironmentConfig } from '../../lib/config/load.ts';
import type { EnvironmentConfigInput } from '../../lib/config/schema.ts';

export interface Violation {
  readonly rule: string;
  readonly path: string;
}

export interface SynthesizedEnvironment extends LifeboatStacks {
  readonly app: App;
  readonly primaryTemplate: Template;
  readonly drTemplate: Template;
  /** cdk-nag findings (AwsSolutions, NIST 800-53 R5) that no acknowledgment covers. */
  readonly violations: readonly Violation[];
  /** Removes the assembly directory. */
  dispose(): void;
}

interface ValidationReport {
  pluginReports: { violations: { ruleName: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

/**
 * Builds one environment exactly as bin/app.ts does (stacks, guard aspect, cdk-nag packs) and
 * synthesizes it once. Lambda bundling is skipped (`aws:cdk:bundling-stacks`): `npm run synth`
 * bundles for real; here only the resources matter, and it keeps the suite fast.
 */
export function synthesizeEnvironment(
  environment: string,
  input: EnvironmentConfigInput = ENVIRONMENTS[environment]!,
): SynthesizedEnvironment {
  const outdir = mkdtempSync(path.join(tmpdir(), `lifeboat-cdk-${environment}-`));
  const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
  const stacks = addEnvironment(
    app,
    environment,
    loadEnvironmentConfig(environment, { [environment]: input }),
  );
  addChecks(app);
  let violations: Violation[] = [];
  try {
    app.synth();
  } catch (err) {
    if (!String(err).includes('ValidationFailed')) throw err;
    const report = JSON.parse(
      readFileSync(path.join(outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport;
    violations = report.pluginReports.flatMap((plugin) =>
      plugin.violations.flatMap((v) =>
        v.violatingConstructs.map((c) => ({ rule: v.ruleName, path: c.constructPath })),
      ),
    );
  }
  const template = (stack: LifeboatStacks[keyof LifeboatStacks]): Template => {
    if (violations.length > 0) {
      throw new Error(`synthesis failed with cdk-nag findings: ${JSON.stringify(violations, null, 1)}`);
    }
    // The assembly is cached: this reads the template of the synthesis above.
    return Template.fromStack(stack);
  };
  let primaryTemplate: Template | undefined;
  let drTemplate: Template | undefined;
  return {
    ...stacks,
    app,
    get primaryTemplate() {
      primaryTemplate ??= template(stacks.primary);
      return primaryTemplate;
    },
    get drTemplate() {
      drTemplate ??= template(stacks.dr);
      return drTemplate;
    },
    violations,
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}
