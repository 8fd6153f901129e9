/**
 * Environment variables every Lambda function of lifeboat is given (lib/constructs/lifeboat-function.ts
 * sets them); each function's own env.ts lists the rest.
 */
export const COMMON_ENV = {
  /** The lifeboat environment's name (a dimension of its metrics, part of its messages). */
  environment: 'LIFEBOAT_ENVIRONMENT',
  /** Powertools' service name (logs, metrics): the handler's folder under functions/. */
  service: 'POWERTOOLS_SERVICE_NAME',
} as const;
