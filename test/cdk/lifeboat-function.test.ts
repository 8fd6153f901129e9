import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../lib/config/environments.ts';
import {
  bindBucket,
  LifeboatFunction,
  NodejsFunctionGuard,
  setFunctionDefaults,
} from '../../lib/constructs/lifeboat-function.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
import { synthesizeEnvironment } from './support.ts';
import { arnOf, objectsOf, onlyResource, roleOfFunction, statementsOfRole } from './template-helpers.ts';

const entry = path.join(PROJECT_ROOT, 'test/fixtures/cdk/handler.ts');

describe('LifeboatFunction', () => {
  let stack: Stack;
  let template: Template;

  beforeAll(() => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    stack = new Stack(app, 'Test', { env: { account: '111111111111', region: 'eu-west-1' } });
    const fn = new LifeboatFunction(stack, 'Fn', { entry, logRetention: RetentionDays.ONE_WEEK });
    bindBucket(fn, new Bucket(stack, 'Bucket'), 'read', { prefixes: ['catalog/'] });
    new NodejsFunction(stack, 'Raw', { entry, runtime: Runtime.NODEJS_22_X });
    Aspects.of(app).add(new NodejsFunctionGuard());
    template = Template.fromStack(stack);
  });

  it('fixes runtime, architecture and tracing', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      Handler: 'index.handler',
    });
  });

  it('logs into its own log group with a retention', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      LoggingConfig: { LogGroup: { Ref: Match.anyValue() } },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
  });

  it('starts from a role that may only write its own logs (no AWS managed policy)', () => {
    const fn = onlyResource(template, 'AWS::Lambda::Function', { Architectures: ['arm64'] });
    const role = roleOfFunction(template, fn);

    expect(template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    const logs = statementsOfRole(template, role).filter((s) => JSON.stringify(s.Action).includes('logs:'));
    expect(logs).toHaveLength(1);
  });

  it('bindBucket sets the variable and grants read on the prefix only', () => {
    const bucket = onlyResource(template, 'AWS::S3::Bucket');
    const fn = onlyResource(template, 'AWS::Lambda::Function', { Architectures: ['arm64'] });
    const statements = statementsOfRole(template, roleOfFunction(template, fn));

    template.hasResourceProperties('AWS::Lambda::Function', {
      Architectures: ['arm64'],
      Environment: { Variables: Match.objectLike({ LIFEBOAT_BUCKET: { Ref: bucket } }) },
    });
    expect(statements).toContainEqual({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: objectsOf(bucket, 'catalog/*'),
    });
    expect(JSON.stringify(statements)).not.toContain('s3:PutObject');
    expect(statements.some((s) => JSON.stringify(s.Resource) === JSON.stringify(arnOf(bucket)))).toBe(true);
  });

  it('the guard fails synthesis for a raw NodejsFunction, and only for it', () => {
    const errors = Annotations.fromStack(stack).findError(
      '*',
      Match.stringLikeRegexp('instead of a raw NodejsFunction'),
    );

    expect(errors.map((e) => e.id)).toEqual(['/Test/Raw']);
  });
});

describe('LifeboatFunction bundles', () => {
  it('each function its own entry: two functions of one stack get two different bundles', () => {
    const app = new App();
    const stack = new Stack(app, 'Bundled', { env: { account: '111111111111', region: 'eu-west-1' } });
    new LifeboatFunction(stack, 'One', { entry });
    new LifeboatFunction(stack, 'Two', { entry: path.join(PROJECT_ROOT, 'test/fixtures/bundle/entry.ts') });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    const keys = Object.values(functions).map((f) => (f.Properties.Code as { S3Key: string }).S3Key);

    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
  });
});

describe('LifeboatFunction defaults of a stack', () => {
  it("sets the environment's name, the service name, the log retention and the log key of every function", () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Defaults', { env: { account: '111111111111', region: 'eu-west-1' } });
    const key = new Key(stack, 'LogKey');
    setFunctionDefaults(stack, {
      lifeboatEnvironment: 'prod',
      logRetention: RetentionDays.ONE_YEAR,
      logKey: key,
    });
    new LifeboatFunction(stack, 'Fn', { entry });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ LIFEBOAT_ENVIRONMENT: 'prod', POWERTOOLS_SERVICE_NAME: 'cdk' }),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', {
      RetentionInDays: 365,
      KmsKeyId: { 'Fn::GetAtt': [onlyResource(template, 'AWS::KMS::Key'), 'Arn'] },
    });
  });

  it("a function's own settings win over the stack's; without defaults it names no environment", () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Own', { env: { account: '111111111111', region: 'eu-west-1' } });
    const bare = new Stack(app, 'Bare', { env: { account: '111111111111', region: 'eu-west-1' } });
    setFunctionDefaults(stack, { lifeboatEnvironment: 'prod', logRetention: RetentionDays.ONE_YEAR });
    new LifeboatFunction(stack, 'Fn', {
      entry,
      lifeboatEnvironment: 'dev',
      logRetention: RetentionDays.ONE_WEEK,
      environment: { POWERTOOLS_SERVICE_NAME: 'own' },
    });
    new LifeboatFunction(bare, 'Fn', { entry });

    const own = Template.fromStack(stack);
    own.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ LIFEBOAT_ENVIRONMENT: 'dev', POWERTOOLS_SERVICE_NAME: 'own' }),
      },
    });
    own.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 7 });
    const variables = Object.values(Template.fromStack(bare).findResources('AWS::Lambda::Function'))[0]!
      .Properties.Environment.Variables;
    expect(variables.LIFEBOAT_ENVIRONMENT).toBeUndefined();
    Template.fromStack(bare).hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });
});

describe('SDK tracing (tracing.sdkCalls)', () => {
  // A real handler (it makes SDK clients through awsClient), bundled for real.
  const traced = 'wf-describe-replica/index.ts';
  let outdir: string;
  let template: Template;
  /** The text of every file of each function's staged bundle, by construct id. */
  const bundles = new Map<string, string>();

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'lifeboat-sdk-tracing-'));
    const app = new App({ outdir });
    const stack = new Stack(app, 'Tracing', { env: { account: '111111111111', region: 'eu-west-1' } });
    setFunctionDefaults(stack, {
      lifeboatEnvironment: 'dev',
      logRetention: RetentionDays.ONE_WEEK,
      sdkTracing: true,
    });
    new LifeboatFunction(stack, 'Traced', { entry: traced });
    new LifeboatFunction(stack, 'Untraced', { entry: traced, sdkTracing: false });
    app.synth();
    template = Template.fromStack(stack);
    for (const [logicalId, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
      const key = (fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
      const dir = path.join(outdir, `asset.${key}`);
      const text = readdirSync(dir)
        .map((f) => readFileSync(path.join(dir, f), 'utf8'))
        .join('\n');
      bundles.set(logicalId.startsWith('Traced') ? 'Traced' : 'Untraced', text);
    }
  });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('the bundle carries the Tracer and the X-Ray SDK only when on (stack default or the function’s own)', () => {
    expect(bundles.size).toBe(2);
    for (const marker of ['XRaySDKInstrumentation', 'captureLambdaHandler']) {
      expect(bundles.get('Traced')).toContain(marker);
      expect(bundles.get('Untraced')).not.toContain(marker);
    }
  });

  it('tracing changes the code only: same variables, same role policy (X-Ray access comes with active tracing)', () => {
    const functions = template.findResources('AWS::Lambda::Function');
    const [on, off] = ['Traced', 'Untraced'].map((id) =>
      Object.keys(functions).find((l) => l.startsWith(id))!,
    );
    // The function's own resources (log group, role), named apart from the function's id.
    const statements = (fn: string) =>
      JSON.stringify(statementsOfRole(template, roleOfFunction(template, fn))).replace(
        /"(Traced|Untraced)(\w*?)[A-F0-9]{8}"/g,
        '"<fn>$2"',
      );

    expect(functions[on!]!.Properties.Environment).toEqual(functions[off!]!.Properties.Environment);
    expect(functions[on!]!.Properties.TracingConfig).toEqual({ Mode: 'Active' });
    expect(statements(on!)).toContain('<fn>LogGroup');
    expect(statements(on!)).toBe(statements(off!));
  });

  it('an environment with tracing on synthesizes clean (cdk-nag) and differs from one without only in its code', () => {
    const input = { ...ENVIRONMENTS.dev!, tracing: { sdkCalls: true } };
    const on = synthesizeEnvironment('dev', input);
    const off = synthesizeEnvironment('dev');
    try {
      expect(on.violations).toEqual([]);
      expect(off.violations).toEqual([]);
      // Unbundled here, the code is still keyed on the bundling command, which carries the setting:
      // every function of the environment gets it.
      const keys = (t: Template) =>
        Object.values(t.findResources('AWS::Lambda::Function'))
          .map((f) => (f.Properties.Code as { S3Key?: unknown }).S3Key)
          .filter((k) => typeof k === 'string');
      const offKeys = new Set(keys(off.primaryTemplate));
      expect(keys(on.primaryTemplate).length).toBeGreaterThan(10);
      expect(keys(on.primaryTemplate).filter((k) => offKeys.has(k))).toEqual([]);
      const withoutCode = (t: Template) =>
        JSON.stringify(t.toJSON()).replace(/"S3Key":"[0-9a-f]{64}\.zip"/g, '"S3Key":"<code>"');
      expect(withoutCode(on.primaryTemplate)).toBe(withoutCode(off.primaryTemplate));
      expect(withoutCode(on.drTemplate)).toBe(withoutCode(off.drTemplate));
    } finally {
      on.dispose();
      off.dispose();
    }
  });
});
