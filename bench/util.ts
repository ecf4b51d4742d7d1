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
