import type { TestProject } from 'vitest/node';
import { ensureLocalPostgres } from '../support/postgres.ts';
import { type S3Server, startS3rver } from '../support/s3rver.ts';

let server: S3Server | undefined;

export async function setup(project: TestProject): Promise<void> {
  ensureLocalPostgres();
  server = await startS3rver();
  project.provide('s3Endpoint', server.endpoint);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
