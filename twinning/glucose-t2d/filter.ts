import type { GlucoseDataset } from '../../datasets/types.js';
import { TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import { absorptionForGi } from '../../environments/glucose-t2d/foods.js';
import {
  type CgmErrorParams,
  ERROR_STATE_DIM,
  errorMean,
  errorStateMeal,
  errorStateObserve,
  errorStateReset,
  errorStateStep,
  errorVariance,
} from '../glucose/cgm-error.js';
import { DEFAULT_PROCESS_NOISE, type ProcessNoise, systematicResample } from '../glucose/filter.js';
import { type BandPoint, normalMixtureBand } from '../glucose/forecast.js';
import { CARB_COUNT_SD, MealInfluxTrack } from '../glucose/likelihood.js';
import { cgmErrorParamsForTheta } from '../glucose/parameters.js';
import { T2D_FAST_DIM, T2DFastModel, T2DStomachTrack } from './fast-model.js';
import { t2dGlucoseExcessDecay } from './likelihood.js';
import { type T2DTwinContext, t2dPersonForTheta, t2dTypicalPerson } from './parameters.js';

/**
 * The living profile of a personal type 2 twin: the type 1 twin's bootstrap particle filter
 * (twinning/glucose/filter.ts, Gordon, Salmond & Smith 1993) on this model. Particle i carries a
 * posterior draw θ, the fast model's state (fast-model.ts), the Kalman state of its CGM error
 * (cgm-error.ts: sensor, discrepancy and carb-counting components) and a log insulin-sensitivity
 * offset δ. Per slot: propagate through the slot's logged meal (the shared stomach, absorption of the
 * twin's meal GI) with process noise Gp ← Gp·exp(q_G·ξ₁), δ ← δ + q_SI·ξ₂; at a reading weight by the
 * error model's predictive density and update the error state; resample systematically when the
 * effective sample size falls below N/2. There is no insulin input: the β-cell is in the model.
 */
export interface T2DFilterTwin {
  ctx: T2DTwinContext;
  draws: ArrayLike<number>[];
  processNoise: ProcessNoise;
  carbCountSd?: number;
}

/** Carbohydrate (g) and absorption multiplier of one slot's meal. */
export interface T2DSlotMeal {
  carbs: number;
  absorption: number;
}

export class T2DParticleFilter {
  readonly n: number;
  slot: number;
  private dataRef: GlucoseDataset;
  /** CGM readings assimilated so far. */
  readings = 0;
  private readonly models: T2DFastModel[];
  private readonly errorParams: CgmErrorParams[];
  private readonly drawOf: Int32Array;
  private states: Float64Array;
  private spare: Float64Array;
  private errorState: Float64Array;
  private spareErrorState: Float64Array;
  private delta: Float64Array;
  private spareDelta: Float64Array;
  private readonly drawSpare: Int32Array;
  private readonly sourceIdx: Int32Array;
  readonly weights: Float64Array;
  private readonly logw: Float64Array;
  readonly stomach = new T2DStomachTrack();
  readonly mealInflux: MealInfluxTrack;
  private readonly outflow = new Float64Array(5);
  private readonly rate = new Float64Array(5);
  readonly carbCountSd: number;
  readonly excessPhi: number;
  readonly loggedAbsorption: number;
  readonly noise: ProcessNoise;
  private readonly noiseRng: Rng;
  private readonly resampleRng: Rng;

  constructor(twin: T2DFilterTwin, data: GlucoseDataset, start: number, particles: number, rng: Rng) {
    const cgm0 = data.cgm[start] as number;
    if (!Number.isFinite(cgm0)) throw new TwinlabError('INVALID_ARGUMENT', `the filter must start at a CGM reading; slot ${start} has none`);
    this.dataRef = data;
    this.n = particles;
    this.slot = start;
    this.noise = twin.processNoise;
    this.noiseRng = rng.fork('filter/process-noise');
    this.resampleRng = rng.fork('filter/resample');
    const D = Math.min(twin.draws.length, particles);
    this.models = [];
    this.errorParams = [];
    const initial: Float64Array[] = [];
    for (let d = 0; d < D; d++) {
      const theta = twin.draws[d] as ArrayLike<number>;
      const person = t2dPersonForTheta(theta, twin.ctx);
      if (person === undefined) throw new TwinlabError('INVALID_STATE', `posterior draw ${d} has no steady state`);
      const error = cgmErrorParamsForTheta(theta);
      if (error === undefined) throw new TwinlabError('INVALID_STATE', `posterior draw ${d} breaks the CGM error model's constraints`);
      const m = new T2DFastModel(person);
      this.models.push(m);
      this.errorParams.push(error);
      initial.push(m.initialState(cgm0));
    }
    this.states = new Float64Array(particles * T2D_FAST_DIM);
    this.spare = new Float64Array(particles * T2D_FAST_DIM);
    this.errorState = new Float64Array(particles * ERROR_STATE_DIM);
    this.spareErrorState = new Float64Array(particles * ERROR_STATE_DIM);
    this.delta = new Float64Array(particles);
    this.spareDelta = new Float64Array(particles);
    this.drawOf = new Int32Array(particles);
    this.drawSpare = new Int32Array(particles);
    this.sourceIdx = new Int32Array(particles);
    this.weights = new Float64Array(particles).fill(1 / particles);
    this.logw = new Float64Array(particles);
    for (let i = 0; i < particles; i++) {
      const d = i % D;
      this.drawOf[i] = d;
      this.states.set(initial[d] as Float64Array, i * T2D_FAST_DIM);
      errorStateReset(this.errorState, i * ERROR_STATE_DIM, this.errorParams[d] as CgmErrorParams);
      errorStateObserve(this.errorState, i * ERROR_STATE_DIM, cgm0 - (this.models[d] as T2DFastModel).gsub(initial[d] as Float64Array));
    }
    const typical = t2dTypicalPerson(twin.ctx);
    this.mealInflux = new MealInfluxTrack(typical.params);
    this.excessPhi = t2dGlucoseExcessDecay(typical);
    this.carbCountSd = twin.carbCountSd ?? CARB_COUNT_SD;
    this.loggedAbsorption = absorptionForGi(twin.ctx.mealGi);
  }

  /** The data the filter reads (grows with `extendData`). */
  get data(): GlucoseDataset {
    return this.dataRef;
  }

  /**
   * Continue on a longer copy of the same data (live recalibration, server/twins-t2d.ts), as the type 1
   * filter's `extendData`: refused when it starts elsewhere, is shorter, or changes a CGM reading or a
   * meal of a slot already consumed.
   */
  extendData(next: GlucoseDataset): void {
    const cur = this.dataRef;
    if (next.startMs !== cur.startMs || next.stepMin !== cur.stepMin || next.cgm.length < cur.cgm.length) {
      throw new TwinlabError('INVALID_ARGUMENT', 'extended data must start at the same time, on the same grid, and be at least as long');
    }
    for (let k = 0; k <= Math.min(this.slot, cur.cgm.length - 1); k++) {
      if (!Object.is(next.cgm[k], cur.cgm[k]) || !Object.is(next.carbsG[k], cur.carbsG[k])) {
        throw new TwinlabError('CONFLICT', `slot ${k} was already assimilated and cannot change`, { slot: k });
      }
    }
    this.dataRef = next;
  }

  /** Propagate through slot `this.slot` (its logged meal), then assimilate the next reading. */
  advance(): void {
    const k = this.slot;
    const carbs = this.data.carbsG[k] as number;
    this.step(this.states, this.errorState, this.delta, { carbs, absorption: this.loggedAbsorption }, this.noiseRng);
    this.slot = k + 1;
    if (this.slot < this.data.cgm.length) {
      const y = this.data.cgm[this.slot] as number;
      if (Number.isFinite(y)) this.assimilate(y, this.slot);
    }
  }

  advanceTo(target: number): void {
    while (this.slot < target) this.advance();
  }

  /**
   * One slot for the particles held in (states, errorStates, delta) — the filter's own or a
   * projection's copy: the shared stomach and meal-appearance tracks advance with the meal.
   */
  step(states: Float64Array, errorStates: Float64Array, delta: Float64Array, meal: T2DSlotMeal, rng: Rng): void {
    this.stomach.advanceSlot(meal.carbs, meal.absorption, this.outflow, this.rate, 0);
    const g = this.mealInflux.stepScaled(this.outflow, this.rate, 0);
    const qg = this.noise.glucose;
    const qs = this.noise.insulinSensitivity;
    for (let i = 0; i < this.n; i++) {
      const model = this.models[this.drawOf[i] as number] as T2DFastModel;
      const dl = (delta[i] as number) + (qs > 0 ? qs * rng.normal() : 0);
      delta[i] = dl;
      model.setInsulinSensitivityFactor(Math.exp(dl));
      const off = i * T2D_FAST_DIM;
      const s = states.subarray(off, off + T2D_FAST_DIM);
      if (!model.stepSlot(s, this.outflow, this.rate, 0)) s.fill(Number.NaN);
      if (qg > 0) s[T2DFastModel.GP_INDEX] = (s[T2DFastModel.GP_INDEX] as number) * Math.exp(qg * rng.normal());
      model.setInsulinSensitivityFactor(1);
      const eo = i * ERROR_STATE_DIM;
      if (meal.carbs > 0 && this.carbCountSd > 0) errorStateMeal(errorStates, eo, this.carbCountSd);
      errorStateStep(errorStates, eo, this.errorParams[this.drawOf[i] as number] as CgmErrorParams, g, this.excessPhi);
    }
  }

  private assimilate(y: number, k: number): void {
    this.readings++;
    const n = this.n;
    let maxLog = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const model = this.models[this.drawOf[i] as number] as T2DFastModel;
      const m = model.gsub(this.states.subarray(i * T2D_FAST_DIM, (i + 1) * T2D_FAST_DIM));
      const lw = Number.isFinite(m)
        ? Math.log(this.weights[i] as number) + errorStateObserve(this.errorState, i * ERROR_STATE_DIM, y - m)
        : Number.NEGATIVE_INFINITY;
      this.logw[i] = lw;
      if (lw > maxLog) maxLog = lw;
    }
    if (!Number.isFinite(maxLog))
      throw new TwinlabError('INTEGRATION_FAILED', `every particle failed at slot ${k}; the reading ${y} mg/dL is impossible under the twin`);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.exp((this.logw[i] as number) - maxLog);
      this.weights[i] = w;
      sum += w;
    }
    let ess = 0;
    for (let i = 0; i < n; i++) {
      const w = (this.weights[i] as number) / sum;
      this.weights[i] = w;
      ess += w * w;
    }
    if (1 / ess < n / 2) this.resample();
  }

  private resample(): void {
    const n = this.n;
    const source = systematicResample(this.weights, n, this.resampleRng.next(), this.sourceIdx);
    for (let i = 0; i < n; i++) {
      const j = source[i] as number;
      this.spare.set(this.states.subarray(j * T2D_FAST_DIM, (j + 1) * T2D_FAST_DIM), i * T2D_FAST_DIM);
      this.spareErrorState.set(this.errorState.subarray(j * ERROR_STATE_DIM, (j + 1) * ERROR_STATE_DIM), i * ERROR_STATE_DIM);
      this.spareDelta[i] = this.delta[j] as number;
      this.drawSpare[i] = this.drawOf[j] as number;
    }
    [this.states, this.spare] = [this.spare, this.states];
    [this.errorState, this.spareErrorState] = [this.spareErrorState, this.errorState];
    [this.delta, this.spareDelta] = [this.spareDelta, this.delta];
    this.drawOf.set(this.drawSpare);
    this.weights.fill(1 / n);
  }

  /**
   * Project `slots` slots ahead through `schedule` (meal of projected slot s, 1 = the origin's own
   * slot) with process noise; after each slot `visit(s, view)` may read the CGM band and each
   * particle's model glucose. The filter, its stomach and its gut are left as they were.
   */
  project(slots: number, schedule: (s: number) => T2DSlotMeal, rng: Rng, visit: (s: number, view: T2DProjection) => void): void {
    const view = new T2DProjection(this);
    const states = Float64Array.from(this.states);
    const errorStates = Float64Array.from(this.errorState);
    const delta = Float64Array.from(this.delta);
    view.bind(states, errorStates);
    const stomach = this.stomach.getState();
    const gut = this.mealInflux.state;
    try {
      for (let s = 1; s <= slots; s++) {
        this.step(states, errorStates, delta, schedule(s), rng);
        visit(s, view);
      }
    } finally {
      this.stomach.setState(stomach);
      this.mealInflux.state = gut;
    }
  }

  /** @internal model of particle i */
  modelOf(i: number): T2DFastModel {
    return this.models[this.drawOf[i] as number] as T2DFastModel;
  }
}

/** Read access to a projection's particles at the current projected slot. */
export class T2DProjection {
  private states: Float64Array = new Float64Array(0);
  private errorStates: Float64Array = new Float64Array(0);
  private readonly mu: Float64Array;
  private readonly sd: Float64Array;
  constructor(private readonly filter: T2DParticleFilter) {
    this.mu = new Float64Array(filter.n);
    this.sd = new Float64Array(filter.n);
  }
  bind(states: Float64Array, errorStates: Float64Array): void {
    this.states = states;
    this.errorStates = errorStates;
  }
  /** Model interstitial glucose of particle i, mg/dL. */
  particleGlucose(i: number): number {
    return this.filter.modelOf(i).gsub(this.states.subarray(i * T2D_FAST_DIM, (i + 1) * T2D_FAST_DIM));
  }
  /** The CGM band: per particle model glucose plus its error model's prediction, mixed by weight. */
  band(): BandPoint {
    const n = this.filter.n;
    for (let i = 0; i < n; i++) {
      const off = i * ERROR_STATE_DIM;
      const mu = this.particleGlucose(i) + errorMean(this.errorStates, off);
      this.mu[i] = mu;
      this.sd[i] = Number.isFinite(mu) ? Math.sqrt(Math.max(1e-12, errorVariance(this.errorStates, off))) : Number.NaN;
    }
    return normalMixtureBand(this.mu, this.sd, this.filter.weights, n);
  }
}

export { DEFAULT_PROCESS_NOISE };
