/**
 * What `lifeboat doctor` checks in the resource policies of the deployed queues (SQS queue
 * policies) and functions (Lambda resource-based permissions): that each accepts exactly the AWS
 * service deliveries the request table expects of it (an EventBridge rule or SNS topic of this
 * environment, named by aws:SourceArn), nothing broader, and (queues) nothing without TLS.
 */

/** A service delivery the request table expects: `service` on behalf of `sourceArn`. */
export interface ExpectedSource {
  readonly service: string;
  readonly sourceArn: string;
  readonly why: string;
  readonly database?: string;
}

export type PolicyProblem =
  /** No Deny of requests without TLS (queues). */
  | { readonly kind: 'not-ssl-only' }
  /** An Allow not limited to one named source: any rule/topic (of any account), or a non-service principal. */
  | { readonly kind: 'open'; readonly sid: string; readonly principal: string; readonly detail: string }
  /** An Allow for a source that is not one this environment expects. */
  | {
      readonly kind: 'foreign-source';
      readonly sid: string;
      readonly principal: string;
      readonly sourceArn: string;
    }
  /** An expected delivery no statement allows: it fails. */
  | { readonly kind: 'missing-source'; readonly expected: ExpectedSource };

interface Statement {
  readonly Sid?: string;
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: string | string[];
  readonly Condition?: Record<string, Record<string, string | string[]>>;
}

function statementsOf(policy: string | undefined): Statement[] {
  if (!policy) return [];
  const doc = JSON.parse(policy) as { Statement?: Statement | Statement[] };
  return Array.isArray(doc.Statement) ? doc.Statement : doc.Statement ? [doc.Statement] : [];
}

function actionCovers(statement: Statement, action: string): boolean {
  const wanted = action.toLowerCase();
  return [statement.Action ?? []]
    .flat()
    .map((a) => a.toLowerCase())
    .some((a) => a === wanted || a === '*' || (a.endsWith('*') && wanted.startsWith(a.slice(0, -1))));
}

/** The services a statement names, or null when its principal is not (only) AWS services. */
function servicesOf(statement: Statement): string[] | null {
  const p = statement.Principal as { Service?: string | string[]; AWS?: unknown } | string | undefined;
  if (!p || typeof p === 'string' || p.AWS !== undefined) return null;
  const services = [p.Service ?? []].flat();
  return services.length > 0 ? services : null;
}

function principalText(statement: Statement): string {
  return typeof statement.Principal === 'string' ? statement.Principal : JSON.stringify(statement.Principal);
}

/** The aws:SourceArn values of a statement's conditions (any Arn/String operator, any key case). */
function sourceArnsOf(statement: Statement): string[] {
  const out: string[] = [];
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    if (!/^(Arn|String)(Equals|Like)$/.test(operator)) continue;
    for (const [key, value] of Object.entries(keys)) {
      if (key.toLowerCase() === 'aws:sourcearn') out.push(...[value].flat());
    }
  }
  return out;
}

const SSL_DENY = (s: Statement, action: string) => {
  const p = s.Principal as { AWS?: unknown } | string | undefined;
  const everyone = p === '*' || (typeof p === 'object' && [p.AWS].flat().includes('*'));
  const tls = Object.entries(s.Condition?.Bool ?? {}).some(
    ([k, v]) => k.toLowerCase() === 'aws:securetransport' && [v].flat().includes('false'),
  );
  return s.Effect === 'Deny' && everyone && tls && actionCovers(s, action);
};

/**
 * Problems of a resource policy (a queue's, `action` sqs:SendMessage; a function's,
 * lambda:InvokeFunction) against the deliveries expected of it.
 */
export function resourcePolicyProblems(
  policy: string | undefined,
  action: 'sqs:SendMessage' | 'lambda:InvokeFunction',
  expected: readonly ExpectedSource[],
): PolicyProblem[] {
  const statements = statementsOf(policy);
  const problems: PolicyProblem[] = [];
  if (action === 'sqs:SendMessage' && !statements.some((s) => SSL_DENY(s, action))) {
    problems.push({ kind: 'not-ssl-only' });
  }
  const allows = statements.filter((s) => s.Effect === 'Allow' && actionCovers(s, action));
  for (const s of allows) {
    const sid = s.Sid ?? '(no Sid)';
    const services = servicesOf(s);
    const sources = sourceArnsOf(s);
    if (!services) {
      problems.push({
        kind: 'open',
        sid,
        principal: principalText(s),
        detail: 'not an AWS service of a source',
      });
      continue;
    }
    if (sources.length === 0) {
      problems.push({
        kind: 'open',
        sid,
        principal: services.join(', '),
        detail: 'no aws:SourceArn: any rule or topic, of any account unless aws:SourceAccount says otherwise',
      });
      continue;
    }
    for (const service of services) {
      for (const source of sources) {
        const known = expected.some((e) => e.service === service && e.sourceArn === source);
        if (known) continue;
        problems.push(
          source.includes('*') || source.includes('?')
            ? { kind: 'open', sid, principal: service, detail: `aws:SourceArn ${source} is a pattern` }
            : { kind: 'foreign-source', sid, principal: service, sourceArn: source },
        );
      }
    }
  }
  for (const e of expected) {
    const allowed = allows.some(
      (s) => (servicesOf(s) ?? []).includes(e.service) && sourceArnsOf(s).includes(e.sourceArn),
    );
    if (!allowed) problems.push({ kind: 'missing-source', expected: e });
  }
  return problems;
}
