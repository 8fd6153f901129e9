import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import middy from '@middy/core';
import type * as z from '#core/shared/zod.ts';
import {
  environmentDimension,
  flushMetrics,
  type InvalidEventError,
  type LifeboatContext,
  type OutcomeHooks,
  outcome,
  timeoutSignal,
  validateEvent,
} from './middleware.ts';
import type { MetricsFactory } from './metrics.ts';
import { powertools } from './powertools.ts';
import { sdkTracing } from './tracing.ts';

/**
 * Every Lambda handler of lifeboat is `lambdaHandler(options, core)`: parse → core → result.
 * The middlewares, outermost first:
 *
 *   [SDK tracing] → logger context → [metrics flush → [Environment dimension]] → outcome hooks (in
 *   the order given) → timeout signal → event validation → core
 *
 * so a refused event still counts and announces its failure, and the metrics the hooks add are
 * flushed after them. Metrics only where the options ask for them (`metrics`); SDK tracing only
 * where the environment turned it on (functions/runtime/tracing.ts).
 */

export interface HandlerTools {
  readonly logger: Logger;
  readonly context: LifeboatContext;
  /** Aborted `timeoutMarginMs` before Lambda's timeout; never without that option or outside Lambda. */
  readonly signal: AbortSignal;
  /** Milliseconds Lambda leaves the invocation, or undefined outside Lambda (a Fargate task, a test). */
  readonly remainingMs: (() => number) | undefined;
}

/** The tools of a handler that asked for metrics. */
export interface MetricsHandlerTools extends HandlerTools {
  readonly metrics: Metrics;
}

export interface HandlerOptions<S extends z.core.$ZodType, R> {
  /** The function's service name (logs, the Powertools `service`). */
  readonly service: string;
  /** The event's schema: a mismatch fails before the core runs, naming the field. */
  readonly event: S;
  /** What the error messages call the event. @default `${service} event` */
  readonly eventLabel?: string;
  /** The error a bad event is reported with. @default InvalidArgument */
  readonly invalidEvent?: InvalidEventError;
  /**
   * Abort `signal` this long before Lambda's timeout, leaving time to stop and record the failure.
   * @default - no timeout signal
   */
  readonly timeoutMarginMs?: number;
  /** What happens with the outcome (metrics, announcements), in this order. */
  readonly outcomes?: readonly OutcomeHooks<z.output<S>, R>[];
  /** @default - no metrics: the handler neither bundles nor constructs them */
  readonly metrics?: undefined;
  /** Only with `metrics` (MetricsHandlerOptions). */
  readonly environmentDimension?: undefined;
}

/** The options of a handler that records metrics. */
export interface MetricsHandlerOptions<S extends z.core.$ZodType, R> extends Omit<
  HandlerOptions<S, R>,
  'metrics' | 'environmentDimension'
> {
  /**
   * Where the handler's Metrics come from: `handlerMetrics` of functions/runtime/metrics.ts. The
   * core gets them as `tools.metrics`; what the invocation stored is published after it, whether
   * it succeeded or failed.
   */
  readonly metrics: MetricsFactory;
  /**
   * The variable naming the environment when every metric of the function carries exactly that
   * dimension (`required`: the invocation fails without it).
   * @default - metrics add their own dimensions
   */
  readonly environmentDimension?: { readonly variable: string; readonly required: boolean };
}

export type LambdaHandler<R> = middy.MiddyfiedHandler<unknown, R, Error, LifeboatContext>;

export function lambdaHandler<S extends z.core.$ZodType, R>(
  options: MetricsHandlerOptions<S, R>,
  core: (event: z.output<S>, tools: MetricsHandlerTools) => Promise<R>,
): LambdaHandler<R>;
export function lambdaHandler<S extends z.core.$ZodType, R>(
  options: HandlerOptions<S, R>,
  core: (event: z.output<S>, tools: HandlerTools) => Promise<R>,
): LambdaHandler<R>;
export function lambdaHandler<S extends z.core.$ZodType, R>(
  options: HandlerOptions<S, R> | MetricsHandlerOptions<S, R>,
  core: (event: z.output<S>, tools: MetricsHandlerTools) => Promise<R>,
): LambdaHandler<R> {
  const { logger } = powertools(options.service);
  const metrics = options.metrics?.(options.service);
  const handler = middy<unknown, R, Error, LifeboatContext>();
  if (sdkTracing) handler.use(sdkTracing.middleware);
  handler.use(injectLambdaContext(logger, { clearState: true }));
  if (metrics) {
    handler.use(flushMetrics(metrics));
    if (options.environmentDimension) {
      const { variable, required } = options.environmentDimension;
      handler.use(environmentDimension(metrics, variable, required));
    }
  }
  for (const hooks of options.outcomes ?? []) handler.use(outcome(hooks));
  if (options.timeoutMarginMs !== undefined) handler.use(timeoutSignal(options.timeoutMarginMs));
  handler.use(
    validateEvent(options.event, options.eventLabel ?? `${options.service} event`, options.invalidEvent),
  );
  return handler.handler((event, context) =>
    core(event as z.output<S>, {
      logger,
      // Only a handler that asked for metrics has them (the first overload's tools).
      ...((metrics ? { metrics } : {}) as { metrics: Metrics }),
      context,
      signal: context.signal ?? NEVER,
      remainingMs:
        typeof context.getRemainingTimeInMillis === 'function'
          ? () => context.getRemainingTimeInMillis()
          : undefined,
    }),
  );
}

const NEVER = new AbortController().signal;
