import type { Info } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import type { Rng } from '../../engine/random.js';
import type { Action } from '../../engine/spaces.js';
import { type ActionModel, BB_CORRECTION_THRESHOLD, BB_TARGET, mealBolusDose, type Prescription } from '../../environments/glucose/env.js';
import type { Policy, PolicyContext } from '../policy.js';

/**
 * Clinical insulin protocols for the glucose twin (glucose/t1d-v1, glucose/t1d-hcl-v1).
 *
 * A protocol reads only what a clinician and a pump user have: the reset info's `prescription`
 * (basal rate U/min, carb ratio g/U, correction factor mg/dL/U, body weight) and `actionModel` (what
 * each action delivers), and the observation — the latest CGM (label `cgm`) and the carbs announced
 * at this decision point (label `meal_announced`; 0 when meals are not announced). The env announces
 * a meal at the last decision point at or before it, so the bolus is never late (no simglucose
 * one-step lag).
 *
 * From a desired (basal rate U/min, bolus U) to an action (`InsulinActuator`):
 * - discrete levels: the level nearest the rate (ties to the lower); with mealBolus 'agent', a bolus
 *   selects the "+ meal bolus" twin of that level and the pump's bolus calculator gives
 *   carbs/CR + (CGM − 140)/CF if CGM > 150 — `mealBolusDose` of the env, which the basal-bolus protocol uses too;
 * - continuous: [rate] or [rate, bolus] clipped to the Box;
 * - no bolus channel (mealBolus 'none'): the bolus is owed and delivered as extra rate above basal —
 *   a square-wave bolus at the highest rate the action set allows — until paid;
 * - mealBolus 'auto': the pump boluses for meals itself, so the protocol's bolus is dropped.
 */

function readContext(context: PolicyContext, who: string): { prescription: Prescription; actionModel: ActionModel; cgm: number; meal: number } {
  const { prescription, actionModel } = context.resetInfo as { prescription?: Prescription; actionModel?: ActionModel };
  if (!prescription || !(prescription.basalRate >= 0) || !(prescription.carbRatio > 0) || !(prescription.correctionFactor > 0)) {
    throw new TwinlabError(
      'INVALID_STATE',
      `${who}: reset info of ${context.envId} has no valid 'prescription' { basalRate, carbRatio, correctionFactor }, got ${describeValue(prescription)}`,
    );
  }
  if (!actionModel || (actionModel.kind !== 'discrete' && actionModel.kind !== 'continuous')) {
    throw new TwinlabError('INVALID_STATE', `${who}: reset info of ${context.envId} has no 'actionModel', got ${describeValue(actionModel)}`);
  }
  const labels = context.observationSpace.labels ?? [];
  const cgm = labels.indexOf('cgm');
  const meal = labels.indexOf('meal_announced');
  if (cgm < 0) throw new TwinlabError('INVALID_STATE', `${who}: observation of ${context.envId} has no 'cgm' component (labels: ${labels.join(', ')})`);
  return { prescription, actionModel, cgm, meal };
}

/** Turns a desired (rate U/min, bolus U) into an action of the env's action model. */
export class InsulinActuator {
  private owed = 0;
  private readonly buffer: Float32Array;
  constructor(readonly model: ActionModel) {
    this.buffer = new Float32Array(Math.max(1, model.high.length));
  }

  nearestLevel(rate: number): number {
    const levels = this.model.levels;
    let best = 0;
    let dist = Number.POSITIVE_INFINITY;
    for (let k = 0; k < levels.length; k++) {
      const d = Math.abs((levels[k] as number) - rate);
      if (d < dist - 1e-12) {
        dist = d;
        best = k;
      }
    }
    return best;
  }

  act(rate: number, bolus: number): Action {
    const m = this.model;
    const r = Math.max(0, rate);
    if (m.mealBolus === 'auto') bolus = 0;
    const channel = m.mealBolus === 'agent';
    if (m.kind === 'discrete') {
      if (channel) {
        const k = this.nearestLevel(r);
        return bolus > 0 ? (m.bolusOffset as number) + k : k;
      }
      this.owed += Math.max(0, bolus);
      const k = this.nearestLevel(r + this.owed / m.stepMinutes);
      this.owed = Math.max(0, this.owed - Math.max(0, ((m.levels[k] as number) - r) * m.stepMinutes));
      return k;
    }
    const out = this.buffer;
    const hi = m.high;
    if (channel) {
      out[0] = Math.min(hi[0] as number, r);
      out[1] = Math.min(hi[1] as number, Math.max(0, bolus));
      return out;
    }
    this.owed += Math.max(0, bolus);
    const rateOut = Math.min(hi[0] as number, r + this.owed / m.stepMinutes);
    this.owed = Math.max(0, this.owed - Math.max(0, (rateOut - r) * m.stepMinutes));
    out[0] = rateOut;
    return out;
  }
}

/** Fixed basal: the prescribed basal rate times `multiple` (default 1), never a bolus. */
export class FixedBasalPolicy implements Policy {
  readonly name = 'glucose/basal';
  readonly kind = 'protocol' as const;
  private actuator: InsulinActuator | null = null;
  private rate = 0;
  constructor(readonly multiple = 1) {
    if (!(multiple >= 0)) throw new TwinlabError('INVALID_ARGUMENT', `glucose/basal: multiple must be ≥ 0, got ${describeValue(multiple)}`);
  }
  reset(context: PolicyContext): void {
    const c = readContext(context, this.name);
    this.actuator = new InsulinActuator(c.actionModel);
    this.rate = this.multiple * c.prescription.basalRate;
  }
  act(_observation: Float32Array, _rng: Rng, _info?: Info): Action {
    if (!this.actuator) throw new TwinlabError('INVALID_STATE', `${this.name}: reset(context) must be called before act()`);
    return this.actuator.act(this.rate, 0);
  }
}

/**
 * Basal-bolus (simglucose BBController, target 140 mg/dL): basal = prescribed basal; when a meal is
 * announced, bolus = carbs/CR + (CGM − 140)/CF if CGM > 150 (no correction without a meal).
 */
export class BasalBolusPolicy implements Policy {
  readonly name = 'glucose/basal-bolus';
  readonly kind = 'protocol' as const;
  private actuator: InsulinActuator | null = null;
  private p: Prescription | null = null;
  private cgmIndex = -1;
  private mealIndex = -1;
  constructor(
    readonly target = BB_TARGET,
    readonly threshold = BB_CORRECTION_THRESHOLD,
  ) {}
  reset(context: PolicyContext): void {
    const c = readContext(context, this.name);
    this.actuator = new InsulinActuator(c.actionModel);
    this.p = c.prescription;
    this.cgmIndex = c.cgm;
    this.mealIndex = c.meal;
  }
  /** The bolus (U) for `carbs` g at reading `cgm` mg/dL. */
  bolus(carbs: number, cgm: number): number {
    return mealBolusDose(carbs, cgm, this.p as Prescription, this.target, this.threshold);
  }
  act(observation: Float32Array, _rng: Rng, _info?: Info): Action {
    if (!this.actuator || !this.p) throw new TwinlabError('INVALID_STATE', `${this.name}: reset(context) must be called before act()`);
    const carbs = this.mealIndex >= 0 ? (observation[this.mealIndex] as number) : 0;
    const cgm = observation[this.cgmIndex] as number;
    return this.actuator.act(this.p.basalRate, this.bolus(carbs, cgm));
  }
}

export interface PidGains {
  /** Per mg/dL of error: rate += basal·kp·e. */
  kp: number;
  /** Per mg/dL·min of integrated error. */
  ki: number;
  /** Per mg/dL/min of CGM slope. */
  kd: number;
  target: number;
  /** Bounds of the integral term ki·∫e, in multiples of basal (anti-windup). */
  integralMin: number;
  integralMax: number;
}

/** Default gains, normalised by the patient's basal so one set fits every patient. */
export const DEFAULT_PID_GAINS: PidGains = { kp: 0.01, ki: 1e-4, kd: 0.5, target: BB_TARGET, integralMin: -1, integralMax: 2 };

/**
 * PID on CGM around the prescribed basal b (gains normalised by b, unlike simglucose's absolute gains):
 *   rate = b·(1 + kp·e + clamp(ki·Σ e·Δt, integralMin, integralMax) + kd·(CGM − CGM_prev)/Δt),  e = CGM − target,
 * clipped at 0. CGM_prev starts at the first reading (no derivative kick; simglucose starts it at 0).
 * Defaults: kp 0.01/(mg/dL) (+50 mg/dL → +0.5 b), ki 1e-4/(mg/dL·min) (50 mg/dL for 2 h → +0.6 b),
 * kd 0.5/(mg/dL/min) (rising 2 mg/dL/min → +1 b); integral within [−1, 2]·b. No meal bolus.
 */
export class PidPolicy implements Policy {
  readonly name = 'glucose/pid';
  readonly kind = 'protocol' as const;
  private actuator: InsulinActuator | null = null;
  private basal = 0;
  private step = 5;
  private cgmIndex = -1;
  private integral = 0;
  private prev = Number.NaN;
  readonly gains: PidGains;
  constructor(gains: Partial<PidGains> = {}) {
    this.gains = { ...DEFAULT_PID_GAINS, ...gains };
    for (const [k, v] of Object.entries(this.gains)) {
      if (!Number.isFinite(v)) throw new TwinlabError('INVALID_ARGUMENT', `glucose/pid: gain ${k} must be a finite number, got ${describeValue(v)}`);
    }
  }
  reset(context: PolicyContext): void {
    const c = readContext(context, this.name);
    this.actuator = new InsulinActuator(c.actionModel);
    this.basal = c.prescription.basalRate;
    this.step = c.actionModel.stepMinutes;
    this.cgmIndex = c.cgm;
    this.integral = 0;
    this.prev = Number.NaN;
  }
  /** Desired rate (U/min) for a reading; advances the integral and the previous reading. */
  rate(cgm: number): number {
    const g = this.gains;
    const e = cgm - g.target;
    const slope = Number.isNaN(this.prev) ? 0 : (cgm - this.prev) / this.step;
    this.prev = cgm;
    this.integral += e * this.step;
    const lo = g.ki !== 0 ? g.integralMin / g.ki : 0;
    const hi = g.ki !== 0 ? g.integralMax / g.ki : 0;
    if (g.ki > 0) this.integral = Math.min(hi, Math.max(lo, this.integral));
    return Math.max(0, this.basal * (1 + g.kp * e + g.ki * this.integral + g.kd * slope));
  }
  act(observation: Float32Array, _rng: Rng, _info?: Info): Action {
    if (!this.actuator) throw new TwinlabError('INVALID_STATE', `${this.name}: reset(context) must be called before act()`);
    return this.actuator.act(this.rate(observation[this.cgmIndex] as number), 0);
  }
}
