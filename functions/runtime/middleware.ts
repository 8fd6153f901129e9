import type { Metrics } from '@aws-lambda-powertools/metrics';
import type middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { InvalidArgument, requireEnv } from '#core/shared/errors.ts';
import * as z from '#core/shared/zod.ts';
import { DIMENSION } from '#core/shared/metrics.ts';

/**
 * The middy middlewares every handler is built from (functions/runtime/handler.ts puts them in
 * order). Each does one thing a handler used to spell out itself.
 */

/** The Lambda context as the handlers see it: with the timeout signal. */
export interface LifeboatContext extends Context {
  /** Aborted `marginMs` before Lambda's timeout (set by `timeoutSignal`); never outside Lambda. */
  signal?: AbortSignal;
}

type Request = middy.Request<unknown, unknown, Error, LifeboatContext>;
type Middleware = middy.MiddlewareObj<unknown, unknown, Error, LifeboatContext>;

/** Builds the error a bad event is reported with (its `name` is what Step Functions sees). */
export type InvalidEventError = (message: string) => Error;

/**
 * Parses `input` with `schema`; a mismatch throws (by default InvalidArgument) naming the first
 * field that is wrong: `wf-fence event: target.primary.region: expected string, received undefined`.
 */
export function parseEvent<S extends z.core.$ZodType>(
  schema: S,
  input: unknown,
  label: string,
  invalid: InvalidEventError = (message) => new InvalidArgument(message),
): z.output<S> {
  const parsed = z.safeParse(schema, input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw invalid(`${label}: ${issue?.path.join('.') || '(event)'}: ${issue?.message ?? 'invalid'}`);
}

/** Replaces the event with its parsed form before the handler runs; a bad event never reaches it. */
export function validateEvent<S extends z.core.$ZodType>(
  schema: S,
  label: string,
  invalid?: InvalidEventError,
): Middleware {
  return {
    before: (request) => {
      request.event = parseEvent(schema, request.event, label, invalid);
    },
  };
}

const timers = new WeakMap<object, NodeJS.Timeout>();

/**
 * `context.signal`, aborted `marginMs` before Lambda would stop the function, so the work in hand
 * (pg_dump, an upload, an ephemeral cluster) is stopped and its failure recorded in time. Outside
 * Lambda (no getRemainingTimeInMillis: a Fargate task, a test) the signal never aborts.
 */
export function timeoutSignal(marginMs: number): Middleware {
  const clear = (request: Request) => {
    clearTimeout(timers.get(request));
    timers.delete(request);
  };
  return {
    before: (request) => {
      const controller = new AbortController();
      request.context.signal = controller.signal;
      if (typeof request.context.getRemainingTimeInMillis === 'function') {
        const after = Math.max(0, request.context.getRemainingTimeInMillis() - marginMs);
        timers.set(
          request,
          setTimeout(() => controller.abort(), after),
        );
      }
    },
    after: clear,
    onError: clear,
  };
}

/**
 * Publishes the metrics the invocation stored, whether it succeeded or failed (Powertools'
 * logMetrics warns on every invocation that stored none; some only count now and then).
 */
export function flushMetrics(metrics: Metrics): Middleware {
  const flush = () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: flush, onError: flush };
}

/**
 * Metrics of the whole environment (alarms match on Environment alone): the invocation's metrics
 * carry exactly the Environment dimension, read from `variable` (`required`: a missing one fails
 * the invocation, naming it).
 */
export function environmentDimension(metrics: Metrics, variable: string, required: boolean): Middleware {
  return {
    before: () => {
      metrics.clearDefaultDimensions();
      const environment = required ? requireEnv(variable) : process.env[variable];
      if (environment) metrics.setDefaultDimensions({ [DIMENSION.environment]: environment });
    },
  };
}

/** What to do with an invocation's outcome: count it, announce it. */
export interface OutcomeHooks<E, R> {
  /** After the handler returned. Throwing here fails the invocation (and `failure` runs). */
  readonly success?: (result: R, event: E, context: LifeboatContext) => Promise<void> | void;
  /** After the handler, validation or a later `success` hook threw; the error propagates. */
  readonly failure?: (error: unknown, event: E, context: LifeboatContext) => Promise<void> | void;
}

/**
 * Runs `hooks` on the outcome. The event is the parsed one on success and on a failure of the
 * core, the raw one when the event itself was refused.
 */
export function outcome<E, R>(hooks: OutcomeHooks<E, R>): Middleware {
  return {
    after: async (request) => {
      await hooks.success?.(request.response as R, request.event as E, request.context);
    },
    onError: async (request) => {
      await hooks.failure?.(request.error, request.event as E, request.context);
    },
  };
}
