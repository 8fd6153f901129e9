import type { Readable } from 'node:stream';
import { errorMessage, InvalidArgument, LifeboatError } from '../shared/errors.ts';
import type { Encryption } from '../catalog/manifest.ts';
import type { Repository } from './types.ts';

/**
 * Several repositories read as one, for reports: the keys of all, each read from the first
 * repository (in the order given) that lists it. The primary region's bucket replicates to the DR
 * region's, but not back: what the DR region writes on its own (a failover's record, a restore
 * test run there) is only in the DR bucket, and both together hold the whole history. Catalog
 * documents are write-once under unique keys, so the same key in two repositories holds the same
 * document. Read-only: every write is refused.
 *
 * A repository that cannot be listed is left out and named in `unavailable`, as long as one can be.
 */
export class UnionRepository implements Repository {
  readonly url: string;
  readonly encryption: Encryption;
  private readonly owner = new Map<string, Repository>();
  /** Repositories that could not be listed at the last `list`, with why. */
  readonly unavailable: Array<{ url: string; error: string }> = [];

  constructor(private readonly members: readonly Repository[]) {
    if (members.length === 0) throw new InvalidArgument('a union of repositories needs at least one');
    this.url = members.map((m) => m.url).join(' + ');
    this.encryption = members[0]!.encryption;
  }

  async check(): Promise<void> {
    const results = await Promise.allSettled(this.members.map((m) => m.check()));
    if (results.every((r) => r.status === 'rejected')) throw (results[0] as PromiseRejectedResult).reason;
  }

  async list(prefix: string): Promise<string[]> {
    const listed = await Promise.allSettled(this.members.map((m) => m.list(prefix)));
    this.unavailable.length = 0;
    const keys = new Set<string>();
    listed.forEach((r, i) => {
      const member = this.members[i]!;
      if (r.status === 'rejected') {
        this.unavailable.push({ url: member.url, error: errorMessage(r.reason) });
        return;
      }
      for (const key of r.value) {
        if (keys.has(key)) continue;
        keys.add(key);
        this.owner.set(key, member);
      }
    });
    if (this.unavailable.length === this.members.length) {
      throw new LifeboatError(
        `none of the repositories could be listed: ${this.unavailable.map((u) => `${u.url}: ${u.error}`).join('; ')}`,
      );
    }
    return [...keys];
  }

  private of(key: string): Repository {
    return this.owner.get(key) ?? this.members[0]!;
  }

  read(key: string): Promise<Buffer> {
    return this.of(key).read(key);
  }

  readStream(key: string): Promise<Readable> {
    return this.of(key).readStream(key);
  }

  size(key: string): Promise<number | null> {
    return this.of(key).size(key);
  }

  upload(): Promise<{ bytes: number }> {
    return Promise.reject(new InvalidArgument(`${this.url} is read-only (a union of repositories)`));
  }

  putOnce(): Promise<void> {
    return Promise.reject(new InvalidArgument(`${this.url} is read-only (a union of repositories)`));
  }

  remove(): Promise<void> {
    return Promise.reject(new InvalidArgument(`${this.url} is read-only (a union of repositories)`));
  }
}
