/**
 * Run comparison curves, shared by the viewer (live and after reload) and the tests and benches: pure
 * functions of the full stored series, no Node imports.
 *
 * The drawn curve of a run is `drawnCurve(steps, values, ema, maxPoints)`: the exponential moving
 * average (TensorBoard's debiased form) is computed over **every** stored point in (step, seq) order,
 * and only then, if the series is longer than `maxPoints`, it is thinned by index buckets (the
 * smoothed value at each bucket's last point, with the raw min/max of the bucket). The same points
 * in give the same curve out, whether they arrived over the socket or were read back from the store.
 *
 * Groups (runs sharing a config value, e.g. seeds of one sweep point) are summarised on a common grid
 * of steps: at each grid step a run contributes its last smoothed value at or before that step, but
 * only once it has reached it (first step ≤ grid step ≤ last step). At the leading edge the mean and
 * band are therefore over the seeds that got there; `n` says how many, and `complete` whether all did.
 */

export interface CurvePoint {
  step: number;
  /** EMA-smoothed value at this stored point. */
  value: number;
  /** Raw value range of the stored points this drawn point stands for. */
  min: number;
  max: number;
}

/**
 * TensorBoard's debiased exponential moving average: s_t = w·s_{t−1} + (1 − w)·x_t from s_0 = 0,
 * divided by 1 − w^t, so the first point equals the first value. w = 0 is no smoothing. Non-finite
 * values are skipped (they keep the previous smoothed value).
 */
export function emaSmooth(values: ArrayLike<number>, weight: number): Float64Array {
  if (!(weight >= 0 && weight < 1)) throw new RangeError(`ema weight must be in [0, 1), got ${weight}`);
  const out = new Float64Array(values.length);
  let last = 0;
  // w^t as a running product (Math.pow per point was ≈ 40 % of the run comparison's client time on
  // 2·10^6 points); once 1 − w^t rounds to 1 the division is skipped
  let power = 1;
  let prev = Number.NaN;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      last = last * weight + (1 - weight) * v;
      if (weight === 0) prev = v;
      else if (power === 0) prev = last;
      else {
        power *= weight;
        const debias = 1 - power;
        if (debias === 1) power = 0;
        prev = last / debias;
      }
    }
    out[i] = prev;
  }
  return out;
}

/** Thins a smoothed series to at most `maxPoints` (+1 for the first point) by equal index buckets. */
export function thin(steps: ArrayLike<number>, smoothed: ArrayLike<number>, raw: ArrayLike<number>, maxPoints: number): CurvePoint[] {
  const n = steps.length;
  const out: CurvePoint[] = [];
  if (n === 0) return out;
  if (n <= maxPoints) {
    for (let i = 0; i < n; i++) out.push({ step: steps[i] as number, value: smoothed[i] as number, min: raw[i] as number, max: raw[i] as number });
    return out;
  }
  out.push({ step: steps[0] as number, value: smoothed[0] as number, min: raw[0] as number, max: raw[0] as number });
  for (let b = 0; b < maxPoints; b++) {
    const lo = Math.max(1, Math.floor((b * n) / maxPoints));
    const hi = Math.floor(((b + 1) * n) / maxPoints); // exclusive
    if (hi <= lo) continue;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = lo; i < hi; i++) {
      const v = raw[i] as number;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    out.push({ step: steps[hi - 1] as number, value: smoothed[hi - 1] as number, min, max });
  }
  return out;
}

/** The curve a run is drawn with: EMA over the full series, then thinned to ≤ maxPoints (+1). */
export function drawnCurve(steps: ArrayLike<number>, values: ArrayLike<number>, ema: number, maxPoints = 1000): CurvePoint[] {
  return thin(steps, emaSmooth(values, ema), values, maxPoints);
}

export interface GroupPoint {
  group: string;
  step: number;
  mean: number;
  sd: number;
  lo: number;
  hi: number;
  /** Runs that have reached this step. */
  n: number;
  /** Every run of the group has reached this step. */
  complete: boolean;
}

function lastAtOrBefore(steps: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = steps.length - 1;
  if ((steps[hi] as number) <= x) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((steps[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Mean ± sd (sample sd, n − 1; 0 for one run) of each group's smoothed runs on a grid of `points`
 * equally spaced steps over the group's [first step of any run, last step of any run].
 */
export function groupBands(runs: readonly { group: string; steps: ArrayLike<number>; smoothed: ArrayLike<number> }[], points = 200): GroupPoint[] {
  const groups = new Map<string, { steps: ArrayLike<number>; smoothed: ArrayLike<number> }[]>();
  for (const r of runs) {
    if (r.steps.length === 0) continue;
    const list = groups.get(r.group);
    if (list) list.push(r);
    else groups.set(r.group, [r]);
  }
  const out: GroupPoint[] = [];
  for (const [group, list] of groups) {
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    for (const r of list) {
      start = Math.min(start, r.steps[0] as number);
      end = Math.max(end, r.steps[r.steps.length - 1] as number);
    }
    const k = end > start ? points : 1;
    for (let j = 0; j < k; j++) {
      const step = k === 1 ? start : start + ((end - start) * j) / (k - 1);
      const ys: number[] = [];
      for (const r of list) {
        const first = r.steps[0] as number;
        const last = r.steps[r.steps.length - 1] as number;
        if (step < first || step > last) continue;
        const y = r.smoothed[lastAtOrBefore(r.steps, step)] as number;
        if (Number.isFinite(y)) ys.push(y);
      }
      if (ys.length === 0) continue;
      const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
      const sd = ys.length > 1 ? Math.sqrt(ys.reduce((a, b) => a + (b - mean) ** 2, 0) / (ys.length - 1)) : 0;
      out.push({ group, step, mean, sd, lo: mean - sd, hi: mean + sd, n: ys.length, complete: ys.length === list.length });
    }
  }
  return out;
}

// ---- configs -------------------------------------------------------------------------------------

/** Flattens a config to dotted keys → scalar (arrays as JSON text); nested plain objects recurse. */
export function flattenConfig(
  value: unknown,
  prefix = '',
  out: Record<string, string | number | boolean | null> = {},
): Record<string, string | number | boolean | null> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const key of Object.keys(value as object).sort()) flattenConfig((value as Record<string, unknown>)[key], prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out[prefix] = Array.isArray(value) ? JSON.stringify(value) : value === undefined ? null : (value as string | number | boolean | null);
  }
  return out;
}

/** Keys whose value is not the same in every config (a key missing from some configs differs), sorted. */
export function differingKeys(configs: readonly Record<string, unknown>[]): string[] {
  const keys = new Set<string>();
  for (const c of configs) for (const k of Object.keys(c)) keys.add(k);
  const out: string[] = [];
  for (const k of keys) {
    const first = JSON.stringify(configs[0]?.[k] ?? null);
    if (configs.some((c) => JSON.stringify(c[k] ?? null) !== first)) out.push(k);
  }
  return out.sort();
}

/** `key=value` of the given keys, the key shortened to its last dotted segment when that is unambiguous. */
export function configLabel(config: Record<string, unknown>, keys: readonly string[]): string {
  const short = (k: string) => {
    const tail = k.split('.').pop() ?? k;
    return keys.filter((o) => (o.split('.').pop() ?? o) === tail).length > 1 ? k : tail;
  };
  return keys.map((k) => `${short(k)}=${formatValue(config[k])}`).join(' · ');
}

export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
  return String(v);
}

/**
 * The value of metric `name` in an event's data, named as the store names its metric rows
 * (experiments/store.ts metricRowsForEvent: `<prefix>.<dotted field>`), or undefined.
 */
export const METRIC_PREFIX: Readonly<Record<string, string>> = { 'train.metrics': 'train', 'episode.ended': 'episode', 'eval.completed': 'eval' };

export function eventMetric(event: { type: string; data: unknown }, name: string): number | undefined {
  const prefix = METRIC_PREFIX[event.type];
  if (prefix === undefined || !name.startsWith(`${prefix}.`)) return undefined;
  let v: unknown = event.data;
  for (const part of name.slice(prefix.length + 1).split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}
