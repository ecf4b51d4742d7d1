#!/usr/bin/env node
// Runs the compiled CLI (dist/) when it is up to date with the sources, else the TypeScript sources
// through tsx. Compiled JS starts worker threads ≈5× faster, so `npm run build` is worth it for real work.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'run.js');
const SOURCE_DIRS = ['engine', 'environments', 'policies', 'agents', 'experiments', 'server', 'cli'];

function newestSource(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function compiledIsFresh() {
  if (process.env.TWINLAB_FROM_SOURCE || !existsSync(compiled)) return false;
  const built = statSync(compiled).mtimeMs;
  return SOURCE_DIRS.every((d) => newestSource(join(root, d)) <= built);
}

if (compiledIsFresh()) {
  await import(compiled);
} else {
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'cli', 'run.ts'), ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: process.cwd(),
  });
  process.exitCode = result.status ?? 1;
}
