import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type middy from '@middy/core';

/**
 * The Powertools Tracer of a function that traces its AWS SDK calls (environment option
 * `tracing.sdkCalls`). Only functions/runtime/tracing.ts imports this module, through `import()`
 * in a branch the bundle drops when the option is off: then neither the Tracer nor the X-Ray SDK
 * is in the bundle.
 */
export interface SdkTracing {
  readonly tracer: Tracer;
  /** `client` with X-Ray's middleware: each call becomes a subsegment (service, operation, region, retries). */
  capture<C>(client: C): C;
  /** The handler's subsegment (`## index.handler`), ColdStart and Service annotations, the error of a failure. */
  readonly middleware: middy.MiddlewareObj;
}

export function sdkTracing(): SdkTracing {
  // The service is POWERTOOLS_SERVICE_NAME (LifeboatFunction sets it). Only the SDK calls are
  // traced: `captureHTTPsRequests` would patch http/https and fetch globally and record every
  // other request's URL, and a Slack webhook's URL is its secret.
  const tracer = new Tracer({ captureHTTPsRequests: false });
  return {
    tracer,
    capture: (client) => tracer.captureAWSv3Client(client),
    // No response as metadata: the results are in the workflows' history already, and a large
    // one would push the segment past X-Ray's 64 kB document limit.
    middleware: captureLambdaHandler(tracer, { captureResponse: false }) as middy.MiddlewareObj,
  };
}
