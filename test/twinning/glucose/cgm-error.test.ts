import { describe, expect, it } from 'vitest';
import { Rng } from '../../../engine/random.js';
import {
  type CgmErrorParams,
  cgmErrorLogLik,
  ERROR_STATE_DIM,
  errorPredictive,
  errorStateObserve,
  errorStatePredict,
  errorStateReset,
  InnovationWhitener,
  type MealErrorInputs,
} from '../../../twinning/glucose/cgm-error.js';

const PARAMS: CgmErrorParams = { sensorSd: 9, sensorPhi: 0.75, modelSd: 18, modelPhi: 0.96 };

/** Cov(e_i, e_j) of the two-component model at slots i, j. */
function cov(p: CgmErrorParams, i: number, j: number): number {
  const lag = Math.abs(i - j);
  return p.sensorSd ** 2 * p.sensorPhi ** lag + p.modelSd ** 2 * p.modelPhi ** lag;
}

/** Cholesky factor (lower, row-major) of a symmetric positive-definite matrix. */
function cholesky(a: number[][]): number[][] {
  const n = a.length;
  const l = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i]![j]!;
      for (let k = 0; k < j; k++) s -= l[i]![k]! * l[j]![k]!;
      l[i]![j] = i === j ? Math.sqrt(s) : s / l[j]![j]!;
    }
  }
  return l;
}

/** Dense multivariate-normal log density of e at the given slots: the analytic reference. */
function denseLogLik(e: number[], slots: number[], p: CgmErrorParams): number {
  const n = slots.length;
  const l = cholesky(slots.map((i) => slots.map((j) => cov(p, i, j))));
  const z = new Array<number>(n).fill(0);
  let logDet = 0;
  for (let i = 0; i < n; i++) {
    let s = e[i]!;
    for (let k = 0; k < i; k++) s -= l[i]![k]! * z[k]!;
    z[i] = s / l[i]![i]!;
    logDet += Math.log(l[i]![i]!);
  }
  return -0.5 * n * Math.log(2 * Math.PI) - logDet - 0.5 * z.reduce((s, v) => s + v * v, 0);
}

/** 40 slots with readings missing at a few places (gaps of 1, 3 and 7 slots). */
function sample(seed: number): { y: Float64Array; m: Float64Array; include: Uint8Array; slots: number[]; e: number[] } {
  const n = 40;
  const rng = Rng.fromSeed(seed);
  const include = new Uint8Array(n).fill(1);
  for (const k of [5, 12, 13, 14, 25, 26, 27, 28, 29, 30, 31]) include[k] = 0;
  const y = new Float64Array(n);
  const m = new Float64Array(n);
  const slots: number[] = [];
  const e: number[] = [];
  for (let k = 0; k < n; k++) {
    m[k] = 120 + 30 * Math.sin(k / 6);
    y[k] = (m[k] as number) + 15 * rng.normal();
    if (include[k] === 1) {
      slots.push(k);
      e.push((y[k] as number) - (m[k] as number));
    }
  }
  return { y, m, include, slots, e };
}

describe('two-component CGM error model (Kalman likelihood)', () => {
  it('equals the dense multivariate-normal log density, with missing readings, to 1e-9', () => {
    for (const seed of [1, 2, 3]) {
      const s = sample(seed);
      const kalman = cgmErrorLogLik(s.y, s.m, s.include, PARAMS);
      expect(Math.abs(kalman - denseLogLik(s.e, s.slots, PARAMS))).toBeLessThan(1e-9);
    }
  });

  it('reduces to the single AR(1) likelihood as the discrepancy SD goes to 0', () => {
    const s = sample(4);
    const ar1 = { ...PARAMS, modelSd: 1e-9 };
    let ref = 0;
    let prev = -1;
    for (let u = 0; u < s.slots.length; u++) {
      const k = s.slots[u]!;
      const a = prev < 0 ? 0 : PARAMS.sensorPhi ** (k - prev);
      const v = PARAMS.sensorSd ** 2 * (1 - a * a);
      const r = s.e[u]! - (prev < 0 ? 0 : a * s.e[u - 1]!);
      ref -= 0.5 * (Math.log(2 * Math.PI * v) + (r * r) / v);
      prev = k;
    }
    expect(Math.abs(cgmErrorLogLik(s.y, s.m, s.include, ar1) - ref)).toBeLessThan(1e-6);
  });

  it('the innovation whitener gives the same likelihood: −½Σw² − Σ½log S − (n/2)log 2π', () => {
    const s = sample(5);
    const w = new InnovationWhitener(Int32Array.from(s.slots), PARAMS);
    const e = new Float64Array(s.y.length);
    for (let k = 0; k < e.length; k++) e[k] = (s.y[k] as number) - (s.m[k] as number);
    const out = new Float64Array(s.slots.length);
    w.whiten(e, out);
    const ll = -0.5 * out.reduce((a, v) => a + v * v, 0) - w.logDetHalf - 0.5 * s.slots.length * Math.log(2 * Math.PI);
    expect(Math.abs(ll - cgmErrorLogLik(s.y, s.m, s.include, PARAMS))).toBeLessThan(1e-9);
  });

  it('predicts the error Δ slots ahead with the exact conditional mean and variance', () => {
    const s = sample(6);
    const st = new Float64Array(ERROR_STATE_DIM);
    errorStateReset(st, 0, PARAMS);
    let prev = -1;
    for (let u = 0; u < s.slots.length; u++) {
      if (prev >= 0) errorStatePredict(st, 0, PARAMS, s.slots[u]! - prev);
      errorStateObserve(st, 0, s.e[u]!);
      prev = s.slots[u]!;
    }
    const out = new Float64Array(2);
    for (const gap of [1, 6, 24]) {
      errorPredictive(st, 0, PARAMS, gap, out);
      // conditional normal: Σ21 Σ11⁻¹ e, Σ22 − Σ21 Σ11⁻¹ Σ12, solved through the Cholesky factor
      const target = prev + gap;
      const l = cholesky(s.slots.map((i) => s.slots.map((j) => cov(PARAMS, i, j))));
      const solve = (b: number[]): number[] => {
        const n = b.length;
        const z = new Array<number>(n).fill(0);
        for (let i = 0; i < n; i++) {
          let v = b[i]!;
          for (let k = 0; k < i; k++) v -= l[i]![k]! * z[k]!;
          z[i] = v / l[i]![i]!;
        }
        return z;
      };
      const c = s.slots.map((j) => cov(PARAMS, target, j));
      const zc = solve(c);
      const ze = solve(s.e);
      const mean = zc.reduce((a, v, i) => a + v * ze[i]!, 0);
      const variance = cov(PARAMS, target, target) - zc.reduce((a, v) => a + v * v, 0);
      expect(Math.abs((out[0] as number) - mean)).toBeLessThan(1e-8);
      expect(Math.abs((out[1] as number) - variance)).toBeLessThan(1e-7);
    }
  });
});

/**
 * Meals at slots 3, 17 and 33 of the 40-slot sample (the second one's absorption overlapping the
 * third's would-be window), each absorbed over a few slots.
 */
const MEALS: MealErrorInputs = (() => {
  const n = 40;
  const influx = new Float64Array(n);
  const start = new Uint8Array(n);
  for (const [at, size] of [
    [3, 30],
    [17, 45],
    [33, 20],
  ] as const) {
    start[at] = 1;
    for (let j = 0; j < 8 && at + j < n; j++) influx[at + j] = size * Math.exp(-0.5 * j);
  }
  return { influx, start, carbCountSd: 0.2, excessPhi: 0.97 };
})();

/**
 * Cov(e_i, e_j) with the carb-counting component: c_k = Σ_m ε_m·h_m(k), where h_m(k) is meal m's
 * excess at slot k per unit error — Σ φ_c^{k−1−i}·g_i over the slots i < k from m's start up to the
 * next meal's start (the slots whose appearance ε_m scales) — so Cov(c_i, c_j) = σ_c² Σ_m h_m(i)·h_m(j).
 */
function covWithMeals(p: CgmErrorParams, meals: MealErrorInputs, i: number, j: number): number {
  const starts: number[] = [];
  for (let k = 0; k < meals.start.length; k++) if (meals.start[k] === 1) starts.push(k);
  const h = (m: number, k: number): number => {
    const from = starts[m] as number;
    const to = m + 1 < starts.length ? (starts[m + 1] as number) : meals.start.length;
    let v = 0;
    for (let t = from; t < Math.min(to, k); t++) v += meals.excessPhi ** (k - 1 - t) * (meals.influx[t] as number);
    return v;
  };
  let c = 0;
  for (let m = 0; m < starts.length; m++) c += h(m, i) * h(m, j);
  return cov(p, i, j) + meals.carbCountSd ** 2 * c;
}

function denseLogLikWithMeals(e: number[], slots: number[], p: CgmErrorParams, meals: MealErrorInputs): number {
  const n = slots.length;
  const l = cholesky(slots.map((i) => slots.map((j) => covWithMeals(p, meals, i, j))));
  let logDet = 0;
  const z = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = e[i]!;
    for (let k = 0; k < i; k++) s -= l[i]![k]! * z[k]!;
    z[i] = s / l[i]![i]!;
    logDet += Math.log(l[i]![i]!);
  }
  return -0.5 * n * Math.log(2 * Math.PI) - logDet - 0.5 * z.reduce((s, v) => s + v * v, 0);
}

describe('the carb-counting component (one fractional error per logged meal)', () => {
  it('the Kalman likelihood equals the dense multivariate-normal density of s + d + c, with gaps, to 1e-9', () => {
    for (const seed of [7, 8, 9]) {
      const s = sample(seed);
      const kalman = cgmErrorLogLik(s.y, s.m, s.include, PARAMS, undefined, MEALS);
      expect(Math.abs(kalman - denseLogLikWithMeals(s.e, s.slots, PARAMS, MEALS))).toBeLessThan(1e-9);
      // and the component matters: without it the density differs
      expect(Math.abs(kalman - cgmErrorLogLik(s.y, s.m, s.include, PARAMS))).toBeGreaterThan(0.1);
    }
  });

  it('the innovation whitener with meals gives the same likelihood', () => {
    const s = sample(10);
    const w = new InnovationWhitener(Int32Array.from(s.slots), PARAMS, MEALS);
    const e = new Float64Array(s.y.length);
    for (let k = 0; k < e.length; k++) e[k] = (s.y[k] as number) - (s.m[k] as number);
    const out = new Float64Array(s.slots.length);
    w.whiten(e, out);
    const ll = -0.5 * out.reduce((a, v) => a + v * v, 0) - w.logDetHalf - 0.5 * s.slots.length * Math.log(2 * Math.PI);
    expect(Math.abs(ll - cgmErrorLogLik(s.y, s.m, s.include, PARAMS, undefined, MEALS))).toBeLessThan(1e-9);
  });

  it('σ_c = 0 is the two-component model exactly', () => {
    const s = sample(11);
    const off = { ...MEALS, carbCountSd: 0 };
    expect(cgmErrorLogLik(s.y, s.m, s.include, PARAMS, undefined, off)).toBe(cgmErrorLogLik(s.y, s.m, s.include, PARAMS));
  });
});

