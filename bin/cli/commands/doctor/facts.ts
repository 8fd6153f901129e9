import {
  CloudFormationClient,
  ListStackResourcesCommand,
  type StackResourceSummary,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { IAMClient } from '@aws-sdk/client-iam';
import { GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { RDSClient } from '@aws-sdk/client-rds';
import { Route53Client } from '@aws-sdk/client-route-53';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { loadEnvironmentConfig } from '../../../../lib/config/load.ts';
import type { EnvironmentConfig } from '../../../../lib/config/schema.ts';
import { type WorkflowName } from '../../../../state-machines/common.ts';
import { resolveEnvironment } from '../../env.ts';
import { type AwsClients, defaultClients } from '../aws.ts';
import { RETRY } from '#core/contracts/retry.ts';

/**
 * What doctor reads of the deployed environment: its clients, the deployed resources of both
 * stacks, the ARNs the request table names resolved against them, and the resource policies AWS
 * evaluates with a request.
 */

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
  cloudformation: (region) => new CloudFormationClient({ region, ...RETRY.standard }),
  iam: () => new IAMClient({ region: 'us-east-1', ...RETRY.standard }),
  rds: (region) => new RDSClient({ region, ...RETRY.standard }),
  kms: (region) => new KMSClient({ region, ...RETRY.standard }),
  s3: (region) => new S3Client({ region, ...RETRY.standard }),
  secrets: (region) => new SecretsManagerClient({ region, ...RETRY.standard }),
  sns: (region) => new SNSClient({ region, ...RETRY.standard }),
  cloudwatch: (region) => new CloudWatchClient({ region, ...RETRY.standard }),
  route53: () => new Route53Client({ region: 'us-east-1', ...RETRY.standard }),
  sqs: (region) => new SQSClient({ region, ...RETRY.standard }),
  lambda: (region) => new LambdaClient({ region, ...RETRY.standard }),
};

/** Deployed resources of one stack by logical id. */
export type StackResources = Map<string, StackResourceSummary>;

export async function stackResources(cf: CloudFormationClient, stackName: string): Promise<StackResources> {
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
export function arnOfPhysical(r: StackResourceSummary, region: string, account: string): string {
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

export interface Deployed {
  readonly env: DoctorTarget;
  readonly stacks: Record<'primary' | 'dr', StackResources>;
}

function find(d: Deployed, side: 'primary' | 'dr', prefix: string): StackResourceSummary | undefined {
  for (const [id, r] of d.stacks[side]) {
    if (id.startsWith(prefix) && HASH.test(id.slice(prefix.length))) return r;
  }
  return undefined;
}

export function resolve(d: Deployed, text: string): string {
  return text.replace(PLACEHOLDER, (_, side: 'primary' | 'dr', prefix: string, stream?: string) => {
    const r = find(d, side, prefix);
    if (!r) throw new Error(`${prefix} is not deployed in ${d.env[side].stackName}`);
    const arn = arnOfPhysical(r, d.env[side].region, d.env.account);
    return stream ? `${arn.replace(/:\*$/, '')}:log-stream:doctor` : arn;
  });
}

/** The resource policy AWS evaluates with a request on `arn` (topic, key, queue), fetched once. */
export class ResourcePolicies {
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
