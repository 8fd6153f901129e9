/**
 * Named errors. `name` is stable: Step Functions Retry/Catch match on it (a Lambda's errorType is
 * the thrown error's `name`) and the CLI maps it to an exit code. Messages are one line a person
 * can act on; the cause is kept for logs.
 *
 * Every subclass spells its name as a string literal (`override readonly name = 'X'`), never
 * derived from the class (`new.target.name`, `constructor.name`): deployed code is minified and
 * classes renamed there. test/unit/error-names.test.ts fails for a class whose name is missing or
 * differs from the class; test/state-machines/bundled.test.ts checks the shipped bundles.
 */
export class LifeboatError extends Error {
  override readonly name: string = 'LifeboatError';
  /** Exit code the CLI uses: 2 = could not do the job (bad input, unreachable, failed). */
  readonly exitCode: number = 2;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Invalid configuration: the message names the environment and the field. */
export class ConfigError extends LifeboatError {
  override readonly name = 'ConfigError';
}
/** A command-line argument or API input that is not what was expected. */
export class InvalidArgument extends LifeboatError {
  override readonly name = 'InvalidArgument';
}
/** A required environment variable of a function is missing. */
export class MissingEnvironment extends LifeboatError {
  override readonly name = 'MissingEnvironment';
}

export class DatabaseUnreachable extends LifeboatError {
  override readonly name = 'DatabaseUnreachable';
}
export class DatabaseAuthFailed extends LifeboatError {
  override readonly name = 'DatabaseAuthFailed';
}
export class DatabaseNotFound extends LifeboatError {
  override readonly name = 'DatabaseNotFound';
}
export class DatabaseError extends LifeboatError {
  override readonly name = 'DatabaseError';
}

export class RepositoryUrlInvalid extends LifeboatError {
  override readonly name = 'RepositoryUrlInvalid';
}
export class RepositoryNotFound extends LifeboatError {
  override readonly name = 'RepositoryNotFound';
}
export class RepositoryAccessDenied extends LifeboatError {
  override readonly name = 'RepositoryAccessDenied';
}
/**
 * An artifact sits in an archive storage class (GLACIER, DEEP_ARCHIVE) and cannot be read until
 * an S3 restore makes a temporary copy: never "access denied".
 */
export class ArchivedObject extends LifeboatError {
  override readonly name = 'ArchivedObject';
  /** The object's storage class, when S3 said it. */
  storageClass: string | null = null;
  key: string | null = null;
}
/**
 * S3 has no Expedited retrieval capacity at the moment (503 GlacierExpeditedRetrievalNotAvailable):
 * ask again later, or at the Standard tier.
 */
export class ExpeditedRetrievalUnavailable extends LifeboatError {
  override readonly name = 'ExpeditedRetrievalUnavailable';
}
/** Archived artifacts were not readable within the tier's published worst case (and a margin). */
export class ArchiveRestoreTimedOut extends LifeboatError {
  override readonly name = 'ArchiveRestoreTimedOut';
}
export class RepositoryError extends LifeboatError {
  override readonly name = 'RepositoryError';
}
/** A write-once catalog document already exists: nothing was overwritten. */
export class AlreadyExists extends LifeboatError {
  override readonly name = 'AlreadyExists';
}

export class PgToolNotFound extends LifeboatError {
  override readonly name = 'PgToolNotFound';
}
export class PgDumpFailed extends LifeboatError {
  override readonly name = 'PgDumpFailed';
}
export class PgRestoreFailed extends LifeboatError {
  override readonly name = 'PgRestoreFailed';
}
export class BackupFailed extends LifeboatError {
  override readonly name = 'BackupFailed';
}
export class BackupNotFound extends LifeboatError {
  override readonly name = 'BackupNotFound';
}
export class ChecksumMismatch extends LifeboatError {
  override readonly name = 'ChecksumMismatch';
}
export class TargetNotEmpty extends LifeboatError {
  override readonly name = 'TargetNotEmpty';
}
export class ClusterError extends LifeboatError {
  override readonly name = 'ClusterError';
}

/** RDS refused a snapshot because the instance or cluster is busy (e.g. backing-up): retry later. */
export class DatabaseBusy extends LifeboatError {
  override readonly name = 'DatabaseBusy';
}
/** The account's manual snapshot quota is used up: a person must act (raise it or prune). */
export class SnapshotQuotaExceeded extends LifeboatError {
  override readonly name = 'SnapshotQuotaExceeded';
}
/** An AWS API kept throttling after the SDK's own retries. */
export class Throttled extends LifeboatError {
  override readonly name = 'Throttled';
}
/** A KMS key needed to create, copy or read a snapshot is disabled, deleted or not granted. */
export class KmsKeyNotAccessible extends LifeboatError {
  override readonly name = 'KmsKeyNotAccessible';
}
/** Any other RDS control-plane failure, with the RDS error name in the message. */
export class SnapshotError extends LifeboatError {
  override readonly name = 'SnapshotError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Reads a required environment variable; throws naming it when missing or empty. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new MissingEnvironment(`environment variable ${name} is not set`);
  }
  return value;
}
