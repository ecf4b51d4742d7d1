/**
 * Bundles the viewer with esbuild into viewer/dist (app.js + index.html + styles.css). Run by
 * `npm run build:viewer`; the server serves viewer/dist.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'dist');

export async function buildViewer(): Promise<string> {
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: [join(here, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    outfile: join(out, 'app.js'),
    logLevel: 'warning',
    legalComments: 'linked',
  });
  copyFileSync(join(here, 'index.html'), join(out, 'index.html'));
  copyFileSync(join(here, 'styles.css'), join(out, 'styles.css'));
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildViewer().then((dir) => process.stdout.write(`viewer built into ${dir}\n`));
}
