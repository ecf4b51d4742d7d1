import { Rng } from '../engine/random.js';
import { DEFAULT_PROCESS_NOISE, type ProcessNoise } from './glucose/filter.js';
import { PROCESS_NOISE_GRID } from './glucose/fit.js';
import type { BandPoint } from './glucose/forecast.js';

/**
 * The living profile's glucose process-noise calibration of a CGM twin (the type 1 twin's fit.ts step 6,
 * shared here for twins built later — the type 2 twin — while the type 1 fit.ts keeps its own copy until
 * it is next reworked): going up PROCESS_NOISE_GRID, the level whose 95 % band covers nearest 95 % of
 * the 60-min-ahead readings over the window's last two days (forecast origins every 30 min) — the first
 * level reaching 95 % or the one below it — else the largest level. Each level runs a fresh filter from
 * `from` on the substream `calibrate/<q>`, so the result is a pure function of (twin, data, seed).
 */
export interface CalibrationTarget<F> {
  cgm: ArrayLike<number>;
  from: number;
  to: number;
  seed: number;
  /** A filter for `noise` started at `from`, drawing from `rng`. */
  makeFilter(noise: ProcessNoise, rng: Rng): F;
  /** Advance the filter so slot k is its origin (its reading assimilated). */
  advanceTo(filter: F, k: number): void;
  /** The 60-min CGM band from the filter's current origin. */
  forecast60(filter: F, rng: Rng): BandPoint | undefined;
  onProgress?: (done: number, total: number) => void;
}

export const TARGET_COVERAGE = 0.95;

export function calibrateProcessNoise<F>(t: CalibrationTarget<F>): { chosen: ProcessNoise; table: Array<{ glucose: number; coverage60: number }> } {
  const evalFrom = Math.max(t.from + 1, t.to - 2 * 288);
  const table: Array<{ glucose: number; coverage60: number }> = [];
  let chosen: ProcessNoise | undefined;
  const progress = t.onProgress ?? (() => {});
  PROCESS_NOISE_GRID.forEach((q, gi) => {
    progress(gi, PROCESS_NOISE_GRID.length);
    if (chosen !== undefined) return;
    const noise = { glucose: q, insulinSensitivity: DEFAULT_PROCESS_NOISE.insulinSensitivity };
    const root = Rng.fromSeed(t.seed).fork(`calibrate/${q}`);
    const filter = t.makeFilter(noise, root.fork('filter'));
    let hit = 0;
    let total = 0;
    for (let k = evalFrom; k + 12 < t.to; k += 6) {
      t.advanceTo(filter, k);
      const y = t.cgm[k + 12] as number;
      if (!Number.isFinite(y)) continue;
      const p = t.forecast60(filter, root.fork(`origin/${k}`));
      if (p === undefined) continue;
      total++;
      if (y >= p.lo && y <= p.hi) hit++;
    }
    const coverage = total > 0 ? hit / total : 0;
    const previous = table[table.length - 1];
    table.push({ glucose: q, coverage60: coverage });
    if (coverage >= TARGET_COVERAGE) {
      const below = previous !== undefined && TARGET_COVERAGE - previous.coverage60 < coverage - TARGET_COVERAGE;
      chosen = below ? { ...noise, glucose: previous.glucose } : noise;
    }
  });
  progress(PROCESS_NOISE_GRID.length, PROCESS_NOISE_GRID.length);
  const last = PROCESS_NOISE_GRID[PROCESS_NOISE_GRID.length - 1] as number;
  return { chosen: chosen ?? { glucose: last, insulinSensitivity: DEFAULT_PROCESS_NOISE.insulinSensitivity }, table };
}

/** RMSE (mg/dL) and MARD (%) of a model trajectory m against the readings used (include = 1). */
export function fitQuality(cgm: ArrayLike<number>, m: ArrayLike<number>, include: ArrayLike<number>): { rmse: number; mard: number; readings: number } {
  let se = 0;
  let ape = 0;
  let count = 0;
  for (let k = 0; k < include.length; k++) {
    if (include[k] !== 1) continue;
    const y = cgm[k] as number;
    se += ((m[k] as number) - y) ** 2;
    ape += Math.abs((m[k] as number) - y) / y;
    count++;
  }
  return { rmse: Math.sqrt(se / count), mard: (100 * ape) / count, readings: count };
}
