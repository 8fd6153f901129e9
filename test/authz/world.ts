import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/**
 * A synthesized stack as AWS would hold it after deploy: every resource with the physical name and
 * ARN CloudFormation would give it (generated names become the logical id), every identity policy
 * of every role, and every resource policy (topic, queue, bucket, key, Lambda permissions) with
 * the intrinsics resolved to those ARNs — what a policy evaluator needs.
 */

type Json = Record<string, unknown>;
interface CfnResource {
  Type: string;
  Properties?: Json;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Json[];
}

export interface StackWorld {
  readonly stackName: string;
  readonly account: string;
  readonly region: string;
  readonly resources: Readonly<Record<string, CfnResource>>;
  /** ARN of a resource by logical id. */
  arnOf(logicalId: string): string;
  /** The one logical id `<prefix><8 hex>` (CDK's path-derived ids), or an error naming the prefix. */
  logicalIdOf(prefix: string): string;
  /** Like logicalIdOf, or undefined when the stack has no such resource. */
  findLogicalId(prefix: string): string | undefined;
  /** Identity policies of a role (inline and attached AWS::IAM::Policy documents). */
  identityPolicies(roleLogicalId: string): { name: string; policy: PolicyDocument }[];
  /** The resource policy that governs `arn` (topic, queue, bucket, key, function), if any. */
  resourcePolicyOf(arn: string): PolicyDocument | undefined;
  /** Resolves any template value (intrinsics included) to plain JSON. */
  resolve(value: unknown): unknown;
}

const HASH = /^[0-9A-F]{8}$/;

export function stackWorld(stack: Stack, template: Template = Template.fromStack(stack)): StackWorld {
  const json = template.toJSON() as { Resources: Record<string, CfnResource> };
  const resources = json.Resources;
  const account = stack.account;
  const region = stack.region;
  const partition = 'aws';

  const prop = (id: string, name: string): unknown => resources[id]?.Properties?.[name];
  const nameOf = (id: string): string => {
    const r = resources[id];
    if (!r) throw new Error(`no resource ${id} in ${stack.stackName}`);
    const named: Record<string, string> = {
      'AWS::IAM::Role': 'RoleName',
      'AWS::Lambda::Function': 'FunctionName',
      'AWS::SNS::Topic': 'TopicName',
      'AWS::SQS::Queue': 'QueueName',
      'AWS::S3::Bucket': 'BucketName',
      'AWS::StepFunctions::StateMachine': 'StateMachineName',
      'AWS::Logs::LogGroup': 'LogGroupName',
      'AWS::DynamoDB::Table': 'TableName',
      'AWS::Events::Rule': 'Name',
      'AWS::SSM::Parameter': 'Name',
      'AWS::ECS::TaskDefinition': 'Family',
      'AWS::Scheduler::ScheduleGroup': 'Name',
      'AWS::ECS::Cluster': 'ClusterName',
      'AWS::CloudWatch::Alarm': 'AlarmName',
    };
    const key = named[r.Type];
    const given = key ? prop(id, key) : undefined;
    return given === undefined ? id : String(resolve(given));
  };

  const arnOf = (id: string): string => {
    const r = resources[id];
    if (!r) throw new Error(`no resource ${id} in ${stack.stackName}`);
    const name = nameOf(id);
    const at = `${region}:${account}`;
    switch (r.Type) {
      case 'AWS::IAM::Role':
        return `arn:${partition}:iam::${account}:role/${name}`;
      case 'AWS::Lambda::Function':
        return `arn:${partition}:lambda:${at}:function:${name}`;
      case 'AWS::SNS::Topic':
        return `arn:${partition}:sns:${at}:${name}`;
      case 'AWS::SQS::Queue':
        return `arn:${partition}:sqs:${at}:${name}`;
      case 'AWS::S3::Bucket':
        return `arn:${partition}:s3:::${name}`;
      case 'AWS::KMS::Key':
        return `arn:${partition}:kms:${at}:key/${id}`;
      case 'AWS::StepFunctions::StateMachine':
        return `arn:${partition}:states:${at}:stateMachine:${name}`;
      case 'AWS::Logs::LogGroup':
        return `arn:${partition}:logs:${at}:log-group:${name}:*`;
      case 'AWS::DynamoDB::Table':
        return `arn:${partition}:dynamodb:${at}:table/${name}`;
      case 'AWS::Events::Rule':
        return `arn:${partition}:events:${at}:rule/${name}`;
      case 'AWS::ECS::TaskDefinition':
        return `arn:${partition}:ecs:${at}:task-definition/${name}:1`;
      case 'AWS::ECS::Cluster':
        return `arn:${partition}:ecs:${at}:cluster/${name}`;
      case 'AWS::SSM::Parameter':
        return `arn:${partition}:ssm:${at}:parameter${name.startsWith('/') ? '' : '/'}${name}`;
      case 'AWS::CloudWatch::Alarm':
        return `arn:${partition}:cloudwatch:${at}:alarm:${name}`;
      case 'AWS::Scheduler::Schedule':
        return `arn:${partition}:scheduler:${at}:schedule/default/${name}`;
      default:
        return `arn:${partition}:unknown:${at}:${r.Type}/${id}`;
    }
  };

  /** What `Ref` returns for each resource type. */
  const refOf = (id: string): string => {
    const r = resources[id]!;
    switch (r.Type) {
      case 'AWS::SNS::Topic':
      case 'AWS::StepFunctions::StateMachine':
      case 'AWS::ECS::TaskDefinition':
      case 'AWS::Events::Rule':
        return r.Type === 'AWS::Events::Rule' ? nameOf(id) : arnOf(id);
      case 'AWS::SQS::Queue':
        return `https://sqs.${region}.amazonaws.com/${account}/${nameOf(id)}`;
      case 'AWS::KMS::Key':
        return id;
      default:
        return nameOf(id);
    }
  };

  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stack.stackName,
    'AWS::NoValue': '',
  };

  function resolve(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(resolve);
    if (!v || typeof v !== 'object') return v;
    const o = v as Json;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const arg = o[k];
      if (k === 'Ref') {
        const name = arg as string;
        if (name in pseudo) return pseudo[name];
        if (resources[name]) return refOf(name);
        return `<parameter ${name}>`;
      }
      if (k === 'Fn::GetAtt') {
        const [id, attr] = (typeof arg === 'string' ? arg.split('.') : arg) as [string, string];
        if (attr === 'Arn' || attr.endsWith('Arn')) return arnOf(id);
        if (attr === 'QueueName' || attr === 'TopicName' || attr === 'Name') return nameOf(id);
        if (attr === 'QueueUrl') return refOf(id);
        return `${arnOf(id)}#${attr}`;
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = arg as [string, unknown[]];
        return (resolve(parts) as unknown[]).map(String).join(sep);
      }
      if (k === 'Fn::Select') {
        const [i, list] = arg as [number, unknown];
        return (resolve(list) as unknown[])[Number(resolve(i))];
      }
      if (k === 'Fn::Split') {
        const [sep, s] = arg as [string, unknown];
        return String(resolve(s)).split(sep);
      }
      if (k === 'Fn::Sub') {
        const [text, vars] = (typeof arg === 'string' ? [arg, {}] : arg) as [string, Json];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in vars) return String(resolve(vars[name]));
          if (name in pseudo) return pseudo[name]!;
          const [id, attr] = name.split('.');
          return attr ? String(resolve({ 'Fn::GetAtt': [id, attr] })) : refOf(id!);
        });
      }
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, resolve(x)]));
  }

  const findLogicalId = (prefix: string): string | undefined => {
    const found = Object.keys(resources).filter(
      (id) => id.startsWith(prefix) && HASH.test(id.slice(prefix.length)),
    );
    if (found.length > 1) throw new Error(`${prefix}: ${found.length} resources in ${stack.stackName}`);
    return found[0];
  };
  const logicalIdOf = (prefix: string): string => {
    const id = findLogicalId(prefix);
    if (!id) throw new Error(`no resource ${prefix}<hash> in ${stack.stackName}`);
    return id;
  };

  const asDocument = (doc: unknown): PolicyDocument => resolve(doc) as PolicyDocument;

  const identityPolicies = (roleId: string) => {
    const out: { name: string; policy: PolicyDocument }[] = [];
    const inline = (prop(roleId, 'Policies') as { PolicyName: string; PolicyDocument: unknown }[]) ?? [];
    for (const p of inline) out.push({ name: p.PolicyName, policy: asDocument(p.PolicyDocument) });
    for (const [id, r] of Object.entries(resources)) {
      if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
      const roles = (r.Properties?.Roles as unknown[]) ?? [];
      if (roles.some((x) => (x as { Ref?: string }).Ref === roleId)) {
        out.push({ name: id, policy: asDocument(r.Properties!.PolicyDocument) });
      }
    }
    const managed = (prop(roleId, 'ManagedPolicyArns') as unknown[]) ?? [];
    for (const m of managed) {
      const arn = String(resolve(m));
      if (arn.includes(':iam::aws:policy/')) {
        throw new Error(`${roleId} attaches the AWS managed policy ${arn}: the layer does not model it`);
      }
    }
    return out;
  };

  // Resource policies by the ARN of the resource they govern.
  const byArn = new Map<string, PolicyDocument>();
  const add = (arn: string, doc: PolicyDocument) => {
    const prev = byArn.get(arn);
    byArn.set(arn, prev ? { ...prev, Statement: [...prev.Statement, ...doc.Statement] } : doc);
  };
  const idOfRef = (x: unknown): string | undefined => {
    const o = x as { Ref?: string; 'Fn::GetAtt'?: string[] };
    return o.Ref ?? o['Fn::GetAtt']?.[0];
  };
  const permissions: Json[] = [];
  for (const [id, r] of Object.entries(resources)) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::SNS::TopicPolicy':
        for (const t of p.Topics as unknown[]) add(arnOf(idOfRef(t)!), asDocument(p.PolicyDocument));
        break;
      case 'AWS::SQS::QueuePolicy':
        for (const q of p.Queues as unknown[]) add(arnOf(idOfRef(q)!), asDocument(p.PolicyDocument));
        break;
      case 'AWS::S3::BucketPolicy':
        add(arnOf(idOfRef(p.Bucket)!), asDocument(p.PolicyDocument));
        break;
      case 'AWS::KMS::Key':
        add(arnOf(id), asDocument(p.KeyPolicy));
        break;
      case 'AWS::Lambda::Permission':
        permissions.push({ ...(resolve(p) as Json), FunctionId: idOfRef(p.FunctionName) });
        break;
    }
  }
  // Lambda permissions become the statements of the function's resource policy.
  for (const p of permissions) {
    const fn = arnOf(p.FunctionId as string);
    const principal = String(p.Principal);
    const condition: Json = {};
    if (p.SourceArn) condition.ArnLike = { 'aws:SourceArn': p.SourceArn };
    if (p.SourceAccount) condition.StringEquals = { 'aws:SourceAccount': p.SourceAccount };
    add(fn, {
      Statement: [
        {
          Effect: 'Allow',
          Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
          Action: p.Action,
          Resource: fn,
          ...(Object.keys(condition).length ? { Condition: condition } : {}),
        },
      ],
    });
  }

  const resourcePolicyOf = (arn: string): PolicyDocument | undefined => {
    const exact = byArn.get(arn);
    if (exact) return exact;
    // An object of a bucket, a function version/alias: the owner's policy.
    const s3 = /^arn:aws:s3:::([^/]+)\//.exec(arn);
    if (s3) return byArn.get(`arn:aws:s3:::${s3[1]}`);
    const fn = /^(arn:aws:lambda:[^:]+:\d+:function:[^:]+):/.exec(arn);
    if (fn) return byArn.get(fn[1]!);
    return undefined;
  };

  return {
    stackName: stack.stackName,
    account,
    region,
    resources,
    arnOf,
    logicalIdOf,
    findLogicalId,
    identityPolicies,
    resourcePolicyOf,
    resolve,
  };
}
