#!/usr/bin/env -S node --max-semi-space-size=1
// --max-semi-space-size=1: backups stream gigabytes through short-lived buffers; a small young
// generation collects them early and keeps the peak RSS low and flat (bench/README.md).
// The `lifeboat` command: runs the TypeScript CLI bundled by esbuild (bin/cli-bundle.mjs, rebuilt
// when a source changes), or through tsx without esbuild, so `npx lifeboat` works right after `npm ci`.
import { loadCli } from './cli-bundle.mjs';

// The AWS SDK warns on every run under Node 20 (this CLI supports 20; Lambda runs 22): keep stderr for what matters.
const emitWarning = process.emitWarning;
process.emitWarning = (warning, ...rest) =>
  String(warning).startsWith('NodeVersionSupportWarning')
    ? undefined
    : emitWarning.call(process, warning, ...rest);

const { module } = await loadCli();
process.exitCode = await module.main(process.argv.slice(2));
