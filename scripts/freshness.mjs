// One rule for "is the compiled build up to date?", shared by bin/twinlab.js, scripts/build-if-needed.mjs
// and the benchmarks: an output is fresh when it exists and no file under its sources is newer.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SOURCE_DIRS = ['engine', 'environments', 'datasets', 'twinning', 'policies', 'agents', 'experiments', 'server', 'cli'];
/** What the viewer bundle (viewer/build.ts) is built from: its own sources and every module outside viewer/ it imports. */
export const VIEWER_SOURCES = [
  'viewer/src',
  'viewer/index.html',
  'viewer/styles.css',
  'server/protocol.ts',
  'experiments/charts.ts',
  'experiments/agp.ts',
  'experiments/curves.ts',
  'environments/hospital/ward-timeline.ts',
  'engine/errors.ts',
  'engine/distributions.ts',
];

/** Newest modification time of a file, or of any file below a directory (0 when missing). */
export function newestMtime(path, accept = () => true) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return accept(path) ? stat.mtimeMs : 0;
  let newest = 0;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry), accept));
  return newest;
}

/** True when `output` exists and is newer than every file under `sources` (paths relative to the root). */
export function isFresh(output, sources, accept) {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return sources.every((s) => newestMtime(join(ROOT, s), accept) <= built);
}

/** The compiled CLI (dist/) is used unless TWINLAB_FROM_SOURCE is set or a TypeScript source is newer. */
export function compiledIsFresh() {
  return !process.env.TWINLAB_FROM_SOURCE && isFresh(join(ROOT, 'dist', 'cli', 'run.js'), SOURCE_DIRS, (p) => p.endsWith('.ts'));
}
