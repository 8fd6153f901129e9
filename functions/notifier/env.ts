import { COMMON_ENV } from '#core/contracts/function-env.ts';

/** Environment variables the notifier reads (lib/constructs/notifications.ts imports these names). */
export const ENV = {
  /** Secrets Manager secret with the Slack incoming-webhook URLs: `{"default": "...", "critical": "..."}`. */
  slackSecretArn: 'LIFEBOAT_SLACK_SECRET_ARN',
  /** The environment's name: names the metrics, and the environment of alarm messages. */
  environment: COMMON_ENV.environment,
} as const;
