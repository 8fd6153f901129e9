import type { Stack } from 'aws-cdk-lib';

/**
 * CDK feature flags lifeboat's stacks rely on. Set on each stack (rather than in cdk.json) so that
 * tests, which build their own App, synthesize exactly what `cdk synth` does.
 */
export const FEATURE_FLAGS: Readonly<Record<string, unknown>> = {
  // Grant S3 log delivery by bucket policy, not the legacy ACL (buckets here enforce owner-only ACLs).
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
  // Merge IAM statements that differ only in actions or resources: shorter, readable policies.
  '@aws-cdk/aws-iam:minimizePolicies': true,
};

/** Must run in the stack's constructor before any child construct is created. */
export function applyFeatureFlags(stack: Stack): void {
  for (const [key, value] of Object.entries(FEATURE_FLAGS)) stack.node.setContext(key, value);
}
