/** Settings of the recovered region that CreateReplica reads (set by the DR stack from `failback`). */
export const REPLICA_ENV = {
  /** KMS key (ARN, in the recovered region) for an encrypted source. */
  kmsKeyArn: 'LIFEBOAT_RECOVERED_KMS_KEY_ARN',
  /** DB subnet group in the recovered region. */
  subnetGroup: 'LIFEBOAT_RECOVERED_SUBNET_GROUP',
  /** Instance class of an Aurora secondary's instance. @default db.r6g.large */
  instanceClass: 'LIFEBOAT_RECOVERED_INSTANCE_CLASS',
} as const;
