import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { bgRisk, highRisk, lowRisk } from './endpoints.js';
import { type AgeGroup, basalRate, isAgeGroup, PATIENT_COLUMNS, type PatientParams, PUMPS, patientNames, SENSORS, type Therapy } from './params.js';
import { type IntegratorName, T1DPatient, type T1DPatientState } from './patient.js';
import { getPatient, getTherapy } from './patients.js';
import { InsulinPump, type PumpMode } from './pump.js';
import { MealScenario, MINUTES_PER_DAY, type ScenarioSpec, type ScenarioState } from './scenario.js';
import { CgmSensor, type CgmState, type SplineKind } from './sensor.js';
import { generatedName, isGeneratedName } from './virtual-patients.js';

/**
 * `glucose/t1d-v1`: the UVA/Padova S2008 T1D patient (patient.ts) behind a CGM (sensor.ts) and an
 * insulin pump (pump.ts), eating a meal scenario (scenario.ts). Every interface choice is listed in
 * environments/glucose/README.md, "Environment glucose/t1d-v1"; the essentials:
 *
 * One step = `decisionMinutes` (default: the sensor sample time, 5 min for GuardianRT) one-minute
 * patient steps, in this order per minute: scenario meal at the clock minute → pump insulin
 * (basal, plus the whole bolus in the step's first minute) → patient.step → sensor.measure (a new
 * reading when clock % sampleTime == 0, else held). At the decision point that ends the step the env
 * announces the meals starting before (clock + decisionMinutes + announceLeadMinutes), so with no
 * lead a meal is announced at the last decision point at or before it — the bolus can never lag it.
 *
 * Reward, with G the true plasma glucose at the end of the step and t the 0-based step index:
 *   r_t = 1 − risk(G)/100 ∈ [0, 1]   (risk = Kovatchev 10·f², endpoints.ts)
 *   on termination (G < hypoThreshold or > hyperThreshold at any minute of the step):
 *   r_t = −max(1, H − t), H = horizonSteps (default one day),
 * i.e. 0 for the step and −1 for every step the episode would still have had. Because every
 * surviving reward is ≥ 0, a terminated return is strictly below the return of *any* continuation
 * of the same history that survives to the horizon: ending early is never rewarded (simglucose #40).
 */
export const DEFAULT_BASAL_MULTIPLES: readonly number[] = [0, 0.5, 1, 1.5, 2, 3, 5];
export const DEFAULT_PATIENT = 'adult#001';
export const BB_TARGET = 140;
export const BB_CORRECTION_THRESHOLD = 150;
/** Announced carbs are "on board" for this long, decaying linearly after the meal time (Loop's default absorption, 3 h). */
export const COB_ABSORPTION_MIN = 180;
/** Insulin action of rapid-acting analogues: LoopKit ExponentialInsulinModel, adult curve: peak 75 min, duration 360 min. */
export const IOB_PEAK_MIN = 75;
export const IOB_DURATION_MIN = 360;
export const OBS_IOB_MAX = 100;
export const OBS_CARBS_MAX = 1000;

export type MealBolusMode = 'none' | 'auto' | 'agent';
/**
 * A patient given by value rather than by name — e.g. one posterior draw of a personal twin, resolved
 * by experiments/ into plain JSON so a worker thread can build the env from its options. `params`
 * holds every column of PATIENT_COLUMNS (params.ts), `x0` the 13 initial states, `therapy` what the
 * patient's clinician prescribed (the basal rate is basalRate(params), i.e. u2ss·BW/6000).
 */
export interface ExplicitPatient {
  name: string;
  params: Record<string, number>;
  x0: number[];
  therapy: { carbRatio: number; correctionFactor: number; age?: number; tdi?: number };
}

export type PatientSpec = string | { group: AgeGroup; seed: number; index: number } | ExplicitPatient;

export interface GlucoseEnvOptions {
  patient?: PatientSpec;
  patients?: PatientSpec[];
  cohort?: AgeGroup | 'all' | { group: AgeGroup; seed: number; size: number };
  scenario?: ScenarioSpec;
  sensor?: string;
  sensorNoise?: boolean;
  spline?: SplineKind;
  pump?: string;
  pumpMode?: PumpMode;
  decisionMinutes?: number;
  continuous?: boolean;
  basalMultiples?: number[];
  mealBolus?: MealBolusMode;
  announceMeals?: boolean;
  announceLeadMinutes?: number;
  cgmHistory?: number;
  randomInitialBG?: boolean;
  startHour?: number;
  horizonSteps?: number;
  hypoThreshold?: number;
  hyperThreshold?: number;
  integrator?: IntegratorName;
  rk4Step?: number;
  id?: string;
}

/**
 * Fraction of a dose still on board `t` minutes after delivery — LoopKit `ExponentialInsulinModel`
 * (Loop issue #388): τ = t_p(1 − t_p/t_d)/(1 − 2t_p/t_d), a = 2τ/t_d, S = 1/(1 − a + (1 + a)e^{−t_d/τ}),
 * IOB(t) = 1 − S(1 − a)[(t²/(τ t_d (1 − a)) − t/τ − 1)e^{−t/τ} + 1] for 0 < t < t_d.
 */
export function insulinOnBoardFraction(t: number, peak = IOB_PEAK_MIN, duration = IOB_DURATION_MIN): number {
  if (t <= 0) return 1;
  if (t >= duration) return 0;
  const tau = (peak * (1 - peak / duration)) / (1 - (2 * peak) / duration);
  const a = (2 * tau) / duration;
  const S = 1 / (1 - a + (1 + a) * Math.exp(-duration / tau));
  return 1 - S * (1 - a) * (((t * t) / (tau * duration * (1 - a)) - t / tau - 1) * Math.exp(-t / tau) + 1);
}

/**
 * The standard bolus-calculator dose (U): carbs/CR, plus (CGM − target)/CF when CGM > threshold and there
 * are carbs (simglucose BBController: target 140, threshold 150). The pump's calculator and the
 * basal-bolus protocol (policies/glucose/protocols.ts) both use it.
 */
export function mealBolusDose(
  carbs: number,
  cgm: number,
  therapy: Pick<Therapy, 'carbRatio' | 'correctionFactor'>,
  target = BB_TARGET,
  threshold = BB_CORRECTION_THRESHOLD,
): number {
  if (!(carbs > 0)) return 0;
  const correction = cgm > threshold ? (cgm - target) / therapy.correctionFactor : 0;
  return carbs / therapy.carbRatio + correction;
}

/** What a clinician knows of the patient (published in reset info as `prescription`). */
export interface Prescription {
  /** Steady-state basal, U/min and U/h. */
  basalRate: number;
  basalRateUPerHour: number;
  carbRatio: number;
  correctionFactor: number;
  bodyWeight: number;
}

/** How actions map to insulin (published in reset info as `actionModel`, for protocols). */
export interface ActionModel {
  kind: 'discrete' | 'continuous';
  /** Discrete: requested basal rate (U/min, before pump rounding) of index k < levels.length. */
  levels: number[];
  /** Discrete with mealBolus 'agent': index k ≥ bolusOffset means level k − bolusOffset + "give the calculator bolus". */
  bolusOffset: number | null;
  mealBolus: MealBolusMode;
  stepMinutes: number;
  /** Continuous: the Box bounds of [rate U/min(, bolus U)]. */
  high: number[];
}

interface AnnouncedMeal {
  minute: number;
  carbs: number;
}

export interface GlucoseEnvState {
  episodeSeed: number;
  seedStream: RngState;
  patientName: string;
  patient: T1DPatientState;
  sensor: CgmState;
  scenario: ScenarioState;
  steps: number;
  clock: number;
  history: number[];
  historyPos: number;
  iobRing: number[];
  iobPos: number;
  announced: AnnouncedMeal[];
  announcedNow: number;
  cgm: number;
}

export interface ExplicitEntry {
  params: PatientParams;
  therapy: Therapy;
}

function isExplicit(spec: unknown): spec is ExplicitPatient {
  return spec !== null && typeof spec === 'object' && 'params' in spec;
}

function finiteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Validates an explicit patient; every problem names the field under `where`. */
function explicitEntry(spec: ExplicitPatient, where: string): ExplicitEntry {
  const bad = (field: string, what: string, got: unknown) =>
    new TwinlabError('INVALID_ARGUMENT', `${where}.${field} ${what}, got ${describeValue(got)}`, { field: `${where}.${field}` });
  const allowed = ['name', 'params', 'x0', 'therapy'];
  const extra = Object.keys(spec).filter((k) => !allowed.includes(k));
  if (extra.length > 0)
    throw bad(
      extra[0] as string,
      `is not a field of an explicit patient (expected ${allowed.join(', ')})`,
      (spec as unknown as Record<string, unknown>)[extra[0] as string],
    );
  const { name, params, x0, therapy } = spec;
  if (typeof name !== 'string' || name === '') throw bad('name', 'must be a non-empty string', name);
  if (patientNames().includes(name) || isGeneratedName(name)) throw bad('name', 'must not be the name of a distributed or generated patient', name);
  if (params === null || typeof params !== 'object' || Array.isArray(params)) throw bad('params', 'must be an object of patient parameters', params);
  const values = params as Record<string, unknown>;
  for (const column of PATIENT_COLUMNS) if (!finiteNumber(values[column])) throw bad(`params.${column}`, 'must be a finite number', values[column]);
  const unknown = Object.keys(values).find((k) => !(PATIENT_COLUMNS as readonly string[]).includes(k));
  if (unknown !== undefined) throw bad(`params.${unknown}`, 'is not a UVA/Padova parameter (params.ts PATIENT_COLUMNS)', values[unknown]);
  if (!(Array.isArray(x0) && x0.length === 13 && x0.every(finiteNumber))) throw bad('x0', 'must be 13 finite numbers', x0);
  if (therapy === null || typeof therapy !== 'object') throw bad('therapy', 'must be { carbRatio, correctionFactor }', therapy);
  for (const key of ['carbRatio', 'correctionFactor'] as const) {
    if (!(finiteNumber(therapy[key]) && therapy[key] > 0)) throw bad(`therapy.${key}`, 'must be a finite number > 0', therapy[key]);
  }
  const p = { name, x0: Float64Array.from(x0) } as PatientParams;
  for (const column of PATIENT_COLUMNS) p[column] = values[column] as number;
  return {
    params: p,
    therapy: { carbRatio: therapy.carbRatio, correctionFactor: therapy.correctionFactor, age: therapy.age ?? Number.NaN, tdi: therapy.tdi ?? Number.NaN },
  };
}

function resolvePatientName(spec: PatientSpec, where: string, explicit: Map<string, ExplicitEntry>): string {
  if (typeof spec === 'string') {
    getPatient(spec); // validates (throws NOT_FOUND naming the choices)
    return spec;
  }
  if (isExplicit(spec)) {
    const entry = explicitEntry(spec, where);
    if (explicit.has(entry.params.name))
      throw new TwinlabError('INVALID_ARGUMENT', `${where}.name ${describeValue(entry.params.name)} is used by another explicit patient`, {
        field: `${where}.name`,
      });
    explicit.set(entry.params.name, entry);
    return entry.params.name;
  }
  if (spec !== null && typeof spec === 'object' && isAgeGroup(spec.group) && Number.isFinite(spec.seed) && Number.isInteger(spec.index) && spec.index >= 0) {
    return generatedName(spec.group, spec.seed, spec.index);
  }
  throw new TwinlabError(
    'INVALID_ARGUMENT',
    `${where} must be a patient name, { group, seed, index } or { name, params, x0, therapy }, got ${describeValue(spec)}`,
  );
}

/** The patients of the options (one of patient, patients, cohort); explicit ones are validated into `explicit`. */
export function patientPool(o: GlucoseEnvOptions, explicit: Map<string, ExplicitEntry>): string[] {
  const given = [o.patient !== undefined, o.patients !== undefined, o.cohort !== undefined].filter(Boolean).length;
  if (given > 1) throw new TwinlabError('INVALID_ARGUMENT', 'give only one of the options patient, patients and cohort');
  if (o.patients !== undefined) {
    if (!Array.isArray(o.patients) || o.patients.length === 0)
      throw new TwinlabError('INVALID_ARGUMENT', `patients must be a non-empty list, got ${describeValue(o.patients)}`);
    return o.patients.map((p, i) => resolvePatientName(p, `patients[${i}]`, explicit));
  }
  if (o.cohort !== undefined) {
    const c = o.cohort;
    if (c === 'all') return patientNames();
    if (typeof c === 'string') {
      if (!isAgeGroup(c))
        throw new TwinlabError('INVALID_ARGUMENT', `cohort must be 'adolescent', 'adult', 'child', 'all' or { group, seed, size }, got ${describeValue(c)}`);
      return patientNames(c);
    }
    if (c !== null && typeof c === 'object' && isAgeGroup(c.group) && Number.isInteger(c.size) && c.size >= 1 && Number.isFinite(c.seed)) {
      return Array.from({ length: c.size }, (_, i) => generatedName(c.group, c.seed, i));
    }
    throw new TwinlabError('INVALID_ARGUMENT', `cohort must be an age group, 'all' or { group, seed, size ≥ 1 }, got ${describeValue(c)}`);
  }
  return [resolvePatientName(o.patient ?? DEFAULT_PATIENT, 'patient', explicit)];
}

function positiveInt(v: unknown, name: string, min = 1): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${name} must be an integer ≥ ${min}, got ${describeValue(v)}`);
  }
  return v;
}

interface LoadedPatient {
  params: PatientParams;
  therapy: Therapy;
  basal: number;
  sim: T1DPatient;
}

export class GlucoseEnv extends BaseEnv<number | Float32Array> {
  readonly id: string;
  readonly observationSpace: Box;
  readonly actionSpace: Discrete | Box;
  readonly stepDuration: { value: number; unit: string };

  readonly options: Readonly<Required<Omit<GlucoseEnvOptions, 'patient' | 'patients' | 'cohort' | 'id' | 'rk4Step'>> & { rk4Step?: number }>;
  readonly pool: readonly string[];
  private readonly sensor: CgmSensor;
  private readonly pump: InsulinPump;
  private readonly scenario: MealScenario;
  private readonly multiples: Float64Array;
  private readonly nLevels: number;
  private readonly horizon: number;
  private readonly histLen: number;
  private readonly iobTable: Float64Array;

  private readonly loaded = new Map<string, LoadedPatient>();
  /** Patients given by value in the options, by name. */
  private readonly explicit = new Map<string, ExplicitEntry>();
  private current!: LoadedPatient;
  private readonly levels: Float64Array;
  private episodeSeed = 0;
  private seedStream: Rng;
  private steps = 0;
  private clock = 0;
  private readonly history: Float64Array;
  private historyPos = 0;
  private readonly iobRing = new Float64Array(IOB_DURATION_MIN);
  private iobPos = 0;
  private announced: AnnouncedMeal[] = [];
  private announcedNow = 0;
  private cgm = 0;
  private readonly x0 = new Float64Array(13);
  private readonly observation: Float32Array;
  private readonly info: Info = {};
  private readonly result: StepResult;
  private readonly onAnnounce = (minute: number, carbs: number): void => {
    this.announced.push({ minute, carbs });
  };

  constructor(options: GlucoseEnvOptions = {}) {
    super();
    const sensorName = options.sensor ?? 'GuardianRT';
    const sensorParams = SENSORS[sensorName];
    if (!sensorParams) throw new TwinlabError('INVALID_ARGUMENT', `sensor must be one of ${Object.keys(SENSORS).join(', ')}, got ${describeValue(sensorName)}`);
    const pumpName = options.pump ?? 'Insulet';
    const pumpParams = PUMPS[pumpName];
    if (!pumpParams) throw new TwinlabError('INVALID_ARGUMENT', `pump must be one of ${Object.keys(PUMPS).join(', ')}, got ${describeValue(pumpName)}`);
    const mealBolus = options.mealBolus ?? 'none';
    if (mealBolus !== 'none' && mealBolus !== 'auto' && mealBolus !== 'agent') {
      throw new TwinlabError('INVALID_ARGUMENT', `mealBolus must be 'none', 'auto' or 'agent', got ${describeValue(mealBolus)}`);
    }
    const decisionMinutes = positiveInt(options.decisionMinutes ?? sensorParams.sampleTime, 'decisionMinutes');
    const multiples = options.basalMultiples ?? [...DEFAULT_BASAL_MULTIPLES];
    if (!Array.isArray(multiples) || multiples.length === 0 || multiples.some((m) => !(typeof m === 'number' && Number.isFinite(m) && m >= 0))) {
      throw new TwinlabError('INVALID_ARGUMENT', `basalMultiples must be a non-empty list of numbers ≥ 0, got ${describeValue(multiples)}`);
    }
    const startHour = options.startHour ?? 0;
    if (!(Number.isInteger(startHour) && startHour >= 0 && startHour < 24)) {
      throw new TwinlabError('INVALID_ARGUMENT', `startHour must be an integer in [0, 23], got ${describeValue(startHour)}`);
    }
    const lead = options.announceLeadMinutes ?? 0;
    if (!(Number.isInteger(lead) && lead >= 0))
      throw new TwinlabError('INVALID_ARGUMENT', `announceLeadMinutes must be an integer ≥ 0, got ${describeValue(lead)}`);
    this.options = {
      scenario: options.scenario ?? 'random',
      sensor: sensorName,
      sensorNoise: options.sensorNoise ?? true,
      spline: options.spline ?? 'not-a-knot',
      pump: pumpName,
      pumpMode: options.pumpMode ?? 'pump',
      decisionMinutes,
      continuous: options.continuous ?? false,
      basalMultiples: [...multiples],
      mealBolus,
      announceMeals: options.announceMeals ?? true,
      announceLeadMinutes: lead,
      cgmHistory: positiveInt(options.cgmHistory ?? 12, 'cgmHistory'),
      randomInitialBG: options.randomInitialBG ?? false,
      startHour,
      horizonSteps: positiveInt(options.horizonSteps ?? Math.round(MINUTES_PER_DAY / decisionMinutes), 'horizonSteps'),
      hypoThreshold: options.hypoThreshold ?? 40,
      hyperThreshold: options.hyperThreshold ?? 600,
      integrator: options.integrator ?? 'rk4',
      rk4Step: options.rk4Step,
    };
    this.id = options.id ?? 'glucose/t1d-v1';
    this.pool = patientPool(options, this.explicit);
    this.sensor = new CgmSensor(sensorParams, { noise: this.options.sensorNoise, spline: this.options.spline });
    this.pump = new InsulinPump(pumpParams, this.options.pumpMode);
    this.scenario = new MealScenario(this.options.scenario);
    this.multiples = Float64Array.from(multiples);
    this.nLevels = multiples.length;
    this.levels = new Float64Array(this.nLevels);
    this.horizon = this.options.horizonSteps;
    this.histLen = this.options.cgmHistory;
    this.history = new Float64Array(this.histLen);
    this.iobTable = Float64Array.from({ length: IOB_DURATION_MIN }, (_, a) => insulinOnBoardFraction(a + 0.5));
    this.stepDuration = { value: decisionMinutes, unit: 'min' };

    if (this.options.continuous) {
      const high = mealBolus === 'agent' ? [this.pump.maxBasalUPerMin, this.pump.maxBolusU] : [this.pump.maxBasalUPerMin];
      this.actionSpace = new Box(0, high, [high.length], mealBolus === 'agent' ? ['basal_u_per_min', 'bolus_u'] : ['insulin_u_per_min']);
    } else {
      const labels = multiples.map((m) => `${m}× basal`);
      this.actionSpace =
        mealBolus === 'agent'
          ? new Discrete(2 * this.nLevels, 0, [...labels, ...labels.map((l) => `${l} + meal bolus`)])
          : new Discrete(this.nLevels, 0, labels);
    }
    const labels: string[] = [];
    for (let k = this.histLen - 1; k >= 1; k--) labels.push(`cgm_t-${k * decisionMinutes}min`);
    labels.push('cgm', 'iob', 'cob', 'meal_announced', 'time_sin', 'time_cos');
    const low: number[] = [];
    const high: number[] = [];
    for (let k = 0; k < this.histLen; k++) {
      low.push(sensorParams.min);
      high.push(sensorParams.max);
    }
    low.push(0, 0, 0, -1, -1);
    high.push(OBS_IOB_MAX, OBS_CARBS_MAX, OBS_CARBS_MAX, 1, 1);
    this.observationSpace = new Box(low, high, [labels.length], labels);
    this.observation = new Float32Array(labels.length);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
    this.seedStream = Rng.fromSeed(0).fork('episode-seeds');
    this.load(this.pool[0] as string);
  }

  private load(name: string): LoadedPatient {
    let p = this.loaded.get(name);
    if (p === undefined) {
      const given = this.explicit.get(name);
      const params = given ? { ...given.params, x0: Float64Array.from(given.params.x0) } : getPatient(name);
      p = {
        params,
        therapy: given ? { ...given.therapy } : getTherapy(name),
        basal: basalRate(params),
        sim: new T1DPatient(
          params,
          this.options.rk4Step === undefined ? { integrator: this.options.integrator } : { integrator: this.options.integrator, rk4Step: this.options.rk4Step },
        ),
      };
      this.loaded.set(name, p);
    }
    this.current = p;
    for (let k = 0; k < this.nLevels; k++) this.levels[k] = (this.multiples[k] as number) * p.basal;
    return p;
  }

  get patientName(): string {
    return this.current.params.name;
  }

  get prescription(): Prescription {
    const c = this.current;
    return {
      basalRate: c.basal,
      basalRateUPerHour: c.basal * 60,
      carbRatio: c.therapy.carbRatio,
      correctionFactor: c.therapy.correctionFactor,
      bodyWeight: c.params.BW,
    };
  }

  get actionModel(): ActionModel {
    const space = this.actionSpace;
    return {
      kind: this.options.continuous ? 'continuous' : 'discrete',
      levels: Array.from(this.levels),
      bolusOffset: !this.options.continuous && this.options.mealBolus === 'agent' ? this.nLevels : null,
      mealBolus: this.options.mealBolus,
      stepMinutes: this.options.decisionMinutes,
      high: space instanceof Box ? Array.from(space.high) : [],
    };
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) {
      this.episodeSeed = options.seed;
      this.seedStream = Rng.fromSeed(options.seed).fork('episode-seeds');
    } else {
      this.episodeSeed = this.seedStream.uint32();
    }
    const root = Rng.fromSeed(this.episodeSeed);
    const name = this.pool.length === 1 ? (this.pool[0] as string) : (this.pool[root.fork('patient').integer(0, this.pool.length)] as string);
    const p = this.load(name);
    this.x0.set(p.params.x0);
    if (this.options.randomInitialBG) {
      // simglucose random_init_bg: Gp, Gt, Gs ~ N(x0, variance 0.1·x0), drawn independently (docs/MODELS.md §0 quirk 6)
      const init = root.fork('init');
      for (const i of [3, 4, 12]) {
        const m = this.x0[i] as number;
        this.x0[i] = Math.max(0, init.normal(m, Math.sqrt(0.1 * m)));
      }
    }
    p.sim.reset(this.x0);
    this.clock = this.options.startHour * 60;
    this.steps = 0;
    this.sensor.reset(root.fork('sensor'));
    this.scenario.reset(root.fork('scenario'), this.clock);
    this.iobRing.fill(0);
    this.iobPos = 0;
    this.announced = [];
    this.cgm = this.sensor.measure(p.sim.subcutaneousGlucose, this.clock);
    this.history.fill(this.cgm);
    this.historyPos = 0;
    this.announce();
    this.fillInfo(0, 0, 0, 0, '');
    this.writeObservation();
    const info: Info = {
      ...this.info,
      prescription: this.prescription,
      actionModel: this.actionModel,
      sensor: this.options.sensor,
      pump: this.options.pump,
      episodeSeed: this.episodeSeed,
      meals: this.scenario.mealsBetween(this.clock, this.clock + this.horizon * this.options.decisionMinutes),
    };
    return { observation: this.observation, info };
  }

  /** Announce meals starting before clock + step + lead; sets announcedNow (grams). */
  private announce(): void {
    const until = this.clock + this.options.decisionMinutes + this.options.announceLeadMinutes;
    this.announcedNow = this.scenario.announce(until, this.onAnnounce);
    const a = this.announced;
    if (a.length > 0 && this.clock - (a[0] as AnnouncedMeal).minute >= COB_ABSORPTION_MIN) {
      this.announced = a.filter((m) => this.clock - m.minute < COB_ABSORPTION_MIN);
    }
  }

  private carbsOnBoard(): number {
    let cob = 0;
    for (const m of this.announced) {
      const age = this.clock - m.minute;
      cob += age <= 0 ? m.carbs : m.carbs * Math.max(0, 1 - age / COB_ABSORPTION_MIN);
    }
    return cob;
  }

  private insulinOnBoard(): number {
    let iob = 0;
    const ring = this.iobRing;
    const n = ring.length;
    let j = this.iobPos;
    for (let a = 0; a < n; a++) {
      j = j === 0 ? n - 1 : j - 1;
      iob += (ring[j] as number) * (this.iobTable[a] as number);
    }
    return iob;
  }

  protected stepEnv(action: number | Float32Array): StepResult {
    const c = this.current;
    const o = this.options;
    let basal: number;
    let bolus = 0;
    if (typeof action === 'number') {
      const level = action % this.nLevels;
      basal = this.pump.basal(this.levels[level] as number);
      if (action >= this.nLevels) bolus = mealBolusDose(this.announcedNow, this.cgm, c.therapy);
    } else {
      basal = this.pump.basal(action[0] as number);
      if (o.mealBolus === 'agent') bolus = action[1] as number;
    }
    if (o.mealBolus === 'auto') bolus += mealBolusDose(this.announcedNow, this.cgm, c.therapy);
    bolus = bolus > 0 ? this.pump.bolus(bolus) : 0;

    const sim = c.sim;
    const n = o.decisionMinutes;
    let gMin = Number.POSITIVE_INFINITY;
    let gMax = Number.NEGATIVE_INFINITY;
    let eaten = 0;
    let insulinU = 0;
    for (let m = 0; m < n; m++) {
      const carbs = this.scenario.carbsAt(this.clock);
      const u = m === 0 ? basal + bolus : basal;
      sim.step(u, carbs);
      insulinU += u;
      this.iobRing[this.iobPos] = u;
      this.iobPos = this.iobPos + 1 === IOB_DURATION_MIN ? 0 : this.iobPos + 1;
      eaten += sim.carbsEatenLastStep;
      this.clock++;
      const g = sim.plasmaGlucose;
      if (g < gMin) gMin = g;
      if (g > gMax) gMax = g;
      this.sensor.measure(sim.subcutaneousGlucose, this.clock);
    }
    this.cgm = this.sensor.reading;
    this.history[this.historyPos] = this.cgm;
    this.historyPos = this.historyPos + 1 === this.histLen ? 0 : this.historyPos + 1;
    this.announce();

    const t = this.steps;
    this.steps++;
    const r = this.result;
    const termination = gMin < o.hypoThreshold ? 'hypoglycaemia' : gMax > o.hyperThreshold ? 'hyperglycaemia' : '';
    r.terminated = termination !== '';
    r.truncated = false;
    r.reward = r.terminated ? -Math.max(1, this.horizon - t) : 1 - bgRisk(sim.plasmaGlucose) / 100;
    this.fillInfo(basal, bolus, insulinU, eaten, termination);
    this.writeObservation();
    return r;
  }

  private fillInfo(basal: number, bolus: number, insulinU: number, eaten: number, termination: string): void {
    const sim = this.current.sim;
    const i = this.info;
    const bg = sim.plasmaGlucose;
    i.patientId = this.current.params.name;
    i.minute = this.clock;
    i.step = this.steps;
    i.bg = bg;
    i.gsub = sim.subcutaneousGlucose;
    i.cgm = this.cgm;
    i.insulin = insulinU / this.options.decisionMinutes;
    i.insulinU = insulinU;
    i.basal = basal;
    i.bolus = bolus;
    i.cho = eaten;
    i.announcedCarbs = this.announcedNow;
    i.iob = this.insulinOnBoard();
    i.cob = this.carbsOnBoard();
    i.risk = bgRisk(bg);
    i.lbgi = lowRisk(bg);
    i.hbgi = highRisk(bg);
    i.termination = termination;
  }

  private writeObservation(): void {
    const obs = this.observation;
    const h = this.histLen;
    for (let k = 0; k < h; k++) obs[k] = this.history[(this.historyPos + k) % h] as number;
    const i = this.info;
    obs[h] = Math.min(OBS_IOB_MAX, Math.max(0, i.iob as number));
    const visible = this.options.announceMeals;
    obs[h + 1] = visible ? Math.min(OBS_CARBS_MAX, i.cob as number) : 0;
    obs[h + 2] = visible ? Math.min(OBS_CARBS_MAX, this.announcedNow) : 0;
    const angle = (2 * Math.PI * (this.clock % MINUTES_PER_DAY)) / MINUTES_PER_DAY;
    obs[h + 3] = Math.sin(angle);
    obs[h + 4] = Math.cos(angle);
  }

  getState(): GlucoseEnvState {
    return {
      episodeSeed: this.episodeSeed,
      seedStream: this.seedStream.saveState(),
      patientName: this.current.params.name,
      patient: this.current.sim.getState(),
      sensor: this.sensor.getState(),
      scenario: this.scenario.getState(),
      steps: this.steps,
      clock: this.clock,
      history: Array.from(this.history),
      historyPos: this.historyPos,
      iobRing: Array.from(this.iobRing),
      iobPos: this.iobPos,
      announced: this.announced.map((m) => ({ ...m })),
      announcedNow: this.announcedNow,
      cgm: this.cgm,
    };
  }

  setState(saved: unknown): void {
    const s = saved as GlucoseEnvState;
    if (s === null || typeof s !== 'object' || typeof s.patientName !== 'string' || !Array.isArray(s.history) || s.history.length !== this.histLen) {
      throw new TwinlabError(
        'INVALID_STATE',
        `${this.id}: setState needs a state from getState() with ${this.histLen} CGM history values, got ${describeValue(saved)}`,
      );
    }
    const p = this.load(s.patientName);
    p.sim.setState(s.patient);
    this.episodeSeed = s.episodeSeed;
    this.seedStream = Rng.restore(s.seedStream);
    this.sensor.setState(s.sensor);
    this.scenario.setState(s.scenario, Rng.fromSeed(s.episodeSeed).fork('scenario'));
    this.steps = s.steps;
    this.clock = s.clock;
    this.history.set(s.history);
    this.historyPos = s.historyPos;
    this.iobRing.set(s.iobRing);
    this.iobPos = s.iobPos;
    this.announced = s.announced.map((m) => ({ ...m }));
    this.announcedNow = s.announcedNow;
    this.cgm = s.cgm;
    this.fillInfo(0, 0, 0, 0, '');
    this.writeObservation();
  }
}
