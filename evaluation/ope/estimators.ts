import { TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import { type OpeData, type PolicyProbs, horizonOf, takenProbs } from './data.js';
import { quantileSorted } from '../../engine/distributions.js';

/**
 * Importance-sampling estimators of the value of a target policy π_e from trajectories of a behaviour
 * policy π_b (Precup, Sutton & Singh 2000; Thomas 2015 ch. 3; Jiang & Li 2016; Thomas & Brunskill 2016).
 * Notation: trajectory i of length T_i, per-step ratio ρ_{i,t} = π_e(a_t|h_t) / π_b(a_t|h_t), cumulative
 * ratio w_{i,t} = Π_{k≤t} ρ_{i,k} (carried forward unchanged after the episode ended, where rewards are
 * 0), w_{i,−1} = 1, and G_i = Σ_t γ^t r_{i,t}.
 *
 * Every estimator is a function of a multiset of trajectory indices, so that the percentile bootstrap
 * (`bootstrap`) resamples trajectories (the independent units) and recomputes the same statistic.
 */
export interface IsTable {
  n: number;
  H: number;
  gamma: number;
  /** w[i·H + t], carried forward after T_i. */
  w: Float64Array;
  /** r[i·H + t] (0 after T_i). */
  r: Float64Array;
  /** G_i = Σ_t γ^t r_{i,t}. */
  G: Float64Array;
  /** w_{i,T_i−1}: the whole-trajectory weight. */
  wEnd: Float64Array;
  /** Q̂(s_t, a_t) and V̂(s_t) = Σ_a π_e(a|s_t) Q̂(s_t, a) along the data (0 after T_i); present for DR. */
  q?: Float64Array;
  v?: Float64Array;
}

/**
 * `qAlong[i][t·nA + a]` = Q̂ of the target policy at the t-th logged observation of trajectory i (with
 * H − t steps to go, see fqe.ts); used by the doubly robust estimators.
 */
export type QAlongData = Float64Array[];

export function buildIsTable(data: OpeData, piE: PolicyProbs, piBTaken: Float64Array[], qAlong?: QAlongData): IsTable {
  const n = data.trajectories.length;
  const H = horizonOf(data);
  const nA = data.nActions;
  const eTaken = takenProbs(data, piE);
  const w = new Float64Array(n * H);
  const r = new Float64Array(n * H);
  const q = qAlong ? new Float64Array(n * H) : undefined;
  const v = qAlong ? new Float64Array(n * H) : undefined;
  data.trajectories.forEach((tr, i) => {
    const pe = eTaken[i] as Float64Array;
    const pb = piBTaken[i] as Float64Array;
    const T = tr.actions.length;
    let cum = 1;
    for (let t = 0; t < H; t++) {
      if (t < T) {
        const b = pb[t] as number;
        if (!(b > 0)) throw new TwinlabError('INVALID_ARGUMENT', `OPE: behaviour probability of trajectory ${i} step ${t} is ${b}; importance sampling needs π_b(a|s) > 0 for every logged action`);
        cum *= (pe[t] as number) / b;
        r[i * H + t] = tr.rewards[t] as number;
        if (q && v && qAlong) {
          const Q = qAlong[i] as Float64Array;
          const E = piE[i] as Float64Array;
          const a = tr.actions[t] as number;
          q[i * H + t] = Q[t * nA + a] as number;
          let vs = 0;
          for (let b2 = 0; b2 < nA; b2++) vs += (E[t * nA + b2] as number) * (Q[t * nA + b2] as number);
          v[i * H + t] = vs;
        }
      }
      w[i * H + t] = cum;
    }
  });
  const G = new Float64Array(n);
  const wEnd = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let g = 0;
    let d = 1;
    for (let t = 0; t < H; t++) {
      g += d * (r[i * H + t] as number);
      d *= data.gamma;
    }
    G[i] = g;
    wEnd[i] = w[i * H + H - 1] as number;
  }
  return { n, H, gamma: data.gamma, w, r, G, wEnd, q, v };
}

/** All trajectories once: the index multiset of the point estimate. */
export function allIndices(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/**
 * Trajectory-wise (ordinary) importance sampling (Precup et al. 2000):
 *   V̂_IS = (1/n) Σ_i w_{i,T_i−1} · G_i.
 * Unbiased when π_b(a|h) > 0 wherever π_e(a|h) > 0 and π_b is the true logging policy; its variance
 * grows exponentially with the horizon.
 */
export function importanceSampling(table: IsTable, idx: Int32Array): number {
  const { wEnd, G } = table;
  let s = 0;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k] as number;
    s += (wEnd[i] as number) * (G[i] as number);
  }
  return s / idx.length;
}

/**
 * Weighted (self-normalised) importance sampling (Precup et al. 2000; Mahmood et al. 2014):
 *   V̂_WIS = Σ_i w_i G_i / Σ_i w_i,   w_i = w_{i,T_i−1}.
 * Biased for finite n (it is a ratio) but consistent, and bounded by the observed returns; NaN when
 * every weight is 0 (no trajectory agrees with π_e).
 */
export function weightedImportanceSampling(table: IsTable, idx: Int32Array): number {
  const { wEnd, G } = table;
  let num = 0;
  let den = 0;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k] as number;
    const wi = wEnd[i] as number;
    num += wi * (G[i] as number);
    den += wi;
  }
  return den > 0 ? num / den : Number.NaN;
}

/**
 * Per-decision weighted importance sampling (Precup et al. 2000; Thomas 2015 §3.10): the reward at t
 * depends only on the actions up to t, so it is weighted by w_{i,t} normalised across trajectories
 * at the same t:
 *   V̂_PDWIS = Σ_t γ^t Σ_i w_{i,t} r_{i,t} / Σ_i w_{i,t}.
 */
export function perDecisionWis(table: IsTable, idx: Int32Array): number {
  const { H, gamma, w, r } = table;
  const num = new Float64Array(H);
  const den = new Float64Array(H);
  for (let k = 0; k < idx.length; k++) {
    const base = (idx[k] as number) * H;
    for (let t = 0; t < H; t++) {
      const wi = w[base + t] as number;
      num[t] += wi * (r[base + t] as number);
      den[t] += wi;
    }
  }
  let v = 0;
  let d = 1;
  for (let t = 0; t < H; t++) {
    if (!((den[t] as number) > 0)) return Number.NaN;
    v += (d * (num[t] as number)) / (den[t] as number);
    d *= gamma;
  }
  return v;
}

/**
 * Doubly robust estimators with a model Q̂ of the target's action value (Jiang & Li 2016, eq. 8 in its
 * per-trajectory recursive form unrolled; Thomas & Brunskill 2016, eq. 8 for the weighted form):
 *   V̂_DR = Σ_i Σ_t γ^t [ ω_{i,t} (r_{i,t} − Q̂(s_{i,t}, a_{i,t})) + ω_{i,t−1} V̂(s_{i,t}) ],
 * V̂(s) = Σ_a π_e(a|s) Q̂(s, a). Plain DR: ω_{i,t} = w_{i,t}/n (ω_{i,−1} = 1/n); weighted DR (WDR):
 * ω_{i,t} = w_{i,t} / Σ_j w_{j,t}. The model's error is corrected by the importance-weighted residual:
 * unbiased (plain DR) whatever Q̂ is, and with Q̂ = Q^π and deterministic transitions and rewards every
 * term r_t + V̂(s_{t+1}) − Q̂(s_t, a_t) vanishes, so each trajectory contributes exactly V^π(s_0).
 */
export function doublyRobust(table: IsTable, idx: Int32Array, weighted: boolean): number {
  const { H, gamma, w, r, q, v } = table;
  if (!q || !v) throw new TwinlabError('INVALID_ARGUMENT', 'doubly robust estimation needs a Q model (qAlong) in the table');
  const n = idx.length;
  // normalisers Σ_j w_{j,t} (weighted) or n (plain); a zero normaliser drops that step's correction term
  const den = new Float64Array(H).fill(n);
  if (weighted) {
    den.fill(0);
    for (let k = 0; k < n; k++) {
      const base = (idx[k] as number) * H;
      for (let t = 0; t < H; t++) den[t] += w[base + t] as number;
    }
  }
  const scale = new Float64Array(H);
  const prevScale = new Float64Array(H);
  let d = 1;
  for (let t = 0; t < H; t++) {
    scale[t] = (den[t] as number) > 0 ? d / (den[t] as number) : 0;
    prevScale[t] = t === 0 ? 1 / n : (den[t - 1] as number) > 0 ? d / (den[t - 1] as number) : 0;
    d *= gamma;
  }
  let total = 0;
  for (let k = 0; k < n; k++) {
    const base = (idx[k] as number) * H;
    for (let t = 0; t < H; t++) {
      const j = base + t;
      const wPrev = t === 0 ? 1 : (w[j - 1] as number);
      total += (scale[t] as number) * (w[j] as number) * ((r[j] as number) - (q[j] as number)) + (prevScale[t] as number) * wPrev * (v[j] as number);
    }
  }
  return total;
}

/**
 * Kish's effective sample size of the normalised trajectory weights (Kish 1965; Owen 2013 §9.3):
 *   ESS = (Σ_i w_i)² / Σ_i w_i²,  between 1 (one trajectory carries all the weight) and n (equal
 * weights). An IS-family estimate resting on an ESS of a few trajectories should not be trusted.
 */
export function effectiveSampleSize(table: IsTable, idx: Int32Array = allIndices(table.n)): number {
  // scaled by the largest weight first: the ratio is scale-free and the squares then cannot overflow
  let max = 0;
  for (let k = 0; k < idx.length; k++) max = Math.max(max, table.wEnd[idx[k] as number] as number);
  if (!(max > 0)) return 0;
  if (!Number.isFinite(max)) return 1;
  let s = 0;
  let s2 = 0;
  for (let k = 0; k < idx.length; k++) {
    const wi = (table.wEnd[idx[k] as number] as number) / max;
    s += wi;
    s2 += wi * wi;
  }
  return (s * s) / s2;
}

export interface Interval {
  lo: number;
  hi: number;
}

/**
 * Percentile bootstrap over trajectories (Efron & Tibshirani 1993, ch. 13): B resamples of n indices
 * with replacement from `rng`, the statistic recomputed on each, and the (α/2, 1 − α/2) quantiles of
 * the finite replicates (type-7 interpolation). Replicates that are NaN (e.g. WIS with all weights 0)
 * are dropped; `valid` says how many remained.
 */
export function bootstrap(n: number, statistic: (idx: Int32Array) => number, rng: Rng, B: number, alpha = 0.05): Interval & { valid: number } {
  if (!Number.isInteger(B) || B < 2) throw new TwinlabError('INVALID_ARGUMENT', `bootstrap: B must be an integer ≥ 2, got ${B}`);
  const values: number[] = [];
  const idx = new Int32Array(n);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < n; k++) idx[k] = Math.floor(rng.next() * n);
    const v = statistic(idx);
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return { lo: Number.NaN, hi: Number.NaN, valid: 0 };
  values.sort((a, b) => a - b);
  return { lo: quantileSorted(values, alpha / 2), hi: quantileSorted(values, 1 - alpha / 2), valid: values.length };
}

