// `npm start` runs this first: compile the TypeScript (dist/) and bundle the viewer (viewer/dist/)
// only when their outputs are missing or older than their sources.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newest(path) {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let t = 0;
  for (const entry of readdirSync(path)) t = Math.max(t, newest(join(path, entry)));
  return t;
}

function stale(output, sources) {
  if (!existsSync(output)) return true;
  const built = statSync(output).mtimeMs;
  return sources.some((s) => newest(join(root, s)) > built);
}

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
if (stale(join(root, 'dist', 'cli', 'run.js'), ['engine', 'environments', 'policies', 'agents', 'experiments', 'server', 'cli', 'tsconfig.build.json'])) {
  process.stdout.write('building dist/ (tsc)…\n');
  execFileSync(npx, ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
if (stale(join(root, 'viewer', 'dist', 'app.js'), ['viewer/src', 'viewer/index.html', 'viewer/styles.css', 'server/protocol.ts'])) {
  process.stdout.write('bundling the viewer (esbuild)…\n');
  execFileSync(npx, ['tsx', 'viewer/build.ts'], { cwd: root, stdio: 'inherit' });
}
