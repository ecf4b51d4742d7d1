import { TwinlabError } from '../../engine/errors.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { FAST_STATE_DIM, FastModel, stomachOutflow } from './fast-model.js';
import { type GlucoseTwinContext, glucoseTwinPriors, type NormalPrior, P, patientForTheta, sigmoid } from './parameters.js';
import { initialStateFromCgm, slotInsulin } from './simulate.js';

/**
 * Everything the log posterior of a personal glucose twin needs, prepared once per fit and
 * structured-clonable (it is the `init` handed to MCMC workers).
 */
export interface GlucoseFitData {
  ctx: GlucoseTwinContext;
  /** Slots in the fit window. */
  n: number;
  /** Window slices of the dataset (slot 0 = window start). */
  cgm: Float64Array;
  basalUPerH: Float64Array;
  bolusU: Float64Array;
  carbsG: Float64Array;
  /** 1 where the reading counts in the likelihood (present and not in a dropped day). */
  include: Uint8Array;
  /** CGM at the window start, mg/dL: sets the initial glucose state. */
  cgm0: number;
  /** Stomach outflow per minute (n·5 values), θ-independent (fast-model.ts). */
  outflow: Float64Array;
  /** Insulin rate of each slot, U/min (simulate.ts slotInsulin), θ-independent. */
  insulinUPerMin: Float64Array;
  priors: NormalPrior[];
}

export function prepareFitData(d: GlucoseDataset, from: number, to: number, include: Uint8Array, ctx: GlucoseTwinContext): GlucoseFitData {
  const priors = glucoseTwinPriors(ctx.group);
  const n = to - from;
  const carbsG = d.carbsG.slice(from, to);
  const typical = patientForTheta(
    priors.map((p) => p.mean),
    ctx,
  );
  if (typical === undefined) throw new TwinlabError('INTERNAL', 'the population prior mean has no steady state');
  return {
    ctx,
    n,
    cgm: d.cgm.slice(from, to),
    basalUPerH: d.basalUPerH.slice(from, to),
    bolusU: d.bolusU.slice(from, to),
    carbsG,
    include,
    cgm0: d.cgm[from] as number,
    outflow: stomachOutflow(typical, carbsG, n),
    insulinUPerMin: Float64Array.from({ length: n }, (_, k) => slotInsulin(d, from + k)),
    priors,
  };
}

/** Log density of the normal priors (up to a constant). */
export function logPrior(theta: ArrayLike<number>, priors: readonly NormalPrior[]): number {
  let s = 0;
  for (let i = 0; i < priors.length; i++) {
    const pr = priors[i] as NormalPrior;
    const z = ((theta[i] as number) - pr.mean) / pr.sd;
    s -= 0.5 * z * z;
  }
  return s;
}

/**
 * Model CGM (subcutaneous glucose, mg/dL) at the start of every window slot for θ, into `out`.
 * Returns false when θ has no steady state or the integration fails.
 */
export function predictWindow(theta: ArrayLike<number>, data: GlucoseFitData, out: Float64Array): boolean {
  const p = patientForTheta(theta, data.ctx);
  if (p === undefined) return false;
  const model = new FastModel(p);
  const state = model.fromFullState(initialStateFromCgm(p, data.cgm0), new Float64Array(FAST_STATE_DIM));
  const insulin = data.insulinUPerMin;
  for (let k = 0; k < data.n; k++) {
    out[k] = model.gsub(state);
    if (!model.stepSlot(state, insulin[k] as number, data.outflow, 5 * k)) return false;
  }
  return true;
}

/**
 * CGM error model: e_k = y_k − m_k is a stationary Gaussian AR(1) process on the 5-min grid with
 * marginal SD σ and lag-1 correlation φ. Across a gap of Δ slots, e_k | e_prev ~ N(φ^Δ·e_prev,
 * σ²(1 − φ^{2Δ})); the first reading of the window is N(0, σ²). Missing readings are skipped exactly,
 * so the likelihood needs no imputation. (Autocorrelated CGM error: Breton & Kovatchev 2008; the
 * same structure absorbs slowly varying model error, which an iid model would turn into
 * overconfident posteriors.)
 */
export function ar1LogLik(y: ArrayLike<number>, m: ArrayLike<number>, include: ArrayLike<number>, sigma: number, phi: number): number {
  let ll = 0;
  let prevE = 0;
  let prevK = -1;
  const s2 = sigma * sigma;
  for (let k = 0; k < include.length; k++) {
    if (include[k] !== 1) continue;
    const e = (y[k] as number) - (m[k] as number);
    let mean = 0;
    let v = s2;
    if (prevK >= 0) {
      const a = phi ** (k - prevK);
      mean = a * prevE;
      v = s2 * (1 - a * a);
    }
    const r = e - mean;
    ll -= 0.5 * (Math.log(2 * Math.PI * v) + (r * r) / v);
    prevE = e;
    prevK = k;
  }
  return ll;
}

/** The log posterior of θ (up to a constant); −Infinity outside the model's domain. */
export function makeLogPosterior(data: GlucoseFitData): (theta: Float64Array) => number {
  const m = new Float64Array(data.n);
  return (theta) => {
    for (let i = 0; i < theta.length; i++) if (!Number.isFinite(theta[i] as number)) return Number.NEGATIVE_INFINITY;
    if (!predictWindow(theta, data, m)) return Number.NEGATIVE_INFINITY;
    const sigma = Math.exp(theta[P.logSigma] as number);
    const phi = sigmoid(theta[P.logitPhi] as number);
    const ll = ar1LogLik(data.cgm, m, data.include, sigma, phi);
    return Number.isFinite(ll) ? ll + logPrior(theta, data.priors) : Number.NEGATIVE_INFINITY;
  };
}

/** Worker factory for twinning/mcmc workerDensity: `init` is a GlucoseFitData. */
export function glucoseLogPosteriorFactory(init: unknown): (theta: Float64Array) => number {
  return makeLogPosterior(init as GlucoseFitData);
}
