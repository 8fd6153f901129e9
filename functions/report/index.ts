import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import * as z from '#core/shared/zod.ts';
import { errorMessage, requireEnv } from '#core/shared/errors.ts';
import { EVENTS_TOPIC_ENV, makeEvent } from '#core/notify/events.ts';
import { publishEvent } from '#core/notify/publish.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import {
  keySigner,
  parseScheduledReportSettings,
  runScheduledReport,
  type ScheduledReportResult,
} from '#core/report/report-publish.ts';
import { S3Repository } from '#core/repository/s3.ts';
import { awsClient, clientWithCredentials, clientsByRegion } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { ENV } from './env.ts';

export interface ReportHandlerDeps {
  readonly s3: (region: string) => S3Client;
  readonly sns: SNSClient;
  readonly secrets?: SecretsManagerClient;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  readonly now?: () => Date;
  readonly sign?: (key: string, expiresInSeconds: number) => Promise<string>;
}

/** The scheduled report: reads both regions' catalogs, writes reports/…html and .json, announces it. */
export async function runReport(deps: ReportHandlerDeps): Promise<ScheduledReportResult> {
  const settings = parseScheduledReportSettings(requireEnv(ENV.settings, deps.env), ENV.settings);
  const bucket = requireEnv(ENV.bucket, deps.env);
  const drBucket = requireEnv(ENV.drBucket, deps.env);
  const primaryS3 = deps.s3(settings.primaryRegion);
  const topic = deps.env[EVENTS_TOPIC_ENV];
  const signerArn = deps.env[ENV.linkSigner];
  let sign = deps.sign;
  let signedBy: 'role' | 'key' = 'role';
  if (!sign && signerArn) {
    try {
      sign = await keySigner(
        deps.secrets ?? awsClient(SecretsManagerClient, 'standard', settings.primaryRegion),
        signerArn,
        bucket,
        (credentials) => clientWithCredentials(S3Client, settings.primaryRegion, credentials),
      );
      signedBy = 'key';
    } catch (err) {
      // The report matters more than the link's lifetime: the role signs, and the message says so.
      deps.logger.warn('the report-link key could not be read: the role signs the link', {
        secretArn: signerArn,
        error: errorMessage(err),
      });
    }
  }
  return runScheduledReport({
    signedBy,
    settings,
    bucket,
    s3: primaryS3,
    repositories: [
      new S3Repository({ client: primaryS3, bucket, prefix: '' }),
      new S3Repository({ client: deps.s3(settings.drRegion), bucket: drBucket, prefix: '' }),
    ],
    now: deps.now?.() ?? new Date(),
    logger: deps.logger,
    ...(sign ? { sign } : {}),
    // A notification that cannot be sent or built never fails the report: it is written, and logged.
    publish: topic
      ? async (input) => {
          try {
            return await publishEvent(deps.sns, topic, makeEvent(input), deps.logger);
          } catch (err) {
            deps.logger.error('the report summary could not be announced', { error: errorMessage(err) });
            return { published: false, reason: errorMessage(err) };
          }
        }
      : undefined,
  });
}

export const handler = lambdaHandler(
  // The schedule's input is not read: what to report comes from the function's settings.
  { service: 'report', event: z.unknown() },
  (_event, { logger }) =>
    runReport({
      s3: clientsByRegion(S3Client, 'standard'),
      sns: awsClient(SNSClient, 'standard'),
      logger,
      env: process.env,
    }),
);
