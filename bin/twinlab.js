#!/usr/bin/env node
// Runs the compiled CLI (dist/) when it is up to date with the sources, else the TypeScript sources
// through tsx. Compiled JS starts worker threads ≈5× faster, so `npm run build` is worth it for real work.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { compiledIsFresh, ROOT } from '../scripts/freshness.mjs';

if (compiledIsFresh()) {
  await import(join(ROOT, 'dist', 'cli', 'run.js'));
} else {
  // resolve tsx from this package, not from the caller's directory, so the bin works from anywhere
  const tsx = import.meta.resolve('tsx');
  const result = spawnSync(process.execPath, ['--import', tsx, join(ROOT, 'cli', 'run.ts'), ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: process.cwd(),
  });
  process.exitCode = result.status ?? 1;
}
