import { randomBytes } from 'node:crypto';
import * as z from '../shared/zod.ts';
import { AlreadyExists, BackupNotFound, errorMessage, InvalidArgument } from '../shared/errors.ts';
import { DOCUMENT_SCHEMA, declaredSchema, Manifest } from './manifest.ts';
import type { Repository } from '../repository/types.ts';
import { ARTIFACT_PREFIX, CATALOG_PREFIX } from '../contracts/storage.ts';

/**
 * The catalog: immutable JSON documents beside the artifacts, never rewritten, no shared index.
 *
 *   catalog/<database>/<backupId>/manifest.json             written once, after the artifact
 *   catalog/<database>/<backupId>/records/<at>-<kind>-<r>.json  one per event (started, failed, ...)
 *   artifacts/<database>/<backupId>.dump                     the pg_dump custom-format archive
 *
 * `<database>` is URI-encoded so any PostgreSQL name (spaces, quotes, slashes) makes a safe key.
 * A backup's state is derived from its documents; see `summarize`. Folders of a database whose
 * name starts with `_` (e.g. `_failovers`) hold other documents, not backups.
 *
 * A document that cannot be read is never skipped silently: reading the catalog returns it as a
 * `CatalogProblem`, and the backup it belongs to carries it (state `unreadable` when it is the
 * manifest). Whoever acts on the catalog decides what an incomplete history means; prune keeps
 * everything of that database.
 */
export { ARTIFACT_PREFIX, CATALOG_PREFIX };

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

/**
 * Records carry no version today (1.0); a record that declares one is read when its major is
 * known (see DOCUMENT_SCHEMA), whatever its minor.
 */
const recordVersion = {
  schemaVersion: z.optional(z.literal(DOCUMENT_SCHEMA.major)),
  schemaMinor: z.optional(z.int().check(z.nonnegative())),
};

export const StartedRecord = z.object({
  ...recordVersion,
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
  ...recordVersion,
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
  failures: z._default(z.array(z.string()), []),
});
export type CheckResult = z.infer<typeof CheckResult>;

export const VerificationRecord = z.object({
  ...recordVersion,
  kind: z.literal('verification'),
  backupId: z.string(),
  database: z.string(),
  at: z.iso.datetime(),
  passed: z.boolean(),
  /** ephemeral cluster, a scratch database, a restore target, or a restore-tested snapshot. */
  method: z.enum(['ephemeral', 'scratch', 'restore', 'snapshot-restore-test']),
  checks: z.array(CheckResult),
  restoreDurationMs: z.nullable(z.int().check(z.nonnegative())),
  totalDurationMs: z.int().check(z.nonnegative()),
  error: z.nullable(ErrorInfo),
  /**
   * (1.1) The region of the copy that was verified, when the repository is replicated. Without it a
   * verification is of the backup wherever its bytes are (a replica holds the same bytes).
   */
  region: z.optional(z.string()),
});
export type VerificationRecord = z.infer<typeof VerificationRecord>;

/** Retention removed the artifact (or snapshot); the catalog keeps the history. */
export const DeletedRecord = z.object({
  ...recordVersion,
  kind: z.literal('deleted'),
  backupId: z.string(),
  database: z.string(),
  at: z.iso.datetime(),
  reason: z.string(),
  /**
   * (1.1) The region whose copy was deleted. A replicated catalog shows the deletions of other
   * regions' copies without counting them: the replica of the artifact is still there. Without it
   * (1.0) a deletion counts everywhere, as deletes then also removed the replica.
   */
  region: z.optional(z.string()),
});
export type DeletedRecord = z.infer<typeof DeletedRecord>;

export const CatalogRecord = z.discriminatedUnion('kind', [
  StartedRecord,
  FailedRecord,
  VerificationRecord,
  DeletedRecord,
]);
export type CatalogRecord = z.infer<typeof CatalogRecord>;

/**
 * `unreadable`: the catalog holds the backup's manifest (or only documents) that cannot be read, or
 * records of it without a manifest or started record, so whether it completed is not known.
 */
export type BackupState = 'completed' | 'in-progress' | 'abandoned' | 'failed' | 'deleted' | 'unreadable';

/**
 * A catalog document that could not be used: `unreadable` (the repository refused or failed the
 * read), `unparseable` (not JSON), `invalid` (JSON, but not a document of this schema, or not the
 * one its key says), `unknown-schema` (a major version this reader does not know), or
 * `unknown-document` (a file where the catalog keeps none).
 */
export type CatalogProblemKind =
  'unreadable' | 'unparseable' | 'invalid' | 'unknown-schema' | 'unknown-document';

export interface CatalogProblem {
  readonly key: string;
  /** The database the key belongs to; null when its folder name does not decode. */
  readonly database: string | null;
  /** The backup the key belongs to; null for a document outside any backup's folder. */
  readonly backupId: string | null;
  readonly problem: CatalogProblemKind;
  /** One line: what is wrong with it. */
  readonly message: string;
}

/** What reading the catalog found: the backups, and every document it could not use. */
export interface CatalogReading {
  readonly backups: BackupSummary[];
  readonly problems: CatalogProblem[];
}
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
  /**
   * Documents of this backup that could not be read. When any is a record, `verification` is
   * `unverified`: a lost failure record must not leave an older pass in charge. Always set by
   * `Catalog`; optional so that summaries built elsewhere need not name it.
   */
  readonly problems?: readonly CatalogProblem[];
}

export interface CatalogOptions {
  /** A started backup with no outcome after this long is `abandoned`. @default 24 h */
  readonly abandonAfterMs?: number;
  readonly now?: () => Date;
  /**
   * The region of this repository's copy, when it is one of a replicated pair (the bucket's
   * region). Deletions recorded for another region's copy then do not count here, and
   * verifications of this region's copy, if any, decide over those of the backup in general.
   * @default - none: every record counts (a local or unreplicated repository)
   */
  readonly region?: string | undefined;
}

/** Reads and writes catalog documents in a repository. */
export class Catalog {
  private readonly abandonAfterMs: number;
  private readonly now: () => Date;
  /** See CatalogOptions.region. */
  readonly region: string | undefined;

  constructor(
    readonly repository: Repository,
    options: CatalogOptions = {},
  ) {
    this.abandonAfterMs = options.abandonAfterMs ?? 24 * 3600_000;
    this.now = options.now ?? (() => new Date());
    this.region = options.region;
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

  /**
   * Every backup in the catalog (optionally of one database), newest first. A backup whose
   * documents cannot all be read is listed with its `problems` (see `read` for all of them).
   */
  async list(filter: { database?: string | undefined } = {}): Promise<BackupSummary[]> {
    return (await this.read(filter)).backups;
  }

  /** The backups, and every catalog document that could not be used (`CatalogProblem`). */
  async read(filter: { database?: string | undefined } = {}): Promise<CatalogReading> {
    const prefix =
      filter.database === undefined ? CATALOG_PREFIX : `${CATALOG_PREFIX}${segment(filter.database)}/`;
    const keys = await this.repository.list(prefix);
    const groups = new Map<string, string[]>();
    const problems: CatalogProblem[] = [];
    for (const key of keys) {
      const parts = key.slice(CATALOG_PREFIX.length).split('/');
      if (parts.length < 3) continue; // not in a backup's folder: no backup document
      const [dbSegment, folder] = parts as [string, string];
      if (folder.startsWith('_')) continue; // another kind of document (failovers)
      const database = decodeSegment(dbSegment);
      if (database === null || !isBackupId(folder)) {
        problems.push({
          key,
          database,
          backupId: null,
          problem: 'unknown-document',
          message:
            database === null
              ? `folder "${dbSegment}" is not an encoded database name`
              : `"${folder}" is not a backup id: the catalog keeps no documents there`,
        });
        continue;
      }
      const group = `${dbSegment}/${folder}`;
      const list = groups.get(group) ?? [];
      list.push(key);
      groups.set(group, list);
    }
    const summaries = await mapLimit([...groups.entries()], 16, async ([group, groupKeys]) => {
      const [dbSegment, backupId] = group.split('/') as [string, string];
      return this.summarize(decodeSegment(dbSegment)!, backupId, groupKeys);
    });
    const backups = summaries
      .filter((s): s is BackupSummary => s !== null)
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
    for (const b of backups) problems.push(...(b.problems ?? []));
    return { backups, problems };
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
    let manifestProblem = false;
    const records: CatalogRecord[] = [];
    const problems: CatalogProblem[] = [];
    const problem = (key: string, kind: CatalogProblemKind, message: string) =>
      problems.push({ key, database, backupId, problem: kind, message });
    const prefix = `${CATALOG_PREFIX}${segment(database)}/${backupId}/`;
    for (const key of keys) {
      const rest = key.slice(prefix.length);
      const isManifest = rest === 'manifest.json';
      if (!isManifest && !/^records\/[^/]+\.json$/.test(rest)) {
        problem(
          key,
          'unknown-document',
          `the catalog keeps no document named "${rest}" in a backup's folder`,
        );
        continue;
      }
      const doc = await this.readDocument(key);
      if (!doc.ok) {
        problem(key, doc.problem, doc.message);
        if (isManifest) manifestProblem = true;
        continue;
      }
      const parsed = isManifest ? Manifest.safeParse(doc.json) : CatalogRecord.safeParse(doc.json);
      if (!parsed.success) {
        problem(
          key,
          'invalid',
          `not a ${isManifest ? 'manifest' : 'catalog record'}: ${summarizeIssues(parsed.error)}`,
        );
        if (isManifest) manifestProblem = true;
        continue;
      }
      const value = parsed.data as Manifest | CatalogRecord;
      if (
        value.database !== database ||
        ('id' in value ? value.id : (value as CatalogRecord).backupId) !== backupId
      ) {
        problem(key, 'invalid', `its database/backup id do not match its key`);
        if (isManifest) manifestProblem = true;
        continue;
      }
      if (isManifest) manifest = value as Manifest;
      else records.push(value as CatalogRecord);
    }
    records.sort((a, b) => a.at.localeCompare(b.at));
    const started = records.find((r): r is StartedRecord => r.kind === 'started');
    const failed = records.findLast((r): r is FailedRecord => r.kind === 'failed');
    const deleted = records.findLast(
      (r): r is DeletedRecord => r.kind === 'deleted' && this.appliesHere(r.region),
    );
    const verifications = this.verificationsOfThisCopy(
      records.filter((r): r is VerificationRecord => r.kind === 'verification'),
    );
    if (!manifest && !started && problems.length === 0 && records.length === 0) return null;

    // Records with neither manifest nor started record: what they are about cannot be told (a
    // manifest lost), unless all that is left is a deletion.
    let state: BackupState;
    if (manifestProblem) state = 'unreadable';
    else if (!manifest && !started)
      state = deleted && records.every((r) => r.kind === 'deleted') ? 'deleted' : 'unreadable';
    else if (deleted) state = 'deleted';
    else if (manifest) state = 'completed';
    else if (failed) state = 'failed';
    else if (this.now().getTime() - Date.parse(started!.at) > this.abandonAfterMs) state = 'abandoned';
    else state = 'in-progress';

    const recordLost = problems.some((p) => !p.key.endsWith('/manifest.json'));
    const lastVerification = verifications.at(-1) ?? null;
    const lastPassed = verifications.findLast((v) => v.passed) ?? null;
    const verification: VerificationState =
      lastVerification === null || recordLost
        ? 'unverified'
        : lastVerification.passed
          ? 'verified'
          : 'verification-failed';

    return {
      id: backupId,
      database,
      kind:
        manifest?.kind ??
        started?.backupKind ??
        (backupId.includes('-rds-') ? 'rds-snapshot' : 'logical-dump'),
      state,
      startedAt: manifest?.startedAt ?? started?.at ?? timeOfBackupId(backupId),
      finishedAt: manifest?.finishedAt ?? failed?.at ?? null,
      bytes: manifest?.kind === 'logical-dump' ? manifest.artifact.bytes : null,
      manifest,
      verification,
      lastVerification,
      verifiedAt: recordLost ? null : (lastPassed?.at ?? null),
      error: manifest ? null : (failed?.error ?? null),
      records,
      problems,
    };
  }

  /** Whether a record about the copy in `region` concerns this repository's copy. */
  appliesHere(region: string | undefined): boolean {
    return this.region === undefined || region === undefined || region === this.region;
  }

  /**
   * The verifications that speak for this repository's copy: those of this region's copy when
   * there are any (its own failure is never overridden by a pass of another copy), else those of
   * the backup in general. Those of another region's copy never do.
   */
  verificationsOfThisCopy(all: readonly VerificationRecord[]): VerificationRecord[] {
    if (this.region === undefined) return [...all];
    const own = all.filter((v) => v.region === this.region);
    return own.length > 0 ? own : all.filter((v) => v.region === undefined);
  }

  private async readDocument(
    key: string,
  ): Promise<{ ok: true; json: unknown } | { ok: false; problem: CatalogProblemKind; message: string }> {
    let text: string;
    try {
      text = (await this.repository.read(key)).toString('utf8');
    } catch (err) {
      return { ok: false, problem: 'unreadable', message: `could not be read: ${errorMessage(err)}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      return { ok: false, problem: 'unparseable', message: `not JSON (${errorMessage(err)})` };
    }
    const declared = declaredSchema(json);
    const says = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
    if (says !== undefined) {
      if (declared === null) {
        return {
          ok: false,
          problem: 'invalid',
          message: `schemaVersion ${JSON.stringify(says)} is not a version`,
        };
      }
      if (declared.major !== DOCUMENT_SCHEMA.major) {
        return {
          ok: false,
          problem: 'unknown-schema',
          message: `schema version ${declared.major}.${declared.minor}: this version of lifeboat reads ${DOCUMENT_SCHEMA.major}.x`,
        };
      }
    }
    // "1.3" spelled as a string: read it as major 1 with its minor.
    if (typeof says === 'string' && declared)
      json = { ...(json as object), schemaVersion: declared.major, schemaMinor: declared.minor };
    return { ok: true, json };
  }
}

function decodeSegment(value: string): string | null {
  try {
    return decodeURIComponent(value);
  } catch {
    return null;
  }
}

/** The instant a backup id starts with: 20261123T091500Z-… → 2026-11-23T09:15:00.000Z. */
function timeOfBackupId(id: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(id)!;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.000Z`;
}

function summarizeIssues(error: z.core.$ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`)
    .join('; ');
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
