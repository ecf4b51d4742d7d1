import { describeValue, TwinlabError } from '../../engine/errors.js';
import { DormandPrince, Rk4 } from '../../engine/ode.js';
import { S, STATE_DIM, T1DModel } from './model.js';
import type { PatientParams } from './params.js';

export type IntegratorName = 'rk4' | 'dopri5';

/**
 * Default RK4 steps, minutes (README "Integrator and accuracy"). While carbohydrate is being eaten
 * the gastric-emptying rate kgut switches within a fraction of a minute (D̄ grows by 5000 mg each
 * minute and Qsto crosses b·D̄ inside the minute; tanh slope 5/(2·D̄·(1−b))), which dominates the
 * RK4 error on meal days; those minutes get a finer step. Every other minute is smooth on the
 * 0.5-min scale.
 */
export const DEFAULT_RK4_STEP = 0.5;
export const DEFAULT_RK4_EATING_STEP = 0.05;
/** simglucose integrates each minute with scipy's dopri5 at its defaults. */
export const DEFAULT_RTOL = 1e-6;
export const DEFAULT_ATOL = 1e-12;
/** simglucose's T1DPatient.EAT_RATE, g/min. */
export const EAT_RATE = 5;

export interface PatientOptions {
  integrator?: IntegratorName;
  /** RK4 step in minutes (default DEFAULT_RK4_STEP); must divide into the 1-min step sensibly (≤ 1). */
  rk4Step?: number;
  /** RK4 step in minutes during minutes in which carbohydrate is eaten (default DEFAULT_RK4_EATING_STEP). */
  rk4EatingStep?: number;
  /** Dormand–Prince tolerances (defaults 1e-6 / 1e-12, as simglucose's scipy dopri5). */
  rtol?: number;
  atol?: number;
  /** Initial state (13 values); default params.x0. */
  initialState?: ArrayLike<number>;
}

/** JSON-serialisable snapshot of a patient: physiology, meal bookkeeping and clock. */
export interface T1DPatientState {
  time: number;
  state: number[];
  plannedMeal: number;
  lastQsto: number;
  lastFoodTaken: number;
  isEating: boolean;
  lastToEat: number;
}

function checkState(x: ArrayLike<number>, what: string): void {
  if (x.length !== STATE_DIM) {
    throw new TwinlabError('INVALID_ARGUMENT', `${what} must have ${STATE_DIM} values, got ${x.length}`);
  }
  for (let i = 0; i < STATE_DIM; i++) {
    if (!Number.isFinite(x[i] as number)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${what}[${i}] must be a finite number, got ${describeValue(x[i])}`);
    }
  }
}

/**
 * One virtual T1D patient advanced in one-minute steps, as simglucose's `T1DPatient.step`:
 * the announced carbohydrate joins a planned meal that is eaten at ≤ 5 g/min, the D̄ bookkeeping of
 * the gastric-emptying function is updated at the start of each eating bout, and the 13-state model
 * (model.ts) is integrated over the minute with insulin and CHO held constant.
 */
export class T1DPatient {
  readonly params: PatientParams;
  readonly state = new Float64Array(STATE_DIM);
  time = 0;
  readonly integratorName: IntegratorName;
  readonly rk4Step: number;
  readonly rk4EatingStep: number;

  private readonly model: T1DModel;
  private readonly rk4: Rk4 | undefined;
  private readonly dopri: DormandPrince | undefined;
  private readonly initial = new Float64Array(STATE_DIM);
  private plannedMeal = 0;
  private lastQsto = 0;
  private lastFoodTaken = 0;
  private isEating = false;
  private lastToEat = 0;

  constructor(params: PatientParams, options: PatientOptions = {}) {
    const {
      integrator = 'rk4',
      rk4Step = DEFAULT_RK4_STEP,
      rk4EatingStep = Math.min(rk4Step, DEFAULT_RK4_EATING_STEP),
      rtol = DEFAULT_RTOL,
      atol = DEFAULT_ATOL,
    } = options;
    if (integrator !== 'rk4' && integrator !== 'dopri5') {
      throw new TwinlabError('INVALID_ARGUMENT', `integrator must be 'rk4' or 'dopri5', got ${describeValue(integrator)}`);
    }
    if (!(rk4Step > 0 && rk4Step <= 1)) {
      throw new TwinlabError('INVALID_ARGUMENT', `rk4Step must be in (0, 1] minutes, got ${describeValue(rk4Step)}`);
    }
    if (!(rk4EatingStep > 0 && rk4EatingStep <= 1)) {
      throw new TwinlabError('INVALID_ARGUMENT', `rk4EatingStep must be in (0, 1] minutes, got ${describeValue(rk4EatingStep)}`);
    }
    this.params = params;
    this.integratorName = integrator;
    this.rk4Step = rk4Step;
    this.rk4EatingStep = rk4EatingStep;
    this.model = new T1DModel(params);
    if (integrator === 'rk4') this.rk4 = new Rk4(STATE_DIM);
    else this.dopri = new DormandPrince(STATE_DIM, { rtol, atol });
    const init = options.initialState ?? params.x0;
    checkState(init, 'initialState');
    this.initial.set(init);
    this.reset();
  }

  /** Back to the initial state (x0 unless given) at time 0, with no meal planned or being eaten. */
  reset(initialState?: ArrayLike<number>): void {
    if (initialState !== undefined) {
      checkState(initialState, 'initialState');
      this.initial.set(initialState);
    }
    this.state.set(this.initial);
    this.time = 0;
    this.plannedMeal = 0;
    this.lastQsto = (this.state[S.Qsto1] as number) + (this.state[S.Qsto2] as number);
    this.lastFoodTaken = 0;
    this.isEating = false;
    this.lastToEat = 0;
    this.model.insulin = 0;
    this.model.cho = 0;
    this.model.dbar = this.lastQsto;
  }

  /**
   * Advance exactly one minute: `announcedCarbsG` grams announced at this minute (added to the
   * planned meal, eaten at ≤ 5 g/min), `insulinUPerMin` held over the minute.
   */
  step(insulinUPerMin: number, announcedCarbsG: number): void {
    if (!(insulinUPerMin >= 0) || !Number.isFinite(insulinUPerMin)) {
      throw new TwinlabError('INVALID_ARGUMENT', `insulin must be a finite rate ≥ 0 U/min, got ${describeValue(insulinUPerMin)}`);
    }
    if (!(announcedCarbsG >= 0) || !Number.isFinite(announcedCarbsG)) {
      throw new TwinlabError('INVALID_ARGUMENT', `announced carbohydrate must be finite grams ≥ 0, got ${describeValue(announcedCarbsG)}`);
    }
    // simglucose T1DPatient._announce_meal
    this.plannedMeal += announcedCarbsG;
    const toEat = Math.min(EAT_RATE, this.plannedMeal);
    this.plannedMeal = Math.max(0, this.plannedMeal - toEat);
    // simglucose T1DPatient.step: D̄ bookkeeping
    if (toEat > 0 && this.lastToEat <= 0) {
      this.lastQsto = (this.state[S.Qsto1] as number) + (this.state[S.Qsto2] as number);
      this.lastFoodTaken = 0;
      this.isEating = true;
    }
    if (this.isEating) this.lastFoodTaken += toEat;
    if (toEat <= 0 && this.lastToEat > 0) this.isEating = false;
    this.lastToEat = toEat;

    const m = this.model;
    m.insulin = insulinUPerMin;
    m.cho = toEat;
    m.dbar = this.lastQsto + 1000 * this.lastFoodTaken;
    const t0 = this.time;
    if (this.rk4 !== undefined) this.rk4.integrate(m.rhs, this.state, t0, t0 + 1, toEat > 0 ? this.rk4EatingStep : this.rk4Step);
    else (this.dopri as DormandPrince).integrate(m.rhs, this.state, t0, t0 + 1);
    this.time = t0 + 1;
  }

  /** Plasma glucose Gp/Vg, mg/dL. */
  get plasmaGlucose(): number {
    return (this.state[S.Gp] as number) / this.params.Vg;
  }

  /** Subcutaneous glucose Gs/Vg, mg/dL (what simglucose calls BG and feeds to the CGM). */
  get subcutaneousGlucose(): number {
    return (this.state[S.Gs] as number) / this.params.Vg;
  }

  /** Plasma insulin Ip/Vi, pmol/L. */
  get plasmaInsulin(): number {
    return (this.state[S.Ip] as number) / this.params.Vi;
  }

  /** Grams per minute eaten during the last step. */
  get carbsEatenLastStep(): number {
    return this.lastToEat;
  }

  /** Grams announced but not yet eaten. */
  get plannedCarbs(): number {
    return this.plannedMeal;
  }

  /** Rate of appearance of meal glucose in plasma at the current state, mg/kg/min. */
  get rateOfAppearance(): number {
    return this.model.rateOfAppearance(this.state);
  }

  getState(): T1DPatientState {
    return {
      time: this.time,
      state: Array.from(this.state),
      plannedMeal: this.plannedMeal,
      lastQsto: this.lastQsto,
      lastFoodTaken: this.lastFoodTaken,
      isEating: this.isEating,
      lastToEat: this.lastToEat,
    };
  }

  setState(s: T1DPatientState): void {
    if (s === null || typeof s !== 'object') throw new TwinlabError('INVALID_STATE', `patient state must be an object, got ${describeValue(s)}`);
    checkState(s.state, 'state.state');
    for (const key of ['time', 'plannedMeal', 'lastQsto', 'lastFoodTaken', 'lastToEat'] as const) {
      if (typeof s[key] !== 'number' || !Number.isFinite(s[key])) {
        throw new TwinlabError('INVALID_STATE', `patient state.${key} must be a finite number, got ${describeValue(s[key])}`);
      }
    }
    if (typeof s.isEating !== 'boolean') {
      throw new TwinlabError('INVALID_STATE', `patient state.isEating must be a boolean, got ${describeValue(s.isEating)}`);
    }
    this.state.set(s.state);
    this.time = s.time;
    this.plannedMeal = s.plannedMeal;
    this.lastQsto = s.lastQsto;
    this.lastFoodTaken = s.lastFoodTaken;
    this.isEating = s.isEating;
    this.lastToEat = s.lastToEat;
  }
}
