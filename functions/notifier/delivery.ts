import * as z from '#core/shared/zod.ts';
import { LifeboatError } from '#core/shared/errors.ts';
import type { Logger } from '#core/shared/logger.ts';
import type { Route, SlackMessage } from '#core/notify/slack.ts';

/** Slack did not take the message within the retry budget: the invocation fails, Lambda retries, then the DLQ. */
export class SlackDeliveryFailed extends LifeboatError {
  override readonly name = 'SlackDeliveryFailed';
}
/** Slack refused the message for good (400 invalid_payload, 403, 404 no_service, 410 channel archived). */
export class SlackRejected extends LifeboatError {
  override readonly name = 'SlackRejected';
}

/**
 * How hard one invocation tries. The defaults keep a failing delivery well inside the function's
 * 60 s timeout; Lambda's asynchronous retries (minutes apart) take over after that.
 */
export const DeliveryTiming = z.strictObject({
  /** POSTs per message, the first included. */
  maxAttempts: z._default(z.int().check(z.gte(1), z.lte(10)), 5),
  /** Backoff before the second attempt; doubles each time, with jitter. */
  baseDelayMs: z._default(z.int().check(z.gte(0)), 500),
  /** Cap on one backoff (Retry-After is honoured beyond it, within the budget). */
  maxDelayMs: z._default(z.int().check(z.gte(0)), 8_000),
  /** Total time for all attempts and waits. */
  budgetMs: z._default(z.int().check(z.gte(1)), 25_000),
  /** One request, body included. */
  requestTimeoutMs: z._default(z.int().check(z.gte(1)), 5_000),
});
export type DeliveryTiming = z.infer<typeof DeliveryTiming>;

export interface DeliveryDeps {
  readonly logger: Logger;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter. */
  readonly random?: () => number;
}

export interface Delivered {
  readonly attempts: number;
  readonly status: number;
}

const sleepFor = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now. */
export function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with "equal jitter": half the step fixed, half random, so waits never collapse to 0. */
export function backoffMs(attempt: number, timing: DeliveryTiming, random: () => number): number {
  const step = Math.min(timing.maxDelayMs, timing.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/** Names the failure without the URL: the webhook's path is its secret. */
function describeFailure(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; name?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  const code = e.cause?.code ?? e.cause?.name;
  return code ? `${e.name ?? 'Error'} (${code})` : (e.name ?? 'Error');
}

/**
 * POSTs a message to a Slack incoming webhook with the global fetch. Retries on 429 (after its
 * Retry-After), 5xx, timeouts and network errors, with exponential backoff and jitter, inside
 * `timing.budgetMs`; a wait that would end past the budget is not started. Other 4xx answers are
 * final (SlackRejected). Nothing logged or thrown contains the URL.
 */
export async function postToSlack(
  route: Route,
  message: SlackMessage,
  timing: DeliveryTiming,
  deps: DeliveryDeps,
): Promise<Delivered> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? sleepFor;
  const random = deps.random ?? Math.random;
  const body = JSON.stringify(message);
  const deadline = now() + timing.budgetMs;
  let last = 'not attempted';
  let attempt = 0;
  while (attempt < timing.maxAttempts) {
    attempt++;
    const left = deadline - now();
    if (left <= 0) break;
    let waitMs: number;
    try {
      const response = await fetch(route.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(Math.min(timing.requestTimeoutMs, left)),
      });
      const text = (await response.text()).slice(0, 200).replace(/\s+/g, ' ');
      if (response.ok) return { attempts: attempt, status: response.status };
      last = `HTTP ${response.status}${text ? ` ${text}` : ''}`;
      if (response.status === 429) {
        waitMs =
          retryAfterMs(response.headers.get('retry-after'), now()) ?? backoffMs(attempt, timing, random);
      } else if (response.status >= 500) {
        waitMs = backoffMs(attempt, timing, random);
      } else {
        throw new SlackRejected(`Slack refused the message on the ${route.route} webhook: ${last}`);
      }
    } catch (err) {
      if (err instanceof SlackRejected) throw err;
      last = describeFailure(err);
      waitMs = backoffMs(attempt, timing, random);
    }
    if (attempt >= timing.maxAttempts) break;
    if (now() + waitMs > deadline) {
      deps.logger.warn('Slack delivery: the next wait would pass the retry budget', {
        route: route.route,
        attempt,
        last,
        waitMs,
        budgetMs: timing.budgetMs,
      });
      break;
    }
    deps.logger.warn('Slack delivery failed; retrying', { route: route.route, attempt, last, waitMs });
    await sleep(waitMs);
  }
  throw new SlackDeliveryFailed(
    `Slack did not take the message on the ${route.route} webhook after ${attempt} attempt(s) within ${timing.budgetMs} ms: ${last}`,
  );
}
