// Logical dumps: taking them, their compression and forms, reading them back, their roles and tiers.
// runBackup: pg_dump streamed, checksummed and catalogued.
export * from './backup.ts';
// Compression methods, levels and the compressor/decompressor stages.
export * from './compression.ts';
// The directory form (pg_dump -Fd) stored file by file.
export * from './dump-directory.ts';
// A stored dump as a local archive pg_restore can read, and pg_restore itself.
export * from './archive.ts';
// The roles a dump needs: captured beside it, recreated before a restore.
export * from './roles.ts';
// Artifacts in archive tiers (GLACIER, DEEP_ARCHIVE) and their S3 restores.
export * from './cold-storage.ts';
