import { Validations } from 'aws-cdk-lib';
import type { IRole, Policy } from 'aws-cdk-lib/aws-iam';
import { acknowledgeOwnPolicy, acknowledgeWildcardResources } from '../lifeboat-function.ts';

/**
 * The cdk-nag acknowledgements of the workflows, each with its reason: the wildcard resources of
 * a task function's role, and the findings the policy of a workflow's own role raises.
 */

/** Acknowledges AwsSolutions-IAM5 for every wildcard resource of a role's policy that `matches`. */
export function acknowledgeWildcards(
  role: IRole,
  matches: (rendered: string) => boolean,
  reason: string,
): void {
  const policy = role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
  if (policy) acknowledgeWildcardResources(policy, matches, reason);
}

/** The RDS ARNs (`...:rds:...`) of a role's policy. */
export const rdsResources = (r: string): boolean => r.includes(':rds:');

/**
 * The findings of a state machine role's policy as CDK's constructs write it: log delivery and
 * X-Ray, the topic's and the snapshots' keys, task function versions, RDS names chosen at run
 * time, Route 53 changes. Covers the statements present when it is called.
 */
export function acknowledgeStateMachineRole(role: IRole): void {
  acknowledgeOwnPolicy(role, 'a lifeboat workflow');
  const policy = role.node.tryFindChild('DefaultPolicy') as Policy | undefined;
  if (!policy) return;
  Validations.of(policy).acknowledge(
    {
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Step Functions log delivery (logs:*LogDelivery, DescribeLogGroups ...) and X-Ray take no resource ARN.',
    },
    {
      id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason:
        'CDK grants for publishing to the KMS-encrypted topic and restoring snapshots encrypted with the configured keys; limited to those keys.',
    },
  );
  acknowledgeWildcardResources(
    policy,
    (r) => r.startsWith('<') && r.endsWith(':*') && !r.includes(':rds:'),
    'Invoking a task function includes its versions and aliases (<function ARN>:*).',
  );
  acknowledgeWildcardResources(
    policy,
    rdsResources,
    'Restores create instances and clusters the operator (or the restore-test plan) names at run time, from snapshots named lifeboat-...; deletion is denied unless the resource carries the workflow tag it was created with. Failover promotion is limited to the configured replicas by a Deny.',
  );
  acknowledgeWildcardResources(
    policy,
    (r) => r.includes(':route53:::'),
    'Route 53 change ids are generated per change; hosted zones are the configured ones (all zones only when none is configured).',
  );
}
