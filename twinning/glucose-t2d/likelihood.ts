import type { GlucoseDataset } from '../../datasets/types.js';
import { absorptionForGi } from '../../environments/glucose-t2d/foods.js';
import { T2D } from '../../environments/glucose-t2d/model.js';
import { T2DPatient } from '../../environments/glucose-t2d/patient.js';
import { cgmErrorLogLik, ERROR_STATE_DIM, type MealErrorInputs } from '../glucose/cgm-error.js';
import { CARB_COUNT_SD, logPrior, MealInfluxTrack } from '../glucose/likelihood.js';
import { cgmErrorParamsForTheta, type NormalPrior } from '../glucose/parameters.js';
import { T2D_FAST_DIM, T2DFastModel, t2dStomachInputs } from './fast-model.js';
import { type T2DPersonModel, type T2DTwinContext, t2dPersonForTheta, t2dTwinPriors, t2dTypicalPerson } from './parameters.js';

/**
 * Everything the log posterior of a personal type 2 twin needs, prepared once per fit and
 * structured-clonable (the `init` handed to MCMC workers). The CGM error model — sensor, model
 * discrepancy and the carb-counting component — is the type 1 twin's (twinning/glucose/cgm-error.ts),
 * its meal appearance and glucose-excess decay computed from this model (below).
 */
export interface T2DFitData {
  ctx: T2DTwinContext;
  n: number;
  cgm: Float64Array;
  carbsG: Float64Array;
  include: Uint8Array;
  cgm0: number;
  /** Stomach outflow (mg) and absorption multiplier per minute (n·5 values each), θ-independent. */
  outflow: Float64Array;
  rate: Float64Array;
  priors: NormalPrior[];
  meals: MealErrorInputs & { influx: Float64Array; start: Uint8Array };
}

/** Absorption multiplier of every logged meal (the twin's mealGi), per slot: 1 where nothing is logged. */
export function loggedMealAbsorption(carbsG: ArrayLike<number>, mealGi: number): Float64Array {
  const s = absorptionForGi(mealGi);
  return Float64Array.from(carbsG as ArrayLike<number>, (c) => (c > 0 ? s : 1));
}

/** Glucose appearance (mg/dL per slot) of the logged meals in the typical person (θ-independent). */
export function t2dMealInflux(typical: T2DPersonModel, outflow: ArrayLike<number>, rate: ArrayLike<number>, n: number): Float64Array {
  const track = new MealInfluxTrack(typical.params);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = track.stepScaled(outflow, rate, 5 * k);
  return out;
}

/**
 * 5-min decay factor of a plasma glucose excess in this model at rest, for the carb-counting error
 * component (cgm-error.ts). The type 1 twin takes the slowest eigenvalue of the glucose subsystem with
 * insulin held at basal (twinning/glucose/likelihood.ts glucoseExcessDecay); here the β-cell answers an
 * excess with secretion, so the decay comes from the whole model: an excess of 10 mg/dL added to
 * plasma glucose at the basal state, simulated for 24 h (T2DPatient), and τ = ∫(G − Gb)dt / 10 mg/dL —
 * the mean residence time, exactly the time constant for a single exponential — giving φ_c = e^(−5/τ).
 * (Table 1 T2D set at 78 kg: τ ≈ 49 min, much faster than the type 1 twin's hours; the test recomputes it.)
 */
export function t2dGlucoseExcessDecay(person: T2DPersonModel): number {
  const excess = 10;
  const pt = new T2DPatient(person.params, { basal: person.basal });
  pt.state[T2D.Gp] = (pt.state[T2D.Gp] as number) + excess * person.params.Vg;
  let area = 0.5 * excess;
  for (let t = 1; t <= 1440; t++) {
    pt.step();
    area += t === 1440 ? 0.5 * (pt.plasmaGlucose - person.basal.Gb) : pt.plasmaGlucose - person.basal.Gb;
  }
  const tau = Math.max(5, area / excess);
  return Math.exp(-5 / tau);
}

export function prepareT2DFitData(
  d: GlucoseDataset,
  from: number,
  to: number,
  include: Uint8Array,
  ctx: T2DTwinContext,
  carbCountSd: number = CARB_COUNT_SD,
): T2DFitData {
  const n = to - from;
  const carbsG = d.carbsG.slice(from, to);
  const { outflow, rate } = t2dStomachInputs(carbsG, loggedMealAbsorption(carbsG, ctx.mealGi), n);
  const typical = t2dTypicalPerson(ctx);
  return {
    ctx,
    n,
    cgm: d.cgm.slice(from, to),
    carbsG,
    include,
    cgm0: d.cgm[from] as number,
    outflow,
    rate,
    priors: t2dTwinPriors(),
    meals: {
      influx: t2dMealInflux(typical, outflow, rate, n),
      start: Uint8Array.from(carbsG, (c) => (c > 0 ? 1 : 0)),
      carbCountSd,
      excessPhi: t2dGlucoseExcessDecay(typical),
    },
  };
}

/** Model CGM (mg/dL) at the start of every window slot for θ, into `out`; false when θ is outside the model's domain. */
export function predictT2DWindow(theta: ArrayLike<number>, data: T2DFitData, out: Float64Array): boolean {
  const person = t2dPersonForTheta(theta, data.ctx);
  if (person === undefined) return false;
  const model = new T2DFastModel(person);
  const state = model.initialState(data.cgm0, new Float64Array(T2D_FAST_DIM));
  for (let k = 0; k < data.n; k++) {
    out[k] = model.gsub(state);
    if (!model.stepSlot(state, data.outflow, data.rate, 5 * k)) return false;
  }
  return true;
}

/** The log posterior of θ (up to a constant); −Infinity outside the model's domain. */
export function makeT2DLogPosterior(data: T2DFitData): (theta: Float64Array) => number {
  const m = new Float64Array(data.n);
  const scratch = new Float64Array(ERROR_STATE_DIM);
  return (theta) => {
    for (let i = 0; i < theta.length; i++) if (!Number.isFinite(theta[i] as number)) return Number.NEGATIVE_INFINITY;
    const error = cgmErrorParamsForTheta(theta);
    if (error === undefined) return Number.NEGATIVE_INFINITY;
    if (!predictT2DWindow(theta, data, m)) return Number.NEGATIVE_INFINITY;
    const ll = cgmErrorLogLik(data.cgm, m, data.include, error, scratch, data.meals);
    return Number.isFinite(ll) ? ll + logPrior(theta, data.priors) : Number.NEGATIVE_INFINITY;
  };
}

/** Worker factory for twinning/mcmc workerDensity: `init` is a T2DFitData. */
export function t2dLogPosteriorFactory(init: unknown): (theta: Float64Array) => number {
  return makeT2DLogPosterior(init as T2DFitData);
}
