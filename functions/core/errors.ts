/**
 * Named errors. `name` is stable: Step Functions Retry/Catch match on it and the CLI maps it to
 * an exit code. Messages are one line a person can act on; the cause is kept for logs.
 */
export class LifeboatError extends Error {
  /** Exit code the CLI uses: 2 = could not do the job (bad input, unreachable, failed). */
  readonly exitCode: number = 2;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration: the message names the environment and the field. */
export class ConfigError extends LifeboatError {}
/** A command-line argument or API input that is not what was expected. */
export class InvalidArgument extends LifeboatError {}
/** A required environment variable of a function is missing. */
export class MissingEnvironment extends LifeboatError {}

export class DatabaseUnreachable extends LifeboatError {}
export class DatabaseAuthFailed extends LifeboatError {}
export class DatabaseNotFound extends LifeboatError {}
export class DatabaseError extends LifeboatError {}

export class RepositoryUrlInvalid extends LifeboatError {}
export class RepositoryNotFound extends LifeboatError {}
export class RepositoryAccessDenied extends LifeboatError {}
export class RepositoryError extends LifeboatError {}
/** A write-once catalog document already exists: nothing was overwritten. */
export class AlreadyExists extends LifeboatError {}

export class PgToolNotFound extends LifeboatError {}
export class PgDumpFailed extends LifeboatError {}
export class PgRestoreFailed extends LifeboatError {}
export class BackupFailed extends LifeboatError {}
export class BackupNotFound extends LifeboatError {}
export class ChecksumMismatch extends LifeboatError {}
export class TargetNotEmpty extends LifeboatError {}
export class ClusterError extends LifeboatError {}

/** RDS refused a snapshot because the instance or cluster is busy (e.g. backing-up): retry later. */
export class DatabaseBusy extends LifeboatError {}
/** The account's manual snapshot quota is used up: a person must act (raise it or prune). */
export class SnapshotQuotaExceeded extends LifeboatError {}
/** An AWS API kept throttling after the SDK's own retries. */
export class Throttled extends LifeboatError {}
/** A KMS key needed to create, copy or read a snapshot is disabled, deleted or not granted. */
export class KmsKeyNotAccessible extends LifeboatError {}
/** Any other RDS control-plane failure, with the RDS error name in the message. */
export class SnapshotError extends LifeboatError {}

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
