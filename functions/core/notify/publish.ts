import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { errorMessage } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';
import { LifeboatEvent } from './events.ts';

/** Publishing an event to the events topic, bounded in time and never throwing. */

export interface PublishOptions {
  /** Longest a publish may take before it is abandoned. @default 2000 */
  readonly timeoutMs?: number;
}

export type PublishResult =
  | { readonly published: true; readonly messageId: string | undefined }
  | { readonly published: false; readonly reason: string };

/** SNS subjects: ASCII, one line, under 100 characters. */
function subjectOf(event: LifeboatEvent): string {
  const text = `lifeboat ${event.environment}: ${event.type}${event.database ? ` ${event.database}` : ''}`;
  return text
    .replace(/[^\x20-\x7e]/g, '?')
    .slice(0, 99)
    .trim();
}

/**
 * Publishes an event. Never throws and never takes longer than `timeoutMs`: a notification that
 * cannot be sent must not fail or slow the backup, restore or failover that sends it. A failure is
 * logged at error (and the event with it, so the log still tells the story).
 *
 * The message is the event's JSON; the message attributes `type`, `severity` and `environment` let
 * a subscription filter (e.g. e-mail only for `critical`).
 */
export async function publishEvent(
  client: SNSClient,
  topicArn: string,
  event: LifeboatEvent,
  logger: Logger,
  options: PublishOptions = {},
): Promise<PublishResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const parsed = LifeboatEvent.safeParse(event);
  if (!parsed.success) {
    const reason = `invalid event: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')}`;
    logger.error('notification not published', { reason, event });
    return { published: false, reason };
  }
  const valid = parsed.data;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`SNS publish took longer than ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    const send = client.send(
      new PublishCommand({
        TopicArn: topicArn,
        Message: JSON.stringify(valid),
        Subject: subjectOf(valid),
        MessageAttributes: {
          type: { DataType: 'String', StringValue: valid.type },
          severity: { DataType: 'String', StringValue: valid.severity },
          environment: { DataType: 'String', StringValue: valid.environment },
        },
      }),
      { abortSignal: controller.signal },
    );
    // The race settles on the timer even where the client ignores the signal; the abandoned send
    // must not surface later as an unhandled rejection.
    send.catch(() => {});
    const out = await Promise.race([send, timedOut]);
    return { published: true, messageId: out.MessageId };
  } catch (err) {
    const reason = errorMessage(err);
    logger.error('notification not published', {
      reason,
      errorName: (err as { name?: string }).name,
      topicArn,
      event: valid,
    });
    return { published: false, reason };
  } finally {
    clearTimeout(timer);
  }
}
