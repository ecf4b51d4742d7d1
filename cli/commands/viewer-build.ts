import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * `serve` / `start` make sure the browser viewer they announce exists: when `viewer/dist/app.js` is
 * missing or older than its sources (a fresh install that never ran `npm start`, or edited viewer
 * sources), it is bundled first exactly as `npm start` does (scripts/build-if-needed.mjs: same
 * freshness rule from scripts/freshness.mjs, same `viewer/build.ts`). When that is impossible
 * (no esbuild/tsx, read-only tree) the server still starts and the caller prints how to build it.
 */

export interface ViewerBuild {
  /** 'fresh': nothing to do; 'built': bundled now; 'failed': could not bundle (see `message`). */
  status: 'fresh' | 'built' | 'failed';
  message?: string;
}

/** The repository root, from this file's place: <root>/cli/commands or <root>/dist/cli/commands. */
export function repositoryRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return here.endsWith(join('dist', 'cli', 'commands')) ? join(here, '..', '..', '..') : join(here, '..', '..');
}

type Freshness = typeof import('../../scripts/freshness.mjs');

export async function ensureViewerBuilt(root = repositoryRoot()): Promise<ViewerBuild> {
  // scripts/ is not compiled into dist/, so the shared rule is loaded from the tree at run time
  let freshness: Freshness;
  try {
    freshness = (await import(pathToFileURL(join(root, 'scripts', 'freshness.mjs')).href)) as Freshness;
  } catch (error) {
    return { status: 'failed', message: `scripts/freshness.mjs cannot be loaded (${(error as Error).message})` };
  }
  const output = join(root, 'viewer', 'dist', 'app.js');
  const sources = freshness.VIEWER_SOURCES.map((s) => join(root, s));
  // isFresh resolves sources against its own ROOT
  if (freshness.isFresh(output, sources.map((s) => relative(freshness.ROOT, s)))) return { status: 'fresh' };
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'viewer', 'build.ts')], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  if (result.status === 0) return { status: 'built' };
  const reason = (result.error?.message ?? result.stderr ?? '').trim().split('\n')[0] || `exit ${result.status}`;
  return { status: 'failed', message: reason };
}
