import {
  CloudFormationClient,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { type ContextEntry, IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeDBClustersCommand,
  DescribeDBInstancesCommand,
  DescribeGlobalClustersCommand,
  RDSClient,
} from '@aws-sdk/client-rds';
import { GetHostedZoneCommand, Route53Client } from '@aws-sdk/client-route-53';
import { GetBucketReplicationCommand, HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeStateMachineCommand, ValidateStateMachineDefinitionCommand } from '@aws-sdk/client-sfn';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type AuthzRequest, authzTable, isService } from '../../../lib/authz/requests/index.ts';
import { failoverDatabases } from '../../../lib/recovery.ts';
import { type WorkflowName } from '../../../state-machines/common.ts';
import { bool, parse, required, type Syntax } from '../args.ts';
import { workflowArn } from '../aws/workflows.ts';
import { loadEnvironmentConfig } from '../../../lib/config/load.ts';
import type { EnvironmentConfig } from '../../../lib/config/schema.ts';
import { resolveEnvironment } from '../env.ts';
import { table } from '../format.ts';
import { type AwsClients, defaultClients } from './aws.ts';
import { type ExpectedSource, type PolicyProblem, resourcePolicyProblems } from './doctor-policies.ts';

const USAGE = 'lifeboat doctor --env NAME [--json]';

export const doctorHelp = `Asks AWS, read-only, whether the deployed environment would work during an incident: every
role simulated over the calls it makes (iam:SimulatePrincipalPolicy, with the real ARNs and the
targets' resource policies), the queues' and functions' resource policies checked (only this
environment's rules and topics may deliver, queues only over TLS), every workflow definition
validated, and what the configuration names described (replicas and their lag, keys and their policies, buckets and replication, secrets,
hosted zones, the Slack webhook secret). Prints each finding per database with its fix; exit 1 on
any finding, 0 when there is none. Run it after every deploy (docs/deploy.md).

usage: ${USAGE}`;

export interface DoctorClients extends AwsClients {
  cloudformation(region: string): CloudFormationClient;
  iam(): IAMClient;
  rds(region: string): RDSClient;
  kms(region: string): KMSClient;
  s3(region: string): S3Client;
  secrets(region: string): SecretsManagerClient;
  sns(region: string): SNSClient;
  cloudwatch(region: string): CloudWatchClient;
  route53(): Route53Client;
  sqs(region: string): SQSClient;
  lambda(region: string): LambdaClient;
}

export const defaultDoctorClients: DoctorClients = {
  ...defaultClients,
  cloudformation: (region) => new CloudFormationClient({ region, maxAttempts: 5 }),
  iam: () => new IAMClient({ region: 'us-east-1', maxAttempts: 5 }),
  rds: (region) => new RDSClient({ region, maxAttempts: 5 }),
  kms: (region) => new KMSClient({ region, maxAttempts: 5 }),
  s3: (region) => new S3Client({ region, maxAttempts: 5 }),
  secrets: (region) => new SecretsManagerClient({ region, maxAttempts: 5 }),
  sns: (region) => new SNSClient({ region, maxAttempts: 5 }),
  cloudwatch: (region) => new CloudWatchClient({ region, maxAttempts: 5 }),
  route53: () => new Route53Client({ region: 'us-east-1', maxAttempts: 5 }),
  sqs: (region) => new SQSClient({ region, maxAttempts: 5 }),
  lambda: (region) => new LambdaClient({ region, maxAttempts: 5 }),
};

export interface Finding {
  /** The database it concerns, or `(environment)`. */
  readonly database: string;
  readonly region: string;
  readonly check: string;
  readonly problem: string;
  readonly fix: string;
}

const ENVIRONMENT = '(environment)';

/** Deployed resources of one stack by logical id. */
type StackResources = Map<string, StackResourceSummary>;

async function stackResources(cf: CloudFormationClient, stackName: string): Promise<StackResources> {
  const out: StackResources = new Map();
  let NextToken: string | undefined;
  do {
    const page = await cf.send(new ListStackResourcesCommand({ StackName: stackName, NextToken }));
    for (const r of page.StackResourceSummaries ?? []) out.set(r.LogicalResourceId!, r);
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** The ARN of a deployed resource from its physical id, as its type names it. */
function arnOfPhysical(r: StackResourceSummary, region: string, account: string): string {
  const id = r.PhysicalResourceId!;
  if (id.startsWith('arn:')) return id;
  const at = `${region}:${account}`;
  switch (r.ResourceType) {
    case 'AWS::IAM::Role':
      return `arn:aws:iam::${account}:role/${id}`;
    case 'AWS::Lambda::Function':
      return `arn:aws:lambda:${at}:function:${id}`;
    case 'AWS::SQS::Queue':
      return `arn:aws:sqs:${at}:${id.split('/').pop()}`;
    case 'AWS::KMS::Key':
      return `arn:aws:kms:${at}:key/${id}`;
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${id}`;
    case 'AWS::Logs::LogGroup':
      return `arn:aws:logs:${at}:log-group:${id}:*`;
    case 'AWS::DynamoDB::Table':
      return `arn:aws:dynamodb:${at}:table/${id}`;
    case 'AWS::Events::Rule':
      return `arn:aws:events:${at}:rule/${id.split('|').pop()}`;
    default:
      return id;
  }
}

const HASH = /^[0-9A-F]{8}$/;
const PLACEHOLDER = /\{\{(primary|dr):([A-Za-z0-9]+)(#stream)?\}\}/g;

/** One region of the environment, with the names doctor looks up (lib/naming.ts via bin/cli/env.ts). */
interface Side {
  readonly region: string;
  readonly stackName: string;
  readonly bucket: string;
  readonly slackWebhookSecretArn: string | undefined;
}

/** The environment as doctor checks it: its configuration and its deployed names. */
export interface DoctorTarget {
  readonly name: string;
  readonly config: EnvironmentConfig;
  readonly account: string;
  readonly primary: Side;
  readonly dr: Side;
  workflowRegion(workflow: WorkflowName): string;
}

export function doctorTarget(name: string): DoctorTarget {
  const deployed = resolveEnvironment(name);
  const config = loadEnvironmentConfig(name);
  const side = (role: 'primary' | 'dr'): Side => ({
    region: deployed.regions[role],
    stackName: deployed.stacks[role],
    bucket: deployed.buckets[role],
    slackWebhookSecretArn:
      role === 'primary'
        ? config.notifications.slackWebhookSecretArn
        : config.notifications.drSlackWebhookSecretArn,
  });
  return {
    name,
    config,
    account: deployed.account,
    primary: side('primary'),
    dr: side('dr'),
    workflowRegion: (wf) =>
      wf === 'failover' || wf === 'failback' ? deployed.regions.dr : deployed.regions.primary,
  };
}

interface Deployed {
  readonly env: DoctorTarget;
  readonly stacks: Record<'primary' | 'dr', StackResources>;
}

function find(d: Deployed, side: 'primary' | 'dr', prefix: string): StackResourceSummary | undefined {
  for (const [id, r] of d.stacks[side]) {
    if (id.startsWith(prefix) && HASH.test(id.slice(prefix.length))) return r;
  }
  return undefined;
}

function resolve(d: Deployed, text: string): string {
  return text.replace(PLACEHOLDER, (_, side: 'primary' | 'dr', prefix: string, stream?: string) => {
    const r = find(d, side, prefix);
    if (!r) throw new Error(`${prefix} is not deployed in ${d.env[side].stackName}`);
    const arn = arnOfPhysical(r, d.env[side].region, d.env.account);
    return stream ? `${arn.replace(/:\*$/, '')}:log-stream:doctor` : arn;
  });
}

function contextEntries(context: Record<string, string | string[]>): ContextEntry[] {
  return Object.entries(context).map(([key, v]) => {
    const values = Array.isArray(v) ? v : [v];
    const type = key === 'aws:SecureTransport' || key === 'kms:GrantIsForAWSResource' ? 'boolean' : 'string';
    return {
      ContextKeyName: key,
      ContextKeyValues: values,
      ContextKeyType: values.length > 1 || Array.isArray(v) ? `${type}List` : type,
    } as ContextEntry;
  });
}

/** The resource policy AWS evaluates with a request on `arn` (topic, key, queue), fetched once. */
class ResourcePolicies {
  private readonly cache = new Map<string, Promise<string | undefined>>();
  constructor(private readonly clients: DoctorClients) {}

  get(arn: string): Promise<string | undefined> {
    const owner = this.ownerOf(arn);
    if (!owner) return Promise.resolve(undefined);
    let p = this.cache.get(owner);
    if (!p) {
      p = this.fetch(owner).catch(() => undefined);
      this.cache.set(owner, p);
    }
    return p;
  }

  private ownerOf(arn: string): string | undefined {
    if (arn.startsWith('arn:aws:sns:') || arn.startsWith('arn:aws:sqs:')) return arn;
    if (/^arn:aws:kms:[^:]+:\d+:key\//.test(arn)) return arn;
    const s3 = /^arn:aws:s3:::([^/]+)/.exec(arn);
    return s3 ? `arn:aws:s3:::${s3[1]}` : undefined;
  }

  private async fetch(arn: string): Promise<string | undefined> {
    const region = arn.split(':')[3]!;
    if (arn.startsWith('arn:aws:sns:')) {
      const out = await this.clients.sns(region).send(new GetTopicAttributesCommand({ TopicArn: arn }));
      return out.Attributes?.Policy;
    }
    if (arn.startsWith('arn:aws:sqs:')) {
      const [, , , , account, name] = arn.split(':');
      const QueueUrl = `https://sqs.${region}.amazonaws.com/${account}/${name}`;
      const out = await this.clients
        .sqs(region)
        .send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Policy'] }));
      return out.Attributes?.Policy;
    }
    if (arn.startsWith('arn:aws:kms:')) {
      const out = await this.clients
        .kms(region)
        .send(new GetKeyPolicyCommand({ KeyId: arn, PolicyName: 'default' }));
      return out.Policy;
    }
    return undefined;
  }
}

interface Statement {
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
}

/** Whether a resource policy has an Allow for `service` naming `action` (conditions are AWS's to judge). */
function policyAllowsService(policy: string | undefined, service: string, action: string): boolean {
  if (!policy) return false;
  const doc = JSON.parse(policy) as { Statement?: Statement | Statement[] };
  const statements = Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
  return statements.some((s) => {
    if (s.Effect !== 'Allow') return false;
    const principal = s.Principal as { Service?: string | string[] } | undefined;
    const services = [principal?.Service ?? []].flat();
    if (!services.includes(service)) return false;
    const actions = [s.Action ?? []].flat().map((a) => a.toLowerCase());
    const wanted = action.toLowerCase();
    return actions.some(
      (a) => a === wanted || a === '*' || (a.endsWith('*') && wanted.startsWith(a.slice(0, -1))),
    );
  });
}

const where = (d: Deployed, r: AuthzRequest) => d.env[r.stack].region;

/** Roles and services over the request table (iam:SimulatePrincipalPolicy; service paths against the real resource policies). */
async function checkRequests(d: Deployed, clients: DoctorClients, findings: Finding[]): Promise<number> {
  const { expected } = authzTable(d.env.name, d.env.config);
  const policies = new ResourcePolicies(clients);
  const iam = clients.iam();
  let asked = 0;
  for (const r of expected) {
    const database = r.database ?? ENVIRONMENT;
    let resource: string;
    let context: Record<string, string | string[]>;
    let principal: string;
    try {
      resource = resolve(d, r.resource);
      context = Object.fromEntries(
        Object.entries(r.context ?? {}).map(([k, v]) => [
          k,
          Array.isArray(v) ? v.map((x) => resolve(d, x)) : resolve(d, v),
        ]),
      );
      principal = isService(r.principal) ? r.principal : resolve(d, `{{${r.stack}:${r.principal}}}`);
    } catch (err) {
      findings.push({
        database,
        region: where(d, r),
        check: 'deployed',
        problem: `${(err as Error).message} (needed for ${r.why})`,
        fix: `deploy the stacks of this configuration: npx cdk deploy -c env=${d.env.name} --all`,
      });
      continue;
    }
    asked += 1;
    if (isService(r.principal)) {
      const policy = await policies.get(resource);
      if (resource.startsWith('arn:aws:sns:') || resource.startsWith('arn:aws:kms:')) {
        if (!policyAllowsService(policy, r.principal, r.action)) {
          findings.push({
            database,
            region: where(d, r),
            check: 'resource policy',
            problem: `${resource}: its policy does not allow ${r.principal} to ${r.action} (${r.why}); during an incident this delivery fails`,
            fix: `redeploy lifeboat's stacks (the topic and key policies are theirs): npx cdk deploy -c env=${d.env.name} --all; if the key is not lifeboat's, add the statement to its key policy`,
          });
        }
      }
      continue;
    }
    const resourcePolicy = await policies.get(resource);
    const out = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: principal,
        ActionNames: [r.action],
        ResourceArns: [resource],
        ...(resourcePolicy ? { ResourcePolicy: resourcePolicy } : {}),
        ContextEntries: contextEntries(context),
      }),
    );
    const decision = out.EvaluationResults?.[0]?.EvalDecision ?? 'unknown';
    if (decision !== 'allowed') {
      findings.push({
        database,
        region: where(d, r),
        check: 'iam',
        problem: `${principal.split('/').pop()} may not ${r.action} on ${resource} (${decision}): ${r.why}`,
        fix:
          r.action.startsWith('kms:') && !resource.includes(d.env.account)
            ? `the key belongs to another account: its key policy must allow ${principal}`
            : `redeploy from this configuration (npx cdk deploy -c env=${d.env.name} --all); if it persists, check for a permissions boundary or SCP on the role`,
      });
    }
  }
  return asked;
}

/** The service deliveries of the request table by the ARN of the queue or function they reach. */
function expectedDeliveries(d: Deployed): Map<string, ExpectedSource[]> {
  const out = new Map<string, ExpectedSource[]>();
  for (const r of authzTable(d.env.name, d.env.config).expected) {
    const source = r.context?.['aws:SourceArn'];
    if (!isService(r.principal) || typeof source !== 'string') continue;
    if (r.action !== 'sqs:SendMessage' && r.action !== 'lambda:InvokeFunction') continue;
    let target: string;
    let sourceArn: string;
    try {
      target = resolve(d, r.resource);
      sourceArn = resolve(d, source);
    } catch {
      continue; // what is not deployed is a finding of checkRequests already
    }
    const list = out.get(target) ?? [];
    list.push({
      service: r.principal,
      sourceArn,
      why: r.why,
      ...(r.database ? { database: r.database } : {}),
    });
    out.set(target, list);
  }
  return out;
}

/** How a problem of a queue's or function's policy reads, and its fix. */
function policyFinding(
  d: Deployed,
  target: { kind: 'queue' | 'function'; arn: string; name: string; region: string },
  p: PolicyProblem,
): Finding {
  const { kind, arn, name, region } = target;
  const redeploy = `npx cdk deploy -c env=${d.env.name} --all`;
  const verb = kind === 'queue' ? 'send to it' : 'invoke it';
  const removal =
    kind === 'queue'
      ? `remove statement ${'sid' in p ? p.sid : ''} from the queue policy (aws sqs set-queue-attributes --queue-url ${name} --attributes Policy=...) or redeploy (${redeploy}), which writes lifeboat's own policy back`
      : `aws lambda remove-permission --function-name ${name} --statement-id ${'sid' in p ? p.sid : ''} --region ${region}`;
  const check = kind === 'queue' ? 'queue policy' : 'function policy';
  switch (p.kind) {
    case 'not-ssl-only':
      return {
        database: ENVIRONMENT,
        region,
        check,
        problem: `${arn} accepts requests without TLS (no Deny on aws:SecureTransport false)`,
        fix: `redeploy (${redeploy}): lifeboat's queue policies deny every request without TLS`,
      };
    case 'open':
      return {
        database: ENVIRONMENT,
        region,
        check,
        problem: `${arn} lets ${p.principal} ${verb} for any source (statement ${p.sid}: ${p.detail})`,
        fix: `limit it to this environment's rule or topic (ArnEquals aws:SourceArn), or ${removal}`,
      };
    case 'foreign-source':
      return {
        database: ENVIRONMENT,
        region,
        check,
        problem: `${arn} lets ${p.principal} ${verb} for ${p.sourceArn} (statement ${p.sid}), which is no rule or topic of this environment`,
        fix: removal,
      };
    case 'missing-source':
      return {
        database: p.expected.database ?? ENVIRONMENT,
        region,
        check,
        problem: `${arn} does not let ${p.expected.service} ${verb} for ${p.expected.sourceArn}: ${p.expected.why} fails`,
        fix: `redeploy: ${redeploy}`,
      };
  }
}

/**
 * The queues' policies (GetQueueAttributes Policy) and the functions' permissions (GetPolicy) of
 * both stacks: only the deliveries the request table expects, each scoped to its rule or topic,
 * queues only over TLS. Returns how many resource policies were read.
 */
async function checkResourcePolicies(
  d: Deployed,
  clients: DoctorClients,
  findings: Finding[],
): Promise<number> {
  const expected = expectedDeliveries(d);
  let read = 0;
  for (const side of ['primary', 'dr'] as const) {
    const { region } = d.env[side];
    for (const r of d.stacks[side].values()) {
      const kind =
        r.ResourceType === 'AWS::SQS::Queue'
          ? 'queue'
          : r.ResourceType === 'AWS::Lambda::Function'
            ? 'function'
            : undefined;
      if (!kind || !r.PhysicalResourceId) continue;
      const arn = arnOfPhysical(r, region, d.env.account);
      const target = { kind, arn, name: r.PhysicalResourceId, region } as const;
      let policy: string | undefined;
      try {
        if (kind === 'queue') {
          const out = await clients
            .sqs(region)
            .send(
              new GetQueueAttributesCommand({ QueueUrl: r.PhysicalResourceId, AttributeNames: ['Policy'] }),
            );
          policy = out.Attributes?.Policy;
        } else {
          try {
            const out = await clients
              .lambda(region)
              .send(new GetPolicyCommand({ FunctionName: r.PhysicalResourceId }));
            policy = out.Policy;
          } catch (err) {
            // A function nothing may invoke but its callers' roles has no resource policy at all.
            if ((err as Error).name !== 'ResourceNotFoundException') throw err;
          }
        }
      } catch (err) {
        findings.push({
          database: ENVIRONMENT,
          region,
          check: kind === 'queue' ? 'queue policy' : 'function policy',
          problem: `${arn}: its policy could not be read (${(err as Error).name}: ${(err as Error).message})`,
          fix: `let the caller ${kind === 'queue' ? 'sqs:GetQueueAttributes' : 'lambda:GetPolicy'} (doctor only reads), or deploy it: npx cdk deploy -c env=${d.env.name} --all`,
        });
        continue;
      }
      read += 1;
      const action = kind === 'queue' ? 'sqs:SendMessage' : 'lambda:InvokeFunction';
      for (const p of resourcePolicyProblems(policy, action, expected.get(arn) ?? [])) {
        findings.push(policyFinding(d, target, p));
      }
    }
  }
  return read;
}

async function checkWorkflows(d: Deployed, clients: DoctorClients, findings: Finding[]): Promise<void> {
  const workflows: WorkflowName[] = ['restore', 'failover', 'failback'];
  if (d.env.config.restoreTest) workflows.push('restore-test');
  for (const wf of workflows) {
    if ((wf === 'failover' || wf === 'failback') && failoverDatabases(d.env.config).length === 0) continue;
    const regions = wf === 'restore' ? [d.env.primary.region, d.env.dr.region] : [d.env.workflowRegion(wf)];
    for (const region of regions) {
      try {
        const arn = await workflowArn(clients.ssm(region), d.env.name, wf, region);
        const sfn = clients.sfn(region);
        const described = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
        const result = await sfn.send(
          new ValidateStateMachineDefinitionCommand({
            definition: described.definition,
            type: described.type,
          }),
        );
        if (result.result !== 'OK') {
          findings.push({
            database: ENVIRONMENT,
            region,
            check: 'workflow',
            problem: `the ${wf} workflow's definition is refused: ${(result.diagnostics ?? []).map((x) => `${x.code} ${x.message}`).join('; ')}`,
            fix: `redeploy (npx cdk deploy -c env=${d.env.name} --all) from a build whose tests pass`,
          });
        }
      } catch (err) {
        findings.push({
          database: ENVIRONMENT,
          region,
          check: 'workflow',
          problem: `the ${wf} workflow: ${(err as Error).message}`,
          fix: `deploy it: npx cdk deploy -c env=${d.env.name} --all`,
        });
      }
    }
  }
}

/** What the configuration names, described: replicas and lag, keys, buckets, secrets, zones. */
async function checkConfiguration(d: Deployed, clients: DoctorClients, findings: Finding[]): Promise<void> {
  const { config } = d.env;
  const add = (database: string, region: string, check: string, problem: string, fix: string) =>
    findings.push({ database, region, check, problem, fix });
  const dr = d.env.dr.region;
  for (const db of config.databases) {
    const primaryRegion = d.env.primary.region;
    try {
      if (db.kind === 'instance') {
        await clients
          .rds(primaryRegion)
          .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: db.identifier }));
      } else {
        await clients
          .rds(primaryRegion)
          .send(new DescribeDBClustersCommand({ DBClusterIdentifier: db.identifier }));
      }
    } catch (err) {
      add(
        db.name,
        primaryRegion,
        'database',
        `${db.identifier}: ${(err as Error).name}`,
        `correct databases[].identifier of ${db.name} in lib/config/environments.ts`,
      );
    }
    for (const [field, arn, region] of [
      ['secretArn', db.secretArn, primaryRegion],
      ['drSecretArn', db.drSecretArn, dr],
    ] as const) {
      if (!arn) continue;
      try {
        await clients.secrets(region).send(new DescribeSecretCommand({ SecretId: arn }));
      } catch (err) {
        add(
          db.name,
          region,
          'secret',
          `${field} ${arn}: ${(err as Error).name}`,
          `create the secret (a replica of the primary's, for drSecretArn) or correct ${field}`,
        );
      }
    }
    for (const [field, arn] of [
      ['storageKmsKeyArn', db.storageKmsKeyArn],
      ['drStorageKmsKeyArn', db.drStorageKmsKeyArn],
      ['secretKmsKeyArn', db.secretKmsKeyArn],
    ] as const) {
      if (!arn) continue;
      try {
        const key = await clients.kms(arn.split(':')[3]!).send(new DescribeKeyCommand({ KeyId: arn }));
        if (key.KeyMetadata?.KeyState !== 'Enabled') {
          add(
            db.name,
            arn.split(':')[3]!,
            'key',
            `${field} ${arn} is ${key.KeyMetadata?.KeyState}`,
            'enable the key (a restore or copy with it fails while it is not)',
          );
        }
      } catch (err) {
        add(
          db.name,
          arn.split(':')[3]!,
          'key',
          `${field} ${arn}: ${(err as Error).name}`,
          `correct ${field}, or let lifeboat's roles use the key`,
        );
      }
    }
    if (!db.failover) continue;
    const replica = db.failover.replicaIdentifier;
    try {
      if (db.kind === 'instance') {
        const out = await clients
          .rds(dr)
          .send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: replica }));
        const instance = out.DBInstances?.[0];
        if (!instance?.ReadReplicaSourceDBInstanceIdentifier) {
          add(
            db.name,
            dr,
            'replica',
            `${replica} is not a read replica (already promoted?)`,
            'after a failover, run the failback workflow; otherwise create the replica',
          );
        }
        if (
          instance?.StorageEncrypted &&
          instance.KmsKeyId &&
          db.drStorageKmsKeyArn &&
          instance.KmsKeyId !== db.drStorageKmsKeyArn
        ) {
          add(
            db.name,
            dr,
            'key',
            `${replica} is encrypted with ${instance.KmsKeyId}, the configuration names ${db.drStorageKmsKeyArn}`,
            `set drStorageKmsKeyArn of ${db.name} to ${instance.KmsKeyId} and redeploy (DR point-in-time restores need it)`,
          );
        }
        if (
          instance?.StorageEncrypted &&
          !db.drStorageKmsKeyArn &&
          instance.KmsKeyId &&
          !instance.KmsKeyId.includes('alias/aws/rds')
        ) {
          add(
            db.name,
            dr,
            'key',
            `${replica} is encrypted with ${instance.KmsKeyId}, which the configuration does not name`,
            `set drStorageKmsKeyArn of ${db.name} to ${instance.KmsKeyId} and redeploy (DR point-in-time restores and failback need it)`,
          );
        }
      } else {
        await clients.rds(dr).send(new DescribeDBClustersCommand({ DBClusterIdentifier: replica }));
        const g = await clients.rds(dr).send(
          new DescribeGlobalClustersCommand({
            GlobalClusterIdentifier: db.failover.globalClusterIdentifier,
          }),
        );
        const members = g.GlobalClusters?.[0]?.GlobalClusterMembers ?? [];
        if (!members.some((m) => m.DBClusterArn?.endsWith(`:cluster:${replica}`))) {
          add(
            db.name,
            dr,
            'replica',
            `${replica} is not a member of ${db.failover.globalClusterIdentifier}`,
            'add the DR cluster to the global database, or correct failover.replicaIdentifier',
          );
        }
      }
    } catch (err) {
      add(
        db.name,
        dr,
        'replica',
        `${replica}: ${(err as Error).name}: ${(err as Error).message}`,
        'create the DR replica, or correct failover.replicaIdentifier',
      );
    }
    try {
      const lag = await clients.cloudwatch(dr).send(
        new GetMetricStatisticsCommand({
          Namespace: 'AWS/RDS',
          MetricName: db.kind === 'instance' ? 'ReplicaLag' : 'AuroraGlobalDBReplicationLag',
          Dimensions: [
            { Name: db.kind === 'instance' ? 'DBInstanceIdentifier' : 'DBClusterIdentifier', Value: replica },
          ],
          StartTime: new Date(Date.now() - 15 * 60_000),
          EndTime: new Date(),
          Period: 60,
          Statistics: ['Maximum'],
        }),
      );
      const points = lag.Datapoints ?? [];
      const worst = Math.max(...points.map((p) => p.Maximum ?? 0)) / (db.kind === 'instance' ? 1 : 1000);
      if (points.length === 0) {
        add(
          db.name,
          dr,
          'replica lag',
          `no lag figure for ${replica} in the last 15 minutes`,
          'check that the replica replicates (RDS publishes the metric while it does)',
        );
      } else if (worst > db.failover.maxLagSeconds) {
        add(
          db.name,
          dr,
          'replica lag',
          `${replica} lags ${worst.toFixed(1)} s (bound ${db.failover.maxLagSeconds} s): a failover now would be refused without --force`,
          'find why the replica falls behind (instance class, write load) before an incident',
        );
      }
    } catch (err) {
      add(
        db.name,
        dr,
        'replica lag',
        `${(err as Error).name}`,
        'allow cloudwatch:GetMetricStatistics to the caller',
      );
    }
    if (db.failover.dns) {
      try {
        await clients.route53().send(new GetHostedZoneCommand({ Id: db.failover.dns.hostedZoneId }));
      } catch (err) {
        add(
          db.name,
          'global',
          'hosted zone',
          `${db.failover.dns.hostedZoneId}: ${(err as Error).name}`,
          'correct failover.dns.hostedZoneId',
        );
      }
    }
  }
  // The repository: both buckets, and replication from the primary one.
  for (const side of ['primary', 'dr'] as const) {
    const r = d.env[side];
    try {
      await clients.s3(r.region).send(new HeadBucketCommand({ Bucket: r.bucket }));
    } catch (err) {
      add(
        ENVIRONMENT,
        r.region,
        'bucket',
        `${r.bucket}: ${(err as Error).name}`,
        `deploy: npx cdk deploy -c env=${d.env.name} --all`,
      );
    }
    if (r.slackWebhookSecretArn) {
      try {
        await clients
          .secrets(r.region)
          .send(new DescribeSecretCommand({ SecretId: r.slackWebhookSecretArn }));
      } catch (err) {
        add(
          ENVIRONMENT,
          r.region,
          'slack',
          `Slack webhook secret ${r.slackWebhookSecretArn}: ${(err as Error).name}`,
          'create it (docs/notifications.md) or correct notifications.slackWebhookSecretArn',
        );
      }
    }
  }
  try {
    const rep = await clients
      .s3(d.env.primary.region)
      .send(new GetBucketReplicationCommand({ Bucket: d.env.primary.bucket }));
    const rules = rep.ReplicationConfiguration?.Rules ?? [];
    if (
      !rules.some(
        (x) => x.Status === 'Enabled' && x.Destination?.Bucket === `arn:aws:s3:::${d.env.dr.bucket}`,
      )
    ) {
      add(
        ENVIRONMENT,
        d.env.primary.region,
        'bucket',
        `${d.env.primary.bucket} does not replicate to ${d.env.dr.bucket}`,
        `redeploy: npx cdk deploy -c env=${d.env.name} --all`,
      );
    }
  } catch (err) {
    add(
      ENVIRONMENT,
      d.env.primary.region,
      'bucket',
      `replication of ${d.env.primary.bucket}: ${(err as Error).name}`,
      `redeploy: npx cdk deploy -c env=${d.env.name} --all`,
    );
  }
}

export interface DoctorReport {
  readonly environment: string;
  readonly requestsSimulated: number;
  /** Queue policies and function permissions read and checked. */
  readonly resourcePoliciesChecked: number;
  readonly findings: readonly Finding[];
}

export async function runDoctor(envName: string, clients: DoctorClients): Promise<DoctorReport> {
  const env = doctorTarget(envName);
  const findings: Finding[] = [];
  const stacks = {} as Record<'primary' | 'dr', StackResources>;
  for (const side of ['primary', 'dr'] as const) {
    try {
      stacks[side] = await stackResources(clients.cloudformation(env[side].region), env[side].stackName);
    } catch (err) {
      stacks[side] = new Map();
      findings.push({
        database: ENVIRONMENT,
        region: env[side].region,
        check: 'deployed',
        problem: `stack ${env[side].stackName}: ${(err as Error).name}: ${(err as Error).message}`,
        fix: `deploy it: npx cdk deploy -c env=${envName} --all`,
      });
    }
  }
  const deployed: Deployed = { env, stacks };
  const requestsSimulated =
    stacks.primary.size > 0 && stacks.dr.size > 0 ? await checkRequests(deployed, clients, findings) : 0;
  const resourcePoliciesChecked = await checkResourcePolicies(deployed, clients, findings);
  await checkWorkflows(deployed, clients, findings);
  await checkConfiguration(deployed, clients, findings);
  return { environment: envName, requestsSimulated, resourcePoliciesChecked, findings };
}

export async function doctorCommand(
  argv: string[],
  clients: DoctorClients = defaultDoctorClients,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const p = parse(USAGE, argv, doctorSyntax.options);
  const envName = required(p, 'env', USAGE);
  const report = await runDoctor(envName, clients);
  if (bool(p, 'json')) {
    out.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const byDatabase = new Map<string, Finding[]>();
    for (const f of report.findings) byDatabase.set(f.database, [...(byDatabase.get(f.database) ?? []), f]);
    out.write(
      `lifeboat doctor ${envName}: ${report.requestsSimulated} requests asked of AWS, ${report.resourcePoliciesChecked} queue and function policies checked, ${report.findings.length} finding(s)\n`,
    );
    for (const [database, list] of byDatabase) {
      out.write(`\n${database}\n`);
      out.write(
        `${table(
          ['REGION', 'CHECK', 'PROBLEM', 'FIX'],
          list.map((f) => [f.region, f.check, f.problem, f.fix]),
        )}\n`,
      );
    }
    if (report.findings.length === 0)
      out.write(
        'nothing would fail: every call allowed, every delivery scoped to its source, every workflow valid, everything configured exists\n',
      );
  }
  return report.findings.length > 0 ? 1 : 0;
}

/** The command line as the docs test checks it (bin/cli/syntax.ts). */
export const doctorSyntax = {
  usage: USAGE,
  options: { env: { type: 'string' }, json: { type: 'boolean' } },
  positionals: 0,
} satisfies Syntax;
