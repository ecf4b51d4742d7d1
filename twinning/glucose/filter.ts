import { TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import type { GlucoseDataset } from '../../datasets/types.js';
import { FAST_STATE_DIM, FastModel, StomachTrack } from './fast-model.js';
import { type CgmErrorParams, ERROR_STATE_DIM, errorStateMeal, errorStateObserve, errorStateReset, errorStateStep } from './cgm-error.js';
import { CARB_COUNT_SD, glucoseExcessDecay, MealInfluxTrack, typicalPatient } from './likelihood.js';
import { cgmErrorParamsForTheta, type GlucoseTwinContext, patientForTheta } from './parameters.js';
import { initialStateFromCgm, type SlotInputs, slotInsulin } from './simulate.js';

/**
 * The living profile: a bootstrap particle filter (Gordon, Salmond & Smith 1993, IEE Proc. F 140(2))
 * that keeps a personal glucose twin's state up to date, reading by reading, never looking ahead.
 *
 * Particle i carries a posterior draw θ (from the fit), the fast model's state (fast-model.ts), the
 * Kalman state of its CGM error (cgm-error.ts: sensor and model-discrepancy components, given the
 * readings so far and the particle's trajectory) and a log insulin-sensitivity offset δ (slowly
 * varying SI: the day-to-day variability of insulin sensitivity is well documented, e.g. Vettoretti
 * et al. 2019 — the twin lets it drift rather than pretend it is fixed).
 *
 * Per 5-min slot: (1) propagate every particle through the slot's recorded insulin and the shared
 * stomach outflow, with process noise: Gp ← Gp·exp(q_G·ξ₁), δ ← δ + q_SI·ξ₂, ξ ~ N(0, 1);
 * (2) at a CGM reading y, weight by the error model's predictive density of y − m (Kalman, exact),
 *     then update the particle's error state with it;
 * (3) resample systematically (Kitagawa 1996) when the effective sample size falls below N/2.
 * Draws come from named substreams of the caller's Rng, so a filter run is a pure function of
 * (twin, data, seed). Scratch state is preallocated: a slot allocates nothing.
 */
export interface ProcessNoise {
  /** SD of the log-multiplicative noise on plasma glucose per 5-min slot. */
  glucose: number;
  /** SD of the random walk of log insulin sensitivity per 5-min slot. */
  insulinSensitivity: number;
}

/**
 * Default process noise. The glucose component is calibrated per person by the fit (fit.ts); the
 * insulin-sensitivity random walk is a modelling assumption: 0.01 per 5 min, i.e. ≈ 17 % (1 sd) drift
 * over a day, the order of the within-person day-to-day variability of insulin sensitivity that
 * motivates ReplayBG's and others' time-varying SI.
 */
export const DEFAULT_PROCESS_NOISE: ProcessNoise = { glucose: 0.01, insulinSensitivity: 0.01 };

export interface FilterTwin {
  ctx: GlucoseTwinContext;
  /** Posterior draws of θ (at least one). */
  draws: ArrayLike<number>[];
  processNoise: ProcessNoise;
  /** σ_c of the carb-counting error the twin was fitted with (cgm-error.ts); default CARB_COUNT_SD. */
  carbCountSd?: number;
}

/**
 * Systematic resampling (Kitagawa 1996, J. Comput. Graph. Stat. 5(1)): one uniform u ∈ [0, 1) places
 * n evenly spaced pointers (u + i)/n on the cumulative normalised weights; out[i] is the particle
 * pointer i lands on. Returns out.
 */
export function systematicResample(weights: ArrayLike<number>, n: number, u: number, out: Int32Array): Int32Array {
  const u0 = u / n;
  let c = weights[0] as number;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const ui = u0 + i / n;
    while (ui > c && j < n - 1) {
      j++;
      c += weights[j] as number;
    }
    out[i] = j;
  }
  return out;
}

export class GlucoseParticleFilter {
  readonly n: number;
  /** Dataset slot the next propagation will consume. */
  slot: number;
  private readonly models: FastModel[];
  private readonly errorParams: CgmErrorParams[];
  private readonly drawOf: Int32Array;
  private states: Float64Array;
  private spare: Float64Array;
  private errorState: Float64Array;
  private spareErrorState: Float64Array;
  private lastK: Int32Array;
  private spareLastK: Int32Array;
  private delta: Float64Array;
  private spareDelta: Float64Array;
  private drawSpare: Int32Array;
  private readonly sourceIdx: Int32Array;
  readonly weights: Float64Array;
  private readonly logw: Float64Array;
  readonly stomach: StomachTrack;
  private readonly outflow = new Float64Array(5);
  readonly mealInflux: MealInfluxTrack;
  readonly carbCountSd: number;
  /** 5-min decay of a glucose excess (likelihood.ts glucoseExcessDecay of the typical person). */
  readonly excessPhi: number;
  private readonly noiseRng: Rng;
  private readonly resampleRng: Rng;
  readonly noise: ProcessNoise;
  /** Log of the predictive density of each reading assimilated (for calibration and diagnostics). */
  logEvidence = 0;
  readings = 0;

  /**
   * Start at dataset slot `start` (a steady-state slot with a CGM reading: data-rules.ts) with the
   * particles spread over the draws.
   */
  private dataRef: GlucoseDataset;

  constructor(twin: FilterTwin, data: GlucoseDataset, start: number, particles: number, rng: Rng) {
    this.dataRef = data;
    const cgm0 = data.cgm[start] as number;
    if (!Number.isFinite(cgm0)) throw new TwinlabError('INVALID_ARGUMENT', `the filter must start at a CGM reading; slot ${start} has none`);
    this.n = particles;
    this.slot = start;
    this.noise = twin.processNoise;
    this.noiseRng = rng.fork('filter/process-noise');
    this.resampleRng = rng.fork('filter/resample');
    const draws = twin.draws;
    const D = Math.min(draws.length, particles);
    const basal = (data.basalUPerH[start] as number) > 0 ? (data.basalUPerH[start] as number) : twin.ctx.basalUPerH;
    const ctx = { ...twin.ctx, basalUPerH: basal };
    this.models = [];
    this.errorParams = [];
    const initial: Float64Array[] = [];
    for (let d = 0; d < D; d++) {
      const theta = draws[d] as ArrayLike<number>;
      const p = patientForTheta(theta, ctx);
      if (p === undefined) throw new TwinlabError('INVALID_STATE', `posterior draw ${d} has no steady state`);
      const m = new FastModel(p);
      this.models.push(m);
      const error = cgmErrorParamsForTheta(theta);
      if (error === undefined) throw new TwinlabError('INVALID_STATE', `posterior draw ${d} breaks the CGM error model's constraints`);
      this.errorParams.push(error);
      initial.push(m.fromFullState(initialStateFromCgm(p, cgm0), new Float64Array(FAST_STATE_DIM)));
    }
    this.states = new Float64Array(particles * FAST_STATE_DIM);
    this.spare = new Float64Array(particles * FAST_STATE_DIM);
    this.drawOf = new Int32Array(particles);
    this.drawSpare = new Int32Array(particles);
    this.sourceIdx = new Int32Array(particles);
    this.errorState = new Float64Array(particles * ERROR_STATE_DIM);
    this.spareErrorState = new Float64Array(particles * ERROR_STATE_DIM);
    this.lastK = new Int32Array(particles).fill(start);
    this.spareLastK = new Int32Array(particles);
    this.delta = new Float64Array(particles);
    this.spareDelta = new Float64Array(particles);
    this.weights = new Float64Array(particles).fill(1 / particles);
    this.logw = new Float64Array(particles);
    for (let i = 0; i < particles; i++) {
      const d = i % D;
      this.drawOf[i] = d;
      this.states.set(initial[d] as Float64Array, i * FAST_STATE_DIM);
      errorStateReset(this.errorState, i * ERROR_STATE_DIM, this.errorParams[d] as CgmErrorParams);
      errorStateObserve(this.errorState, i * ERROR_STATE_DIM, cgm0 - (this.models[d] as FastModel).gsub(initial[d] as Float64Array));
    }
    const firstModel = this.models[0] as FastModel;
    this.stomach = new StomachTrack(firstModel.p);
    const typical = typicalPatient(ctx);
    this.mealInflux = new MealInfluxTrack(typical);
    this.excessPhi = glucoseExcessDecay(typical);
    this.carbCountSd = twin.carbCountSd ?? CARB_COUNT_SD;
    this.slot = start;
  }

  /** The data the filter reads (grows with `extendData`). */
  get data(): GlucoseDataset {
    return this.dataRef;
  }

  /**
   * Continue on a longer copy of the same data (live recalibration: new readings and treatments
   * appended). Refuses data that starts elsewhere, is shorter, or rewrites a slot already consumed —
   * the living profile never revises the past it has assimilated.
   */
  extendData(next: GlucoseDataset): void {
    const cur = this.dataRef;
    if (next.startMs !== cur.startMs || next.stepMin !== cur.stepMin || next.cgm.length < cur.cgm.length) {
      throw new TwinlabError('INVALID_ARGUMENT', 'extended data must start at the same time, on the same grid, and be at least as long');
    }
    for (let k = 0; k <= Math.min(this.slot, cur.cgm.length - 1); k++) {
      const same = (a: ArrayLike<number>, b: ArrayLike<number>) => Object.is(a[k], b[k]);
      if (!same(next.cgm, cur.cgm) || !same(next.basalUPerH, cur.basalUPerH) || !same(next.bolusU, cur.bolusU) || !same(next.carbsG, cur.carbsG)) {
        throw new TwinlabError('CONFLICT', `slot ${k} was already assimilated and cannot change`, { slot: k });
      }
    }
    this.dataRef = next;
  }

  /**
   * Propagate every particle through slot `this.slot` of the data — the model state, and the CGM
   * error state with the slot's meal (a logged meal restarts the carb-counting error, its glucose
   * appearance feeds the discrepancy) — then assimilate the next reading (if any).
   */
  advance(): void {
    const k = this.slot;
    const d = this.data;
    const carbs = d.carbsG[k] as number;
    this.stomach.advanceSlot(carbs, this.outflow, 0);
    const g = this.mealInflux.step(this.outflow, 0);
    const insulin = slotInsulin(d as SlotInputs, k);
    this.propagate(this.states, this.delta, insulin, this.outflow, this.noiseRng);
    for (let i = 0; i < this.n; i++) {
      const off = i * ERROR_STATE_DIM;
      if (carbs > 0 && this.carbCountSd > 0) errorStateMeal(this.errorState, off, this.carbCountSd);
      errorStateStep(this.errorState, off, this.errorParams[this.drawOf[i] as number] as CgmErrorParams, g, this.excessPhi);
      this.lastK[i] = k + 1;
    }
    this.slot = k + 1;
    if (this.slot < d.cgm.length) {
      const y = d.cgm[this.slot] as number;
      if (Number.isFinite(y)) this.assimilate(y, this.slot);
    }
  }

  /** Advance until slot `target` is the next to consume (its reading assimilated). */
  advanceTo(target: number): void {
    while (this.slot < target) this.advance();
  }

  propagate(states: Float64Array, delta: Float64Array, insulin: number, outflow: Float64Array, rng: Rng, count = this.n): void {
    const qg = this.noise.glucose;
    const qs = this.noise.insulinSensitivity;
    for (let i = 0; i < count; i++) {
      const model = this.models[this.drawOf[i] as number] as FastModel;
      const dl = (delta[i] as number) + (qs > 0 ? qs * rng.normal() : 0);
      delta[i] = dl;
      model.setInsulinSensitivityFactor(Math.exp(dl));
      const off = i * FAST_STATE_DIM;
      const s = states.subarray(off, off + FAST_STATE_DIM);
      if (!model.stepSlot(s, insulin, outflow, 0)) s.fill(Number.NaN);
      if (qg > 0) s[8] = (s[8] as number) * Math.exp(qg * rng.normal());
      model.setInsulinSensitivityFactor(1);
    }
  }

  private assimilate(y: number, k: number): void {
    const n = this.n;
    let maxLog = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const dIdx = this.drawOf[i] as number;
      const model = this.models[dIdx] as FastModel;
      const m = model.gsub(this.states.subarray(i * FAST_STATE_DIM, (i + 1) * FAST_STATE_DIM));
      const off = i * ERROR_STATE_DIM;
      const lw = Number.isFinite(m) ? Math.log(this.weights[i] as number) + errorStateObserve(this.errorState, off, y - m) : Number.NEGATIVE_INFINITY;
      this.logw[i] = lw;
      if (lw > maxLog) maxLog = lw;
      this.lastK[i] = k;
    }
    if (!Number.isFinite(maxLog)) {
      throw new TwinlabError('INTEGRATION_FAILED', `every particle failed at slot ${k}; the reading ${y} mg/dL is impossible under the twin`);
    }
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const w = Math.exp((this.logw[i] as number) - maxLog);
      this.weights[i] = w;
      sum += w;
    }
    this.logEvidence += maxLog + Math.log(sum);
    this.readings++;
    let ess = 0;
    for (let i = 0; i < n; i++) {
      const w = (this.weights[i] as number) / sum;
      this.weights[i] = w;
      ess += w * w;
    }
    if (1 / ess < n / 2) this.resample();
  }

  /** Systematic resampling (Kitagawa 1996, J. Comput. Graph. Stat. 5(1)). */
  private resample(): void {
    const n = this.n;
    const source = systematicResample(this.weights, n, this.resampleRng.next(), this.sourceIdx);
    for (let i = 0; i < n; i++) {
      const j = source[i] as number;
      this.spare.set(this.states.subarray(j * FAST_STATE_DIM, (j + 1) * FAST_STATE_DIM), i * FAST_STATE_DIM);
      this.spareErrorState.set(this.errorState.subarray(j * ERROR_STATE_DIM, (j + 1) * ERROR_STATE_DIM), i * ERROR_STATE_DIM);
      this.spareLastK[i] = this.lastK[j] as number;
      this.spareDelta[i] = this.delta[j] as number;
      this.drawSpare[i] = this.drawOf[j] as number;
    }
    [this.states, this.spare] = [this.spare, this.states];
    [this.errorState, this.spareErrorState] = [this.spareErrorState, this.errorState];
    [this.lastK, this.spareLastK] = [this.spareLastK, this.lastK];
    [this.delta, this.spareDelta] = [this.spareDelta, this.delta];
    this.drawOf.set(this.drawSpare);
    this.weights.fill(1 / n);
  }

  /**
   * Read access for forecasts: particle i's model state, last reading slot, δ, model, and its CGM
   * error model with the error state (ERROR_STATE_DIM numbers at `errorOffset` of `errorState`, at
   * slot `lastK`: the filter steps it every slot).
   */
  particle(i: number): {
    state: Float64Array;
    lastK: number;
    delta: number;
    model: FastModel;
    error: CgmErrorParams;
    errorState: Float64Array;
    errorOffset: number;
  } {
    const d = this.drawOf[i] as number;
    return {
      state: this.states.subarray(i * FAST_STATE_DIM, (i + 1) * FAST_STATE_DIM),
      lastK: this.lastK[i] as number,
      delta: this.delta[i] as number,
      model: this.models[d] as FastModel,
      error: this.errorParams[d] as CgmErrorParams,
      errorState: this.errorState,
      errorOffset: i * ERROR_STATE_DIM,
    };
  }

  /** The CGM error parameters of particle i (its draw's), without building `particle(i)`. */
  errorParamsOf(i: number): CgmErrorParams {
    return this.errorParams[this.drawOf[i] as number] as CgmErrorParams;
  }

  /** The draw index of particle i. */
  drawIndex(i: number): number {
    return this.drawOf[i] as number;
  }
}
