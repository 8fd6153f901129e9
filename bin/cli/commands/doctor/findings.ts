import { type ContextEntry, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetPolicyCommand } from '@aws-sdk/client-lambda';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { type AuthzRequest, authzTable, isService } from '../../../../lib/authz/requests/index.ts';
import { type ExpectedSource, type PolicyProblem, resourcePolicyProblems } from './policies.ts';
import { arnOfPhysical, type Deployed, type DoctorClients, resolve, ResourcePolicies } from './facts.ts';

/**
 * What doctor judges of the roles and the resource policies: each request of the table asked of
 * AWS (iam:SimulatePrincipalPolicy, service deliveries against the topic's or key's policy), and
 * every queue's and function's policy held against the deliveries the table expects. Each
 * problem becomes a finding with its fix.
 */

export interface Finding {
  /** The database it concerns, or `(environment)`. */
  readonly database: string;
  readonly region: string;
  readonly check: string;
  readonly problem: string;
  readonly fix: string;
}

export const ENVIRONMENT = '(environment)';

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
export async function checkRequests(
  d: Deployed,
  clients: DoctorClients,
  findings: Finding[],
): Promise<number> {
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
export async function checkResourcePolicies(
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
