// The catalog: what was backed up, where, and how it was verified.
// Catalog records, keys and the Catalog reader/writer.
export * from './catalog.ts';
// Manifest documents and their versions.
export * from './manifest.ts';
// A database's health against its targets, from the catalog.
export * from './status.ts';
