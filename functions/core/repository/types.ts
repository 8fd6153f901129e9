import type { Readable } from 'node:stream';
import type { Encryption } from '../catalog/manifest.ts';

/**
 * Where backups and the catalog live: a local directory or an S3 bucket (with a prefix).
 * Keys are `/`-separated. Artifacts become visible under their key only once fully stored;
 * catalog documents are written once and never overwritten.
 */
export interface Repository {
  /** The URL the user gave, for messages (no credentials in it). */
  readonly url: string;
  /** Encryption applied to what this repository stores. */
  readonly encryption: Encryption;
  /**
   * Fails with a clear error when the repository does not exist or cannot be reached. With
   * `write`, a file repository's directory is created when missing (a first backup); without it,
   * a missing repository is an error and nothing is created.
   */
  check(options?: { write?: boolean }): Promise<void>;
  /**
   * Streams `source` to `key`. The object appears under `key` only after every byte is stored;
   * if `source` errors or the store fails, nothing is left under `key` (the partial file is
   * removed, the multipart upload aborted) and the error is rethrown.
   */
  upload(key: string, source: Readable, options?: UploadOptions): Promise<{ bytes: number }>;
  /** Writes a small document once; throws AlreadyExists if `key` is taken. */
  putOnce(key: string, body: string): Promise<void>;
  read(key: string): Promise<Buffer>;
  readStream(key: string): Promise<Readable>;
  /** Size in bytes of a stored object, or null when there is none. */
  size(key: string): Promise<number | null>;
  /** Every key under `prefix`, in no particular order. */
  list(prefix: string): Promise<string[]>;
  remove(key: string): Promise<void>;
  /** A local file holding the object, when the repository is a directory (lets pg_restore -j read it). */
  localPath?(key: string): string;
  /** Storage class and restore state of an object, where the store has archive tiers (S3). */
  storage?(key: string): Promise<ObjectStorage>;
  /** Asks the store to make a readable copy of an archived object for `days` (S3 RestoreObject). */
  requestRestore?(key: string, options: RestoreRequest): Promise<RestoreRequestOutcome>;
}

export type RestoreTier = 'Standard' | 'Bulk' | 'Expedited';

export interface RestoreRequest {
  readonly tier: RestoreTier;
  readonly days: number;
}

/** `requested` (now, or a restored copy's days extended), `in-progress` (asked before), `not-archived`. */
export type RestoreRequestOutcome = 'requested' | 'in-progress' | 'not-archived';

export interface ObjectStorage {
  readonly key: string;
  /** STANDARD, STANDARD_IA, GLACIER_IR, GLACIER, DEEP_ARCHIVE, INTELLIGENT_TIERING ... */
  readonly storageClass: string;
  /** In a tier that must be restored before it can be read. */
  readonly archived: boolean;
  /** For an archived object: none asked, a restore running, or a restored copy readable. */
  readonly restore: 'none' | 'in-progress' | 'available';
  /** When the restored copy goes away (ISO 8601), if there is one. */
  readonly restoredUntil: string | null;
  /** Can be read now. */
  readonly readable: boolean;
}

export interface UploadOptions {
  /** Called as bytes are stored (or accepted for storage). */
  readonly onProgress?: (bytes: number) => void;
  /**
   * About how many bytes the source will produce, if known (for a dump: the database's size, an
   * upper bound of the compressed dump). S3 sizes its multipart parts from it, so that a dump of
   * any size fits in S3's 10,000 parts.
   */
  readonly expectedBytes?: number;
}
