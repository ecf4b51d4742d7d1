import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import { register } from '../../engine/registry.js';
import { type DataCollector, type ScheduledEvent, type SimAgent, Simulation } from '../../engine/simulation.js';
import { Box, Discrete } from '../../engine/spaces.js';
import type { T2DPerson } from './cohort.js';
import {
  dietitianMeal,
  resolveT2DOptions,
  T2D_DEFAULT_DAYS,
  T2D_OBS_HIGH,
  T2D_OBS_LABELS,
  T2D_POSTPRANDIAL_MINUTES,
  T2D_RANGE,
  type T2DEnvOptions,
  type T2DEnvState,
  type T2DFixedPerson,
  t2dCgmReading,
  t2dEpisodeEndMinute,
  t2dFeasible,
  t2dMealMinute,
  t2dPerson,
  t2dResetInfo,
  t2dReward,
  writeT2DInfo,
  writeT2DObservation,
} from './env.js';
import { mealAbsorption } from './foods.js';
import { addMeal, type DayConstraints, type DayTotals, dayConstraints, EMPTY_DAY, MEALS_PER_SLOT, MENU, type MealSlot, type MenuMeal } from './menu.js';
import { T2DPatient } from './patient.js';

/**
 * The type 2 diabetes nutrition twin as a composition of agents on the engine's `Simulation`
 * (engine/simulation.ts), clock in minutes from midnight of day 1; one Env step = one meal decision =
 * one `Simulation.step(next meal − now)`:
 *
 *   meals     (scenario)   — the meal schedule: breakfast 07:00, lunch 12:30, dinner 19:00, each moved by
 *                            a uniform jitter (one draw per meal, stream 'meals'); it tells the Env when the
 *                            coming interval ends (the next meal, or 07:00 after the last day).
 *   clinician (decision)   — the meal asked for at this slot (`decide`): the Env's action (the learner), or
 *                            a policy given to the constructor that reads the observation.
 *   dietitian (device)     — serves it (`act`): the asked-for meal when the day can still meet the energy
 *                            and nutrient constraints, else the feasible meal nearest in energy (env.ts
 *                            dietitianMeal); keeps the day's totals and, at `collect`, the feasible set of
 *                            the next slot (menu.ts feasibleMeals).
 *   patient   (physiology) — the Dalla Man 2007 model (patient.ts): eats the served meal (`act`) and is
 *                            advanced minute by minute in the `advance` phase, tallying the interval's
 *                            interstitial glucose (time in / above / below range, sum, max, 3-h peak).
 *   cgm       (device)     — the glucose monitor of the default composition: at the end of the interval
 *                            (`collect`) reads interstitial glucose, with N(0, cgmNoiseSd²) noise (stream
 *                            'cgm'), and reports the interval's mean and maximum.
 *   meter     (device, optional, replaces cgm) — a blood glucose meter (self-monitoring by fingerstick,
 *                            option `meter`): a pre-meal check at every decision and one post-meal check
 *                            `postMealMinutes` after the start of each meal (an event), both with the
 *                            ISO 15197:2013 accuracy band as error (stream 'meter'); no continuous trace.
 *
 * Agents run in that order. With the default composition (no meter) the arithmetic is that of
 * `glucose/t2d-nutrition-v1` (env.ts), whose helpers it calls: the same substitution, day totals and
 * feasibility, the same per-minute patient steps between the same meal minutes, the CGM reading taken
 * at the interval's end, the same reward, observation and info; the meal-time draws and the CGM noise
 * come in the same order from the same named substreams of the reset seed ('meals', 'cgm'), so the
 * episode hash equals v1's for the same options, seed and actions
 * (test/environments/glucose-t2d/t2d-nutrition-agents.test.ts). The meal schedule's next time is drawn
 * by the Env before each `Simulation.step` (the step's length depends on it); v1 draws it at the same
 * point of the same stream. As in v1 a reset without a seed continues the streams (and draws the person
 * of seed 0 when none is fixed); each reset starts a new Simulation at the first meal's minute.
 */

export const T2D_AGENTS_ENV_ID = 'glucose/t2d-nutrition-agents-v0';

/**
 * A blood glucose meter's accuracy: ISO 15197:2013 §6.3 requires ≥ 95 % of results within ±15 mg/dL
 * of the reference below 100 mg/dL and within ±15 % at or above 100 mg/dL. We read that band as the
 * 1.96-sd interval of a normal error: sd(G) = max(15 mg/dL, 0.15·G) / 1.96 (an assumption; the
 * standard bounds the error, it does not give its distribution).
 */
export const METER_ISO15197 = Object.freeze({ absoluteMgDl: 15, relative: 0.15, below: 100, z: 1.96 });
/**
 * Post-meal check time: the ADA Standards of Care (2024, §6 "Glycemic Goals and Hypoglycemia",
 * Diabetes Care 47(Suppl 1):S111) advise measuring post-prandial glucose 1–2 h after the start of the
 * meal (peak < 180 mg/dL as a target); default 2 h, accepted 30–240 min.
 */
export const METER_DEFAULT_POST_MEAL_MINUTES = 120;
export const METER_POST_MEAL_RANGE = Object.freeze({ min: 30, max: 240 });

export interface MeterConfig {
  /** Minutes after the start of a meal of the post-meal check (default 120; the next meal comes first when earlier). */
  postMealMinutes?: number;
  /** 'iso15197' (default): error within the ISO 15197:2013 band; 'exact': the true plasma glucose. */
  accuracy?: 'iso15197' | 'exact';
}

export interface T2DAgentsOptions extends T2DEnvOptions {
  /** Replace the CGM by a fingerstick meter agent (undefined or null: the CGM, as glucose/t2d-nutrition-v1). */
  meter?: MeterConfig | null;
}

/** A clinician's policy: the meal index (as the Env's action space) from the observation at the decision time. */
export type T2DClinicianPolicy = (observation: Float32Array, sim: Simulation) => number;

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class MealScheduleAgent implements SimAgent {
  readonly name = 'meals';
  rng: Rng;
  /** End of the current (or coming) interval: the next meal's minute, or the end of the episode. */
  intervalEnd = 0;

  constructor(
    readonly jitter: number,
    readonly meals: number,
  ) {
    this.rng = Rng.fromSeed(0).fork('meals');
  }

  /** Minute of meal `step` (one draw of the 'meals' stream). */
  mealMinute(step: number): number {
    return t2dMealMinute(step, this.rng.next(), this.jitter);
  }

  /** The end of interval `step` (the meal of slot `step` is being eaten): meal step+1, or 07:00 after the last day. */
  planInterval(step: number): number {
    this.intervalEnd = step + 1 >= this.meals ? t2dEpisodeEndMinute(step + 1) : this.mealMinute(step + 1);
    return this.intervalEnd;
  }
}

export class T2DClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The meal asked for at this slot: set by the Env (the learner) when `policy` is null. */
  action = 0;
  /** The meal asked for in the current interval. */
  asked = 0;

  constructor(
    private readonly observation: Float32Array,
    readonly policy: T2DClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(this.observation, sim);
    if (!Number.isInteger(action) || action < 0 || action >= MEALS_PER_SLOT) {
      throw new TwinlabError('INVALID_ACTION', `${T2D_AGENTS_ENV_ID}: the clinician policy returned ${describeValue(action)}, not a meal index in [0, ${MEALS_PER_SLOT})`);
    }
    this.asked = action;
  }
}

export class DietitianAgent implements SimAgent {
  readonly name = 'dietitian';
  /** Feasible meals at the coming slot (1/0). */
  readonly feasible = new Uint8Array(MEALS_PER_SLOT);
  /** Meals served so far (the slot index of the next one is served mod 3). */
  served = 0;
  day: DayTotals = { ...EMPTY_DAY };
  constraints!: DayConstraints;
  /** The meal served in the current interval and whether it replaced the one asked for. */
  meal: MenuMeal | null = null;
  substituted = false;

  constructor(
    private readonly clinician: T2DClinicianAgent,
    readonly meals: number,
  ) {}

  get slot(): number {
    return this.served % MENU.length;
  }

  start(constraints: DayConstraints, served = 0, day: DayTotals = EMPTY_DAY): void {
    this.constraints = constraints;
    this.served = served;
    this.day = { ...day };
    this.meal = null;
    this.substituted = false;
    if (served < this.meals) t2dFeasible(this.slot, this.day, constraints, this.feasible);
    else this.feasible.fill(1);
  }

  act(): void {
    const meals = (MENU[this.slot] as MealSlot).meals;
    const asked = this.clinician.asked;
    this.substituted = this.feasible[asked] !== 1;
    const meal = meals[dietitianMeal(meals, this.feasible, asked)] as MenuMeal;
    this.meal = meal;
    this.day = addMeal(this.day, meal.composition);
  }

  /** Close the interval: a new day's totals at breakfast, the next slot's feasible meals (all after the last). */
  collect(_sim: Simulation, out: DataCollector): void {
    this.served++;
    if (this.slot === 0) this.day = { ...EMPTY_DAY };
    if (this.served < this.meals) t2dFeasible(this.slot, this.day, this.constraints, this.feasible);
    else this.feasible.fill(1);
    out.record('substituted', this.substituted ? 1 : 0);
  }
}

export class T2DPatientAgent implements SimAgent {
  readonly name = 'patient';
  model!: T2DPatient;
  /** The interval's tally of interstitial glucose, one value per simulated minute. */
  minutes = 0;
  inRange = 0;
  above180 = 0;
  above250 = 0;
  below70 = 0;
  below54 = 0;
  sum = 0;
  max = 0;
  /** Pre-meal glucose and the highest value in the first T2D_POSTPRANDIAL_MINUTES of the interval. */
  pre = 0;
  peak = 0;
  private startMinute = 0;

  constructor(private readonly dietitian: DietitianAgent) {}

  start(model: T2DPatient): void {
    this.model = model;
  }

  sense(sim: Simulation): void {
    this.startMinute = sim.time;
    this.minutes = 0;
    this.inRange = 0;
    this.above180 = 0;
    this.above250 = 0;
    this.below70 = 0;
    this.below54 = 0;
    this.sum = 0;
    this.max = 0;
    this.pre = this.model.interstitialGlucose;
    this.peak = this.pre;
  }

  act(): void {
    const c = (this.dietitian.meal as MenuMeal).composition;
    this.model.eat({ carbsG: c.carbsG, absorption: mealAbsorption(c) });
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    const model = this.model;
    const low = T2D_RANGE.low;
    const high = T2D_RANGE.high;
    for (let m = t0; m < t1; m++) {
      model.step();
      const g = model.interstitialGlucose;
      this.sum += g;
      if (g > this.max) this.max = g;
      if (m - this.startMinute < T2D_POSTPRANDIAL_MINUTES && g > this.peak) this.peak = g;
      if (g >= low && g <= high) this.inRange++;
      if (g > 180) this.above180++;
      if (g > 250) this.above250++;
      if (g < 70) this.below70++;
      if (g < 54) this.below54++;
    }
    this.minutes += t1 - t0;
  }

  /** Post-prandial excursion of the interval: 3-h peak − pre-meal, not below 0. */
  get excursion(): number {
    return Math.max(0, this.peak - this.pre);
  }

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('glucose', this.model.plasmaGlucose);
    out.record('minutes_in_range', this.inRange);
  }
}

/** What the Env shows of glucose: a reading at the decision and two summaries of the interval since the last meal. */
export interface GlucoseMonitor extends SimAgent {
  reading: number;
  mean: number;
  max: number;
  rng: Rng;
  /** The reading at the start of an episode (the interval summaries are that reading). */
  start(): void;
}

export class T2DCgmAgent implements GlucoseMonitor {
  readonly name = 'cgm';
  rng: Rng;
  reading = 0;
  mean = 0;
  max = 0;

  constructor(
    private readonly patient: T2DPatientAgent,
    readonly noiseSd: number,
  ) {
    this.rng = Rng.fromSeed(0).fork('cgm');
  }

  /** The reading at the start of the episode (the interval summaries are that reading). */
  start(): void {
    this.reading = t2dCgmReading(this.patient.model.interstitialGlucose, this.noiseSd, this.rng);
    this.mean = this.reading;
    this.max = this.reading;
  }

  collect(_sim: Simulation, out: DataCollector): void {
    const pt = this.patient;
    this.reading = t2dCgmReading(pt.model.interstitialGlucose, this.noiseSd, this.rng);
    this.mean = pt.minutes > 0 ? pt.sum / pt.minutes : this.reading;
    this.max = pt.max;
    out.record('cgm', this.reading);
  }
}

export class GlucoseMeterAgent implements GlucoseMonitor {
  readonly name = 'meter';
  rng: Rng;
  /** The pre-meal check (at the decision); `mean` and `max` both carry the post-meal check of the last meal. */
  reading = 0;
  mean = 0;
  max = 0;
  /** Checks done (pre- and post-meal) in the episode. */
  checks = 0;
  private readonly post: ScheduledEvent;

  constructor(
    private readonly patient: T2DPatientAgent,
    private readonly schedule: MealScheduleAgent,
    readonly postMealMinutes: number,
    readonly exact: boolean,
  ) {
    this.rng = Rng.fromSeed(0).fork('meter');
    const self = this;
    this.post = {
      time: 0,
      name: 'meter: post-meal check',
      fire(): void {
        const v = self.measure();
        self.mean = v;
        self.max = v;
      },
    };
  }

  /** Capillary glucose, read as plasma glucose (meters report plasma-equivalent values), with the ISO band as error. */
  private measure(): number {
    const g = this.patient.model.plasmaGlucose;
    this.checks++;
    if (this.exact) return Math.min(600, g);
    const e = METER_ISO15197;
    const sd = Math.max(e.absoluteMgDl, e.relative * g) / e.z;
    return Math.min(600, Math.max(0, g + sd * this.rng.normal()));
  }

  start(): void {
    this.checks = 0;
    this.reading = this.measure();
    this.mean = this.reading;
    this.max = this.reading;
  }

  /** The post-meal check is due postMealMinutes after the meal starts, or at the next meal when that comes first. */
  act(sim: Simulation): void {
    this.post.time = Math.min(sim.time + this.postMealMinutes, this.schedule.intervalEnd);
    sim.schedule(this.post);
  }

  collect(_sim: Simulation, out: DataCollector): void {
    this.reading = this.measure();
    out.record('meter_pre_meal', this.reading);
    out.record('meter_post_meal', this.mean);
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

/** glucose/t2d-nutrition-v1's state (restorable into this env, and the reverse) plus the meter's stream and check count when it is on. */
export interface T2DAgentsState extends T2DEnvState {
  meter?: { rng: RngState; checks: number };
}

function meterConfig(v: unknown): { postMealMinutes: number; exact: boolean } | null {
  if (v === undefined || v === null) return null;
  const fail = (field: string, message: string) => new TwinlabError('INVALID_ARGUMENT', `${T2D_AGENTS_ENV_ID}: option ${field} ${message}`, { field });
  if (typeof v !== 'object' || Array.isArray(v)) throw fail('meter', `must be { postMealMinutes?, accuracy? }, got ${describeValue(v)}`);
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => k !== 'postMealMinutes' && k !== 'accuracy');
  if (extra !== undefined) throw fail(`meter.${extra}`, 'is not a meter option (postMealMinutes, accuracy)');
  const post = o.postMealMinutes ?? METER_DEFAULT_POST_MEAL_MINUTES;
  const { min, max } = METER_POST_MEAL_RANGE;
  if (!(typeof post === 'number' && Number.isInteger(post) && post >= min && post <= max)) {
    throw fail('meter.postMealMinutes', `must be an integer number of minutes in [${min}, ${max}], got ${describeValue(post)}`);
  }
  const accuracy = o.accuracy ?? 'iso15197';
  if (accuracy !== 'iso15197' && accuracy !== 'exact') throw fail('meter.accuracy', `must be 'iso15197' or 'exact', got ${describeValue(accuracy)}`);
  return { postMealMinutes: post, exact: accuracy === 'exact' };
}

/**
 * `glucose/t2d-nutrition-agents-v0`: glucose/t2d-nutrition-v1 run as the agent composition above.
 * Same options, observation, actions, rewards and info, plus `meter`. A `policy` given to the
 * constructor drives the clinician instead of the Env's action (the action is still validated, then ignored).
 */
export class T2DAgentsEnv extends BaseEnv<number> {
  readonly id = T2D_AGENTS_ENV_ID;
  readonly observationSpace = new Box(0, [...T2D_OBS_HIGH], [T2D_OBS_LABELS.length], T2D_OBS_LABELS);
  readonly actionSpace = new Discrete(MEALS_PER_SLOT, 0, Array.from({ length: MEALS_PER_SLOT }, (_, m) => `meal ${m}`));
  readonly days: number;
  readonly energyKcal: number;
  readonly fixedPerson: T2DFixedPerson;
  readonly patientId: string;

  readonly meals: MealScheduleAgent;
  readonly clinician: T2DClinicianAgent;
  readonly dietitian: DietitianAgent;
  readonly patient: T2DPatientAgent;
  /** The glucose monitor: the CGM (default) or the meter. */
  readonly monitor: GlucoseMonitor;
  readonly meter: GlucoseMeterAgent | null;
  /** The simulation of the current episode (a new one per reset, clock in minutes from midnight of day 1). */
  simulation: Simulation;

  private person!: T2DPerson;
  private personKey: { seed: number; index: number } | null = null;
  private model!: T2DPatient;
  private episodeSeed = 0;
  private steps = 0;
  private readonly observation = new Float32Array(T2D_OBS_LABELS.length);
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: T2DAgentsOptions = {}, policy: T2DClinicianPolicy | null = null) {
    super();
    const { meter, ...rest } = options;
    const c = resolveT2DOptions(rest, T2D_AGENTS_ENV_ID);
    const meterOptions = meterConfig(meter);
    if (meterOptions !== null && c.noiseSd > 0) {
      throw new TwinlabError('INVALID_ARGUMENT', `${T2D_AGENTS_ENV_ID}: option cgmNoiseSd has no effect with a meter (the meter has its own error, meter.accuracy); drop one`, { field: 'cgmNoiseSd' });
    }
    this.days = c.days;
    this.energyKcal = c.energyKcal;
    this.fixedPerson = c.fixedPerson;
    this.patientId = c.patientId;
    const n = this.days * MENU.length;
    this.meals = new MealScheduleAgent(c.jitter, n);
    this.clinician = new T2DClinicianAgent(this.observation, policy);
    this.dietitian = new DietitianAgent(this.clinician, n);
    this.patient = new T2DPatientAgent(this.dietitian);
    this.meter = meterOptions === null ? null : new GlucoseMeterAgent(this.patient, this.meals, meterOptions.postMealMinutes, meterOptions.exact);
    this.monitor = this.meter ?? new T2DCgmAgent(this.patient, c.noiseSd);
    if (c.given !== undefined) this.usePerson(null, c.given);
    else if (this.fixedPerson !== null) this.usePerson(this.fixedPerson === 'reference' ? null : (this.fixedPerson as { seed: number; index: number }));
    this.simulation = this.newSimulation(0);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  private usePerson(key: { seed: number; index: number } | null, given?: T2DPerson): void {
    this.person = t2dPerson(key, given);
    this.personKey = key;
    this.model = new T2DPatient(this.person.params, { basal: this.person.basal });
  }

  private newSimulation(startTime: number): Simulation {
    const sim = new Simulation({ seed: this.episodeSeed, startTime });
    sim.addAgent(this.meals);
    sim.addAgent(this.clinician);
    sim.addAgent(this.dietitian);
    sim.addAgent(this.patient);
    sim.addAgent(this.monitor);
    return sim;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    const seed = options.seed;
    if (seed !== undefined) {
      // The streams sim.rng(name) of a Simulation seeded with `seed` (root.fork(name)); taken here because
      // the first meal's draw sets the Simulation's start time.
      this.episodeSeed = seed;
      const root = Rng.fromSeed(seed);
      this.meals.rng = root.fork('meals');
      this.monitor.rng = root.fork(this.monitor.name);
    }
    if (this.fixedPerson === null) this.usePerson({ seed: seed ?? 0, index: 0 });
    this.model.reset();
    this.patient.start(this.model);
    this.steps = 0;
    // the person rests at basal until the first meal: the clock starts there
    const first = this.meals.mealMinute(0);
    this.simulation = this.newSimulation(first);
    const constraints = dayConstraints(this.energyKcal, this.person.params.BW);
    this.dietitian.start(constraints);
    this.monitor.start();
    this.writeObservation();
    writeT2DInfo(this.info, this.simulation.time, this.model, this.monitor.reading, null, false, 0, 0, 0, 0, 0, this.dietitian.feasible);
    const info = t2dResetInfo(this.info, this.patientId, this.person, this.energyKcal, constraints);
    info.agents = this.simulation.agents.map((a) => a.name);
    return { observation: this.observation, info };
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    const sim = this.simulation;
    sim.step(this.meals.planInterval(this.steps) - sim.time);
    this.steps++;
    const pt = this.patient;
    const dt = this.dietitian;
    const excursion = pt.excursion;
    const reward = t2dReward(pt.minutes, pt.inRange, excursion, dt.substituted);
    this.writeObservation();
    writeT2DInfo(this.info, sim.time, this.model, this.monitor.reading, dt.meal, dt.substituted, pt.minutes, pt.inRange, pt.above180, pt.below70, excursion, dt.feasible);
    const info = this.info;
    info.minutesAbove250 = pt.above250;
    info.minutesBelow54 = pt.below54;
    info.glucoseSum = pt.sum;
    info.peak = pt.peak;
    info.preMeal = pt.pre;
    const r = this.result;
    r.reward = reward;
    r.terminated = false;
    r.truncated = this.steps >= this.days * MENU.length;
    return r;
  }

  private writeObservation(): void {
    const m = this.monitor;
    writeT2DObservation(this.observation, m.reading, m.mean, m.max, this.steps, this.dietitian.day, this.dietitian.feasible);
  }

  getState(): T2DAgentsState {
    const m = this.monitor;
    const t = this.simulation.time;
    return {
      patient: this.model.getState(),
      step: this.steps,
      minute: t,
      nextMealMinute: t,
      day: { ...this.dietitian.day },
      cgm: m.reading,
      cgmMean: m.mean,
      cgmMax: m.max,
      person: this.personKey === null ? null : { ...this.personKey },
      meals: this.meals.rng.saveState(),
      cgmRng: (this.meter === null ? m.rng : Rng.fromSeed(this.episodeSeed).fork('cgm')).saveState(),
      ...(this.meter !== null ? { meter: { rng: this.meter.rng.saveState(), checks: this.meter.checks } } : {}),
    };
  }

  /**
   * Continue from `getState()` (of this env, or of glucose/t2d-nutrition-v1 with the same options) in a
   * new Simulation started at the saved minute; the streams are restored from the state.
   */
  setState(saved: unknown): void {
    const s = saved as T2DAgentsState;
    if (!s || typeof s !== 'object' || !Number.isInteger(s.step) || s.step < 0 || typeof s.patient !== 'object' || !Number.isFinite(s.minute)) {
      throw new TwinlabError('INVALID_STATE', `${T2D_AGENTS_ENV_ID}: setState expects a state from getState(), got ${describeValue(saved)}`);
    }
    if (this.meter !== null && s.meter === undefined) {
      throw new TwinlabError('INVALID_STATE', `${T2D_AGENTS_ENV_ID}: setState of an env with a meter needs the meter's state (state.meter), got none`);
    }
    if (this.fixedPerson === null) this.usePerson(s.person);
    this.model.setState(s.patient);
    this.patient.start(this.model);
    this.steps = s.step;
    this.meals.rng = Rng.restore(s.meals);
    const m = this.monitor;
    if (this.meter !== null && s.meter !== undefined) {
      this.meter.rng = Rng.restore(s.meter.rng);
      this.meter.checks = s.meter.checks;
    } else m.rng = Rng.restore(s.cgmRng);
    m.reading = s.cgm;
    m.mean = s.cgmMean;
    m.max = s.cgmMax;
    this.dietitian.start(dayConstraints(this.energyKcal, this.person.params.BW), s.step, s.day);
    this.simulation = this.newSimulation(s.minute);
    this.writeObservation();
    writeT2DInfo(this.info, s.minute, this.model, m.reading, null, false, 0, 0, 0, 0, 0, this.dietitian.feasible);
  }
}

let registered = false;

/** Registers `glucose/t2d-nutrition-agents-v0` (idempotent). */
export function registerT2DNutritionAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: T2D_AGENTS_ENV_ID,
    description:
      'glucose/t2d-nutrition-v1 as an agent composition on engine/simulation.ts (meal schedule, clinician, dietitian, patient, CGM): same episodes for the same seed; a fingerstick meter instead of the CGM by configuration',
    entryPoint: (options) => new T2DAgentsEnv(options as T2DAgentsOptions),
    maxEpisodeSteps: T2D_DEFAULT_DAYS * MENU.length,
    decisionInterval: 'each meal (3 a day)',
    optionNames: ['patient', 'cohortSeed', 'patientIndex', 'days', 'energyKcal', 'mealJitterMinutes', 'cgmNoiseSd', 'patientId', 'person', 'meter'],
    optionDocs: {
      meter: "the glucose monitor is a fingerstick meter instead of the CGM: { postMealMinutes = 120 (30–240), accuracy = 'iso15197' | 'exact' }; obs 0 = pre-meal check, obs 1 and 2 = the post-meal check",
      other: 'every other option as glucose/t2d-nutrition-v1',
    },
    reference:
      'Dalla Man, Rizza & Cobelli, IEEE TBME 54:1740 (2007); ISO 15197:2013 (meter accuracy); ADA Standards of Care 2024 §6 (post-prandial check 1–2 h after the meal); Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
