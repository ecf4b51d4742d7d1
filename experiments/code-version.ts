import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sha256Hex } from '../engine/hash.js';

/**
 * The code version recorded with every experiment (docs/DESIGN.md: a run is a pure function of spec,
 * seed, code version and backend): `<package version>+<12 hex>` where the hex is a SHA-256 over the
 * TypeScript sources of the layers that compute results (engine, environments, policies, agents,
 * experiments), path and content, in sorted order. The same sources give the same version whether
 * the CLI runs from source (tsx) or compiled (dist/), since the hash reads the .ts files.
 */
const LAYERS = ['engine', 'environments', 'datasets', 'twinning', 'policies', 'agents', 'experiments'];

let cached: string | undefined;

function findRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'engine'))) return dir;
    dir = dirname(dir);
  }
  return undefined;
}

function sources(dir: string, out: string[]): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sources(path, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
}

export function codeVersion(): string {
  if (cached !== undefined) return cached;
  const root = findRoot();
  if (!root) {
    cached = 'unknown';
    return cached;
  }
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? '0.0.0';
  const files: string[] = [];
  for (const layer of LAYERS) sources(join(root, layer), files);
  const parts = files.map((f) => relative(root, f).split('\\').join('/')).sort();
  const digest = sha256Hex(parts.map((p) => `${p}\0${readFileSync(join(root, p), 'utf8')}\0`).join(''));
  cached = `${version}+${digest.slice(0, 12)}`;
  return cached;
}
