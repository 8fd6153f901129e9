import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Effect, type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Alias, Key } from 'aws-cdk-lib/aws-kms';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  type IBucket,
  ObjectLockRetention,
  ObjectOwnership,
  StorageClass,
} from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { BucketSettings } from '../config/schema.ts';
import {
  accessLogBucketName,
  aliasArn,
  backupBucketName,
  backupKeyAlias,
  type NameScope,
} from '../naming.ts';
import { nagResource } from './lifeboat-function.ts';
import { ARTIFACT_PREFIX } from '../../functions/core/contracts/index.ts';

export interface ReplicationTarget {
  /** Region of the destination bucket and key. */
  readonly region: string;
}

export interface BackupVaultProps {
  /** lifeboat environment, part of every physical name. */
  readonly environment: string;
  readonly settings: BucketSettings;
  /**
   * Replicate every object (artifacts and catalog) to the vault of this region, whose bucket and key
   * alias are found by name (see lib/naming.ts), so no cross-region reference is needed. Delete
   * markers are not replicated: the replica does not follow deletes.
   * @default - no replication (the DR vault is itself the destination)
   */
  readonly replicateTo?: ReplicationTarget;
}

/**
 * Where backups live in one region: a customer-managed key with rotation and a versioned,
 * Object-Locked, private, SSL-only bucket encrypted with it (S3 Bucket Keys on, so KMS is called
 * once per object rather than per part), with server access logs in a second bucket.
 */
export class BackupVault extends Construct {
  public readonly key: Key;
  public readonly bucket: Bucket;
  public readonly accessLogBucket: Bucket;
  /** The role S3 replicates with, when `replicateTo` is set. */
  public readonly replicationRole?: IRole;

  constructor(scope: Construct, id: string, props: BackupVaultProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const names: NameScope = { environment: props.environment, account: stack.account, region: stack.region };
    const { settings } = props;

    this.key = new Key(this, 'Key', {
      description: `lifeboat ${props.environment}: encrypts backups and the catalog in ${stack.region}`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    new Alias(this, 'KeyAlias', { aliasName: backupKeyAlias(props.environment), targetKey: this.key });

    this.accessLogBucket = new Bucket(this, 'AccessLogs', {
      bucketName: accessLogBucketName(names),
      // S3 server access logging can only deliver to a bucket with SSE-S3 default encryption.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(settings.accessLogRetentionDays),
          noncurrentVersionExpiration: Duration.days(1),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.accessLogBucket).acknowledge(
      {
        id: 'AwsSolutions-S1',
        reason:
          'This bucket receives the backup bucket server access logs; logging it would log into itself.',
      },
      {
        id: 'NIST.800.53.R5-S3BucketLoggingEnabled',
        reason:
          'This bucket receives the backup bucket server access logs; logging it would log into itself.',
      },
      {
        id: 'NIST.800.53.R5-S3DefaultEncryptionKMS',
        reason: 'S3 server access logging only delivers to buckets with SSE-S3 default encryption.',
      },
      {
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason: 'Access logs are audit data of this region only; the backups themselves are replicated.',
      },
    );

    let replication: { role: Role; destination: IBucket; keyAliasArn: string } | undefined;
    if (props.replicateTo) {
      const target: NameScope = { ...names, region: props.replicateTo.region };
      const role = new Role(this, 'ReplicationRole', {
        assumedBy: new ServicePrincipal('s3.amazonaws.com'),
        description: `lifeboat ${props.environment}: replicates backups to ${props.replicateTo.region}`,
      });
      const destination = Bucket.fromBucketAttributes(this, 'ReplicaBucket', {
        bucketName: backupBucketName(target),
        region: target.region,
        account: target.account,
      });
      replication = { role, destination, keyAliasArn: aliasArn(target, backupKeyAlias(props.environment)) };
      this.replicationRole = role;
    }

    this.bucket = new Bucket(this, 'Bucket', {
      bucketName: backupBucketName(names),
      encryption: BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention:
        settings.objectLockMode === 'COMPLIANCE'
          ? ObjectLockRetention.compliance(Duration.days(settings.objectLockDays))
          : ObjectLockRetention.governance(Duration.days(settings.objectLockDays)),
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'backup-bucket/',
      lifecycleRules: [
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(settings.noncurrentVersionExpirationDays),
          abortIncompleteMultipartUploadAfter: Duration.days(2),
          expiredObjectDeleteMarker: true,
        },
        {
          // Only dumps: catalog documents are small and read on every restore.
          id: 'archive-artifacts',
          prefix: ARTIFACT_PREFIX,
          transitions: [
            { storageClass: StorageClass.GLACIER, transitionAfter: Duration.days(settings.glacierAfterDays) },
            {
              storageClass: StorageClass.DEEP_ARCHIVE,
              transitionAfter: Duration.days(settings.deepArchiveAfterDays),
            },
          ],
        },
      ],
      replicationRole: replication?.role,
      replicationRules: replication && [
        {
          id: 'to-dr-region',
          destination: replication.destination,
          // The replica is encrypted with the DR region's key, found by alias (key ids are random).
          kmsKey: Key.fromKeyArn(this, 'ReplicaKey', replication.keyAliasArn),
          sseKmsEncryptedObjects: true,
          // Deletes never travel: a delete in this region (prune, a person, a compromised role) adds
          // a delete marker here only, and the DR copy stays. The DR region's own prune decides
          // about its copy, by the same policy and its own catalog (docs/retention.md).
          deleteMarkerReplication: false,
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    if (replication) {
      this.grantReplication(
        replication.role,
        replication.destination,
        props.replicateTo!.region,
        props.environment,
      );
    } else {
      Validations.of(this.bucket).acknowledge({
        id: 'NIST.800.53.R5-S3BucketReplicationEnabled',
        reason: 'This is the DR-region replica: the destination of the primary bucket replication.',
      });
    }
  }

  private grantReplication(role: Role, destination: IBucket, region: string, environment: string): void {
    const stack = Stack.of(this);
    role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetReplicationConfiguration', 's3:ListBucket'],
        resources: [this.bucket.bucketArn],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        actions: [
          's3:GetObjectVersionForReplication',
          's3:GetObjectVersionAcl',
          's3:GetObjectVersionTagging',
          's3:GetObjectRetention',
          's3:GetObjectLegalHold',
        ],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
    role.addToPolicy(
      new PolicyStatement({
        // No s3:ReplicateDelete: delete markers are not replicated.
        actions: ['s3:ReplicateObject', 's3:ReplicateTags'],
        resources: [destination.arnForObjects('*')],
      }),
    );
    this.key.grantDecrypt(role);
    // KMS authorizes against the key ARN, never the alias ARN: allow the DR region's keys that carry
    // lifeboat's alias, and no other.
    const dest = `arn:${stack.partition}:kms:${region}:${stack.account}:key/*`;
    role.addToPolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [dest],
        conditions: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': backupKeyAlias(environment) },
        },
      }),
    );
    const policy = role.node.tryFindChild('DefaultPolicy');
    if (policy) {
      for (const resource of [this.bucket.arnForObjects('*'), destination.arnForObjects('*'), dest]) {
        Validations.of(policy).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${nagResource(stack, resource)}]`,
          reason:
            'S3 replication reads and writes every object of the backup bucket; the DR key is matched by its alias (kms:ResourceAliases) because key ids are not known at synth.',
        });
      }
      Validations.of(policy).acknowledge({
        id: 'NIST.800.53.R5-IAMNoInlinePolicy',
        reason: 'CDK writes this policy for exactly one role (S3 replication), created and deleted with it.',
      });
    }
  }
}
