import type { SNSClient } from '@aws-sdk/client-sns';
import { errorMessage } from '../shared/errors.ts';
import { EVENTS_TOPIC_ENV, type LifeboatEventInput, makeEvent } from './events.ts';
import { type PublishResult, publishEvent } from './publish.ts';
import { lambdaLogConsoleUrl } from './links.ts';
import type { Logger } from '../shared/logger.ts';
import { COMMON_ENV } from '../contracts/function-env.ts';

/**
 * Tells on-call what a function did, when the function was given the events topic. Environment,
 * region and the link to this invocation's log are filled in from the Lambda environment. Never
 * throws: a notification that cannot be made or sent must not change the outcome it reports.
 */
export async function announce(
  sns: SNSClient,
  env: NodeJS.ProcessEnv,
  logger: Logger,
  input: Omit<LifeboatEventInput, 'environment' | 'region' | 'link'>,
): Promise<PublishResult> {
  const topic = env[EVENTS_TOPIC_ENV];
  if (!topic) return { published: false, reason: `${EVENTS_TOPIC_ENV} is not set` };
  try {
    const event = makeEvent({
      ...input,
      summary: input.summary.replace(/\s+/g, ' ').slice(0, 500),
      environment: env[COMMON_ENV.environment] ?? 'unknown',
      region: env.AWS_REGION ?? 'unknown',
      link: lambdaLogConsoleUrl(env),
    });
    return await publishEvent(sns, topic, event, logger);
  } catch (err) {
    logger.error('could not build the event to announce', { type: input.type, error: errorMessage(err) });
    return { published: false, reason: errorMessage(err) };
  }
}
