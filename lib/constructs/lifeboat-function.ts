import path from 'node:path';
import { Annotations, Duration, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import { type IRole, type Policy, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Architecture, type Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import { CATALOG_PREFIX, COMMON_ENV } from '../../functions/core/contracts/index.ts';
import { REPOSITORY_PREFIXES } from '../naming.ts';
import { functionPath } from '../paths.ts';
import { HANDLER_FILE, HANDLER_NODE_OPTIONS, handlerCode } from './handler-bundle.ts';

const BRAND = Symbol.for('lifeboat.LifeboatFunction');

export interface LifeboatFunctionProps extends Omit<
  NodejsFunctionProps,
  | 'entry'
  | 'runtime'
  | 'architecture'
  | 'bundling'
  | 'code'
  | 'projectRoot'
  | 'depsLockFilePath'
  | 'logGroup'
  | 'logRetention'
  | 'tracing'
  | 'handler'
> {
  /** Handler module under functions/, e.g. `prune/index.ts`; it exports `handler`. */
  readonly entry: string;
  /**
   * How long the function's logs are kept.
   * @default - the stack's function defaults (setFunctionDefaults), else RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: RetentionDays;
  /**
   * Key the log group is encrypted with (its key policy must let CloudWatch Logs use it).
   * @default - the stack's function defaults, else CloudWatch Logs' own encryption
   */
  readonly logKey?: IKey;
  /**
   * The lifeboat environment the function serves: set as LIFEBOAT_ENVIRONMENT.
   * @default - the stack's function defaults, else none
   */
  readonly lifeboatEnvironment?: string;
  /**
   * Trace the function's AWS SDK calls with the Powertools Tracer (the environment's
   * `tracing.sdkCalls`; bundled in only when on: handler-bundle.ts).
   * @default - the stack's function defaults, else false
   */
  readonly sdkTracing?: boolean;
}

/** What every function of a stack shares: its environment's name, where its logs go, tracing. */
export interface FunctionDefaults {
  readonly lifeboatEnvironment: string;
  readonly logRetention: RetentionDays;
  readonly logKey?: IKey | undefined;
  /** @default false */
  readonly sdkTracing?: boolean;
  /**
   * The most memory a function of the stack gets (the environment's `functionMemoryLimitMB`).
   * @default - no limit
   */
  readonly memoryLimitMB?: number | undefined;
}

const functionDefaults = new WeakMap<Stack, FunctionDefaults>();

/**
 * The memory a function of `scope`'s stack gets when it asks for `wantedMB`: no more than the
 * stack's `memoryLimitMB` (an account whose Lambda limit is lower, docs/deploy.md).
 */
export function functionMemory(scope: Construct, wantedMB: number): number {
  const limit = functionDefaults.get(Stack.of(scope))?.memoryLimitMB;
  return limit === undefined ? wantedMB : Math.min(wantedMB, limit);
}

/**
 * Sets the defaults of every LifeboatFunction created in `stack` afterwards, so that the stack
 * settles them once instead of each construct passing them on.
 */
export function setFunctionDefaults(stack: Stack, defaults: FunctionDefaults): void {
  functionDefaults.set(stack, defaults);
}

/**
 * The one way lifeboat defines a Node.js Lambda function: Node 22 on arm64, its own log group with
 * a retention (and key), X-Ray tracing (and, where the environment asks, its SDK calls traced),
 * bundled by the local esbuild as every handler is
 * (handler-bundle.ts; no Docker at synth), LIFEBOAT_ENVIRONMENT and POWERTOOLS_SERVICE_NAME set.
 * `NodejsFunctionGuard` fails synthesis for any NodejsFunction created another way.
 */
export class LifeboatFunction extends NodejsFunction {
  /** True for a LifeboatFunction, also across copies of this module. */
  static isLifeboatFunction(x: unknown): x is LifeboatFunction {
    return typeof x === 'object' && x !== null && BRAND in x;
  }

  /** The function's own log group (the same object as the inherited `logGroup` accessor returns). */
  public readonly functionLogGroup: LogGroup;

  constructor(scope: Construct, id: string, props: LifeboatFunctionProps) {
    const { entry, logRetention, logKey, lifeboatEnvironment, sdkTracing, ...rest } = props;
    const defaults = functionDefaults.get(Stack.of(scope));
    const logGroup = new LogGroup(scope, `${id}LogGroup`, {
      retention: logRetention ?? defaults?.logRetention ?? RetentionDays.THREE_MONTHS,
      encryptionKey: logKey ?? defaults?.logKey,
    });
    const environmentName = lifeboatEnvironment ?? defaults?.lifeboatEnvironment;
    const role =
      rest.role ??
      functionRole(scope, `${id}Role`, {
        logGroup,
        inVpc: rest.vpc !== undefined,
        description: rest.description,
      });
    super(scope, id, {
      timeout: Duration.seconds(60),
      ...rest,
      memorySize: functionMemory(scope, rest.memorySize ?? 512),
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      logGroup,
      role,
      code: handlerCode(functionPath(entry), { sdkTracing: sdkTracing ?? defaults?.sdkTracing ?? false }),
      handler: `${path.basename(HANDLER_FILE, '.mjs')}.handler`,
      awsSdkConnectionReuse: false,
      environment: {
        ...(HANDLER_NODE_OPTIONS ? { NODE_OPTIONS: HANDLER_NODE_OPTIONS } : {}),
        ...(environmentName ? { [COMMON_ENV.environment]: environmentName } : {}),
        [COMMON_ENV.service]: path.basename(path.dirname(entry)),
        ...rest.environment,
      },
    });
    Object.defineProperty(this, BRAND, { value: true });
    this.functionLogGroup = logGroup;
    grantDeadLetterKey(this, rest.deadLetterQueue);
    acknowledgeTracing(this);
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime lifeboat targets and tests (the same code runs on Node 20 locally); a newer runtime is a deliberate upgrade, not a drift.',
    });
    if (!rest.vpc) {
      Validations.of(this).acknowledge({
        id: 'NIST.800.53.R5-LambdaInsideVPC',
        reason:
          'Calls AWS APIs only (RDS control plane, S3) and never a database; no VPC is configured for it.',
      });
    }
  }
}

/**
 * Lambda's own dead-letter grant is `sqs:SendMessage` only; a queue encrypted with a KMS key also
 * needs the key, or failed events are lost instead of queued.
 */
export function grantDeadLetterKey(fn: LambdaFunction, queue: IQueue | undefined): void {
  if (queue?.encryptionMasterKey && fn.role)
    queue.encryptionMasterKey.grant(fn.role, 'kms:GenerateDataKey', 'kms:Decrypt');
}

export interface FunctionRoleProps {
  /** The function's log group: the role may write to it and nowhere else. */
  readonly logGroup: ILogGroup;
  /** The function runs in a VPC and needs to manage its network interfaces. */
  readonly inVpc: boolean;
  readonly description?: string;
}

/** The network-interface actions a VPC function's role needs (and nothing else of EC2). */
export const VPC_ACCESS_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeSubnets',
  'ec2:DeleteNetworkInterface',
  'ec2:AssignPrivateIpAddresses',
  'ec2:UnassignPrivateIpAddresses',
] as const;

/**
 * An execution role that starts with nothing but writing its own log group (instead of the
 * AWSLambdaBasicExecutionRole's logs:* on every log group). Grants add the rest.
 */
export function functionRole(scope: Construct, id: string, props: FunctionRoleProps): Role {
  const role = new Role(scope, id, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: props.description,
  });
  props.logGroup.grantWrite(role);
  if (props.inVpc) {
    // What Lambda checks on the execution role to attach the function to its VPC. The managed
    // AWSLambdaVPCAccessExecutionRole would also allow logs:* writes on every log group. EC2 has no
    // resource ARN for the Describe calls, and the interfaces' ids are generated at run time.
    role.addToPrincipalPolicy(new PolicyStatement({ actions: [...VPC_ACCESS_ACTIONS], resources: ['*'] }));
  }
  return role;
}

/**
 * Active tracing adds `xray:PutTraceSegments`/`PutTelemetryRecords` on `*` (X-Ray has no resource
 * ARNs) to the role's default policy. Besides these, only actions that take no resource ARN may
 * use `*` there; test/cdk pins exactly which, per function.
 */
export function acknowledgeTracing(fn: LambdaFunction): void {
  const policy = fn.role?.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge(
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Only actions without resource-level permissions get *: X-Ray PutTraceSegments/PutTelemetryRecords, rds:DescribeAccountAttributes, and listing manual snapshots (test/cdk pins the list per function).',
      },
      {
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason:
          'CDK grants write this policy for exactly one role, created and deleted with it; it cannot be attached elsewhere.',
      },
    );
  }
}

/** Fails synthesis when a NodejsFunction is not a LifeboatFunction. */
export class NodejsFunctionGuard implements IAspect {
  visit(node: IConstruct): void {
    if (node instanceof NodejsFunction && !LifeboatFunction.isLifeboatFunction(node)) {
      Annotations.of(node).addError(
        'Use LifeboatFunction (lib/constructs/lifeboat-function.ts) instead of a raw NodejsFunction: it fixes runtime, architecture, logs, tracing and bundling.',
      );
    }
  }
}

/**
 * `read`: list the prefixes, get objects. `append`: also put (for write-once catalog records).
 * `readwrite`: also plain deletes (a delete marker under versioning: partial artifacts, pruning),
 * of artifacts only: nothing may delete a catalog record.
 */
export type BucketAccess = 'read' | 'append' | 'readwrite';

export interface BindBucketOptions {
  /**
   * Key prefixes (each ending in `/`) the function may use.
   * @default REPOSITORY_PREFIXES (`artifacts/`, `catalog/`)
   */
  readonly prefixes?: readonly string[];
  /**
   * Environment variable that receives the bucket name.
   * @default 'LIFEBOAT_BUCKET'
   */
  readonly bucketVariable?: string;
  /**
   * Environment variable that receives the ARN of the bucket's KMS key, when it has one;
   * `null` sets none.
   * @default 'LIFEBOAT_KMS_KEY_ID'
   */
  readonly keyVariable?: string | null;
}

/**
 * Gives `fn` the bucket's name (and key) in its environment and the matching access, in one call,
 * so that the variable and the grant cannot drift apart. Access is spelt out action by action
 * (see BucketAccess) and never includes `s3:DeleteObjectVersion`, Object Lock changes or bypass.
 */
export function bindBucket(
  fn: LambdaFunction,
  bucket: IBucket,
  access: BucketAccess,
  options: BindBucketOptions = {},
): void {
  fn.addEnvironment(options.bucketVariable ?? 'LIFEBOAT_BUCKET', bucket.bucketName);
  const keyVariable = options.keyVariable === undefined ? 'LIFEBOAT_KMS_KEY_ID' : options.keyVariable;
  if (bucket.encryptionKey && keyVariable !== null)
    fn.addEnvironment(keyVariable, bucket.encryptionKey.keyArn);
  grantRepository(fn.role!, bucket, access, options.prefixes ?? REPOSITORY_PREFIXES);
}

/**
 * The grants behind `bindBucket`, for principals that are not Lambda functions (Fargate task roles).
 * Object resources are acknowledged for AwsSolutions-IAM5: backups have generated keys under fixed
 * prefixes.
 */
export function grantRepository(
  role: IRole,
  bucket: IBucket,
  access: BucketAccess,
  prefixes: readonly string[] = REPOSITORY_PREFIXES,
): void {
  const objects = prefixes.map((prefix) => bucket.arnForObjects(`${prefix}*`));
  role.addToPrincipalPolicy(
    new PolicyStatement({
      actions: ['s3:ListBucket'],
      resources: [bucket.bucketArn],
      // IfExists: HeadBucket carries no prefix and must still pass.
      conditions: { StringLikeIfExists: { 's3:prefix': prefixes.flatMap((p) => [p, `${p}*`]) } },
    }),
  );
  // The catalog is append-only: records are single write-once puts (never multipart), never
  // deleted. Artifacts are streamed (multipart, aborted on failure); `readwrite` removes a partial
  // one, and prune an expired one.
  const catalog = prefixes.filter((p) => p === CATALOG_PREFIX).map((p) => bucket.arnForObjects(`${p}*`));
  const artifacts = prefixes.filter((p) => p !== CATALOG_PREFIX).map((p) => bucket.arnForObjects(`${p}*`));
  role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:GetObject'], resources: objects }));
  if (access !== 'read' && catalog.length > 0) {
    role.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: catalog }));
  }
  if (access !== 'read' && artifacts.length > 0) {
    const artifactActions = ['s3:PutObject', 's3:AbortMultipartUpload'];
    if (access === 'readwrite') artifactActions.push('s3:DeleteObject');
    role.addToPrincipalPolicy(new PolicyStatement({ actions: artifactActions, resources: artifacts }));
  }
  if (bucket.encryptionKey) {
    // SSE-KMS: a put needs a data key; a read, and each part of a multipart upload, Decrypt.
    // S3 never calls kms:Encrypt for an object.
    const keyActions = access === 'read' ? ['kms:Decrypt'] : ['kms:Decrypt', 'kms:GenerateDataKey'];
    // Only through S3 in the bucket's region: nobody decrypts a dump with the key directly.
    role.addToPrincipalPolicy(
      new PolicyStatement({
        actions: keyActions,
        resources: [bucket.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${Stack.of(bucket).region}.amazonaws.com` } },
      }),
    );
  }

  const policy = role.node.tryFindChild('DefaultPolicy');
  if (policy) {
    for (const resource of objects) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(Stack.of(role), resource)}]`,
        reason:
          'Backups and catalog records are objects with generated keys under a fixed repository prefix.',
      });
    }
  }
}

/**
 * NIST.800.53.R5-IAMNoInlinePolicy for the policy CDK writes for a role it owns: it belongs to
 * exactly that role and is created and deleted with it.
 */
export function acknowledgeOwnPolicy(role: IRole | undefined, whose: string): void {
  const policy = role?.node.tryFindChild('DefaultPolicy');
  if (policy) {
    Validations.of(policy).acknowledge({
      id: 'NIST.800.53.R5-IAMNoInlinePolicy',
      reason: `CDK writes this policy for exactly one role (${whose}), created and deleted with it; it cannot be attached elsewhere.`,
    });
  }
}

/**
 * Acknowledges AwsSolutions-IAM5 for each wildcard resource of `policy` (a role's DefaultPolicy)
 * that `matches` accepts, as cdk-nag spells it. For statements written by CDK constructs whose
 * ARNs are built from intrinsics (so the finding id cannot be written down by hand).
 */
export function acknowledgeWildcardResources(
  policy: Policy,
  matches: (rendered: string) => boolean,
  reason: string,
): void {
  const stack = Stack.of(policy);
  const doc = stack.resolve(policy.document) as { Statement?: { Resource?: unknown }[] } | undefined;
  for (const statement of doc?.Statement ?? []) {
    const resources = Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
    for (const resource of resources) {
      const rendered = renderForNag(resource);
      if (rendered.includes('*') && matches(rendered)) {
        Validations.of(policy).acknowledge({ id: `AwsSolutions-IAM5[Resource::${rendered}]`, reason });
      }
    }
  }
}

/** How cdk-nag spells a resource in a finding id: `<LogicalId.Arn>/artifacts/*`. */
export function nagResource(stack: Stack, value: string): string {
  return renderForNag(stack.resolve(value));
}

function renderForNag(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(renderForNag).join(sep);
    }
    if ('Fn::GetAtt' in o) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
    if ('Ref' in o) return `<${o.Ref as string}>`;
  }
  return JSON.stringify(v);
}
