import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { AlreadyExists, BackupNotFound, InvalidArgument } from './errors.ts';
import { Manifest } from './manifest.ts';
import type { Repository } from './repository/types.ts';

/**
 * The catalog: immutable JSON documents beside the artifacts, never rewritten, no shared index.
 *
 *   catalog/<database>/<backupId>/manifest.json             written once, after the artifact
 *   catalog/<database>/<backupId>/records/<at>-<kind>-<r>.json  one per event (started, failed, ...)
 *   artifacts/<database>/<backupId>.dump                     the pg_dump custom-format archive
 *
 * `<database>` is URI-encoded so any PostgreSQL name (spaces, quotes, slashes) makes a safe key.
 * A backup's state is derived from its documents; see `summarize`.
 */
export const CATALOG_PREFIX = 'catalog/';
export const ARTIFACT_PREFIX = 'artifacts/';

export const segment = (database: string): string => encodeURIComponent(database);

export const artifactKey = (database: string, backupId: string): string =>
  `${ARTIFACT_PREFIX}${segment(database)}/${backupId}.dump`;
export const manifestKey = (database: string, backupId: string): string =>
  `${CATALOG_PREFIX}${segment(database)}/${backupId}/manifest.json`;

/** Sortable, unique, and safe in keys and snapshot identifiers: 20261123T091500Z-3f9a1c. */
export function newBackupId(
  now: Date = new Date(),
  random: () => string = () => randomBytes(3).toString('hex'),
) {
  return `${compactTime(now)}-${random()}`;
}

const BACKUP_ID = /^[0-9]{8}T[0-9]{6}Z-[0-9a-z-]{1,64}$/;
export function isBackupId(value: string): boolean {
  return BACKUP_ID.test(value);
}

function compactTime(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

const ErrorInfo = z.object({ name: z.string(), message: z.string() });

export const StartedRecord = z.object({
  kind: z.literal('started'),
  backupId: z.string(),
  database: z.string(),
  at: z.iso.datetime(),
  backupKind: z.enum(['logical-dump', 'rds-snapshot']),
  /** Where it runs: host name, Lambda request id, etc. */
  runner: z.string(),
});
export type StartedRecord = z.infer<typeof StartedRecord>;

export const FailedRecord = z.object({
  kind: z.literal('failed'),
  backupId: z.string(),
  database: z.string(),
  at: z.iso.datetime(),
  error: ErrorInfo,
  /** What was cleaned up (partial file removed, multipart upload aborted). */
  cleanup: z.string(),
});
export type FailedRecord = z.infer<typeof FailedRecord>;

export const CheckResult = z.object({
  name: z.string(),
  passed: z.boolean(),
  /** One line, with the figures: "12 tables, 1,204,331 rows". */
  detail: z.string(),
  failures: z.array(z.string()).default([]),
});
export type CheckResult = z.infer<typeof CheckResult>;

export const VerificationRecord = z.object({
  kind: z.literal('verification'),
  backupId: z.string(),
  database: z.string(),
  at: z.iso.datetime(),
  passed: z.boolean(),
  /** ephemeral cluster, a scratch database, a restore target, or a restore-tested snapshot. */
  method: z.enum(['ephemeral', 'scratch', 'restore', 'snapshot-restore-test']),
  checks: z.array(CheckResult),
  restoreDurationMs: z.number().int().nonnegative().nullable(),
  totalDurationMs: z.number().int().nonnegative(),
  error: ErrorInfo.nullable(),
});
export type VerificationRecord = z.infer<typeof VerificationRecord>;

/** Retention removed the artifact (or snapshot); the catalog keeps the history. */
export const DeletedRecord = z.object({
  kind: z.literal('deleted'),
  backupId: z.string(),
  database: z.string(),
  at: z.iso.datetime(),
  reason: z.string(),
});
export type DeletedRecord = z.infer<typeof DeletedRecord>;

export const CatalogRecord = z.discriminatedUnion('kind', [
  StartedRecord,
  FailedRecord,
  VerificationRecord,
  DeletedRecord,
]);
export type CatalogRecord = z.infer<typeof CatalogRecord>;

export type BackupState = 'completed' | 'in-progress' | 'abandoned' | 'failed' | 'deleted';
export type VerificationState = 'unverified' | 'verified' | 'verification-failed';

export interface BackupSummary {
  readonly id: string;
  readonly database: string;
  readonly kind: 'logical-dump' | 'rds-snapshot';
  readonly state: BackupState;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly bytes: number | null;
  readonly manifest: Manifest | null;
  readonly verification: VerificationState;
  /** The newest verification record, whatever its outcome. */
  readonly lastVerification: VerificationRecord | null;
  /** When it last passed verification. */
  readonly verifiedAt: string | null;
  readonly error: { name: string; message: string } | null;
  readonly records: readonly CatalogRecord[];
}

export interface CatalogOptions {
  /** A started backup with no outcome after this long is `abandoned`. @default 24 h */
  readonly abandonAfterMs?: number;
  readonly now?: () => Date;
}

/** Reads and writes catalog documents in a repository. */
export class Catalog {
  private readonly abandonAfterMs: number;
  private readonly now: () => Date;

  constructor(
    readonly repository: Repository,
    options: CatalogOptions = {},
  ) {
    this.abandonAfterMs = options.abandonAfterMs ?? 24 * 3600_000;
    this.now = options.now ?? (() => new Date());
  }

  /** Appends an event document; never overwrites one. */
  async record(record: CatalogRecord): Promise<string> {
    const parsed = CatalogRecord.parse(record);
    for (let attempt = 0; ; attempt++) {
      const key = `${CATALOG_PREFIX}${segment(parsed.database)}/${parsed.backupId}/records/${compactTime(
        new Date(parsed.at),
      )}-${parsed.kind}-${randomBytes(4).toString('hex')}.json`;
      try {
        await this.repository.putOnce(key, `${JSON.stringify(parsed, null, 2)}\n`);
        return key;
      } catch (err) {
        if (!(err instanceof AlreadyExists) || attempt >= 3) throw err;
      }
    }
  }

  async writeManifest(manifest: Manifest): Promise<string> {
    const parsed = Manifest.parse(manifest);
    const key = manifestKey(parsed.database, parsed.id);
    await this.repository.putOnce(key, `${JSON.stringify(parsed, null, 2)}\n`);
    return key;
  }

  /** Every backup in the catalog (optionally of one database), newest first. */
  async list(filter: { database?: string | undefined } = {}): Promise<BackupSummary[]> {
    const prefix =
      filter.database === undefined ? CATALOG_PREFIX : `${CATALOG_PREFIX}${segment(filter.database)}/`;
    const keys = await this.repository.list(prefix);
    const groups = new Map<string, string[]>();
    for (const key of keys) {
      const parts = key.slice(CATALOG_PREFIX.length).split('/');
      if (parts.length < 3) continue;
      const group = `${parts[0]}/${parts[1]}`;
      const list = groups.get(group) ?? [];
      list.push(key);
      groups.set(group, list);
    }
    const summaries = await mapLimit([...groups.entries()], 16, async ([group, groupKeys]) => {
      const [dbSegment, backupId] = group.split('/') as [string, string];
      return this.summarize(decodeURIComponent(dbSegment), backupId, groupKeys);
    });
    return summaries
      .filter((s): s is BackupSummary => s !== null)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
  }

  /** One backup by id (searching all databases unless given); BackupNotFound if unknown. */
  async get(backupId: string, database?: string): Promise<BackupSummary> {
    if (!isBackupId(backupId)) {
      throw new InvalidArgument(
        `"${backupId}" is not a backup id (expected e.g. 20261123T091500Z-3f9a1c, or "latest")`,
      );
    }
    const all = await this.list({ database });
    const found = all.find((b) => b.id === backupId);
    if (!found) {
      throw new BackupNotFound(
        `no backup ${backupId}${database === undefined ? '' : ` of database "${database}"`} in ${this.repository.url}`,
      );
    }
    return found;
  }

  private async summarize(database: string, backupId: string, keys: string[]): Promise<BackupSummary | null> {
    let manifest: Manifest | null = null;
    const records: CatalogRecord[] = [];
    for (const key of keys) {
      const text = (await this.repository.read(key)).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        continue; // not a catalog document; the catalog never holds half-written ones
      }
      if (key.endsWith('/manifest.json')) {
        const parsed = Manifest.safeParse(json);
        if (parsed.success) manifest = parsed.data;
      } else {
        const parsed = CatalogRecord.safeParse(json);
        if (parsed.success) records.push(parsed.data);
      }
    }
    records.sort((a, b) => a.at.localeCompare(b.at));
    const started = records.find((r): r is StartedRecord => r.kind === 'started');
    const failed = records.findLast((r): r is FailedRecord => r.kind === 'failed');
    const deleted = records.findLast((r): r is DeletedRecord => r.kind === 'deleted');
    const verifications = records.filter((r): r is VerificationRecord => r.kind === 'verification');
    if (!manifest && !started) return null;

    let state: BackupState;
    if (deleted) state = 'deleted';
    else if (manifest) state = 'completed';
    else if (failed) state = 'failed';
    else if (this.now().getTime() - Date.parse(started!.at) > this.abandonAfterMs) state = 'abandoned';
    else state = 'in-progress';

    const lastVerification = verifications.at(-1) ?? null;
    const lastPassed = verifications.findLast((v) => v.passed) ?? null;
    const verification: VerificationState =
      lastVerification === null ? 'unverified' : lastVerification.passed ? 'verified' : 'verification-failed';

    return {
      id: backupId,
      database,
      kind: manifest?.kind ?? started?.backupKind ?? 'logical-dump',
      state,
      startedAt: manifest?.startedAt ?? started!.at,
      finishedAt: manifest?.finishedAt ?? failed?.at ?? null,
      bytes: manifest?.kind === 'logical-dump' ? manifest.artifact.bytes : null,
      manifest,
      verification,
      lastVerification,
      verifiedAt: lastPassed?.at ?? null,
      error: manifest ? null : (failed?.error ?? null),
      records,
    };
  }
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
