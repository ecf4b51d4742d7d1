import type { EpisodeLog } from '../../engine/episode-log.js';
import { TwinlabError } from '../../engine/errors.js';
import type { EndpointDefinition } from '../../engine/twin.js';

/**
 * Glycaemic endpoints.
 *
 * CGM metrics of the international consensus: T. Battelino et al., "Clinical targets for continuous
 * glucose monitoring data interpretation: recommendations from the International Consensus on Time
 * in Range", Diabetes Care 42(8):1593–1603 (2019). Boundary conventions (mg/dL), chosen so the five
 * bands partition the line with 70 and 180 inside the target range:
 *   TIR   = % readings with 70 ≤ g ≤ 180          (both ends inclusive)
 *   TBR70 = % readings with g < 70                 (includes < 54; level 1 alone = TBR70 − TBR54)
 *   TBR54 = % readings with g < 54                 (54 itself counts as level 1, not level 2)
 *   TAR180 = % readings with g > 180               (includes > 250)
 *   TAR250 = % readings with g > 250               (250 itself is level 1)
 * Mean; SD is the sample standard deviation (n − 1); CV = 100·SD/mean (%);
 * GMI (%) = 3.31 + 0.02392·mean[mg/dL] (Bergenstal et al., Diabetes Care 41:2275–2280, 2018).
 *
 * Risk (B. P. Kovatchev et al., Diabetes Care 20:1655–1658, 1997 symmetrisation; LBGI/HBGI of
 * Kovatchev et al. 1998/2006): f(g) = 1.509·[(ln g)^1.084 − 5.381], risk = 10·f². rl = risk when f < 0
 * else 0, rh = risk when f > 0 else 0; LBGI = mean rl, HBGI = mean rh over **all** readings (simglucose
 * averages over the low/high readings only at horizon > 1; we keep the published definition).
 * g is clamped to [20, 600] mg/dL (where risk ≈ 100) and the risk capped at 100, so the risk lies in
 * [0, 100] (f = 0 at g ≈ 112.5 mg/dL).
 *
 * CVGA (L. Magni et al., "Evaluating the efficacy of closed-loop glucose regulation via
 * control-variability grid analysis", J. Diabetes Sci. Technol. 2(4):630–635, 2008): each patient is
 * one point (minimum g, maximum g) over the window. Axes: x = minimum g, from 110 (left) to 50
 * (right), breakpoints 90 and 70; y = maximum g, from 110 to 400, breakpoints 180 and 300; points
 * beyond the axes sit on the edge. Bands (our boundary convention): x: min ≥ 90 | 70 ≤ min < 90 |
 * min < 70; y: max ≤ 180 | 180 < max ≤ 300 | max > 300. Zones:
 *                    min ≥ 90    70–90      < 70
 *   max > 300        Upper C     Upper D    E
 *   180 < max ≤ 300  Upper B     B          Lower D
 *   max ≤ 180        A           Lower B    Lower C
 */
export const RANGE = { veryLow: 54, low: 70, high: 180, veryHigh: 250 } as const;

/** Kovatchev's symmetrised glucose scale f(g), g clamped to [20, 600] mg/dL. */
export function riskScale(g: number): number {
  const x = Math.min(600, Math.max(20, g));
  return 1.509 * (Math.log(x) ** 1.084 - 5.381);
}

/** Kovatchev risk of one glucose value, in [0, 100]. */
export function bgRisk(g: number): number {
  const f = riskScale(g);
  return Math.min(100, 10 * f * f);
}

/** Low-side risk rl(g) (0 above ≈112.5 mg/dL). */
export function lowRisk(g: number): number {
  const f = riskScale(g);
  return f < 0 ? Math.min(100, 10 * f * f) : 0;
}

/** High-side risk rh(g) (0 below ≈112.5 mg/dL). */
export function highRisk(g: number): number {
  const f = riskScale(g);
  return f > 0 ? Math.min(100, 10 * f * f) : 0;
}

function requireValues(values: ArrayLike<number>, what: string): void {
  if (values.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `${what}: needs at least one glucose value, got an empty series`);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (!(Number.isFinite(v) && v > 0)) throw new TwinlabError('INVALID_ARGUMENT', `${what}: glucose[${i}] = ${v} is not a positive finite number (mg/dL)`);
  }
}

function percent(values: ArrayLike<number>, test: (g: number) => boolean): number {
  let k = 0;
  for (let i = 0; i < values.length; i++) if (test(values[i] as number)) k++;
  return (100 * k) / values.length;
}

export function meanGlucose(values: ArrayLike<number>): number {
  requireValues(values, 'mean');
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] as number;
  return s / values.length;
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function sdGlucose(values: ArrayLike<number>): number {
  const m = meanGlucose(values);
  if (values.length < 2) return 0;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += ((values[i] as number) - m) ** 2;
  return Math.sqrt(s / (values.length - 1));
}

export function cvGlucose(values: ArrayLike<number>): number {
  return (100 * sdGlucose(values)) / meanGlucose(values);
}

export function gmi(values: ArrayLike<number>): number {
  return 3.31 + 0.02392 * meanGlucose(values);
}

export function timeInRange(values: ArrayLike<number>): number {
  requireValues(values, 'tir');
  return percent(values, (g) => g >= RANGE.low && g <= RANGE.high);
}
export function timeBelow70(values: ArrayLike<number>): number {
  requireValues(values, 'tbr70');
  return percent(values, (g) => g < RANGE.low);
}
export function timeBelow54(values: ArrayLike<number>): number {
  requireValues(values, 'tbr54');
  return percent(values, (g) => g < RANGE.veryLow);
}
export function timeAbove180(values: ArrayLike<number>): number {
  requireValues(values, 'tar180');
  return percent(values, (g) => g > RANGE.high);
}
export function timeAbove250(values: ArrayLike<number>): number {
  requireValues(values, 'tar250');
  return percent(values, (g) => g > RANGE.veryHigh);
}

export function lbgi(values: ArrayLike<number>): number {
  requireValues(values, 'lbgi');
  let s = 0;
  for (let i = 0; i < values.length; i++) s += lowRisk(values[i] as number);
  return s / values.length;
}
export function hbgi(values: ArrayLike<number>): number {
  requireValues(values, 'hbgi');
  let s = 0;
  for (let i = 0; i < values.length; i++) s += highRisk(values[i] as number);
  return s / values.length;
}

export const CVGA_ZONES = ['A', 'Lower B', 'Upper B', 'B', 'Lower C', 'Upper C', 'Lower D', 'Upper D', 'E'] as const;
export type CvgaZone = (typeof CVGA_ZONES)[number];

export interface CvgaPoint {
  min: number;
  max: number;
  zone: CvgaZone;
  /** Letter grade A=1 … E=5 (Upper/Lower B count as B). */
  grade: number;
}

/** CVGA zone of one patient's window (Magni et al. 2008; boundaries as documented above). */
export function cvga(values: ArrayLike<number>): CvgaPoint {
  requireValues(values, 'cvga');
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const col = min >= 90 ? 0 : min >= 70 ? 1 : 2;
  const row = max <= 180 ? 0 : max <= 300 ? 1 : 2;
  const grid: CvgaZone[][] = [
    ['A', 'Lower B', 'Lower C'],
    ['Upper B', 'B', 'Lower D'],
    ['Upper C', 'Upper D', 'E'],
  ];
  const zone = (grid[row] as CvgaZone[])[col] as CvgaZone;
  const grade = { A: 1, B: 2, C: 3, D: 4, E: 5 }[zone.slice(-1) as 'A' | 'B' | 'C' | 'D' | 'E'];
  return { min, max, zone, grade };
}

/**
 * The glucose series of an episode log: one value per decision step, read from each step's info
 * (`bg` = true plasma glucose, `cgm` = the sensor reading at the end of the step). The reset value
 * is not included, so a one-day episode at 5 min gives 288 readings, as a CGM day does.
 */
export function seriesFromLog(log: EpisodeLog, key: 'bg' | 'gsub' | 'cgm'): number[] {
  const out: number[] = [];
  for (const s of log.steps) {
    const v = s.info[key];
    if (typeof v === 'number') out.push(v);
  }
  if (out.length === 0) {
    const v = log.resetInfo[key];
    if (typeof v === 'number') out.push(v);
  }
  if (out.length === 0) throw new TwinlabError('INVALID_ARGUMENT', `episode log of ${log.envId} has no '${key}' values in its step infos`);
  return out;
}

function onBg(fn: (v: number[]) => number, key: 'bg' | 'cgm' = 'bg'): (log: EpisodeLog) => number {
  return (log) => fn(seriesFromLog(log, key));
}

/** Endpoints of the glucose twin, computed from an episode log (true plasma glucose unless "(CGM)"). */
export const GLUCOSE_ENDPOINTS: EndpointDefinition[] = [
  { id: 'tir', label: 'Time in range 70–180 mg/dL', unit: '%', kind: 'continuous', better: 'higher', compute: onBg(timeInRange) },
  { id: 'tbr70', label: 'Time below 70 mg/dL', unit: '%', kind: 'continuous', better: 'lower', safety: true, compute: onBg(timeBelow70) },
  { id: 'tbr54', label: 'Time below 54 mg/dL', unit: '%', kind: 'continuous', better: 'lower', safety: true, compute: onBg(timeBelow54) },
  {
    id: 'severe_hypo',
    label: 'Episode ended by severe hypoglycaemia',
    unit: '',
    kind: 'binary',
    better: 'lower',
    safety: true,
    compute: (log) => (log.steps.some((s) => s.info.termination === 'hypoglycaemia') ? 1 : 0),
  },
  { id: 'lbgi', label: 'Low blood glucose index', unit: '', kind: 'continuous', better: 'lower', safety: true, compute: onBg(lbgi) },
  { id: 'tar180', label: 'Time above 180 mg/dL', unit: '%', kind: 'continuous', better: 'lower', compute: onBg(timeAbove180) },
  { id: 'tar250', label: 'Time above 250 mg/dL', unit: '%', kind: 'continuous', better: 'lower', compute: onBg(timeAbove250) },
  { id: 'mean_bg', label: 'Mean glucose', unit: 'mg/dL', kind: 'continuous', better: 'none', compute: onBg(meanGlucose) },
  { id: 'sd_bg', label: 'Glucose SD', unit: 'mg/dL', kind: 'continuous', better: 'lower', compute: onBg(sdGlucose) },
  { id: 'cv', label: 'Coefficient of variation', unit: '%', kind: 'continuous', better: 'lower', compute: onBg(cvGlucose) },
  // GMI = 3.31 + 0.02392 × mean glucose (Bergenstal et al., Diabetes Care 41(11), 2018): a linear function of mean glucose, so, like it, no better direction of its own
  { id: 'gmi', label: 'Glucose management indicator', unit: '%', kind: 'continuous', better: 'none', compute: onBg(gmi) },
  { id: 'hbgi', label: 'High blood glucose index', unit: '', kind: 'continuous', better: 'lower', compute: onBg(hbgi) },
  { id: 'cvga_grade', label: 'CVGA zone (A=1 … E=5)', unit: '', kind: 'continuous', better: 'lower', compute: onBg((v) => cvga(v).grade) },
  { id: 'cvga_ab', label: 'CVGA zone A or B', unit: '', kind: 'binary', better: 'higher', compute: onBg((v) => (cvga(v).grade <= 2 ? 1 : 0)) },
  { id: 'tir_cgm', label: 'Time in range 70–180 mg/dL (CGM)', unit: '%', kind: 'continuous', better: 'higher', compute: onBg(timeInRange, 'cgm') },
  { id: 'tbr70_cgm', label: 'Time below 70 mg/dL (CGM)', unit: '%', kind: 'continuous', better: 'lower', safety: true, compute: onBg(timeBelow70, 'cgm') },
  { id: 'mean_cgm', label: 'Mean glucose (CGM)', unit: 'mg/dL', kind: 'continuous', better: 'none', compute: onBg(meanGlucose, 'cgm') },
  {
    id: 'total_insulin',
    label: 'Insulin delivered',
    unit: 'U',
    kind: 'continuous',
    better: 'none',
    compute: (log) => log.steps.reduce((s, step) => s + (typeof step.info.insulinU === 'number' ? step.info.insulinU : 0), 0),
  },
];
