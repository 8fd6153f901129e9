import path from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  bindBucket,
  LifeboatFunction,
  NodejsFunctionGuard,
  setFunctionDefaults,
} from '../../lib/constructs/lifeboat-function.ts';
import { PROJECT_ROOT } from '../../lib/paths.ts';
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
