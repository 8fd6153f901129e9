import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** s3rver started by test/integration/global-setup.ts. */
    s3Endpoint: string;
  }
}
