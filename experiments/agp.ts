import { TwinlabError } from '../engine/errors.js';
import { quantileSorted } from '../engine/distributions.js';

/**
 * Ambulatory glucose profile (AGP): every glucose reading of a period folded onto one "modal day"
 * (its clock time of day), summarised in fixed bins by the 5th, 25th, 50th, 75th and 95th percentiles,
 * with the time spent in the five consensus ranges — the report the international consensus
 * recommends for CGM data (Battelino T et al., Diabetes Care 2019;42:1593–1603; Johnson ML et al.,
 * Diabetic Medicine 2019;36:1205–1223, whose AGP report this follows).
 *
 * Choices (documented, not prescribed by the consensus):
 * - bins: `binMinutes` wide (default 15 min), starting at midnight; bin b holds readings with
 *   minute-of-day in [b·w, (b+1)·w); a bin without readings is left out (the curves have a gap);
 * - percentiles: type 7 (linear interpolation between order statistics, R's default);
 * - smoothing: none by default; `smoothBins: k` replaces each percentile of a bin by the mean of that
 *   percentile over the 2k + 1 neighbouring non-empty bins, wrapping around midnight (the modal day is
 *   circular), which damps the bin-to-bin noise of short records as the AGP's smoothed curves do;
 * - ranges: < 54, 54–69, 70–180, 181–250, > 250 mg/dL on real-valued readings as < 54, [54, 70),
 *   [70, 180], (180, 250], > 250 — the same boundaries as the glucose twin's TIR/TBR/TAR endpoints.
 */

export const AGP_PERCENTILES = [5, 25, 50, 75, 95] as const;

export const GLUCOSE_RANGE_IDS = ['veryLow', 'low', 'target', 'high', 'veryHigh'] as const;
export type GlucoseRangeId = (typeof GLUCOSE_RANGE_IDS)[number];

export interface GlucoseRange {
  id: GlucoseRangeId;
  /** As printed in the consensus, mg/dL. */
  label: string;
  /** Fraction of readings in the range, 0–1. */
  fraction: number;
}

const RANGE_LABELS: Record<GlucoseRangeId, string> = { veryLow: '< 54', low: '54–69', target: '70–180', high: '181–250', veryHigh: '> 250' };

export function glucoseRangeOf(value: number): GlucoseRangeId {
  if (value < 54) return 'veryLow';
  if (value < 70) return 'low';
  if (value <= 180) return 'target';
  if (value <= 250) return 'high';
  return 'veryHigh';
}

/** Fractions of finite readings in each consensus range, very low first (all 0 without readings). */
export function timeInRanges(values: Iterable<number>): GlucoseRange[] {
  const counts: Record<GlucoseRangeId, number> = { veryLow: 0, low: 0, target: 0, high: 0, veryHigh: 0 };
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[glucoseRangeOf(v)]++;
    n++;
  }
  return GLUCOSE_RANGE_IDS.map((id) => ({ id, label: RANGE_LABELS[id], fraction: n === 0 ? 0 : counts[id] / n }));
}

export interface GlucoseReading {
  /** Clock time, minutes after midnight (any day: folded with mod 1440). */
  minute: number;
  /** mg/dL. */
  value: number;
}

export interface AgpBin {
  /** Bin start and centre, minutes after midnight. */
  start: number;
  centre: number;
  n: number;
  p5: number;
  p25: number;
  p50: number;
  p75: number;
  p95: number;
}

export interface AgpProfile {
  binMinutes: number;
  smoothBins: number;
  /** Finite readings used. */
  readings: number;
  bins: AgpBin[];
  ranges: GlucoseRange[];
  /** mg/dL. */
  mean: number;
  /** Coefficient of variation, % (sample SD / mean). */
  cv: number;
  /** Glucose management indicator, % = 3.31 + 0.02392 × mean mg/dL (Bergenstal RM et al., Diabetes Care 2018;41:2275). */
  gmi: number;
}

export interface AgpOptions {
  binMinutes?: number;
  smoothBins?: number;
}

export function ambulatoryGlucoseProfile(readings: Iterable<GlucoseReading>, options: AgpOptions = {}): AgpProfile {
  const binMinutes = options.binMinutes ?? 15;
  const smoothBins = options.smoothBins ?? 0;
  if (!(Number.isInteger(binMinutes) && binMinutes >= 1 && binMinutes <= 240 && 1440 % binMinutes === 0)) {
    throw new TwinlabError('INVALID_ARGUMENT', `binMinutes must be an integer divisor of 1440 in [1, 240], got ${binMinutes}`);
  }
  if (!(Number.isInteger(smoothBins) && smoothBins >= 0 && smoothBins <= 12)) throw new TwinlabError('INVALID_ARGUMENT', `smoothBins must be an integer in [0, 12], got ${smoothBins}`);
  const nBins = 1440 / binMinutes;
  const byBin: number[][] = Array.from({ length: nBins }, () => []);
  const all: number[] = [];
  for (const r of readings) {
    if (!Number.isFinite(r.value) || !Number.isFinite(r.minute)) continue;
    const minute = ((r.minute % 1440) + 1440) % 1440;
    (byBin[Math.min(nBins - 1, Math.floor(minute / binMinutes))] as number[]).push(r.value);
    all.push(r.value);
  }
  let bins: AgpBin[] = [];
  byBin.forEach((values, b) => {
    if (values.length === 0) return;
    const sorted = values.sort((x, y) => x - y);
    const [p5, p25, p50, p75, p95] = AGP_PERCENTILES.map((p) => quantileSorted(sorted, p / 100)) as [number, number, number, number, number];
    bins.push({ start: b * binMinutes, centre: (b + 0.5) * binMinutes, n: values.length, p5, p25, p50, p75, p95 });
  });
  if (smoothBins > 0 && bins.length > 1) {
    const raw = bins;
    const k = Math.min(smoothBins, Math.floor((raw.length - 1) / 2));
    bins = raw.map((bin, i) => {
      const out = { ...bin };
      for (const key of ['p5', 'p25', 'p50', 'p75', 'p95'] as const) {
        let s = 0;
        for (let j = -k; j <= k; j++) s += (raw[(i + j + raw.length) % raw.length] as AgpBin)[key];
        out[key] = s / (2 * k + 1);
      }
      return out;
    });
  }
  const n = all.length;
  const mean = n === 0 ? Number.NaN : all.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(all.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { binMinutes, smoothBins, readings: n, bins, ranges: timeInRanges(all), mean, cv: n === 0 ? Number.NaN : (100 * sd) / mean, gmi: 3.31 + 0.02392 * mean };
}
