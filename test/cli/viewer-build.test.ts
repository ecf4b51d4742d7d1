import { cpSync, existsSync, mkdirSync, mkdtempSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureViewerBuilt, repositoryRoot } from '../../cli/commands/viewer-build.js';
import { VIEWER_SOURCES } from '../../scripts/freshness.mjs';

const ROOT = join(import.meta.dirname, '../..');

/** A copy of the parts of the tree the viewer build needs, as on a fresh install (no viewer/dist). */
function freshTree(withModules: boolean): string {
  const root = mkdtempSync(join(tmpdir(), 'twinlab-viewer-'));
  for (const path of [...VIEWER_SOURCES, 'viewer/build.ts', 'scripts/freshness.mjs', 'package.json']) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    cpSync(join(ROOT, path), join(root, path), { recursive: true });
  }
  if (withModules) symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

describe('serve / start bundle a missing or stale viewer', () => {
  it('finds the repository root from source', () => {
    expect(existsSync(join(repositoryRoot(), 'viewer', 'build.ts'))).toBe(true);
  });

  it('builds viewer/dist when missing, then finds it fresh, and rebuilds after a source changes', async () => {
    const root = freshTree(true);
    expect(await ensureViewerBuilt(root)).toEqual({ status: 'built' });
    for (const file of ['app.js', 'index.html', 'styles.css']) expect(existsSync(join(root, 'viewer', 'dist', file)), file).toBe(true);
    expect(await ensureViewerBuilt(root)).toEqual({ status: 'fresh' });
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(root, 'viewer', 'styles.css'), later, later);
    expect((await ensureViewerBuilt(root)).status).toBe('built');
  });

  it('reports why it cannot build (no dependencies) instead of failing the server', async () => {
    const result = await ensureViewerBuilt(freshTree(false));
    expect(result.status).toBe('failed');
    expect(result.message).toBeTruthy();
  });
});
