import { TwinlabError } from '../../engine/errors.js';
import { type OpeData, type PolicyProbs, horizonOf } from './data.js';
import type { QAlongData } from './estimators.js';

/**
 * Fitted-Q evaluation (FQE; Le, Voloshin & Yue 2019, Algorithm 3; Ernst et al. 2005 for fitted-Q):
 * regress the Bellman target of the *target* policy on the logged transitions, repeatedly,
 *   Q^{(0)} = 0,
 *   Q^{(k)} = argmin_f Σ_{(s,a,r,s′)} ( f(s,a) − [ r + γ·(1 − done)·Σ_{a′} π_e(a′|s′) Q^{(k−1)}(s′,a′) ] )².
 * Q^{(k)} is the value with k steps to go, so for episodes of at most H steps Q^{(H−t)} is the action
 * value at step t and V̂_FQE = (1/n) Σ_i Σ_a π_e(a|s_{i,0}) Q^{(H)}(s_{i,0}, a). Every iteration uses
 * every transition (whatever its step), which is exact for a Markov state and a correct model class.
 *
 * Two function classes, both deterministic and closed-form per iteration:
 * - `tabular`: distinct observation vectors are states; f(s,a) is the mean target of (s,a). Unseen
 *   (s,a) pairs get 0 (`coverage` reports how much of π_e's mass at logged states falls on seen pairs).
 * - `linear`: per action, ridge regression on φ(s) = [1, z(s), z(s)²] with z the standardised
 *   observation (constant features dropped), shrunk toward a pooled fit over all actions with
 *   λ_a = `ridge` × n_a + `shrink` (n_a = transitions of action a), so that an action logged only a
 *   few times borrows the pooled model rather than extrapolating (and compounding over H iterations).
 */
export type FqeModel = 'tabular' | 'linear';

export interface FqeOptions {
  model?: FqeModel | 'auto';
  /** Steps to go at t = 0 (default: the longest logged trajectory). */
  horizon?: number;
  /** Ridge factor of the linear model (default 1e-4). */
  ridge?: number;
  /** Pseudo-transitions pulling each action's linear model toward the pooled all-action fit (default 10). */
  shrink?: number;
  /** Linear features: 'linear' = [1, z], 'quadratic' (default) = [1, z, z²]. */
  features?: 'linear' | 'quadratic';
}

export interface FqeResult {
  value: number;
  model: FqeModel;
  /** Q̂ along the logged data: qAlong[i][t·nA + a], t = 0 … T_i (for the doubly robust estimators). */
  qAlong: QAlongData;
  iterations: number;
  /** Fraction of π_e's probability mass at logged states on (s, a) pairs seen in the data (tabular). */
  coverage: number;
  /** Number of distinct observation vectors (tabular) or features (linear). */
  size: number;
}

/** Distinct observation vectors numbered in order of first appearance. */
export interface StateIndex {
  ids: Int32Array[];
  nStates: number;
}

const stateIndexCache = new WeakMap<OpeData, StateIndex>();

export function indexStates(data: OpeData): StateIndex {
  const hit = stateIndexCache.get(data);
  if (hit) return hit;
  const map = new Map<string, number>();
  const ids = data.trajectories.map((tr) =>
    Int32Array.from(tr.observations, (o) => {
      const key = o.join(',');
      let id = map.get(key);
      if (id === undefined) {
        id = map.size;
        map.set(key, id);
      }
      return id;
    }),
  );
  const index = { ids, nStates: map.size };
  stateIndexCache.set(data, index);
  return index;
}

/** Tabular when the observations take few distinct values (≤ 5,000 and ≤ half the transitions). */
export function chooseModel(data: OpeData): FqeModel {
  let transitions = 0;
  for (const tr of data.trajectories) transitions += tr.actions.length;
  const { nStates } = indexStates(data);
  return nStates <= 5000 && nStates <= transitions / 2 ? 'tabular' : 'linear';
}

/** Multiplicity of each trajectory in a bootstrap index multiset (all 1 without one). */
function multiplicities(n: number, idx?: Int32Array): Float64Array {
  const m = new Float64Array(n);
  if (!idx) return m.fill(1);
  for (const i of idx) m[i] = (m[i] as number) + 1;
  return m;
}

export function fittedQEvaluation(data: OpeData, piE: PolicyProbs, options: FqeOptions = {}, idx?: Int32Array): FqeResult {
  const model = options.model === undefined || options.model === 'auto' ? chooseModel(data) : options.model;
  const H = options.horizon ?? horizonOf(data);
  if (!Number.isInteger(H) || H < 1) throw new TwinlabError('INVALID_ARGUMENT', `FQE: horizon must be an integer ≥ 1, got ${H}`);
  const m = multiplicities(data.trajectories.length, idx);
  return model === 'tabular' ? tabularFqe(data, piE, H, m) : linearFqe(data, piE, H, m, options.ridge ?? 1e-4, options.shrink ?? 10, options.features ?? 'quadratic');
}

function initialValue(data: OpeData, piE: PolicyProbs, qAlong: QAlongData, m: Float64Array): number {
  const nA = data.nActions;
  let s = 0;
  let total = 0;
  data.trajectories.forEach((_, i) => {
    const mi = m[i] as number;
    if (mi === 0) return;
    const E = piE[i] as Float64Array;
    const Q = qAlong[i] as Float64Array;
    let v = 0;
    for (let a = 0; a < nA; a++) v += (E[a] as number) * (Q[a] as number);
    s += mi * v;
    total += mi;
  });
  return s / total;
}

/** The logged transitions as flat arrays (trajectory i's steps contiguous), built once per data set. */
interface FlatTransitions {
  N: number;
  traj: Int32Array;
  step: Int32Array;
  s: Int32Array;
  next: Int32Array;
  a: Int32Array;
  r: Float64Array;
  /** 0 when the transition ends the episode in an absorbing state, else 1. */
  live: Uint8Array;
}

const flatCache = new WeakMap<OpeData, FlatTransitions>();

function flatTransitions(data: OpeData): FlatTransitions {
  const hit = flatCache.get(data);
  if (hit) return hit;
  const { ids } = indexStates(data);
  let N = 0;
  for (const tr of data.trajectories) N += tr.actions.length;
  const f: FlatTransitions = {
    N,
    traj: new Int32Array(N),
    step: new Int32Array(N),
    s: new Int32Array(N),
    next: new Int32Array(N),
    a: new Int32Array(N),
    r: new Float64Array(N),
    live: new Uint8Array(N),
  };
  let k = 0;
  data.trajectories.forEach((tr, i) => {
    const sid = ids[i] as Int32Array;
    const T = tr.actions.length;
    for (let t = 0; t < T; t++, k++) {
      f.traj[k] = i;
      f.step[k] = t;
      f.s[k] = sid[t] as number;
      f.next[k] = sid[t + 1] as number;
      f.a[k] = tr.actions[t] as number;
      f.r[k] = tr.rewards[t] as number;
      f.live[k] = tr.terminated && t === T - 1 ? 0 : 1;
    }
  });
  flatCache.set(data, f);
  return f;
}

function tabularFqe(data: OpeData, piE: PolicyProbs, H: number, m: Float64Array): FqeResult {
  const nA = data.nActions;
  const { ids, nStates } = indexStates(data);
  const f = flatTransitions(data);
  const { N } = f;
  const size = nStates * nA;
  // per transition: its weight (trajectory multiplicity), row (s, a), and π_e(·|s′) at the next step
  const weight = new Float64Array(N);
  const row = new Int32Array(N);
  const piNext = new Float64Array(N * nA);
  const count = new Float64Array(size);
  for (let k = 0; k < N; k++) {
    const i = f.traj[k] as number;
    weight[k] = m[i] as number;
    row[k] = (f.s[k] as number) * nA + (f.a[k] as number);
    count[row[k] as number] += weight[k] as number;
    const E = piE[i] as Float64Array;
    const base = ((f.step[k] as number) + 1) * nA;
    for (let a = 0; a < nA; a++) piNext[k * nA + a] = (f.live[k] as number) * data.gamma * (E[base + a] as number);
  }
  // Q[k] for k = 0 … H steps to go.
  const Q: Float64Array[] = [new Float64Array(size)];
  const sum = new Float64Array(size);
  for (let it = 1; it <= H; it++) {
    const prev = Q[it - 1] as Float64Array;
    sum.fill(0);
    for (let k = 0; k < N; k++) {
      const wk = weight[k] as number;
      if (wk === 0) continue;
      const sp = (f.next[k] as number) * nA;
      let y = f.r[k] as number;
      for (let a = 0; a < nA; a++) y += (piNext[k * nA + a] as number) * (prev[sp + a] as number);
      sum[row[k] as number] += wk * y;
    }
    const next = new Float64Array(size);
    for (let j = 0; j < size; j++) if ((count[j] as number) > 0) next[j] = (sum[j] as number) / (count[j] as number);
    Q.push(next);
  }
  let mass = 0;
  let seen = 0;
  const qAlong = data.trajectories.map((tr, i) => {
    const s = ids[i] as Int32Array;
    const E = piE[i] as Float64Array;
    const out = new Float64Array(tr.observations.length * nA);
    for (let t = 0; t < tr.observations.length; t++) {
      const Qk = Q[Math.max(0, H - t)] as Float64Array;
      const base = (s[t] as number) * nA;
      for (let a = 0; a < nA; a++) {
        out[t * nA + a] = Qk[base + a] as number;
        if (t < tr.actions.length) {
          const p = E[t * nA + a] as number;
          mass += p;
          if ((count[base + a] as number) > 0) seen += p;
        }
      }
    }
    return out;
  });
  return { value: initialValue(data, piE, qAlong, m), model: 'tabular', qAlong, iterations: H, coverage: mass > 0 ? seen / mass : 1, size: nStates };
}

/** Standardised features φ(o) = [1, z, z²] (constant observation dimensions dropped). */
export class FeatureMap {
  readonly dims: number[] = [];
  readonly mean: Float64Array;
  readonly sd: Float64Array;
  readonly size: number;
  constructor(
    observations: Float32Array[],
    readonly quadratic: boolean,
  ) {
    const d = observations[0]?.length ?? 0;
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (const o of observations) for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (o[j] as number);
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) / observations.length;
    for (const o of observations) for (let j = 0; j < d; j++) sq[j] = (sq[j] as number) + ((o[j] as number) - (mean[j] as number)) ** 2;
    this.sd = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      const sd = Math.sqrt((sq[j] as number) / observations.length);
      this.sd[j] = sd;
      if (sd > 1e-12) this.dims.push(j);
    }
    this.mean = mean;
    this.size = 1 + this.dims.length * (quadratic ? 2 : 1);
  }
  into(o: Float32Array, out: Float64Array, offset = 0): void {
    out[offset] = 1;
    let k = offset + 1;
    for (const j of this.dims) {
      const z = ((o[j] as number) - (this.mean[j] as number)) / (this.sd[j] as number);
      out[k++] = z;
      if (this.quadratic) out[k++] = z * z;
    }
  }
}

/** Cholesky factor L (row-major, lower) of a symmetric positive-definite d×d matrix. */
export function cholesky(A: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * d + j] as number;
      for (let k = 0; k < j; k++) s -= (L[i * d + k] as number) * (L[j * d + k] as number);
      if (i === j) {
        if (!(s > 0)) throw new TwinlabError('INTERNAL', `cholesky: matrix not positive definite at row ${i}`);
        L[i * d + i] = Math.sqrt(s);
      } else L[i * d + j] = s / (L[j * d + j] as number);
    }
  }
  return L;
}

/** Solve L·Lᵀ x = b in place of a copy. */
export function choleskySolve(L: Float64Array, d: number, b: Float64Array): Float64Array {
  const y = Float64Array.from(b);
  for (let i = 0; i < d; i++) {
    let s = y[i] as number;
    for (let k = 0; k < i; k++) s -= (L[i * d + k] as number) * (y[k] as number);
    y[i] = s / (L[i * d + i] as number);
  }
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < d; k++) s -= (L[k * d + i] as number) * (y[k] as number);
    y[i] = s / (L[i * d + i] as number);
  }
  return y;
}

function linearFqe(data: OpeData, piE: PolicyProbs, H: number, m: Float64Array, ridge: number, shrink: number, features: 'linear' | 'quadratic'): FqeResult {
  const nA = data.nActions;
  const all: Float32Array[] = [];
  for (const tr of data.trajectories) for (const o of tr.observations) all.push(o);
  const fm = new FeatureMap(all, features === 'quadratic');
  const d = fm.size;
  // Features of every logged observation, once: phi[i][t·d …].
  const phi = data.trajectories.map((tr) => {
    const out = new Float64Array(tr.observations.length * d);
    tr.observations.forEach((o, t) => fm.into(o, out, t * d));
    return out;
  });
  const gram = Array.from({ length: nA }, () => new Float64Array(d * d));
  const nOf = new Float64Array(nA);
  data.trajectories.forEach((tr, i) => {
    const mi = m[i] as number;
    if (mi === 0) return;
    const P = phi[i] as Float64Array;
    for (let t = 0; t < tr.actions.length; t++) {
      const a = tr.actions[t] as number;
      const G = gram[a] as Float64Array;
      nOf[a] = (nOf[a] as number) + mi;
      for (let j = 0; j < d; j++) {
        const pj = mi * (P[t * d + j] as number);
        for (let k = 0; k <= j; k++) G[j * d + k] = (G[j * d + k] as number) + pj * (P[t * d + k] as number);
      }
    }
  });
  // Per-action ridge shrunk toward a pooled (all-action) fit: w_a = argmin Σ (y − φᵀw)² + λ_a ‖w − w_pool‖²,
  // λ_a = ridge·n_a + shrink, so a rarely logged action borrows the pooled model instead of extrapolating wildly.
  let N = 0;
  for (let a = 0; a < nA; a++) N += nOf[a] as number;
  const pooled = new Float64Array(d * d);
  for (const G of gram) {
    for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) G[k * d + j] = G[j * d + k] as number;
    for (let x = 0; x < d * d; x++) pooled[x] = (pooled[x] as number) + (G[x] as number);
  }
  for (let j = 0; j < d; j++) pooled[j * d + j] = (pooled[j * d + j] as number) + ridge * Math.max(1, N) + 1e-9;
  const cholPooled = cholesky(pooled, d);
  const lambdas = Array.from(nOf, (n) => ridge * Math.max(1, n) + shrink);
  const chol = gram.map((G, a) => {
    for (let j = 0; j < d; j++) G[j * d + j] = (G[j * d + j] as number) + (lambdas[a] as number);
    return cholesky(G, d);
  });
  // W[k][a·d + j]: weights with k steps to go.
  const W: Float64Array[] = [new Float64Array(nA * d)];
  const rhs = Array.from({ length: nA }, () => new Float64Array(d));
  for (let k = 1; k <= H; k++) {
    const prev = W[k - 1] as Float64Array;
    for (const b of rhs) b.fill(0);
    data.trajectories.forEach((tr, i) => {
      const mi = m[i] as number;
      if (mi === 0) return;
      const P = phi[i] as Float64Array;
      const E = piE[i] as Float64Array;
      const T = tr.actions.length;
      for (let t = 0; t < T; t++) {
        let y = tr.rewards[t] as number;
        if (!(tr.terminated && t === T - 1) && k > 1) {
          let v = 0;
          for (let a = 0; a < nA; a++) {
            const p = E[(t + 1) * nA + a] as number;
            if (p === 0) continue;
            let q = 0;
            for (let j = 0; j < d; j++) q += (prev[a * d + j] as number) * (P[(t + 1) * d + j] as number);
            v += p * q;
          }
          y += data.gamma * v;
        }
        const b = rhs[tr.actions[t] as number] as Float64Array;
        for (let j = 0; j < d; j++) b[j] = (b[j] as number) + mi * y * (P[t * d + j] as number);
      }
    });
    const bPooled = new Float64Array(d);
    for (const b of rhs) for (let j = 0; j < d; j++) bPooled[j] = (bPooled[j] as number) + (b[j] as number);
    const wPooled = choleskySolve(cholPooled, d, bPooled);
    const next = new Float64Array(nA * d);
    for (let a = 0; a < nA; a++) {
      if ((nOf[a] as number) === 0 && shrink > 0) {
        next.set(wPooled, a * d);
        continue;
      }
      const b = rhs[a] as Float64Array;
      const lambda = lambdas[a] as number;
      for (let j = 0; j < d; j++) b[j] = (b[j] as number) + lambda * (wPooled[j] as number);
      next.set(choleskySolve(chol[a] as Float64Array, d, b), a * d);
    }
    W.push(next);
  }
  const qAlong = data.trajectories.map((tr, i) => {
    const P = phi[i] as Float64Array;
    const out = new Float64Array(tr.observations.length * nA);
    for (let t = 0; t < tr.observations.length; t++) {
      const Wk = W[Math.max(0, H - t)] as Float64Array;
      for (let a = 0; a < nA; a++) {
        let q = 0;
        for (let j = 0; j < d; j++) q += (Wk[a * d + j] as number) * (P[t * d + j] as number);
        out[t * nA + a] = q;
      }
    }
    return out;
  });
  let mass = 0;
  let seen = 0;
  data.trajectories.forEach((tr, i) => {
    const E = piE[i] as Float64Array;
    for (let t = 0; t < tr.actions.length; t++)
      for (let a = 0; a < nA; a++) {
        mass += E[t * nA + a] as number;
        if ((nOf[a] as number) > 0) seen += E[t * nA + a] as number;
      }
  });
  return { value: initialValue(data, piE, qAlong, m), model: 'linear', qAlong, iterations: H, coverage: mass > 0 ? seen / mass : 1, size: d };
}
