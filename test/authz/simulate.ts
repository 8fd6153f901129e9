import { runSimulation } from '@cloud-copilot/iam-simulate';
import { type AuthzRequest, isService } from '../../lib/authz/requests/index.ts';
import type { PolicyDocument, StackWorld } from './world.ts';

/** The two stacks of one environment, as AWS would hold them. */
export interface EnvironmentWorld {
  readonly account: string;
  readonly primary: StackWorld;
  readonly dr: StackWorld;
}

export interface Outcome {
  readonly request: AuthzRequest;
  /** The request with its placeholders resolved. */
  readonly principal: string;
  readonly resource: string;
  readonly context: Record<string, string | string[]>;
  readonly result: string;
  /** Why it was not evaluated (a placeholder naming a resource the stack lacks, an input error). */
  readonly error?: string;
}

const PLACEHOLDER = /\{\{(primary|dr):([A-Za-z0-9]+)(#stream)?\}\}/g;

/** A customer-managed key outside the stacks keeps its default key policy: the account delegates to IAM. */
function defaultKeyPolicy(account: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'kms:*', Resource: '*' },
    ],
  };
}

const ENCRYPTION_CONTEXT = /^kms:EncryptionContext:(.+)$/i;
function renameContextKey(key: string): string {
  const m = ENCRYPTION_CONTEXT.exec(key);
  return m ? `aws:PrincipalTag/kms-EncryptionContext-${m[1]!.replaceAll(':', '-')}` : key;
}
function renamePolicyKeys(policy: PolicyDocument): PolicyDocument {
  return JSON.parse(
    JSON.stringify(policy, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v)
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>).map(([k, x]) => [renameContextKey(k), x]),
          )
        : v,
    ),
  ) as PolicyDocument;
}

export function resolvePlaceholders(world: EnvironmentWorld, text: string): string {
  return text.replace(PLACEHOLDER, (_, side: 'primary' | 'dr', prefix: string, stream?: string) => {
    const stack = world[side];
    const arn = stack.arnOf(stack.logicalIdOf(prefix));
    return stream ? `${arn.replace(/:\*$/, '')}:log-stream:2026/11/23/[$LATEST]0123` : arn;
  });
}

/**
 * Evaluates one request as AWS would: the principal's identity policies (none for a service),
 * the target's resource policy (topic, queue, bucket, key, function) from either stack, explicit
 * Denies and NotResource included, with @cloud-copilot/iam-simulate in strict mode.
 */
export async function evaluate(world: EnvironmentWorld, request: AuthzRequest): Promise<Outcome> {
  const context: Record<string, string | string[]> = {};
  try {
    const resource = resolvePlaceholders(world, request.resource);
    for (const [k, v] of Object.entries(request.context ?? {})) {
      context[k] = Array.isArray(v)
        ? v.map((x) => resolvePlaceholders(world, x))
        : resolvePlaceholders(world, v);
    }
    const stack = world[request.stack];
    let principal: string;
    let identityPolicies: { name: string; policy: PolicyDocument }[] = [];
    if (isService(request.principal)) {
      principal = request.principal;
    } else {
      const roleId = stack.logicalIdOf(request.principal);
      principal = stack.arnOf(roleId);
      identityPolicies = stack.identityPolicies(roleId);
      context['aws:PrincipalArn'] ??= principal;
      context['aws:PrincipalAccount'] ??= world.account;
    }
    let resourcePolicy = world.primary.resourcePolicyOf(resource) ?? world.dr.resourcePolicyOf(resource);
    if (!resourcePolicy && resource.startsWith('arn:aws:kms:') && resource.includes(':key/')) {
      resourcePolicy = defaultKeyPolicy(world.account);
    }
    // iam-simulate 0.1.173 matches variable condition keys only at a '/' (aws:RequestTag/x), so it
    // drops every `kms:EncryptionContext:<key>` (a ':' variable) as unrelated to the action, and a
    // key policy scoped by one could never match. Renaming the key the same way in the context and
    // in the policy, to a '/' variable key it does evaluate, keeps the condition's meaning.
    for (const k of Object.keys(context)) {
      const renamed = renameContextKey(k);
      if (renamed !== k) {
        context[renamed] = context[k]!;
        delete context[k];
      }
    }
    if (resourcePolicy) resourcePolicy = renamePolicyKeys(resourcePolicy);
    const outcome = await runSimulation(
      {
        request: {
          principal,
          action: request.action,
          resource: { resource, accountId: world.account },
          contextVariables: context,
        },
        identityPolicies,
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy } : {}),
      },
      {},
    );
    if (outcome.resultType === 'error') {
      return {
        request,
        principal,
        resource,
        context,
        result: 'Error',
        error: JSON.stringify(outcome.errors),
      };
    }
    return { request, principal, resource, context, result: outcome.overallResult };
  } catch (err) {
    return {
      request,
      principal: request.principal,
      resource: request.resource,
      context,
      result: 'Error',
      error: String(err),
    };
  }
}

export function describeOutcome(o: Outcome): string {
  return `${o.request.stack} ${o.request.principal} ${o.request.action} ${o.resource} → ${o.result}${o.error ? ` (${o.error})` : ''} — ${o.request.why}`;
}
