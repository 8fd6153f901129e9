// Names the infrastructure (lib/, state-machines/) and the runtime (functions/, bin/) share: one
// definition each, so an IAM condition, an alarm or a bucket rule cannot drift from what the code
// tags, emits or writes. Plain values only: importing this pulls neither CDK nor an SDK client.
// Tag keys on AWS resources, and the values of lifeboat:workflow.
export * from './tags.ts';
// Secrets Manager ARNs (complete, and as inputs accept them).
export * from './secrets-arn.ts';
// SDK attempts per call by kind of work.
export * from './retry.ts';
// The CloudWatch namespace, metric names and dimensions.
export * from './metrics.ts';
// Key prefixes of the backup repository.
export * from './storage.ts';
// Snapshot prefix, failback replica names, SSM parameter names.
export * from './names.ts';
// Environment variables every function is given.
export * from './function-env.ts';
