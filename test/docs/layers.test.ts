import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layer rules of docs/DESIGN.md ("Layers"): a folder imports only from the folders listed for it.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ALLOWED: Record<string, string[]> = {
  engine: [],
  environments: ['engine'],
  datasets: ['engine'],
  policies: ['engine', 'environments'],
  agents: ['engine', 'environments', 'policies'],
  twinning: ['engine', 'environments', 'datasets'],
  evaluation: ['engine', 'environments', 'policies', 'agents'],
};
const LAYERS = ['engine', 'environments', 'datasets', 'policies', 'agents', 'twinning', 'evaluation', 'experiments', 'server', 'cli', 'viewer'];

function sources(dir: string): string[] {
  let out: string[] = [];
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out; // a layer folder that does not exist yet
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out = out.concat(sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Top-level folders a file imports from (relative specifiers only). */
function importedLayers(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const layers = new Set<string>();
  for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(ROOT, join(file, '..', m[1] as string)).split(/[\\/]/)[0] as string;
    if (LAYERS.includes(target)) layers.add(target);
  }
  return [...layers];
}

describe('layer rules (docs/DESIGN.md)', () => {
  for (const [layer, allowed] of Object.entries(ALLOWED)) {
    it(`${layer}/ imports only ${allowed.length ? allowed.join(', ') : 'nothing of ours'}`, () => {
      const violations: string[] = [];
      for (const file of sources(join(ROOT, layer))) {
        for (const target of importedLayers(file)) {
          if (target !== layer && !allowed.includes(target)) violations.push(`${relative(ROOT, file)} → ${target}/`);
        }
      }
      expect(violations).toEqual([]);
    });
  }

  it('the check sees imports (a control: experiments/ imports engine/)', () => {
    const seen = sources(join(ROOT, 'experiments')).flatMap(importedLayers);
    expect(seen).toContain('engine');
  });
});
