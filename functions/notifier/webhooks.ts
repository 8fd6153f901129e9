import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { LifeboatError } from '#core/shared/errors.ts';
import { SlackWebhooks } from '#core/notify/slack.ts';

/** The webhook secret cannot be read or is not what the notifier expects. Its value is never in the message. */
export class SlackSecretUnavailable extends LifeboatError {
  override readonly name = 'SlackSecretUnavailable';
  /** True when this is the remembered failure of an earlier read (no call was made). */
  readonly cached: boolean;

  constructor(message: string, options: { cause?: unknown; cached?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.cached = options.cached ?? false;
  }
}

export interface WebhookSecretOptions {
  /** How long a value that was read is used. @default 300000 (5 min) */
  readonly ttlMs?: number;
  /**
   * How long a failed read is remembered: events in that window fail at once instead of each calling
   * Secrets Manager again. @default 60000
   */
  readonly failureTtlMs?: number;
  readonly now?: () => number;
}

/**
 * The Slack webhooks of an environment, read from Secrets Manager and kept for a few minutes. A
 * rotated or fixed secret is picked up within `ttlMs` (after a failure, within `failureTtlMs`).
 */
export class WebhookSecret {
  private value: { webhooks: SlackWebhooks; until: number } | undefined;
  private failure: { error: SlackSecretUnavailable; until: number } | undefined;
  private readonly ttlMs: number;
  private readonly failureTtlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly client: SecretsManagerClient,
    readonly secretArn: string,
    options: WebhookSecretOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 300_000;
    this.failureTtlMs = options.failureTtlMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  async get(): Promise<SlackWebhooks> {
    const now = this.now();
    if (this.value && now < this.value.until) return this.value.webhooks;
    if (this.failure && now < this.failure.until) {
      throw new SlackSecretUnavailable(this.failure.error.message, {
        cause: this.failure.error,
        cached: true,
      });
    }
    try {
      const webhooks = await this.read();
      this.value = { webhooks, until: now + this.ttlMs };
      this.failure = undefined;
      return webhooks;
    } catch (err) {
      const error =
        err instanceof SlackSecretUnavailable
          ? err
          : new SlackSecretUnavailable(`reading the Slack secret ${this.secretArn} failed`, { cause: err });
      this.value = undefined;
      this.failure = { error, until: now + this.failureTtlMs };
      throw error;
    }
  }

  private async read(): Promise<SlackWebhooks> {
    const arn = this.secretArn;
    let text: string | undefined;
    try {
      text = (await this.client.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
    } catch (err) {
      const name = (err as { name?: string }).name ?? 'Error';
      const why: Record<string, string> = {
        ResourceNotFoundException: 'does not exist',
        AccessDeniedException: 'may not be read by the notifier (IAM)',
        DecryptionFailure: 'cannot be decrypted (no access to its KMS key)',
        InvalidRequestException: 'cannot be read now (deleted or disabled)',
      };
      throw new SlackSecretUnavailable(`Slack secret ${arn} ${why[name] ?? `could not be read: ${name}`}`, {
        cause: err,
      });
    }
    if (!text) throw new SlackSecretUnavailable(`Slack secret ${arn} has no string value`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new SlackSecretUnavailable(
        `Slack secret ${arn} is not JSON (expected {"default": "https://hooks.slack.com/...", "critical": ...})`,
      );
    }
    const parsed = SlackWebhooks.safeParse(json);
    if (!parsed.success) {
      // Field names only: a message quoting the value would put a webhook URL in the logs.
      const fields = [
        ...new Set(
          parsed.error.issues.flatMap((i) =>
            i.code === 'unrecognized_keys'
              ? i.keys.map((k) => `${k} (unknown)`)
              : [i.path.join('.') || '(root)'],
          ),
        ),
      ].join(', ');
      throw new SlackSecretUnavailable(
        `Slack secret ${arn} lacks or has invalid fields: ${fields} (expected "default" and optionally "info", "warning", "critical", each an https URL)`,
      );
    }
    return parsed.data;
  }
}
