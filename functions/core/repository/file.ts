import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, constants, link, mkdir, open, readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AlreadyExists,
  BackupNotFound,
  errorMessage,
  LifeboatError,
  RepositoryAccessDenied,
  RepositoryError,
  RepositoryNotFound,
  RepositoryUrlInvalid,
} from '../shared/errors.ts';
import type { Encryption } from '../catalog/manifest.ts';
import type { Repository, UploadOptions } from './types.ts';

/** In-flight files carry this marker; they are never listed and never mistaken for artifacts. */
const PARTIAL = '.partial-';

/** A repository in a local directory (`file:///abs/dir`). */
export class FileRepository implements Repository {
  readonly encryption: Encryption = { type: 'none', kmsKeyId: null };

  constructor(
    readonly url: string,
    readonly root: string,
  ) {
    if (!path.isAbsolute(root)) throw new RepositoryUrlInvalid(`repository path must be absolute: ${root}`);
  }

  private resolve(key: string): string {
    const full = path.resolve(this.root, key);
    if (!full.startsWith(this.root + path.sep))
      throw new RepositoryError(`key escapes the repository: ${key}`);
    return full;
  }

  async check(options: { write?: boolean } = {}): Promise<void> {
    try {
      if (options.write) await mkdir(this.root, { recursive: true });
      else if (!(await stat(this.root)).isDirectory()) {
        throw new RepositoryError(`repository ${this.root} is not a directory`);
      }
      await access(this.root, options.write ? constants.W_OK | constants.R_OK : constants.R_OK);
    } catch (err) {
      if (err instanceof LifeboatError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && !options.write) {
        throw new RepositoryNotFound(`repository directory ${this.root} does not exist`, { cause: err });
      }
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new RepositoryAccessDenied(
          `cannot ${options.write ? 'write to' : 'read'} repository directory ${this.root}: permission denied`,
          {
            cause: err,
          },
        );
      }
      throw new RepositoryError(`cannot use repository directory ${this.root}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  async upload(key: string, source: Readable, options: UploadOptions = {}): Promise<{ bytes: number }> {
    const final = this.resolve(key);
    await mkdir(path.dirname(final), { recursive: true });
    const partial = `${final}${PARTIAL}${randomBytes(4).toString('hex')}`;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        options.onProgress?.(bytes);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(source, counter, createWriteStream(partial, { flags: 'wx' }));
      const handle = await open(partial, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      // link() refuses an existing name, so a completed artifact is never replaced.
      await link(partial, final).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') throw new AlreadyExists(`${key} already exists in ${this.url}`);
        throw err;
      });
      await unlink(partial);
      await syncDir(path.dirname(final));
      return { bytes };
    } catch (err) {
      await rm(partial, { force: true });
      throw wrapFsError(err, `storing ${key}`);
    }
  }

  async putOnce(key: string, body: string): Promise<void> {
    const final = this.resolve(key);
    await mkdir(path.dirname(final), { recursive: true });
    const partial = `${final}${PARTIAL}${randomBytes(4).toString('hex')}`;
    try {
      const handle = await open(partial, 'wx');
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(partial, final).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') throw new AlreadyExists(`${key} already exists in ${this.url}`);
        throw err;
      });
      await syncDir(path.dirname(final));
    } catch (err) {
      throw wrapFsError(err, `writing ${key}`);
    } finally {
      await rm(partial, { force: true });
    }
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await readFile(this.resolve(key));
    } catch (err) {
      throw wrapFsError(err, `reading ${key}`);
    }
  }

  async readStream(key: string): Promise<Readable> {
    const file = this.resolve(key);
    try {
      await access(file, constants.R_OK);
    } catch (err) {
      throw wrapFsError(err, `reading ${key}`);
    }
    return createReadStream(file, { highWaterMark: 1024 * 1024 });
  }

  async size(key: string): Promise<number | null> {
    try {
      return (await stat(this.resolve(key))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw wrapFsError(err, `reading ${key}`);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const dir = this.resolve(prefix.endsWith('/') ? prefix.slice(0, -1) || '.' : path.posix.dirname(prefix));
    let entries: string[];
    try {
      entries = (await readdir(dir, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile() && !e.name.includes(PARTIAL))
        .map((e) => path.relative(this.root, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw wrapFsError(err, `listing ${prefix}`);
    }
    return entries.filter((k) => k.startsWith(prefix));
  }

  localPath(key: string): string {
    return this.resolve(key);
  }

  async remove(key: string): Promise<void> {
    await rm(this.resolve(key), { force: true });
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Turns file-system errors into repository errors; anything else (e.g. the source's) passes. */
function wrapFsError(err: unknown, doing: string): Error {
  if (err instanceof LifeboatError || !(err instanceof Error)) return err as Error;
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT')
    return new BackupNotFound(`${doing}: no such file in the repository`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') {
    return new RepositoryAccessDenied(`${doing}: permission denied`, { cause: err });
  }
  if (code === undefined || (err as { syscall?: string }).syscall === undefined) return err;
  return new RepositoryError(`${doing}: ${err.message}`, { cause: err });
}
