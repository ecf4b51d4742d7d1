import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { generateT2DPerson, referenceT2DPerson, T2D_BASAL, type T2DPerson } from './cohort.js';
import { mealAbsorption } from './foods.js';
import { addMeal, type DayConstraints, type DayTotals, dayConstraints, EMPTY_DAY, feasibleMeals, MEALS_PER_SLOT, MENU, type MealSlot, type MenuMeal } from './menu.js';
import { DM2007_T2D, type DM2007Params, type T2DBasal } from './model.js';
import { T2DPatient, type T2DPatientState } from './patient.js';

/**
 * `glucose/t2d-nutrition-v1`: precision nutrition for a person with type 2 diabetes not on insulin
 * (README "Env"). At each meal time (breakfast, lunch, dinner) the agent picks one of six meals from
 * that slot's menu; the day's choices must meet energy and nutrient constraints (menu.ts). The person
 * is the Dalla Man 2007 model; between decisions it is simulated minute by minute.
 */
export const T2D_ENV_ID = 'glucose/t2d-nutrition-v1';
export const T2D_DEFAULT_DAYS = 3;
export const T2D_RANGE = Object.freeze({ low: 70, high: 180 });
/** Weight of the post-prandial excursion penalty and of a substitution penalty in the reward. */
export const T2D_EXCURSION_WEIGHT = 0.5;
export const T2D_SUBSTITUTION_PENALTY = 0.5;
/** Minutes after a meal over which its excursion (peak − pre-meal glucose) is taken. */
export const T2D_POSTPRANDIAL_MINUTES = 180;

const OPTION_FEATURES = ['carbs_g', 'gi', 'fibre_g', 'energy_kcal', 'feasible'] as const;
export const T2D_OBS_LABELS: readonly string[] = Object.freeze([
  'cgm_mg_dl',
  'cgm_mean_since_last_meal',
  'cgm_max_since_last_meal',
  'slot',
  'day',
  'energy_today_kcal',
  'carbs_today_g',
  'fibre_today_g',
  'protein_today_g',
  ...Array.from({ length: MEALS_PER_SLOT }, (_, m) => OPTION_FEATURES.map((f) => `option${m}_${f}`)).flat(),
]);
/** Upper bounds of the observation (lower bounds 0). */
export const T2D_OBS_HIGH: readonly number[] = Object.freeze([600, 600, 600, 2, 365, 5000, 1000, 500, 500, ...Array.from({ length: MEALS_PER_SLOT }, () => [500, 150, 200, 3000, 1]).flat()]);
const OPTION_BASE = 9;

export interface T2DEnvOptions {
  /** 'reference' (Table 1 T2D subject) or 'generated' (default: a generated person; see patientIndex). */
  patient?: 'reference' | 'generated';
  /** Generated cohort seed and index; when absent, each reset draws a person from the reset seed. */
  cohortSeed?: number;
  patientIndex?: number;
  days?: number;
  /** Daily energy target, kcal (default 1500). */
  energyKcal?: number;
  /** Meal times jitter uniformly by ± this many minutes (default 30). */
  mealJitterMinutes?: number;
  /** CGM noise sd, mg/dL (default 0: the interstitial glucose itself). */
  cgmNoiseSd?: number;
  patientId?: string;
  /**
   * A person given by value: a full Table 1-shaped parameter set and its basal state (a personal
   * twin's posterior draw, experiments/personal-cohort.ts). Overrides patient / cohortSeed / patientIndex.
   */
  person?: { id: string; params: DM2007Params; basal: T2DBasal };
}

/** Check a `person` option: every parameter and basal value of the Table 1 shape, finite; errors name the field. */
function explicitPerson(value: unknown, envId: string): T2DPerson {
  const bad = (field: string, v: unknown) =>
    new TwinlabError('INVALID_ARGUMENT', `${envId}: option person.${field} must be a finite number, got ${describeValue(v)}`, { field: `person.${field}` });
  if (value === null || typeof value !== 'object') throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option person must be { id, params, basal }, got ${describeValue(value)}`, { field: 'person' });
  const o = value as { id?: unknown; params?: Record<string, unknown>; basal?: Record<string, unknown> };
  const params = {} as Record<string, number>;
  for (const key of Object.keys(DM2007_T2D)) {
    const v = o.params?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`params.${key}`, v);
    params[key] = v;
  }
  const basal = {} as Record<string, number>;
  for (const key of Object.keys(T2D_BASAL)) {
    const v = o.basal?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`basal.${key}`, v);
    basal[key] = v;
  }
  return { id: typeof o.id === 'string' ? o.id : 'personal', params: params as unknown as DM2007Params, basal: basal as unknown as T2DBasal };
}

export interface T2DEnvState {
  patient: T2DPatientState;
  step: number;
  minute: number;
  nextMealMinute: number;
  day: DayTotals;
  cgm: number;
  cgmMean: number;
  cgmMax: number;
  person: { seed: number; index: number } | null;
  meals: RngState;
  cgmRng: RngState;
}

function num(envId: string, o: Record<string, unknown>, name: string, fallback: number, min: number, max: number, integer = false): number {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option ${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got ${describeValue(value)}`, { field: name });
  }
  return value;
}

/** A fixed generated person (cohort seed and index), the reference subject, a person given by value, or null: drawn from each reset seed. */
export type T2DFixedPerson = { seed: number; index: number } | 'reference' | 'explicit' | null;

/** The options of `glucose/t2d-nutrition-v1`, checked (shared with `glucose/t2d-nutrition-agents-v0`). */
export interface T2DResolvedOptions {
  days: number;
  energyKcal: number;
  jitter: number;
  noiseSd: number;
  fixedPerson: T2DFixedPerson;
  patientId: string;
  /** The person given by value (option `person`), when fixedPerson is 'explicit'. */
  given: T2DPerson | undefined;
}

/** Check the env options; errors name `envId` and the option. */
export function resolveT2DOptions(options: T2DEnvOptions, envId: string = T2D_ENV_ID): T2DResolvedOptions {
  const o = options as Record<string, unknown>;
  const days = num(envId, o, 'days', T2D_DEFAULT_DAYS, 1, 365, true);
  const energyKcal = num(envId, o, 'energyKcal', 1500, 800, 4000);
  const jitter = num(envId, o, 'mealJitterMinutes', 30, 0, 120, true);
  const noiseSd = num(envId, o, 'cgmNoiseSd', 0, 0, 50);
  if (o.patient !== undefined && o.patient !== 'reference' && o.patient !== 'generated') {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option patient must be 'reference' or 'generated', got ${describeValue(o.patient)}`, { field: 'patient' });
  }
  let given: T2DPerson | undefined;
  let fixedPerson: T2DFixedPerson;
  if (o.person !== undefined) {
    given = explicitPerson(o.person, envId);
    fixedPerson = 'explicit';
  } else if (o.patient === 'reference') fixedPerson = 'reference';
  else if (o.cohortSeed !== undefined || o.patientIndex !== undefined) {
    fixedPerson = { seed: num(envId, o, 'cohortSeed', 0, -2147483648, 2147483647, true), index: num(envId, o, 'patientIndex', 0, 0, 1e9, true) };
  } else fixedPerson = null;
  const patientId = typeof o.patientId === 'string' ? o.patientId : given !== undefined ? given.id : fixedPerson === 'reference' ? 'dm2007-t2d' : 'generated';
  return { days, energyKcal, jitter, noiseSd, fixedPerson, patientId, given };
}

/** The person of a fixed key (null: the Table 1 reference subject) or given by value. */
export function t2dPerson(key: { seed: number; index: number } | null, given?: T2DPerson): T2DPerson {
  return given ?? (key === null ? referenceT2DPerson() : generateT2DPerson(key.seed, key.index));
}

/** Clock minute (from midnight of day 1) of meal `step` (slot step mod 3 of day ⌊step/3⌋), moved by the jitter draw u ∈ [0, 1). */
export function t2dMealMinute(step: number, u: number, jitter: number): number {
  const dayIndex = Math.floor(step / MENU.length);
  const slot = MENU[step % MENU.length] as MealSlot;
  return dayIndex * 1440 + slot.minute + Math.round((2 * u - 1) * jitter);
}

/** End of the last interval of an episode of `steps` meals: 07:00 the morning after the last dinner's day. */
export function t2dEpisodeEndMinute(steps: number): number {
  return Math.floor((steps - 1) / MENU.length + 1) * 1440 + (MENU[0] as MealSlot).minute;
}

/**
 * Feasible meals at `slot` into `out`. When no choice can complete a day meeting the constraints (a
 * heavy person's protein minimum beyond the menu's reach), every meal counts as feasible.
 */
export function t2dFeasible(slot: number, day: DayTotals, constraints: DayConstraints, out: Uint8Array): void {
  if (feasibleMeals(slot, day, constraints, out) === 0) out.fill(1);
}

/** The dietitian's substitution: the meal served for `action` (itself when feasible, else the feasible meal closest in energy). */
export function dietitianMeal(meals: readonly MenuMeal[], feasible: Uint8Array, action: number): number {
  if (feasible[action] === 1) return action;
  const want = (meals[action] as MenuMeal).composition.energyKcal;
  let best = -1;
  for (let m = 0; m < meals.length; m++) {
    if (feasible[m] !== 1) continue;
    if (best < 0 || Math.abs((meals[m] as MenuMeal).composition.energyKcal - want) < Math.abs((meals[best] as MenuMeal).composition.energyKcal - want)) best = m;
  }
  return best < 0 ? action : best;
}

/** The CGM's reading of interstitial glucose g: plus N(0, sd²) noise when sd > 0 (one draw of `rng`), clamped to [0, 600] mg/dL. */
export function t2dCgmReading(g: number, noiseSd: number, rng: Rng): number {
  const noisy = noiseSd > 0 ? g + noiseSd * rng.normal() : g;
  return Math.min(600, Math.max(0, noisy));
}

/** Reward of one interval: time in range minus the weighted excursion (per 100 mg/dL) minus the substitution penalty. */
export function t2dReward(minutes: number, inRange: number, excursion: number, substituted: boolean): number {
  const tir = minutes > 0 ? inRange / minutes : 1;
  return tir - (T2D_EXCURSION_WEIGHT * excursion) / 100 - (substituted ? T2D_SUBSTITUTION_PENALTY : 0);
}

/** Write the observation (labels T2D_OBS_LABELS) at meal `step` (the next decision). */
export function writeT2DObservation(o: Float32Array, cgm: number, mean: number, max: number, step: number, day: DayTotals, feasible: Uint8Array): void {
  const slot = step % MENU.length;
  o[0] = cgm;
  o[1] = Math.min(600, mean);
  o[2] = Math.min(600, max);
  o[3] = slot;
  o[4] = Math.min(365, Math.floor(step / MENU.length));
  o[5] = Math.min(5000, day.energyKcal);
  o[6] = Math.min(1000, day.carbsG);
  o[7] = Math.min(500, day.fibreG);
  o[8] = Math.min(500, day.proteinG);
  const meals = (MENU[slot] as MealSlot).meals;
  for (let m = 0; m < MEALS_PER_SLOT; m++) {
    const c = (meals[m] as MenuMeal).composition;
    const k = OPTION_BASE + m * OPTION_FEATURES.length;
    o[k] = c.carbsG;
    o[k + 1] = c.gi;
    o[k + 2] = c.fibreG;
    o[k + 3] = c.energyKcal;
    o[k + 4] = feasible[m] as number;
  }
}

/** The step info's fields (the endpoints read them); the per-interval extras (minutesAbove250, …) are zero here. */
export function writeT2DInfo(
  info: Info,
  minute: number,
  patient: T2DPatient,
  cgm: number,
  meal: MenuMeal | null,
  substituted: boolean,
  minutes: number,
  inRange: number,
  above180: number,
  below70: number,
  excursion: number,
  feasible: Uint8Array,
): void {
  info.minute = minute;
  info.glucose = patient.plasmaGlucose;
  info.cgm = cgm;
  info.insulin = patient.plasmaInsulin;
  info.meal = meal === null ? null : meal.id;
  info.carbs = meal === null ? 0 : meal.composition.carbsG;
  info.gi = meal === null ? 0 : meal.composition.gi;
  info.gl = meal === null ? 0 : meal.composition.gl;
  info.energy = meal === null ? 0 : meal.composition.energyKcal;
  info.substituted = substituted;
  info.minutes = minutes;
  info.minutesInRange = inRange;
  info.minutesAbove180 = above180;
  info.minutesBelow70 = below70;
  info.minutesAbove250 = 0;
  info.minutesBelow54 = 0;
  info.glucoseSum = 0;
  info.excursion = excursion;
  info.peak = 0;
  info.preMeal = 0;
  info.feasible = Array.from(feasible);
}

/** The reset info beyond the step fields: the person, the prescription (constraints and menu) and the basal state. */
export function t2dResetInfo(info: Info, patientId: string, person: T2DPerson, energyKcal: number, constraints: DayConstraints): Info {
  return {
    ...info,
    patientId,
    person: person.id,
    prescription: { bodyWeightKg: person.params.BW, energyKcal, constraints: { ...constraints }, menu: MENU.map((s) => ({ slot: s.id, meals: s.meals.map((m) => ({ id: m.id, ...m.composition })) })) },
    basal: { ...person.basal },
  };
}

export class T2DNutritionEnv extends BaseEnv<number> {
  readonly id = T2D_ENV_ID;
  readonly observationSpace = new Box(0, [...T2D_OBS_HIGH], [T2D_OBS_LABELS.length], T2D_OBS_LABELS);
  readonly actionSpace = new Discrete(MEALS_PER_SLOT, 0, Array.from({ length: MEALS_PER_SLOT }, (_, m) => `meal ${m}`));
  readonly days: number;
  readonly energyKcal: number;
  readonly jitter: number;
  readonly noiseSd: number;
  readonly fixedPerson: T2DFixedPerson;
  readonly patientId: string;

  private person!: T2DPerson;
  private personKey: { seed: number; index: number } | null = null;
  private patient!: T2DPatient;
  private constraints!: DayConstraints;
  private stepIndex = 0;
  /** Clock minute (from midnight of day 1) of the patient's time 0. */
  private minute = 0;
  private nextMealMinute = 0;
  private day: DayTotals = { ...EMPTY_DAY };
  private cgm = 0;
  private cgmMean = 0;
  private cgmMax = 0;
  private mealsRng = Rng.fromSeed(0).fork('meals');
  private cgmRng = Rng.fromSeed(0).fork('cgm');
  private readonly feasible = new Uint8Array(MEALS_PER_SLOT);
  private readonly observation = new Float32Array(T2D_OBS_LABELS.length);
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: T2DEnvOptions = {}) {
    super();
    const c = resolveT2DOptions(options);
    this.days = c.days;
    this.energyKcal = c.energyKcal;
    this.jitter = c.jitter;
    this.noiseSd = c.noiseSd;
    this.fixedPerson = c.fixedPerson;
    this.patientId = c.patientId;
    const given = c.given;
    if (given !== undefined) this.usePerson(null, given);
    else if (this.fixedPerson !== null) this.usePerson(this.fixedPerson === 'reference' ? null : (this.fixedPerson as { seed: number; index: number }));
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  private usePerson(key: { seed: number; index: number } | null, given?: T2DPerson): void {
    this.person = t2dPerson(key, given);
    this.personKey = key;
    this.patient = new T2DPatient(this.person.params, { basal: this.person.basal });
    this.constraints = dayConstraints(this.energyKcal, this.person.params.BW);
  }

  /** Feasible meals at the current slot (t2dFeasible). */
  private updateFeasible(): void {
    t2dFeasible(this.slotIndex, this.day, this.constraints, this.feasible);
  }

  get slotIndex(): number {
    return this.stepIndex % MENU.length;
  }

  /** Meal-time jitter drawn once per slot (always one draw, so streams stay aligned across policies). */
  private mealMinute(step: number): number {
    return t2dMealMinute(step, this.mealsRng.next(), this.jitter);
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    const seed = options.seed;
    if (seed !== undefined) {
      const root = Rng.fromSeed(seed);
      this.mealsRng = root.fork('meals');
      this.cgmRng = root.fork('cgm');
    }
    if (this.fixedPerson === null) this.usePerson({ seed: seed ?? 0, index: 0 });
    this.patient.reset();
    this.stepIndex = 0;
    this.day = { ...EMPTY_DAY };
    this.nextMealMinute = this.mealMinute(0);
    // the person rests at basal until the first meal: start the clock there
    this.minute = this.nextMealMinute;
    this.cgm = this.sense();
    this.cgmMean = this.cgm;
    this.cgmMax = this.cgm;
    this.updateFeasible();
    this.writeObservation();
    this.writeInfo(null, false, 0, 0, 0, 0, 0);
    return { observation: this.observation, info: t2dResetInfo(this.info, this.patientId, this.person, this.energyKcal, this.constraints) };
  }

  private sense(): number {
    return t2dCgmReading(this.patient.interstitialGlucose, this.noiseSd, this.cgmRng);
  }

  protected stepEnv(action: number): StepResult {
    const slot = this.slotIndex;
    const meals = (MENU[slot] as MealSlot).meals;
    const substituted = this.feasible[action] !== 1;
    const chosen = dietitianMeal(meals, this.feasible, action);
    const meal = meals[chosen] as MenuMeal;
    const c = meal.composition;
    this.patient.eat({ carbsG: c.carbsG, absorption: mealAbsorption(c) });
    this.day = addMeal(this.day, c);

    this.stepIndex++;
    const last = this.stepIndex >= this.days * MENU.length;
    // after the last dinner: until 07:00 the next morning
    const end = last ? t2dEpisodeEndMinute(this.stepIndex) : this.mealMinute(this.stepIndex);
    const pre = this.patient.interstitialGlucose;
    let inRange = 0;
    let above180 = 0;
    let above250 = 0;
    let below70 = 0;
    let below54 = 0;
    let sum = 0;
    let peak = pre;
    let max = 0;
    const minutes = end - this.minute;
    for (let t = 0; t < minutes; t++) {
      this.patient.step();
      const g = this.patient.interstitialGlucose;
      sum += g;
      if (g > max) max = g;
      if (t < T2D_POSTPRANDIAL_MINUTES && g > peak) peak = g;
      if (g >= T2D_RANGE.low && g <= T2D_RANGE.high) inRange++;
      if (g > 180) above180++;
      if (g > 250) above250++;
      if (g < 70) below70++;
      if (g < 54) below54++;
    }
    this.minute = end;
    this.nextMealMinute = end;
    this.cgm = this.sense();
    this.cgmMean = minutes > 0 ? sum / minutes : this.cgm;
    this.cgmMax = max;
    if (this.slotIndex === 0) this.day = { ...EMPTY_DAY };
    if (!last) this.updateFeasible();
    else this.feasible.fill(1);
    const excursion = Math.max(0, peak - pre);
    const reward = t2dReward(minutes, inRange, excursion, substituted);
    this.writeObservation();
    this.writeInfo(meal, substituted, minutes, inRange, above180, below70, excursion);
    const info = this.info;
    info.minutesAbove250 = above250;
    info.minutesBelow54 = below54;
    info.glucoseSum = sum;
    info.peak = peak;
    info.preMeal = pre;
    const r = this.result;
    r.reward = reward;
    r.terminated = false;
    r.truncated = last;
    return r;
  }

  private writeObservation(): void {
    writeT2DObservation(this.observation, this.cgm, this.cgmMean, this.cgmMax, this.stepIndex, this.day, this.feasible);
  }

  private writeInfo(meal: MenuMeal | null, substituted: boolean, minutes: number, inRange: number, above180: number, below70: number, excursion: number): void {
    writeT2DInfo(this.info, this.minute, this.patient, this.cgm, meal, substituted, minutes, inRange, above180, below70, excursion, this.feasible);
  }

  getState(): T2DEnvState {
    return {
      patient: this.patient.getState(),
      step: this.stepIndex,
      minute: this.minute,
      nextMealMinute: this.nextMealMinute,
      day: { ...this.day },
      cgm: this.cgm,
      cgmMean: this.cgmMean,
      cgmMax: this.cgmMax,
      person: this.personKey === null ? null : { ...this.personKey },
      meals: this.mealsRng.saveState(),
      cgmRng: this.cgmRng.saveState(),
    };
  }

  setState(saved: unknown): void {
    const s = saved as T2DEnvState;
    if (!s || typeof s !== 'object' || !Number.isInteger(s.step) || typeof s.patient !== 'object') {
      throw new TwinlabError('INVALID_STATE', `${T2D_ENV_ID}: setState expects a state from getState(), got ${describeValue(saved)}`);
    }
    if (this.fixedPerson === null) this.usePerson(s.person);
    this.patient.setState(s.patient);
    this.stepIndex = s.step;
    this.minute = s.minute;
    this.nextMealMinute = s.nextMealMinute;
    this.day = { ...s.day };
    this.cgm = s.cgm;
    this.cgmMean = s.cgmMean;
    this.cgmMax = s.cgmMax;
    this.mealsRng = Rng.restore(s.meals);
    this.cgmRng = Rng.restore(s.cgmRng);
    if (this.stepIndex < this.days * MENU.length) this.updateFeasible();
    this.writeObservation();
    this.writeInfo(null, false, 0, 0, 0, 0, 0);
  }
}
