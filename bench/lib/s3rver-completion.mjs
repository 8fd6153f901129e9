// Preloaded into s3rver by `npm run bench:backup` (node --import): times each
// CompleteMultipartUpload's assembly of the object. s3rver assembles it on the request's clock,
// re-reading every part and writing the whole object again with its MD5; the client waits for
// all of it. Each call appends `<milliseconds>\n` to the file named by S3RVER_COMPLETION_LOG.
import { appendFileSync } from 'node:fs';
import Store from 's3rver/lib/stores/filesystem.js';

const log = process.env.S3RVER_COMPLETION_LOG;
if (!log) throw new Error('s3rver-completion.mjs: S3RVER_COMPLETION_LOG is not set');
const assemble = Store.prototype.putObjectMultipart;
Store.prototype.putObjectMultipart = async function timedPutObjectMultipart(...args) {
  const started = process.hrtime.bigint();
  try {
    return await assemble.apply(this, args);
  } finally {
    appendFileSync(log, `${Number(process.hrtime.bigint() - started) / 1e6}\n`);
  }
};
