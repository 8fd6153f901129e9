import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as z from '#core/shared/zod.ts';
import { InvalidArgument, requireEnv } from '#core/shared/errors.ts';
import { type LifeboatEvent } from '#core/notify/events.ts';
import { eventFromSnsRecord } from '#core/notify/decode.ts';
import type { Logger as CoreLogger } from '#core/shared/logger.ts';
import { renderEvent, renderUnrecognised, routeFor, type SlackMessage } from '#core/notify/slack.ts';
import { DeliveryTiming, postToSlack, SlackDeliveryFailed } from './delivery.ts';
import { awsClient } from '#runtime/clients.ts';
import { lambdaHandler } from '#runtime/handler.ts';
import { handlerMetrics } from '#runtime/metrics.ts';
import { ENV } from './env.ts';
import { SlackSecretUnavailable, WebhookSecret } from './webhooks.ts';

export { SlackDeliveryFailed, SlackRejected } from './delivery.ts';
export { SlackSecretUnavailable, WebhookSecret } from './webhooks.ts';

/** The SNS-to-Lambda event, as far as the notifier reads it. */
const SnsEvent = z.looseObject({
  Records: z
    .array(
      z.looseObject({
        Sns: z.looseObject({
          Message: z.string(),
          Subject: z.nullish(z.string()),
          Timestamp: z.optional(z.string()),
          TopicArn: z.optional(z.string()),
          MessageId: z.optional(z.string()),
        }),
      }),
    )
    .check(z.minLength(1)),
});

/** What the notifier counts (Powertools EMF in the handler). */
export type NotifierMetric =
  'SlackDelivered' | 'SlackDeliveryFailed' | 'SlackSecretUnavailable' | 'UnrecognisedMessage';

export interface NotifierDeps {
  readonly webhooks: Pick<WebhookSecret, 'get' | 'secretArn'>;
  readonly logger: CoreLogger;
  readonly env: NodeJS.ProcessEnv;
  readonly timing?: Partial<DeliveryTiming>;
  readonly count?: (metric: NotifierMetric, value: number) => void;
  /** Milliseconds left before the runtime stops us: the retry budget stays inside it. */
  readonly remainingMs?: (() => number) | undefined;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

export interface NotifyResult {
  readonly delivered: readonly {
    readonly messageId: string | undefined;
    readonly type: string;
    readonly route: string;
    readonly attempts: number;
  }[];
}

/** Time kept in hand after the last Slack attempt, so the failure is thrown (and logged) before the timeout. */
const TIMEOUT_MARGIN_MS = 5_000;

/**
 * Turns each SNS record into a Slack message and posts it to the webhook of its severity.
 *
 * Failure handling, chosen so nothing is lost and nothing loops:
 * - Slack keeps failing (5xx, 429 beyond the budget, network) or refuses (4xx): throw. Lambda's
 *   asynchronous retries run (maxRetryAttempts, minutes apart), then the on-failure destination
 *   (the notifications DLQ) keeps the event; its alarm tells someone.
 * - The webhook secret cannot be read or is malformed: log at error (what could not be said, not the
 *   secret), count `SlackSecretUnavailable`, throw — the same bounded path into the DLQ. The failed
 *   read is remembered for a minute (WebhookSecret), so a burst of events does not hammer Secrets
 *   Manager, and nothing is read at module load, so the function never fails in its init phase.
 * - A message that is not a lifeboat event is posted as "unrecognised" rather than dropped.
 */
export async function notify(input: unknown, deps: NotifierDeps): Promise<NotifyResult> {
  const parsed = SnsEvent.safeParse(input);
  if (!parsed.success) {
    throw new InvalidArgument('notifier: expected an SNS event (Records[].Sns.Message)');
  }
  const timing = DeliveryTiming.parse(deps.timing ?? {});
  const count = deps.count ?? (() => {});
  const environment = deps.env[ENV.environment] || undefined;
  const context = { environment, region: deps.env.AWS_REGION || undefined };

  const messages = parsed.data.Records.map((record) => {
    const read = eventFromSnsRecord(record, context);
    if (read.kind === 'event') {
      return {
        messageId: record.Sns.MessageId,
        event: read.event as LifeboatEvent | undefined,
        render: renderEvent(read.event),
      };
    }
    deps.logger.warn('not a lifeboat event; posting it as unrecognised', {
      messageId: record.Sns.MessageId,
      reason: read.reason,
    });
    count('UnrecognisedMessage', 1);
    const render: SlackMessage = renderUnrecognised({ ...read, environment });
    return { messageId: record.Sns.MessageId, event: undefined, render };
  });

  let webhooks: Awaited<ReturnType<NotifierDeps['webhooks']['get']>>;
  try {
    webhooks = await deps.webhooks.get();
  } catch (err) {
    const cached = err instanceof SlackSecretUnavailable && err.cached;
    deps.logger.error('Slack webhook secret unavailable; the events go to the notifications DLQ', {
      error: (err as Error).message,
      secretArn: deps.webhooks.secretArn,
      cached,
      undelivered: messages.map((m) => ({
        messageId: m.messageId,
        type: m.event?.type,
        database: m.event?.database,
      })),
    });
    count('SlackSecretUnavailable', 1);
    throw err;
  }

  const delivered: NotifyResult['delivered'][number][] = [];
  const failures: Error[] = [];
  for (const message of messages) {
    const route = routeFor(message.event?.severity ?? 'warning', webhooks);
    const budgetMs = deps.remainingMs
      ? Math.max(1, Math.min(timing.budgetMs, deps.remainingMs() - TIMEOUT_MARGIN_MS))
      : timing.budgetMs;
    try {
      const result = await postToSlack(route, message.render, { ...timing, budgetMs }, deps);
      delivered.push({
        messageId: message.messageId,
        type: message.event?.type ?? 'unrecognised',
        route: route.route,
        attempts: result.attempts,
      });
      count('SlackDelivered', 1);
      deps.logger.info('posted to Slack', {
        messageId: message.messageId,
        type: message.event?.type,
        database: message.event?.database,
        route: route.route,
        attempts: result.attempts,
      });
    } catch (err) {
      count('SlackDeliveryFailed', 1);
      deps.logger.error('Slack delivery failed; the event goes to the notifications DLQ', {
        messageId: message.messageId,
        type: message.event?.type,
        database: message.event?.database,
        route: route.route,
        error: (err as Error).message,
        errorName: (err as Error).name,
      });
      failures.push(err as Error);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) {
    throw new SlackDeliveryFailed(`${failures.length} of ${messages.length} messages were not delivered`, {
      cause: failures[0],
    });
  }
  return { delivered };
}

let webhookSecret: WebhookSecret | undefined;

/** One cache per execution environment (and per secret, should the variable change in tests). */
function webhooksOf(arn: string): WebhookSecret {
  if (webhookSecret?.secretArn !== arn)
    webhookSecret = new WebhookSecret(awsClient(SecretsManagerClient, 'brief'), arn);
  return webhookSecret;
}

export const handler = lambdaHandler(
  {
    service: 'notifier',
    metrics: handlerMetrics,
    event: SnsEvent,
    eventLabel: 'notifier: expected an SNS event (Records[].Sns.Message)',
    environmentDimension: { variable: ENV.environment, required: false },
  },
  (event, { logger, metrics, remainingMs }) =>
    notify(event, {
      webhooks: webhooksOf(requireEnv(ENV.slackSecretArn)),
      logger,
      env: process.env,
      count: (name, value) => metrics.addMetric(name, MetricUnit.Count, value),
      remainingMs,
    }),
);
