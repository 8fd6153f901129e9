import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import * as z from '../shared/zod.ts';
import { ConfigError, errorMessage } from '../shared/errors.ts';
import type { LifeboatEventInput } from '../notify/events.ts';
import type { Logger } from '../shared/logger.ts';
import { DatabaseRetention } from '../retention/prune-settings.ts';
import { buildReport, reportJson } from './report.ts';
import { type EvidenceReport } from './report-model.ts';
import { renderHtml } from './report-html.ts';
import { percent, span } from './report-text.ts';
import type { Repository } from '../repository/types.ts';
import { UnionRepository } from '../repository/union.ts';
import { REPORTS_PREFIX } from '../contracts/storage.ts';

/**
 * The scheduled report (flow: Scheduler → report function): the report of the environment's
 * catalog (both regions' buckets read as one), written as HTML and JSON under `reports/` in the
 * primary region's bucket, and a `report.published` event with the worst gaps, pass rates and
 * RTO against target, and a link to the HTML.
 *
 * The link is an S3 presigned URL. SigV4 allows 7 days, but a URL signed with temporary
 * credentials stops working when they expire, and a function's role credentials are temporary
 * (the Lambda service renews them, typically within hours). The message therefore says how the
 * link was signed, and always carries the object's place in the bucket and the command that makes
 * a fresh link, so the report stays reachable after the link is gone.
 */

export { REPORTS_PREFIX };

export const ReportTargetsSchema = z.strictObject({
  backupAgeWarnHours: z.number().check(z.positive()),
  backupAgeCritHours: z.number().check(z.positive()),
  verifiedAgeHours: z.number().check(z.positive()),
  restoreRtoSeconds: z.number().check(z.positive()),
  failoverRtoSeconds: z.number().check(z.positive()),
  failoverRpoSeconds: z.number().check(z.nonnegative()),
});

/** The function's settings (LIFEBOAT_REPORT_SETTINGS): from the environment's configuration. */
export const ScheduledReportSettings = z.strictObject({
  environment: z.string().check(z.minLength(1)),
  primaryRegion: z.string().check(z.minLength(1)),
  drRegion: z.string().check(z.minLength(1)),
  periodDays: z.int().check(z.gte(1), z.lte(400)),
  linkExpiryDays: z.int().check(z.gte(1), z.lte(7)),
  targets: ReportTargetsSchema,
  retention: z.record(z.string(), DatabaseRetention),
  /** Configured databases: listed even when the catalog holds nothing of them (a gap in itself). */
  databases: z.array(z.string()),
});
export type ScheduledReportSettings = z.infer<typeof ScheduledReportSettings>;

export function parseScheduledReportSettings(json: string, variable: string): ScheduledReportSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${variable} is not JSON: ${errorMessage(err)}`);
  }
  const parsed = ScheduledReportSettings.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      `${variable}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

export interface ScheduledReportDeps {
  readonly settings: ScheduledReportSettings;
  /** The primary region's bucket (reports are written here) and its client. */
  readonly bucket: string;
  readonly s3: S3Client;
  /** Both regions' repositories, the primary region's first. */
  readonly repositories: readonly Repository[];
  readonly now: Date;
  readonly logger: Logger;
  /** Publishes the summary event (the notifier posts it to Slack); absent without an events topic. */
  readonly publish?: ((event: LifeboatEventInput) => Promise<unknown>) | undefined;
  /** Signs the link (tests hand in another). @default presign with `s3` */
  readonly sign?: (key: string, expiresInSeconds: number) => Promise<string>;
  /** Who signs: the function's role (the link ends with its session) or a long-lived key. @default 'role' */
  readonly signedBy?: 'role' | 'key';
}

const SignerSecret = z.object({
  accessKeyId: z.string().check(z.minLength(16)),
  secretAccessKey: z.string().check(z.minLength(16)),
});

/** The long-lived access key a link signer signs with. */
export interface SignerCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * A signer with the long-lived access key kept in a secret (`{"accessKeyId", "secretAccessKey"}`),
 * so the link lasts its days. The key never leaves this function's memory: not logged, not returned.
 */
export async function keySigner(
  secrets: SecretsManagerClient,
  secretArn: string,
  bucket: string,
  /** The S3 client that signs with the key (the caller builds it in the bucket's region). */
  clientFor: (credentials: SignerCredentials) => S3Client,
): Promise<(key: string, expiresInSeconds: number) => Promise<string>> {
  const text = (await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  let parsed: z.infer<typeof SignerSecret>;
  try {
    parsed = SignerSecret.parse(JSON.parse(text ?? ''));
  } catch {
    // Never the secret's content in a message.
    throw new ConfigError(`secret ${secretArn}: expected {"accessKeyId": "...", "secretAccessKey": "..."}`);
  }
  const client = clientFor({ accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey });
  return (key, seconds) =>
    getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: seconds });
}

export interface ScheduledReportResult {
  readonly htmlKey: string;
  readonly jsonKey: string;
  readonly link: string;
  readonly summary: EvidenceReport['summary'];
  /** Regions' buckets that could not be read (the report is of the others). */
  readonly unavailable: ReadonlyArray<{ url: string; error: string }>;
}

function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')
    .slice(0, 13);
}

/** Where the report of `environment` made at `at` is written: `reports/<day>/dr-evidence-<env>-<stamp>Z.*`. */
export function reportKeys(environment: string, at: Date): { htmlKey: string; jsonKey: string } {
  const base = `${REPORTS_PREFIX}${at.toISOString().slice(0, 10)}/dr-evidence-${environment}-${stamp(at)}Z`;
  return { htmlKey: `${base}.html`, jsonKey: `${base}.json` };
}

export async function runScheduledReport(deps: ScheduledReportDeps): Promise<ScheduledReportResult> {
  const { settings, now } = deps;
  const union = new UnionRepository(deps.repositories);
  const from = new Date(now.getTime() - settings.periodDays * 86_400_000);
  const databases = settings.databases.length > 0 ? settings.databases : undefined;
  const report = await buildReport(union, {
    from,
    to: now,
    now,
    targets: settings.targets,
    retention: settings.retention,
    databases,
    region: settings.primaryRegion,
    subject: `environment ${settings.environment}`,
  });
  const { htmlKey, jsonKey } = reportKeys(settings.environment, now);
  // The JSON first: the HTML, which the link points at, appears only once its data is stored too.
  // A rerun of the same minute writes a new version of each (the bucket keeps versions).
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: jsonKey,
      Body: reportJson(report),
      ContentType: 'application/json',
    }),
  );
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: htmlKey,
      Body: renderHtml(report),
      ContentType: 'text/html; charset=utf-8',
      // Opened from the link, the browser shows it rather than downloading it.
      ContentDisposition: 'inline',
    }),
  );
  const expiresIn = settings.linkExpiryDays * 86_400;
  const sign =
    deps.sign ??
    ((key: string, seconds: number) =>
      getSignedUrl(deps.s3, new GetObjectCommand({ Bucket: deps.bucket, Key: key }), { expiresIn: seconds }));
  const link = await sign(htmlKey, expiresIn);
  for (const u of union.unavailable) {
    deps.logger.warn('a region’s bucket could not be read: the report is of the other', u);
  }
  if (deps.publish) {
    await deps.publish(
      summaryEvent(
        report,
        { ...settings, bucket: deps.bucket, htmlKey, link, signedBy: deps.signedBy ?? 'role' },
        union.unavailable,
      ),
    );
  }
  deps.logger.info('report written', { htmlKey, jsonKey, summary: report.summary });
  return { htmlKey, jsonKey, link, summary: report.summary, unavailable: [...union.unavailable] };
}

/** The Slack summary: worst gaps, pass rates, RTO against target, where the report is. */
export function summaryEvent(
  report: EvidenceReport,
  where: ScheduledReportSettings & {
    bucket: string;
    htmlKey: string;
    link: string;
    signedBy?: 'role' | 'key';
  },
  unavailable: ReadonlyArray<{ url: string; error: string }> = [],
): LifeboatEventInput {
  const s = report.summary;
  const worstGaps = report.databases
    .flatMap((d) => d.gaps.map((g) => ({ database: d.database, g })))
    .sort((a, b) => b.g.seconds - a.g.seconds)
    .slice(0, 3)
    .map(
      ({ database, g }) =>
        `${database} ${span(g.seconds)}${g.open ? ' (open)' : ''} from ${g.from.slice(0, 16)}Z`,
    );
  const days = Math.round((Date.parse(report.to) - Date.parse(report.from)) / 86_400_000);
  const summary =
    s.gaps === 0
      ? `DR evidence for the last ${days} days: no gaps; verifications ${percent(s.verificationPassRate)} passed; restore tests ${s.restoreTestsWithinRto}/${s.restoreTests} and failovers ${s.failoversWithinRto}/${s.failovers} within RTO`
      : `DR evidence for the last ${days} days: ${s.gaps} gap${s.gaps === 1 ? '' : 's'} with no verified backup younger than ${span(report.targets.verifiedAgeHours * 3600)}, the longest ${s.worstGap!.database} ${span(s.worstGap!.seconds)}`;
  return {
    type: 'report.published',
    // Gaps mean a time without a restore point proven young enough: worth a look, not a page.
    severity: s.gaps > 0 || unavailable.length > 0 ? 'warning' : 'info',
    environment: where.environment,
    region: where.primaryRegion,
    link: where.link,
    summary,
    figures: {
      databases: s.databases,
      gaps: s.gaps,
      ...(worstGaps.length ? { worstGaps: worstGaps.join('; ') } : {}),
      backupsCompleted: s.backupsCompleted,
      backupsFailed: s.backupsFailed,
      verificationPassRate: percent(s.verificationPassRate),
      restoreTestsWithinRto: `${s.restoreTestsWithinRto} of ${s.restoreTests} (target ${span(report.targets.restoreRtoSeconds)})`,
      failoversWithinRto: `${s.failoversWithinRto} of ${s.failovers} (target ${span(report.targets.failoverRtoSeconds)})`,
      ...(s.slowestRecovery
        ? {
            slowestRecovery: `${s.slowestRecovery.database} ${s.slowestRecovery.kind} ${span(s.slowestRecovery.rtoSeconds)} against ${span(s.slowestRecovery.rtoTargetSeconds)}`,
          }
        : {}),
      report: `s3://${where.bucket}/${where.htmlKey}`,
      link:
        where.signedBy === 'key'
          ? `valid ${where.linkExpiryDays} d (signed with the report-link key). A fresh one: aws s3 presign s3://${where.bucket}/${where.htmlKey} --expires-in 604800`
          : `signed by the report function's role for ${where.linkExpiryDays} d; it stops working earlier when that role's session ends. A fresh one, with long-lived credentials: aws s3 presign s3://${where.bucket}/${where.htmlKey} --expires-in 604800; or lifeboat report --env ${where.environment} --format html`,
      ...(unavailable.length ? { unreadable: unavailable.map((u) => u.url).join(', ') } : {}),
    },
  };
}
