import { pathToFileURL } from 'node:url';
import type { BenchResult } from './types.js';

/** Helpers shared by the benchmark modules (this module has no `run`, so bench/index.ts skips it). */

/** The number after `name` on the command line, or `fallback`. */
export function numberOption(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/** Median of a non-empty sample (upper middle for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** A figure as printed: whole numbers from 100 up (with thousands separators), else 3 significant digits (ratios like 0.92 stay readable). */
export function formatValue(value: number): string {
  return Math.abs(value) >= 100 || value === 0 ? Math.round(value).toLocaleString('en-US') : String(Number(value.toPrecision(3)));
}

/** The results as an aligned table: name, value, unit, note. */
export function formatResults(results: readonly BenchResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length)) + 2;
  return results.map((r) => `${r.name.padEnd(width)}${formatValue(r.value).padStart(12)} ${r.unit}${r.note ? `   (${r.note})` : ''}`).join('\n');
}

/** When the module at `moduleUrl` is the entry point (`npx tsx bench/x.ts`), run it and print its results. */
export function runAsMain(moduleUrl: string, run: () => Promise<BenchResult[]>): void {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  run().then(
    (results) => console.log(formatResults(results)),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
