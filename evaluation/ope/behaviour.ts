import { TwinlabError } from '../../engine/errors.js';
import type { OpeData, PolicyProbs, ProbabilityFunction, Trajectory } from './data.js';
import { FeatureMap, chooseModel, cholesky, choleskySolve } from './fqe.js';

/**
 * Estimating the logging (behaviour) policy when the logs do not carry π_b(a|s) — the usual case for
 * clinical records and for twinlab's own trial logs. Plugging the estimate into importance sampling is
 * not only a necessity: the maximum-likelihood estimate of π_b often lowers the variance of IS
 * (Hanna, Niekum & Stone 2019, "Importance sampling policy evaluation with an estimated behavior
 * policy"), at the price of a small bias on finite data.
 *
 * - `counts` (discrete observations): π̂_b(a|s) = n(s,a) / n(s), the maximum-likelihood estimate per state.
 * - `logistic` (continuous observations): multinomial logistic regression on φ(s) = [1, z(s)]
 *   (standardised observation), π̂_b(a|s) = exp(θ_aᵀφ) / Σ_b exp(θ_bᵀφ), fitted by Newton's method on
 *   the L2-penalised log-likelihood (penalty λ·n/2 · Σ‖θ_a‖², λ = `ridge`), from θ = 0 — deterministic.
 *   Probabilities are floored at 1e-6 so that no logged action gets an infinite weight.
 */
export type BehaviourModelKind = 'counts' | 'logistic';

export interface CalibrationBin {
  lo: number;
  hi: number;
  /** Number of (step, action) pairs whose predicted probability falls in the bin. */
  n: number;
  meanPredicted: number;
  observedFrequency: number;
}

export interface Calibration {
  bins: CalibrationBin[];
  /** Expected calibration error Σ_b (n_b/N)·|predicted_b − observed_b| (Naeini et al. 2015). */
  ece: number;
  /** How the predictions were made: 2-fold cross-fitting over trajectories (even / odd index). */
  method: string;
}

export interface BehaviourEstimate {
  kind: BehaviourModelKind;
  probs: PolicyProbs;
  /** π̂_b(· | o) at any observation (the fit on all trajectories). */
  predict: ProbabilityFunction;
  calibration: Calibration;
}

const FLOOR = 1e-6;

function obsKey(o: Float32Array): string {
  return o.join(',');
}

/** π̂_b by counts over the given trajectories; unseen observations get the marginal action frequencies. */
export function fitCounts(trajectories: Trajectory[], nA: number): ProbabilityFunction {
  const table = new Map<string, Float64Array>();
  const marginal = new Float64Array(nA);
  for (const tr of trajectories) {
    tr.actions.forEach((a, t) => {
      const key = obsKey(tr.observations[t] as Float32Array);
      let row = table.get(key);
      if (!row) {
        row = new Float64Array(nA);
        table.set(key, row);
      }
      row[a] = (row[a] as number) + 1;
      marginal[a] = (marginal[a] as number) + 1;
    });
  }
  const normalise = (row: Float64Array): Float64Array => {
    let s = 0;
    for (const c of row) s += c;
    return s > 0 ? row.map((c) => c / s) : new Float64Array(nA).fill(1 / nA);
  };
  const probs = new Map<string, Float64Array>();
  for (const [k, row] of table) probs.set(k, normalise(row));
  const fallback = normalise(marginal);
  return (o) => probs.get(obsKey(o)) ?? fallback;
}

/** Multinomial logistic regression of the logged action on φ(observation), Newton's method. */
export function fitLogistic(trajectories: Trajectory[], nA: number, ridge = 1e-3, maxIterations = 30): ProbabilityFunction {
  const obs: Float32Array[] = [];
  const acts: number[] = [];
  for (const tr of trajectories) {
    tr.actions.forEach((a, t) => {
      obs.push(tr.observations[t] as Float32Array);
      acts.push(a);
    });
  }
  if (obs.length === 0) throw new TwinlabError('INVALID_ARGUMENT', 'behaviour estimation: no logged steps');
  const fm = new FeatureMap(obs, false);
  const d = fm.size;
  const P = nA * d;
  if (P > 400) throw new TwinlabError('INVALID_ARGUMENT', `behaviour estimation: ${nA} actions × ${d} features is too many parameters for the Newton fit (max 400)`);
  const n = obs.length;
  const X = new Float64Array(n * d);
  obs.forEach((o, i) => fm.into(o, X, i * d));
  const theta = new Float64Array(P);
  const lambda = ridge * n;
  const p = new Float64Array(nA);
  const softmax = (i: number, th: Float64Array): void => {
    let max = -Infinity;
    for (let a = 0; a < nA; a++) {
      let z = 0;
      for (let j = 0; j < d; j++) z += (th[a * d + j] as number) * (X[i * d + j] as number);
      p[a] = z;
      if (z > max) max = z;
    }
    let s = 0;
    for (let a = 0; a < nA; a++) {
      p[a] = Math.exp((p[a] as number) - max);
      s += p[a] as number;
    }
    for (let a = 0; a < nA; a++) p[a] = (p[a] as number) / s;
  };
  for (let it = 0; it < maxIterations; it++) {
    const grad = new Float64Array(P);
    const hess = new Float64Array(P * P);
    for (let i = 0; i < n; i++) {
      softmax(i, theta);
      const y = acts[i] as number;
      for (let a = 0; a < nA; a++) {
        const ra = (p[a] as number) - (a === y ? 1 : 0);
        for (let j = 0; j < d; j++) grad[a * d + j] = (grad[a * d + j] as number) + ra * (X[i * d + j] as number);
        for (let b = 0; b <= a; b++) {
          const w = (a === b ? (p[a] as number) : 0) - (p[a] as number) * (p[b] as number);
          if (w === 0) continue;
          for (let j = 0; j < d; j++) {
            const wx = w * (X[i * d + j] as number);
            const row = (a * d + j) * P + b * d;
            for (let k = 0; k < d; k++) hess[row + k] = (hess[row + k] as number) + wx * (X[i * d + k] as number);
          }
        }
      }
    }
    // symmetric fill of the upper blocks, plus the penalty
    for (let r = 0; r < P; r++) {
      for (let c = r + 1; c < P; c++) hess[r * P + c] = hess[c * P + r] as number;
      hess[r * P + r] = (hess[r * P + r] as number) + lambda;
      grad[r] = (grad[r] as number) + lambda * (theta[r] as number);
    }
    const step = choleskySolve(cholesky(hess, P), P, grad);
    let norm = 0;
    for (let r = 0; r < P; r++) {
      theta[r] = (theta[r] as number) - (step[r] as number);
      norm = Math.max(norm, Math.abs(step[r] as number));
    }
    if (norm < 1e-8) break;
  }
  const phi = new Float64Array(d);
  return (o) => {
    fm.into(o, phi);
    const out = new Float64Array(nA);
    let max = -Infinity;
    for (let a = 0; a < nA; a++) {
      let z = 0;
      for (let j = 0; j < d; j++) z += (theta[a * d + j] as number) * (phi[j] as number);
      out[a] = z;
      if (z > max) max = z;
    }
    let s = 0;
    for (let a = 0; a < nA; a++) {
      out[a] = Math.exp((out[a] as number) - max);
      s += out[a] as number;
    }
    let s2 = 0;
    for (let a = 0; a < nA; a++) {
      out[a] = Math.max(FLOOR, (out[a] as number) / s);
      s2 += out[a] as number;
    }
    for (let a = 0; a < nA; a++) out[a] = (out[a] as number) / s2;
    return out;
  };
}

function fitBehaviourModel(kind: BehaviourModelKind, trajectories: Trajectory[], nA: number, ridge: number): ProbabilityFunction {
  return kind === 'counts' ? fitCounts(trajectories, nA) : fitLogistic(trajectories, nA, ridge);
}

/**
 * Reliability of predicted action probabilities (DeGroot & Fienberg 1983): every (logged step, action)
 * pair is a prediction p̂(a|s_t) of the event a = a_t; pairs are put in `nBins` equal-width bins of p̂
 * and each bin's mean prediction is compared with the observed frequency of the event.
 */
export function reliability(predicted: number[], happened: boolean[], nBins = 10, method = 'in-sample'): Calibration {
  const sumP = new Float64Array(nBins);
  const sumY = new Float64Array(nBins);
  const cnt = new Float64Array(nBins);
  predicted.forEach((q, k) => {
    const b = Math.min(nBins - 1, Math.floor(q * nBins));
    sumP[b] = (sumP[b] as number) + q;
    sumY[b] = (sumY[b] as number) + (happened[k] ? 1 : 0);
    cnt[b] = (cnt[b] as number) + 1;
  });
  const N = predicted.length;
  let ece = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < nBins; b++) {
    const n = cnt[b] as number;
    if (n === 0) continue;
    const mp = (sumP[b] as number) / n;
    const of = (sumY[b] as number) / n;
    ece += (n / N) * Math.abs(mp - of);
    bins.push({ lo: b / nBins, hi: (b + 1) / nBins, n, meanPredicted: mp, observedFrequency: of });
  }
  return { bins, ece, method };
}

export interface BehaviourOptions {
  model?: BehaviourModelKind | 'auto';
  /** Ridge factor of the logistic model (default 1e-3). */
  ridge?: number;
}

/**
 * π̂_b along the logged data (fitted on all trajectories) and its calibration from 2-fold cross-fitting
 * (fit on the even-indexed trajectories, predict the odd ones and vice versa), so that the count model
 * is not trivially calibrated in-sample.
 */
export function estimateBehaviour(data: OpeData, options: BehaviourOptions = {}): BehaviourEstimate {
  const kind: BehaviourModelKind = options.model === undefined || options.model === 'auto' ? (chooseModel(data) === 'tabular' ? 'counts' : 'logistic') : options.model;
  const nA = data.nActions;
  const ridge = options.ridge ?? 1e-3;
  const pi = fitBehaviourModel(kind, data.trajectories, nA, ridge);
  const probs = data.trajectories.map((tr) => {
    const out = new Float64Array(tr.observations.length * nA);
    tr.observations.forEach((o, t) => out.set(pi(o), t * nA));
    return out;
  });
  const even = data.trajectories.filter((_, i) => i % 2 === 0);
  const odd = data.trajectories.filter((_, i) => i % 2 === 1);
  const predicted: number[] = [];
  const happened: boolean[] = [];
  for (const [train, test] of [
    [even, odd],
    [odd, even],
  ] as const) {
    if (train.length === 0) continue;
    const f = fitBehaviourModel(kind, train, nA, ridge);
    for (const tr of test) {
      tr.actions.forEach((a, t) => {
        const q = f(tr.observations[t] as Float32Array);
        for (let b = 0; b < nA; b++) {
          predicted.push(q[b] as number);
          happened.push(b === a);
        }
      });
    }
  }
  return { kind, probs, predict: pi, calibration: reliability(predicted, happened, 10, '2-fold cross-fitted over trajectories (even/odd index)') };
}
