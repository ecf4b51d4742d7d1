import { TwinlabError } from '../../engine/errors.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { FAST_STATE_DIM, FastModel, stomachOutflow } from './fast-model.js';
import { cgmErrorLogLik, ERROR_STATE_DIM, type MealErrorInputs } from './cgm-error.js';
import type { PatientParams } from '../../environments/glucose/params.js';
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
  /** The carb-counting error of the likelihood (cgm-error.ts): meal appearance, meal slots, σ_c. */
  meals: MealErrorInputs & { influx: Float64Array; start: Uint8Array };
}

/**
 * Carb-counting error per meal, as a fraction of the logged carbohydrate: ≈ 20 % for adults with type
 * 1 diabetes (Brazeau et al., J Acad Nutr Diet 113(7):1060–1066, 2013: mean absolute error 20.9 g per
 * meal, ≈ 20 % of the meals' carbohydrate).
 */
export const CARB_COUNT_SD = 0.2;

/**
 * Glucose appearance of the logged meals, mg/dL of plasma glucose per 5-min slot, for the population's
 * typical gut (θ-independent, so the error model's gains are too): the stomach outflow F (mg/min)
 * through Qgut' = F − kabs·Qgut, appearing at f·kabs·Qgut/BW (mg/kg/min) into Vg (dL/kg)
 * (Dalla Man et al., IEEE TBME 54(10), 2007, eqs. 10–13). Integrated exactly per minute with F held.
 * Online (the particle filter) one slot at a time; `mealGlucoseInflux` for a whole window.
 */
export class MealInfluxTrack {
  private qgut = 0;
  private readonly decay: number;
  private readonly gain: number;
  private readonly kabs: number;
  private readonly toMgDl: number;
  private lastScale = 1;
  private scaledDecay: number;
  private scaledGain: number;

  /** `typical`: the gut of the person whose appearance is tracked (kabs, f, BW, Vg; any glucose twin's parameters). */
  constructor(typical: Pick<PatientParams, 'kabs' | 'f' | 'BW' | 'Vg'>) {
    this.kabs = typical.kabs;
    this.decay = Math.exp(-typical.kabs);
    this.gain = (1 - this.decay) / typical.kabs;
    this.toMgDl = (typical.f * typical.kabs) / (typical.BW * typical.Vg);
    this.scaledDecay = this.decay;
    this.scaledGain = this.gain;
  }

  /** Gut content (mg), to save and restore around projections. */
  get state(): number {
    return this.qgut;
  }
  set state(qgut: number) {
    this.qgut = qgut;
  }

  /** Glucose appearance (mg/dL) over one slot whose five minutes of stomach outflow start at outflow[at]. */
  step(outflow: ArrayLike<number>, at: number): number {
    let g = 0;
    for (let j = 0; j < 5; j++) {
      const steady = (outflow[at + j] as number) / this.kabs;
      g += steady + (this.qgut - steady) * this.gain; // ∫ Qgut over the minute
      this.qgut = steady + (this.qgut - steady) * this.decay;
    }
    return g * this.toMgDl;
  }

  /**
   * As `step`, with the absorption rate of minute j scaled by scale[at + j] (a meal's absorption
   * multiplier, as the type 2 twin's gut has it: Qgut' = F − s·kabs·Qgut, appearance f·s·kabs·Qgut).
   */
  stepScaled(outflow: ArrayLike<number>, scale: ArrayLike<number>, at: number): number {
    let g = 0;
    for (let j = 0; j < 5; j++) {
      const s = scale[at + j] as number;
      if (s !== this.lastScale) {
        this.lastScale = s;
        this.scaledDecay = Math.exp(-this.kabs * s);
        this.scaledGain = (1 - this.scaledDecay) / (this.kabs * s);
      }
      const steady = (outflow[at + j] as number) / (this.kabs * s);
      g += s * (steady + (this.qgut - steady) * this.scaledGain);
      this.qgut = steady + (this.qgut - steady) * this.scaledDecay;
    }
    return g * this.toMgDl;
  }
}

export function mealGlucoseInflux(typical: PatientParams, outflow: ArrayLike<number>, n: number): Float64Array {
  const track = new MealInfluxTrack(typical);
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = track.step(outflow, 5 * k);
  return out;
}

/**
 * 5-min decay factor of a plasma glucose excess in person p at the basal state: the slowest eigenvalue
 * λ of the glucose subsystem linearised there (Dalla Man et al., IEEE TBME 54(10), 2007, eqs. 1–6,
 * insulin held at basal, renal excretion off below its threshold):
 *
 *   J = [[−(kp2 + k1), k2], [k1, −(k2 + ∂Uid/∂Gt)]],   ∂Uid/∂Gt = Vm0·Km0/(Km0 + Gtb)²,
 *
 * φ_c = e^{5λ}. For the adult population this is a time constant of hours: with no endogenous insulin
 * an excess from a mis-counted meal lingers (cgm-error.ts, the carb-counting component).
 */
export function glucoseExcessDecay(p: PatientParams): number {
  const uid = (p.Vm0 * p.Km0) / (p.Km0 + p.Gtb) ** 2;
  const a = -(p.kp2 + p.k1);
  const d = -(p.k2 + uid);
  const tr = a + d;
  const det = a * d - p.k1 * p.k2;
  const slowest = 0.5 * (tr + Math.sqrt(Math.max(0, tr * tr - 4 * det)));
  return Math.exp(5 * slowest);
}

/** The population's typical person of the twin's group (θ at the prior means) in this context. */
export function typicalPatient(ctx: GlucoseTwinContext): PatientParams {
  const typical = patientForTheta(
    glucoseTwinPriors(ctx.group).map((p) => p.mean),
    ctx,
  );
  if (typical === undefined) throw new TwinlabError('INTERNAL', 'the population prior mean has no steady state');
  return typical;
}

export function prepareFitData(
  d: GlucoseDataset,
  from: number,
  to: number,
  include: Uint8Array,
  ctx: GlucoseTwinContext,
  carbCountSd: number = CARB_COUNT_SD,
): GlucoseFitData {
  const priors = glucoseTwinPriors(ctx.group);
  const n = to - from;
  const carbsG = d.carbsG.slice(from, to);
  const typical = typicalPatient(ctx);
  const outflow = stomachOutflow(typical, carbsG, n);
  return {
    ctx,
    n,
    cgm: d.cgm.slice(from, to),
    basalUPerH: d.basalUPerH.slice(from, to),
    bolusU: d.bolusU.slice(from, to),
    carbsG,
    include,
    cgm0: d.cgm[from] as number,
    outflow,
    insulinUPerMin: Float64Array.from({ length: n }, (_, k) => slotInsulin(d, from + k)),
    priors,
    meals: {
      influx: mealGlucoseInflux(typical, outflow, n),
      start: Uint8Array.from(carbsG, (c) => (c > 0 ? 1 : 0)),
      carbCountSd,
      excessPhi: glucoseExcessDecay(typical),
    },
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
  return model.advance(state, data.insulinUPerMin, data.outflow, 0, data.n, out);
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
    const ll = cgmErrorLogLik(data.cgm, m, data.include, error, scratch, data.meals);
    return Number.isFinite(ll) ? ll + logPrior(theta, data.priors) : Number.NEGATIVE_INFINITY;
  };
}

/** Worker factory for twinning/mcmc workerDensity: `init` is a GlucoseFitData. */
export function glucoseLogPosteriorFactory(init: unknown): (theta: Float64Array) => number {
  return makeLogPosterior(init as GlucoseFitData);
}
