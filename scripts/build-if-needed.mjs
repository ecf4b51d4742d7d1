// `npm start` runs this first: compile the TypeScript (dist/) and bundle the viewer (viewer/dist/)
// only when their outputs are missing or older than their sources.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { isFresh, ROOT, SOURCE_DIRS, VIEWER_SOURCES } from './freshness.mjs';

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
if (!isFresh(join(ROOT, 'dist', 'cli', 'run.js'), [...SOURCE_DIRS, 'tsconfig.build.json'])) {
  process.stdout.write('building dist/ (tsc)…\n');
  execFileSync(npx, ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
}
if (!isFresh(join(ROOT, 'viewer', 'dist', 'app.js'), VIEWER_SOURCES)) {
  process.stdout.write('bundling the viewer (esbuild)…\n');
  execFileSync(npx, ['tsx', 'viewer/build.ts'], { cwd: ROOT, stdio: 'inherit' });
}
