import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it, vi } from 'vitest';
import { FileRepository, openRepository, S3Repository } from '#core/repository/index.ts';
import { openRepository as openCliRepository } from '../../bin/cli/repository.ts';

describe('openRepository (core): the caller supplies the S3 client', () => {
  it('opens a file:// directory without building a client', () => {
    const s3Client = vi.fn(() => new S3Client({ region: 'us-east-1' }));
    const repository = openRepository('file:///tmp/lifeboat-repo', { s3Client });
    expect(repository).toBeInstanceOf(FileRepository);
    expect(s3Client).not.toHaveBeenCalled();
  });

  it('opens s3:// with the client it is given, or the one its factory builds', async () => {
    const client = new S3Client({ region: 'eu-west-1' });
    expect(openRepository('s3://bucket-a/team', { s3Client: client })).toBeInstanceOf(S3Repository);
    const factory = vi.fn(() => client);
    const repository = openRepository('s3://bucket-a/team', { s3Client: factory });
    expect(repository.url).toBe('s3://bucket-a/team/');
    expect(factory).toHaveBeenCalledTimes(1);
  });

  it('refuses s3:// without a client, naming the option', () => {
    expect(() => openRepository('s3://bucket-a/team')).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringContaining('s3Client') }),
    );
  });

  it('refuses what is not a repository URL before any client is built', () => {
    const s3Client = vi.fn(() => new S3Client({ region: 'us-east-1' }));
    expect(() => openRepository('ftp://host/dir', { s3Client })).toThrow(
      expect.objectContaining({ name: 'RepositoryUrlInvalid' }),
    );
    expect(() => openRepository('s3://UPPER/x', { s3Client })).toThrow(
      expect.objectContaining({ name: 'RepositoryUrlInvalid' }),
    );
    expect(s3Client).not.toHaveBeenCalled();
  });
});

describe('openRepository (CLI): builds the S3 client for an s3:// URL', () => {
  it('points the client at --s3-endpoint with path-style addressing', async () => {
    const repository = openCliRepository('s3://bucket-a/team', {
      s3Endpoint: 'http://127.0.0.1:4568',
      region: 'eu-central-1',
    });
    expect(repository).toBeInstanceOf(S3Repository);
    const client = (repository as unknown as { client: S3Client }).client;
    expect(await client.config.region()).toBe('eu-central-1');
    expect(client.config.forcePathStyle).toBe(true);
    const endpoint = await client.config.endpoint?.();
    expect(endpoint?.hostname).toBe('127.0.0.1');
    expect(endpoint?.port).toBe(4568);
  });

  it('opens file:// as the core does', () => {
    expect(openCliRepository('file:///tmp/lifeboat-repo')).toBeInstanceOf(FileRepository);
  });
});
