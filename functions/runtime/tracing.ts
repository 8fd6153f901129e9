import type { SdkTracing } from './sdk-tracing.ts';

/**
 * AWS SDK tracing, opt-in per environment (`tracing: { sdkCalls: true }`, docs/deploy.md,
 * "Tracing"): when on, every client `awsClient` makes goes through the Tracer's
 * `captureAWSv3Client` and every handler through its `captureLambdaHandler` middleware.
 *
 * In a bundle, `process.env.LIFEBOAT_SDK_TRACING` is not read at run time: esbuild replaces it with
 * the constant `"true"` or `"false"` from the environment's configuration
 * (lib/constructs/handler-bundle.ts). Off, the condition below is a constant false and esbuild
 * drops the branch with its `import()`: the bundle carries no tracer code and its cold start is
 * unchanged. On, the Tracer is loaded once, at init. In source (tests, tsx) the same line reads the
 * environment variable when the module is first imported.
 */
export const sdkTracing: SdkTracing | undefined =
  process.env.LIFEBOAT_SDK_TRACING === 'true' ? (await import('./sdk-tracing.ts')).sdkTracing() : undefined;
