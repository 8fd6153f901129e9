import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { vi } from 'vitest';
import type { LifeboatContext } from '../../../functions/runtime/middleware.ts';
import { FileRepository } from '../../../functions/core/repository/file.ts';

/** A logger whose calls a test can assert. */
export function spyLogger() {
  return { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
}

/** A catalog repository on real files in a fresh temp dir; `cleanup` removes it. */
export async function tempRepository(): Promise<{
  repository: FileRepository;
  cleanup: () => Promise<void>;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-handler-'));
  return {
    repository: new FileRepository(`file://${dir}`, dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** An AWS SDK service error as the SDK surfaces it after its own retries. */
export function awsError(name: string, message = name): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

/** A Lambda context as the deployed handlers get it (middy, Powertools), `remainingMs` left. */
export function lambdaContext(name: string, remainingMs = 60_000): LifeboatContext {
  return {
    awsRequestId: 'req-1',
    functionName: `lifeboat-prod-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:lifeboat-prod-${name}`,
    memoryLimitInMB: '256',
    getRemainingTimeInMillis: () => remainingMs,
  } as unknown as LifeboatContext;
}

/** Keeps the Powertools log and EMF lines off the test output; returns what was written. */
export function captureStdout(): string[] {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  return written;
}
