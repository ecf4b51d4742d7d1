/**
 * `npm run bench [-- NAME…] [--json] [module options]` runs every benchmark module in bench/ (or those
 * whose file name contains one of the NAMEs) and prints its figures with units. Module options (e.g.
 * `trials --no-zoo`, `trials --train-steps 300000`) are left in process.argv for the modules to read. Benchmarks print numbers; they
 * are not pass/fail tests. Each module exports `run(): Promise<BenchResult[]>`.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatResults } from './util.js';
import type { BenchResult } from './types.js';

type BenchModule = { run?: () => Promise<BenchResult[]>; benchOde?: () => Promise<BenchResult[]> };

/** Module options followed by a value (bench/trials.ts). */
const VALUE_OPTIONS = new Set(['--train-steps']);

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  // A word right after an option that takes a value is that value, not a NAME.
  const filters = args.filter((a, i) => !a.startsWith('--') && !VALUE_OPTIONS.has(args[i - 1] ?? ''));
  const here = dirname(fileURLToPath(import.meta.url));
  const files = readdirSync(here)
    .filter((f) => /\.(ts|js)$/.test(f) && !/^(index|types)\./.test(f) && !f.endsWith('.d.ts'))
    .filter((f) => filters.length === 0 || filters.some((name) => f.includes(name)))
    .sort();
  const all: (BenchResult & { bench: string })[] = [];
  for (const file of files) {
    const mod = (await import(pathToFileURL(join(here, file)).href)) as BenchModule;
    const run = mod.run ?? mod.benchOde;
    if (!run) continue;
    if (!json) process.stdout.write(`# ${file}\n`);
    try {
      const results = await run();
      all.push(...results.map((r) => ({ ...r, bench: file })));
      if (!json) process.stdout.write(`${formatResults(results)}\n\n`);
    } catch (error) {
      process.stderr.write(`bench ${file} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  }
  if (json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
}

void main();
