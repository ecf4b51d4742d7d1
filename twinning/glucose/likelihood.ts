import { TwinlabError } from '../../engine/errors.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { FAST_STATE_DIM, FastModel, stomachOutflow } from './fast-model.js';
import { cgmErrorLogLik, ERROR_STATE_DIM } from './cgm-error.js';
import { cgmErrorParamsForTheta, type GlucoseTwinContext, glucoseTwinPriors, type NormalPrior, patientForTheta } from './parameters.js';
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

/** The log posterior of θ (up to a constant); −Infinity outside the model's domain. */
export function makeLogPosterior(data: GlucoseFitData): (theta: Float64Array) => number {
  const m = new Float64Array(data.n);
  const scratch = new Float64Array(ERROR_STATE_DIM);
  return (theta) => {
    for (let i = 0; i < theta.length; i++) if (!Number.isFinite(theta[i] as number)) return Number.NEGATIVE_INFINITY;
    const error = cgmErrorParamsForTheta(theta);
    if (error === undefined) return Number.NEGATIVE_INFINITY;
    if (!predictWindow(theta, data, m)) return Number.NEGATIVE_INFINITY;
    const ll = cgmErrorLogLik(data.cgm, m, data.include, error, scratch);
    return Number.isFinite(ll) ? ll + logPrior(theta, data.priors) : Number.NEGATIVE_INFINITY;
  };
}

/** Worker factory for twinning/mcmc workerDensity: `init` is a GlucoseFitData. */
export function glucoseLogPosteriorFactory(init: unknown): (theta: Float64Array) => number {
  return makeLogPosterior(init as GlucoseFitData);
}
