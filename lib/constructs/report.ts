import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { CATALOG_PREFIX } from '../../functions/core/catalog/catalog.ts';
import { REPORTS_PREFIX, type ScheduledReportSettings } from '../../functions/core/report/report-publish.ts';
import { ENV } from '../../functions/report/env.ts';
import { reportSettings } from '../config/report.ts';
import type { EnvironmentConfig } from '../config/schema.ts';
import { backupBucketName, backupKeyAlias } from '../naming.ts';
import { LifeboatFunction, nagResource } from './lifeboat-function.ts';

export interface ReportProps {
  readonly environment: string;
  readonly config: EnvironmentConfig;
  /** The primary region's backup bucket: its catalog is read, the reports are written under reports/. */
  readonly bucket: IBucket;
  readonly deadLetterQueue: IQueue;
}

/**
 * The report function (docs/report.md): on the report schedule, the DR evidence report of the
 * environment from both regions' catalogs, written as HTML and JSON under `reports/` of the primary
 * region's bucket, announced with a link. It may read the catalog of both buckets and the reports
 * it wrote (the link is signed with its credentials), write under `reports/` only, and delete
 * nothing.
 */
export class Report extends Construct {
  public readonly function: LifeboatFunction;

  constructor(scope: Construct, id: string, props: ReportProps) {
    super(scope, id);
    const { config, environment, bucket } = props;
    const stack = Stack.of(this);
    const settings = reportSettings(config);
    const payload: ScheduledReportSettings = {
      environment,
      primaryRegion: config.primaryRegion,
      drRegion: config.drRegion,
      periodDays: settings.periodDays,
      linkExpiryDays: config.report.linkExpiryDays,
      targets: settings.targets,
      retention: settings.retention,
      databases: config.databases.map((d) => d.name),
    };
    const drBucketName = backupBucketName({ environment, account: stack.account, region: config.drRegion });
    this.function = new LifeboatFunction(this, 'Function', {
      entry: 'report/index.ts',
      description: `lifeboat ${environment}: DR evidence report (reports/ in the backup bucket)`,
      timeout: Duration.minutes(5),
      memorySize: 1024,
      reservedConcurrentExecutions: 1,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: 0,
      environment: {
        [ENV.bucket]: bucket.bucketName,
        [ENV.drBucket]: drBucketName,
        [ENV.settings]: JSON.stringify(payload),
      },
    });

    const drBucketArn = `arn:${stack.partition}:s3:::${drBucketName}`;
    const catalogObjects = [bucket.arnForObjects(`${CATALOG_PREFIX}*`), `${drBucketArn}/${CATALOG_PREFIX}*`];
    const reportObjects = bucket.arnForObjects(`${REPORTS_PREFIX}*`);
    const drKeys = `arn:${stack.partition}:kms:${config.drRegion}:${stack.account}:key/*`;
    const statements = [
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn, drBucketArn],
        conditions: { StringLikeIfExists: { 's3:prefix': [CATALOG_PREFIX, `${CATALOG_PREFIX}*`] } },
      }),
      new PolicyStatement({ actions: ['s3:GetObject'], resources: catalogObjects }),
      // Writes the report; reads it back only through the link it signs (GET with its credentials).
      new PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject'], resources: [reportObjects] }),
      // The DR bucket's key: KMS authorizes against key ARNs, never aliases, so the key is matched by
      // lifeboat's alias (its id is not known at synth). Decrypt only (nothing is written there),
      // and only as S3 of that region asks it for an object's data key, never a direct Decrypt.
      new PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [drKeys],
        conditions: {
          'ForAnyValue:StringEquals': { 'kms:ResourceAliases': backupKeyAlias(environment) },
          StringEquals: { 'kms:ViaService': `s3.${config.drRegion}.amazonaws.com` },
        },
      }),
    ];
    if (config.report.linkSignerSecretArn) {
      this.function.addEnvironment(ENV.linkSigner, config.report.linkSignerSecretArn);
      // The one secret the link is signed with; the key it holds may read reports/* and nothing else.
      statements.push(
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [config.report.linkSignerSecretArn],
        }),
      );
    }
    for (const s of statements) this.function.addToRolePolicy(s);
    if (bucket.encryptionKey) {
      this.function.addToRolePolicy(
        new PolicyStatement({
          // The same as a repository writer's (grantRepository): SSE-KMS writes and reads, through
          // S3 only; S3 never calls kms:Encrypt for an object.
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [bucket.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
        }),
      );
    }
    const policy = this.function.role!.node.findChild('DefaultPolicy');
    for (const resource of [...catalogObjects, reportObjects]) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${nagResource(stack, resource)}]`,
        reason:
          'The report reads catalog documents (generated keys under catalog/) of both regions, and writes reports under reports/ only.',
      });
    }
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagResource(stack, drKeys)}]`,
      reason:
        "The DR bucket's key is matched by lifeboat's alias (kms:ResourceAliases): its key id is not known at synth.",
    });
  }
}
