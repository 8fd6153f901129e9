import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { vi } from 'vitest';
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
