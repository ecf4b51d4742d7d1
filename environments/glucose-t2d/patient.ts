import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { basalFromParams, basalState, DM2007Model, type DM2007Params, T2D, T2D_STATE_DIM, type T2DBasal } from './model.js';

/** RK4 step, minutes (README "Integrator": within 1e-3 mg/dL of a 0.01-min solution on meal days). */
export const T2D_RK4_STEP = 0.5;
/** Default eating rate, g of carbohydrate per minute (as the type 1 twin's patient: simglucose's 5 g/min). */
export const T2D_EAT_RATE = 5;

export interface MealIntake {
  /** Available carbohydrate, g (glucose equivalents reaching the gut). */
  carbsG: number;
  /** Absorption multiplier of the meal (foods.ts; 1 = Table 1 kinetics). */
  absorption?: number;
  /** Eating rate, g/min (default T2D_EAT_RATE). */
  eatRateGPerMin?: number;
}

export interface T2DPatientOptions {
  /** Basal state; default: the one the parameters imply (basalFromParams). */
  basal?: T2DBasal;
  rk4Step?: number;
}

export interface T2DPatientState {
  time: number;
  state: number[];
  remainingG: number;
  eatRate: number;
  dose: number;
  absorption: number;
  ingestedMg: number;
}

/**
 * One person on the Dalla Man 2007 model advanced in one-minute steps. A meal is eaten at a constant
 * rate; when it starts, the gastric-emptying dose D becomes the stomach content plus the meal (the
 * paper's D for a single meal), and the meal's absorption multiplier applies until the next meal.
 */
export class T2DPatient {
  readonly params: DM2007Params;
  readonly basal: T2DBasal;
  readonly model: DM2007Model;
  readonly state = new Float64Array(T2D_STATE_DIM);
  readonly rk4Step: number;
  time = 0;
  /** Carbohydrate eaten so far, mg (for mass balance). */
  ingestedMg = 0;
  private readonly rk4 = new Rk4(T2D_STATE_DIM);
  private remainingG = 0;
  private eatRate = T2D_EAT_RATE;

  constructor(params: DM2007Params, options: T2DPatientOptions = {}) {
    this.params = params;
    this.basal = options.basal ?? basalFromParams(params);
    this.rk4Step = options.rk4Step ?? T2D_RK4_STEP;
    if (!(this.rk4Step > 0 && this.rk4Step <= 1)) throw new TwinlabError('INVALID_ARGUMENT', `rk4Step must be in (0, 1] min, got ${describeValue(this.rk4Step)}`);
    this.model = new DM2007Model(params, this.basal);
    this.reset();
  }

  reset(): void {
    basalState(this.basal, this.state);
    this.time = 0;
    this.ingestedMg = 0;
    this.remainingG = 0;
    this.eatRate = T2D_EAT_RATE;
    this.model.ingestion = 0;
    this.model.dose = 0;
    this.model.absorption = 1;
  }

  /** Start eating a meal now (a meal still being eaten is finished first: its remainder is added). */
  eat(meal: MealIntake): void {
    const { carbsG, absorption = 1, eatRateGPerMin = T2D_EAT_RATE } = meal;
    if (!(carbsG >= 0) || !Number.isFinite(carbsG)) throw new TwinlabError('INVALID_ARGUMENT', `meal carbsG must be finite grams ≥ 0, got ${describeValue(carbsG)}`);
    if (!(absorption > 0) || !Number.isFinite(absorption)) throw new TwinlabError('INVALID_ARGUMENT', `meal absorption must be a finite number > 0, got ${describeValue(absorption)}`);
    if (!(eatRateGPerMin > 0)) throw new TwinlabError('INVALID_ARGUMENT', `meal eatRateGPerMin must be > 0, got ${describeValue(eatRateGPerMin)}`);
    if (carbsG === 0) return;
    const s = this.state;
    this.remainingG += carbsG;
    this.eatRate = eatRateGPerMin;
    this.model.dose = (s[T2D.Qsto1] as number) + (s[T2D.Qsto2] as number) + 1000 * this.remainingG;
    this.model.absorption = absorption;
  }

  /** Advance one minute. */
  step(): void {
    const g = Math.min(this.eatRate, this.remainingG);
    this.remainingG = g >= this.remainingG ? 0 : this.remainingG - g;
    this.model.ingestion = 1000 * g;
    this.ingestedMg += 1000 * g;
    this.rk4.integrate(this.model.rhs, this.state, this.time, this.time + 1, this.rk4Step);
    this.time += 1;
  }

  /** Advance n minutes. */
  advance(minutes: number): void {
    for (let i = 0; i < minutes; i++) this.step();
  }

  get plasmaGlucose(): number {
    return (this.state[T2D.Gp] as number) / this.params.Vg;
  }

  /** Interstitial glucose (what a CGM senses), mg/dL. */
  get interstitialGlucose(): number {
    return (this.state[T2D.Gs] as number) / this.params.Vg;
  }

  get plasmaInsulin(): number {
    return (this.state[T2D.Ip] as number) / this.params.Vi;
  }

  get secretion(): number {
    return this.model.secretion(this.state);
  }

  get rateOfAppearance(): number {
    return this.model.rateOfAppearance(this.state);
  }

  get eating(): boolean {
    return this.remainingG > 0;
  }

  getState(): T2DPatientState {
    return {
      time: this.time,
      state: Array.from(this.state),
      remainingG: this.remainingG,
      eatRate: this.eatRate,
      dose: this.model.dose,
      absorption: this.model.absorption,
      ingestedMg: this.ingestedMg,
    };
  }

  setState(s: T2DPatientState): void {
    if (!s || !Array.isArray(s.state) || s.state.length !== T2D_STATE_DIM || s.state.some((v) => !Number.isFinite(v))) {
      throw new TwinlabError('INVALID_STATE', `T2D patient state.state must be ${T2D_STATE_DIM} finite numbers, got ${describeValue(s?.state)}`);
    }
    for (const key of ['time', 'remainingG', 'eatRate', 'dose', 'absorption', 'ingestedMg'] as const) {
      if (typeof s[key] !== 'number' || !Number.isFinite(s[key])) throw new TwinlabError('INVALID_STATE', `T2D patient state.${key} must be a finite number, got ${describeValue(s[key])}`);
    }
    this.state.set(s.state);
    this.time = s.time;
    this.remainingG = s.remainingG;
    this.eatRate = s.eatRate;
    this.model.dose = s.dose;
    this.model.absorption = s.absorption;
    this.ingestedMg = s.ingestedMg;
  }
}
