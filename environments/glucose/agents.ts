import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { register } from '../../engine/registry.js';
import { Rng } from '../../engine/random.js';
import { type DataCollector, type ScheduledEvent, type SimAgent, Simulation } from '../../engine/simulation.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { bgRisk, highRisk, lowRisk } from './endpoints.js';
import {
  COB_ABSORPTION_MIN,
  DEFAULT_BASAL_MULTIPLES,
  type ExplicitEntry,
  type GlucoseEnvOptions,
  IOB_DURATION_MIN,
  insulinOnBoardFraction,
  type MealBolusMode,
  mealBolusDose,
  OBS_CARBS_MAX,
  OBS_IOB_MAX,
  patientPool,
} from './env.js';
import { basalRate, type PatientParams, PUMPS, SENSORS, type Therapy } from './params.js';
import { T1DPatient, type T1DPatientState } from './patient.js';
import { getPatient, getTherapy } from './patients.js';
import { InsulinPump } from './pump.js';
import { MealScenario, MINUTES_PER_DAY, type ScenarioState } from './scenario.js';
import { CgmSensor, type CgmState } from './sensor.js';

/**
 * The glucose twin as a composition of agents on the engine's `Simulation` (engine/simulation.ts):
 *
 *   meals     (scenario)  — the meal schedule; the patient eats what it serves at each minute; at the
 *                            end of every step it announces the coming meals to the care team.
 *   clinician (decision)  — turns the learner's action (the Env's action) or a policy into a basal
 *                            rate and a bolus request, at the start of each step (`decide`).
 *   pump      (device)    — rounds and limits the request as the real pump does (`act`), delivers it
 *                            minute by minute and keeps the insulin-on-board record.
 *   patient   (physiology)— the UVA/Padova S2008 model (patient.ts), advanced one minute at a time
 *                            inside the Simulation's `advance` phase, reading the pump and the meals.
 *   cgm       (device)    — samples subcutaneous glucose on its own cadence as scheduled events (every
 *                            sampleTime minutes), so another CGM is only another sampleTime and noise.
 *   nurse     (optional)  — checks capillary glucose every `everyMinutes` and gives rescue carbs when low.
 *
 * One Env step is one `Simulation.step(decisionMinutes)`. Agents are added in the order above; the
 * patient precedes nothing that integrates, so every device reads the patient's state at the event
 * time. The arithmetic per minute is the one of `glucose/t1d-v1` (env.ts) — meal at the clock minute,
 * pump insulin (bolus in the step's first minute), patient.step, CGM reading at the new minute — and the
 * random streams are the same named substreams of the episode seed ('patient', 'init', 'sensor',
 * 'scenario'), so with the default agents the episode hash equals that of `glucose/t1d-v1`
 * (test/environments/glucose/agents.test.ts).
 */

export const GLUCOSE_AGENTS_ENV_ID = 'glucose/t1d-agents-v0';

/** Hypoglycaemia threshold of a capillary check and the "15-15 rule" rescue (ADA Standards of Care 2024, §6, Diabetes Care 47(Suppl 1):S111). */
export const NURSE_HYPO_MG_DL = 70;
export const NURSE_RESCUE_CARBS_G = 15;

export interface NurseConfig {
  /** Minutes between capillary glucose checks (e.g. 240 = every 4 h); first check everyMinutes after the start. */
  everyMinutes: number;
  /** Give rescue carbs when the check is below this, mg/dL (default 70). */
  threshold?: number;
  /** Grams of fast carbohydrate given (default 15). */
  rescueCarbs?: number;
}

export interface GlucoseAgentsOptions extends Omit<GlucoseEnvOptions, 'continuous'> {
  /** Add a nurse agent (undefined or null: no nurse). */
  nurse?: NurseConfig | null;
}

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class MealAgent implements SimAgent {
  readonly name = 'meals';
  readonly scenario: MealScenario;
  announcedNow = 0;
  private announced: { minute: number; carbs: number }[] = [];
  private readonly onAnnounce = (minute: number, carbs: number): void => {
    this.announced.push({ minute, carbs });
  };

  constructor(
    spec: GlucoseEnvOptions['scenario'],
    private readonly announceAheadMinutes: number,
  ) {
    this.scenario = new MealScenario(spec ?? 'random');
  }

  start(sim: Simulation): void {
    this.scenario.reset(sim.rng('scenario'), sim.time);
    this.announced = [];
    this.announce(sim.time);
  }

  carbsAt(minute: number): number {
    return this.scenario.carbsAt(minute);
  }

  /** Meals starting before now + step + lead are announced (as glucose/t1d-v1 does at each decision point). */
  private announce(now: number): void {
    this.announcedNow = this.scenario.announce(now + this.announceAheadMinutes, this.onAnnounce);
    const a = this.announced;
    if (a.length > 0 && now - (a[0] as { minute: number }).minute >= COB_ABSORPTION_MIN) {
      this.announced = a.filter((m) => now - m.minute < COB_ABSORPTION_MIN);
    }
  }

  carbsOnBoard(now: number): number {
    let cob = 0;
    for (const m of this.announced) {
      const age = now - m.minute;
      cob += age <= 0 ? m.carbs : m.carbs * Math.max(0, 1 - age / COB_ABSORPTION_MIN);
    }
    return cob;
  }

  getState(): { scenario: ScenarioState; announced: { minute: number; carbs: number }[]; announcedNow: number } {
    return { scenario: this.scenario.getState(), announced: this.announced.map((m) => ({ ...m })), announcedNow: this.announcedNow };
  }

  setState(s: ReturnType<MealAgent['getState']>, sim: Simulation): void {
    this.scenario.setState(s.scenario, sim.rng('scenario'));
    this.announced = s.announced.map((m) => ({ ...m }));
    this.announcedNow = s.announcedNow;
  }

  collect(sim: Simulation, out: DataCollector): void {
    this.announce(sim.time);
    out.record('announced_carbs', this.announcedNow);
  }
}

/** What the clinician asks of the pump: a basal rate (U/min) and a bolus (U), before pump rounding. */
export interface InsulinOrder {
  basal: number;
  bolus: number;
}

/** A clinician's policy: the discrete action (as the Env's action space) for the current state. */
export type ClinicianPolicy = (sim: Simulation) => number;

export class ClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The action for the coming step: set by the Env (learner) when `policy` is null. */
  action = 0;
  readonly order: InsulinOrder = { basal: 0, bolus: 0 };

  constructor(
    private readonly levels: Float64Array,
    private readonly mealBolus: MealBolusMode,
    private readonly therapy: () => Therapy,
    private readonly meals: MealAgent,
    private readonly cgmReading: () => number,
    readonly policy: ClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(sim);
    const n = this.levels.length;
    this.order.basal = this.levels[action % n] as number;
    let bolus = 0;
    if (action >= n) bolus = mealBolusDose(this.meals.announcedNow, this.cgmReading(), this.therapy());
    if (this.mealBolus === 'auto') bolus += mealBolusDose(this.meals.announcedNow, this.cgmReading(), this.therapy());
    this.order.bolus = bolus;
  }
}

export class PumpAgent implements SimAgent {
  readonly name = 'pump';
  readonly device: InsulinPump;
  basal = 0;
  bolus = 0;
  /** Units delivered during the current step. */
  deliveredU = 0;
  private bolusMinute = Number.NaN;
  private readonly iobRing = new Float64Array(IOB_DURATION_MIN);
  private iobPos = 0;
  private readonly iobTable = Float64Array.from({ length: IOB_DURATION_MIN }, (_, a) => insulinOnBoardFraction(a + 0.5));

  constructor(
    device: InsulinPump,
    private readonly clinician: () => InsulinOrder,
  ) {
    this.device = device;
  }

  start(): void {
    this.iobRing.fill(0);
    this.iobPos = 0;
    this.basal = 0;
    this.bolus = 0;
    this.bolusMinute = Number.NaN;
  }

  getState(): { basal: number; bolus: number; deliveredU: number; bolusMinute: number | null; iobRing: number[]; iobPos: number } {
    const bolusMinute = Number.isNaN(this.bolusMinute) ? null : this.bolusMinute;
    return { basal: this.basal, bolus: this.bolus, deliveredU: this.deliveredU, bolusMinute, iobRing: Array.from(this.iobRing), iobPos: this.iobPos };
  }

  setState(s: ReturnType<PumpAgent['getState']>): void {
    this.basal = s.basal;
    this.bolus = s.bolus;
    this.deliveredU = s.deliveredU;
    this.bolusMinute = s.bolusMinute ?? Number.NaN;
    this.iobRing.set(s.iobRing);
    this.iobPos = s.iobPos;
  }

  act(sim: Simulation): void {
    const order = this.clinician();
    this.basal = this.device.basal(order.basal);
    this.bolus = order.bolus > 0 ? this.device.bolus(order.bolus) : 0;
    this.bolusMinute = sim.time;
    this.deliveredU = 0;
  }

  /** Insulin rate (U/min) over `minute`; the bolus goes in the first minute of the step. */
  deliver(minute: number): number {
    const u = minute === this.bolusMinute ? this.basal + this.bolus : this.basal;
    this.deliveredU += u;
    this.iobRing[this.iobPos] = u;
    this.iobPos = this.iobPos + 1 === IOB_DURATION_MIN ? 0 : this.iobPos + 1;
    return u;
  }

  /** Insulin on board, U (LoopKit exponential curve over the delivery record). */
  insulinOnBoard(): number {
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

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('insulin_u', this.deliveredU);
  }
}

export class PatientAgent implements SimAgent {
  readonly name = 'patient';
  model!: T1DPatient;
  /** Extremes of plasma glucose over the current step, and grams eaten in it. */
  gMin = Number.POSITIVE_INFINITY;
  gMax = Number.NEGATIVE_INFINITY;
  eaten = 0;
  private extraCarbs = 0;

  constructor(
    private readonly meals: MealAgent,
    private readonly pump: PumpAgent,
  ) {}

  /** Carbohydrate given outside the meal plan (rescue), eaten from the next minute. */
  giveCarbs(grams: number): void {
    this.extraCarbs += grams;
  }

  start(model: T1DPatient): void {
    this.model = model;
    this.extraCarbs = 0;
  }

  getState(): { model: T1DPatientState; extraCarbs: number; eaten: number } {
    return { model: this.model.getState(), extraCarbs: this.extraCarbs, eaten: this.eaten };
  }

  setState(s: ReturnType<PatientAgent['getState']>): void {
    this.model.setState(s.model);
    this.extraCarbs = s.extraCarbs;
    this.eaten = s.eaten;
  }

  sense(): void {
    this.gMin = Number.POSITIVE_INFINITY;
    this.gMax = Number.NEGATIVE_INFINITY;
    this.eaten = 0;
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    const model = this.model;
    for (let m = t0; m < t1; m++) {
      let carbs = this.meals.carbsAt(m);
      if (this.extraCarbs > 0) {
        carbs += this.extraCarbs;
        this.extraCarbs = 0;
      }
      model.step(this.pump.deliver(m), carbs);
      this.eaten += model.carbsEatenLastStep;
      const g = model.plasmaGlucose;
      if (g < this.gMin) this.gMin = g;
      if (g > this.gMax) this.gMax = g;
    }
  }

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('bg', this.model.plasmaGlucose);
  }
}

export class CgmAgent implements SimAgent {
  readonly name = 'cgm';
  readonly device: CgmSensor;
  private readonly sample: ScheduledEvent;

  constructor(
    device: CgmSensor,
    private readonly patient: PatientAgent,
  ) {
    this.device = device;
    const self = this;
    this.sample = {
      time: 0,
      name: 'cgm sample',
      fire(sim: Simulation): void {
        self.device.measure(self.patient.model.subcutaneousGlucose, sim.time);
        self.scheduleNext(sim);
      },
    };
  }

  get reading(): number {
    return this.device.reading;
  }

  /** First reading at the start time, then one every sampleTime minutes on the clock grid. */
  start(sim: Simulation): void {
    this.device.reset(sim.rng('sensor'));
    this.device.measure(this.patient.model.subcutaneousGlucose, sim.time);
    this.scheduleNext(sim);
  }

  /** Continue a saved sensor in a new simulation (the next sample on the clock grid). */
  resume(sim: Simulation, state: CgmState): void {
    this.device.setState(state);
    this.scheduleNext(sim);
  }

  private scheduleNext(sim: Simulation): void {
    const st = this.device.sampleTime;
    this.sample.time = (Math.floor(sim.time / st) + 1) * st;
    sim.schedule(this.sample);
  }

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('cgm', this.device.reading);
  }
}

export class NurseAgent implements SimAgent {
  readonly name = 'nurse';
  checks = 0;
  rescues = 0;
  private lastCheck = Number.NaN;
  private readonly round: ScheduledEvent;

  constructor(
    readonly config: Required<NurseConfig>,
    private readonly patient: PatientAgent,
  ) {
    const self = this;
    this.round = {
      time: 0,
      name: 'nurse glucose check',
      priority: 1,
      fire(sim: Simulation): void {
        const bg = self.patient.model.plasmaGlucose;
        self.checks++;
        self.lastCheck = bg;
        if (bg < self.config.threshold) {
          self.rescues++;
          self.patient.giveCarbs(self.config.rescueCarbs);
        }
        self.round.time = sim.time + self.config.everyMinutes;
        sim.schedule(self.round);
      },
    };
  }

  start(sim: Simulation): void {
    this.checks = 0;
    this.rescues = 0;
    this.lastCheck = Number.NaN;
    this.round.time = sim.time + this.config.everyMinutes;
    sim.schedule(this.round);
  }

  getState(): { checks: number; rescues: number; nextRound: number } {
    return { checks: this.checks, rescues: this.rescues, nextRound: this.round.time };
  }

  resume(sim: Simulation, s: ReturnType<NurseAgent['getState']>): void {
    this.checks = s.checks;
    this.rescues = s.rescues;
    this.lastCheck = Number.NaN;
    this.round.time = s.nextRound;
    sim.schedule(this.round);
  }

  collect(_sim: Simulation, out: DataCollector): void {
    if (!Number.isNaN(this.lastCheck)) out.record('nurse_bg', this.lastCheck);
    this.lastCheck = Number.NaN;
    out.record('nurse_rescues', this.rescues);
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

export interface GlucoseAgentsState {
  episodeSeed: number;
  seedStream: ReturnType<Rng['saveState']>;
  patientName: string;
  clock: number;
  steps: number;
  history: number[];
  historyPos: number;
  patient: ReturnType<PatientAgent['getState']>;
  pump: ReturnType<PumpAgent['getState']>;
  meals: ReturnType<MealAgent['getState']>;
  cgm: CgmState;
  nurse: ReturnType<NurseAgent['getState']> | null;
}

interface LoadedPatient {
  params: PatientParams;
  therapy: Therapy;
  basal: number;
  model: T1DPatient;
}

function intOption(v: unknown, name: string, min: number): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${name} must be an integer ≥ ${min}, got ${describeValue(v)}`, { field: name });
  }
  return v;
}

function nurseConfig(v: unknown): Required<NurseConfig> | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new TwinlabError('INVALID_ARGUMENT', `nurse must be { everyMinutes, threshold?, rescueCarbs? }, got ${describeValue(v)}`);
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => !['everyMinutes', 'threshold', 'rescueCarbs'].includes(k));
  if (extra !== undefined) throw new TwinlabError('INVALID_ARGUMENT', `nurse.${extra} is not a nurse option (everyMinutes, threshold, rescueCarbs)`, { field: `nurse.${extra}` });
  const threshold = o.threshold ?? NURSE_HYPO_MG_DL;
  const rescueCarbs = o.rescueCarbs ?? NURSE_RESCUE_CARBS_G;
  if (!(typeof threshold === 'number' && Number.isFinite(threshold))) throw new TwinlabError('INVALID_ARGUMENT', `nurse.threshold must be a number, got ${describeValue(threshold)}`);
  if (!(typeof rescueCarbs === 'number' && rescueCarbs >= 0 && Number.isFinite(rescueCarbs)))
    throw new TwinlabError('INVALID_ARGUMENT', `nurse.rescueCarbs must be a number ≥ 0, got ${describeValue(rescueCarbs)}`);
  return { everyMinutes: intOption(o.everyMinutes, 'nurse.everyMinutes', 1), threshold, rescueCarbs };
}

/**
 * `glucose/t1d-agents-v0`: glucose/t1d-v1 (Discrete actions) run as the agent composition above.
 * Same options (except `continuous`), plus `nurse`. A `policy` given to the constructor drives the
 * clinician instead of the Env's action (the action is then still validated but ignored).
 */
export class GlucoseAgentsEnv extends BaseEnv<number> {
  readonly id: string;
  readonly observationSpace: Box;
  readonly actionSpace: Discrete;
  readonly stepDuration: { value: number; unit: string };
  readonly pool: readonly string[];

  readonly meals: MealAgent;
  readonly clinician: ClinicianAgent;
  readonly pump: PumpAgent;
  readonly patient: PatientAgent;
  readonly cgm: CgmAgent;
  readonly nurse: NurseAgent | null;
  /** The simulation of the current episode (a new one per reset). */
  simulation!: Simulation;

  private readonly explicit = new Map<string, ExplicitEntry>();
  private readonly loaded = new Map<string, LoadedPatient>();
  private current!: LoadedPatient;
  private readonly multiples: Float64Array;
  private readonly levels: Float64Array;
  private readonly decisionMinutes: number;
  private readonly horizon: number;
  private readonly histLen: number;
  private readonly history: Float64Array;
  private historyPos = 0;
  private readonly x0 = new Float64Array(13);
  private readonly observation: Float32Array;
  private readonly info: Info = {};
  private readonly result: StepResult;
  private episodeSeed = 0;
  private seedStream = Rng.fromSeed(0).fork('episode-seeds');
  private steps = 0;
  private readonly mealBolus: MealBolusMode;
  private readonly o: {
    randomInitialBG: boolean;
    startHour: number;
    hypo: number;
    hyper: number;
    announceMeals: boolean;
    integrator: 'rk4' | 'dopri5';
    rk4Step?: number;
    sensor: string;
    pump: string;
  };

  constructor(options: GlucoseAgentsOptions = {}, policy: ClinicianPolicy | null = null) {
    super();
    if ((options as Record<string, unknown>).continuous) throw new TwinlabError('INVALID_ARGUMENT', `${GLUCOSE_AGENTS_ENV_ID}: continuous actions are not supported (use glucose/t1d-v1)`);
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
    const multiples = options.basalMultiples ?? [...DEFAULT_BASAL_MULTIPLES];
    if (!Array.isArray(multiples) || multiples.length === 0 || multiples.some((m) => !(typeof m === 'number' && Number.isFinite(m) && m >= 0))) {
      throw new TwinlabError('INVALID_ARGUMENT', `basalMultiples must be a non-empty list of numbers ≥ 0, got ${describeValue(multiples)}`);
    }
    const startHour = options.startHour ?? 0;
    if (!(Number.isInteger(startHour) && startHour >= 0 && startHour < 24)) {
      throw new TwinlabError('INVALID_ARGUMENT', `startHour must be an integer in [0, 23], got ${describeValue(startHour)}`);
    }
    this.decisionMinutes = intOption(options.decisionMinutes ?? sensorParams.sampleTime, 'decisionMinutes', 1);
    const lead = intOption(options.announceLeadMinutes ?? 0, 'announceLeadMinutes', 0);
    this.histLen = intOption(options.cgmHistory ?? 12, 'cgmHistory', 1);
    this.horizon = intOption(options.horizonSteps ?? Math.round(MINUTES_PER_DAY / this.decisionMinutes), 'horizonSteps', 1);
    this.o = {
      randomInitialBG: options.randomInitialBG ?? false,
      startHour,
      hypo: options.hypoThreshold ?? 40,
      hyper: options.hyperThreshold ?? 600,
      announceMeals: options.announceMeals ?? true,
      integrator: options.integrator ?? 'rk4',
      rk4Step: options.rk4Step,
      sensor: sensorName,
      pump: pumpName,
    };
    this.id = options.id ?? GLUCOSE_AGENTS_ENV_ID;
    this.pool = patientPool(options, this.explicit);
    this.multiples = Float64Array.from(multiples);
    this.levels = new Float64Array(multiples.length);
    this.history = new Float64Array(this.histLen);
    this.stepDuration = { value: this.decisionMinutes, unit: 'min' };

    // The agents: built once, put in a fresh Simulation at every reset.
    this.mealBolus = mealBolus;
    this.meals = new MealAgent(options.scenario, this.decisionMinutes + lead);
    const sensor = new CgmSensor(sensorParams, { noise: options.sensorNoise ?? true, spline: options.spline ?? 'not-a-knot' });
    const pump = new InsulinPump(pumpParams, options.pumpMode ?? 'pump');
    this.clinician = new ClinicianAgent(this.levels, mealBolus, () => this.current.therapy, this.meals, () => this.cgm.reading, policy);
    this.pump = new PumpAgent(pump, () => this.clinician.order);
    this.patient = new PatientAgent(this.meals, this.pump);
    this.cgm = new CgmAgent(sensor, this.patient);
    const nurse = nurseConfig(options.nurse);
    this.nurse = nurse === null ? null : new NurseAgent(nurse, this.patient);

    const n = multiples.length;
    const labels = multiples.map((m) => `${m}× basal`);
    this.actionSpace = mealBolus === 'agent' ? new Discrete(2 * n, 0, [...labels, ...labels.map((l) => `${l} + meal bolus`)]) : new Discrete(n, 0, labels);
    const obsLabels: string[] = [];
    for (let k = this.histLen - 1; k >= 1; k--) obsLabels.push(`cgm_t-${k * this.decisionMinutes}min`);
    obsLabels.push('cgm', 'iob', 'cob', 'meal_announced', 'time_sin', 'time_cos');
    const low: number[] = [];
    const high: number[] = [];
    for (let k = 0; k < this.histLen; k++) {
      low.push(sensorParams.min);
      high.push(sensorParams.max);
    }
    low.push(0, 0, 0, -1, -1);
    high.push(OBS_IOB_MAX, OBS_CARBS_MAX, OBS_CARBS_MAX, 1, 1);
    this.observationSpace = new Box(low, high, [obsLabels.length], obsLabels);
    this.observation = new Float32Array(obsLabels.length);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
    this.load(this.pool[0] as string);
  }

  private load(name: string): LoadedPatient {
    let p = this.loaded.get(name);
    if (p === undefined) {
      const given = this.explicit.get(name);
      const params = given ? { ...given.params, x0: Float64Array.from(given.params.x0) } : getPatient(name);
      const o = this.o;
      p = {
        params,
        therapy: given ? { ...given.therapy } : getTherapy(name),
        basal: basalRate(params),
        model: new T1DPatient(params, o.rk4Step === undefined ? { integrator: o.integrator } : { integrator: o.integrator, rk4Step: o.rk4Step }),
      };
      this.loaded.set(name, p);
    }
    this.current = p;
    for (let k = 0; k < this.levels.length; k++) this.levels[k] = (this.multiples[k] as number) * p.basal;
    return p;
  }

  get patientName(): string {
    return this.current.params.name;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) {
      this.episodeSeed = options.seed;
      this.seedStream = Rng.fromSeed(options.seed).fork('episode-seeds');
    } else {
      this.episodeSeed = this.seedStream.uint32();
    }
    const sim = new Simulation({ seed: this.episodeSeed, startTime: this.o.startHour * 60 });
    this.simulation = sim;
    const name = this.pool.length === 1 ? (this.pool[0] as string) : (this.pool[sim.rng('patient').integer(0, this.pool.length)] as string);
    const p = this.load(name);
    this.x0.set(p.params.x0);
    if (this.o.randomInitialBG) {
      // as glucose/t1d-v1 (simglucose random_init_bg)
      const init = sim.rng('init');
      for (const i of [3, 4, 12]) {
        const m = this.x0[i] as number;
        this.x0[i] = Math.max(0, init.normal(m, Math.sqrt(0.1 * m)));
      }
    }
    p.model.reset(this.x0);
    this.addAgents(sim);
    this.patient.start(p.model);
    this.pump.start();
    this.cgm.start(sim);
    this.meals.start(sim);
    this.nurse?.start(sim);
    this.steps = 0;
    this.history.fill(this.cgm.reading);
    this.historyPos = 0;
    this.fillInfo('');
    this.writeObservation();
    const info: Info = {
      ...this.info,
      sensor: this.o.sensor,
      pump: this.o.pump,
      episodeSeed: this.episodeSeed,
      prescription: {
        basalRate: p.basal,
        basalRateUPerHour: p.basal * 60,
        carbRatio: p.therapy.carbRatio,
        correctionFactor: p.therapy.correctionFactor,
        bodyWeight: p.params.BW,
      },
      actionModel: {
        kind: 'discrete',
        levels: Array.from(this.levels),
        bolusOffset: this.actionSpace.n > this.levels.length ? this.levels.length : null,
        mealBolus: this.mealBolus,
        stepMinutes: this.decisionMinutes,
        high: [],
      },
      agents: sim.agents.map((a) => a.name),
    };
    return { observation: this.observation, info };
  }

  private addAgents(sim: Simulation): void {
    sim.addAgent(this.meals);
    sim.addAgent(this.clinician);
    sim.addAgent(this.pump);
    sim.addAgent(this.patient);
    sim.addAgent(this.cgm);
    if (this.nurse !== null) sim.addAgent(this.nurse);
  }

  /**
   * Every agent's state and the clock. `setState` continues in a new Simulation started at the saved
   * clock (its collector starts empty); the CGM and nurse events are rescheduled from their state.
   */
  getState(): GlucoseAgentsState {
    return {
      episodeSeed: this.episodeSeed,
      seedStream: this.seedStream.saveState(),
      patientName: this.current.params.name,
      clock: this.simulation.time,
      steps: this.steps,
      history: Array.from(this.history),
      historyPos: this.historyPos,
      patient: this.patient.getState(),
      pump: this.pump.getState(),
      meals: this.meals.getState(),
      cgm: this.cgm.device.getState(),
      nurse: this.nurse?.getState() ?? null,
    };
  }

  setState(saved: unknown): void {
    const s = saved as GlucoseAgentsState;
    if (s === null || typeof s !== 'object' || typeof s.patientName !== 'string' || !Array.isArray(s.history) || s.history.length !== this.histLen) {
      throw new TwinlabError('INVALID_STATE', `${this.id}: setState needs a state from getState() with ${this.histLen} CGM history values, got ${describeValue(saved)}`);
    }
    if ((s.nurse === null) !== (this.nurse === null)) throw new TwinlabError('INVALID_STATE', `${this.id}: the saved state and this env disagree on the nurse agent`);
    const p = this.load(s.patientName);
    this.episodeSeed = s.episodeSeed;
    this.seedStream = Rng.restore(s.seedStream);
    const sim = new Simulation({ seed: s.episodeSeed, startTime: s.clock });
    this.simulation = sim;
    this.addAgents(sim);
    this.patient.start(p.model);
    this.patient.setState(s.patient);
    this.pump.setState(s.pump);
    this.meals.setState(s.meals, sim);
    this.cgm.resume(sim, s.cgm);
    if (this.nurse !== null && s.nurse !== null) this.nurse.resume(sim, s.nurse);
    this.steps = s.steps;
    this.history.set(s.history);
    this.historyPos = s.historyPos;
    this.fillInfo('');
    this.writeObservation();
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    const sim = this.simulation;
    sim.step(this.decisionMinutes);
    this.history[this.historyPos] = this.cgm.reading;
    this.historyPos = this.historyPos + 1 === this.histLen ? 0 : this.historyPos + 1;
    const t = this.steps;
    this.steps++;
    const r = this.result;
    const pt = this.patient;
    const termination = pt.gMin < this.o.hypo ? 'hypoglycaemia' : pt.gMax > this.o.hyper ? 'hyperglycaemia' : '';
    r.terminated = termination !== '';
    r.truncated = false;
    r.reward = r.terminated ? -Math.max(1, this.horizon - t) : 1 - bgRisk(pt.model.plasmaGlucose) / 100;
    this.fillInfo(termination);
    this.writeObservation();
    return r;
  }

  private fillInfo(termination: string): void {
    const model = this.current.model;
    const i = this.info;
    const bg = model.plasmaGlucose;
    const started = this.steps > 0;
    i.patientId = this.current.params.name;
    i.minute = this.simulation.time;
    i.step = this.steps;
    i.bg = bg;
    i.gsub = model.subcutaneousGlucose;
    i.cgm = this.cgm.reading;
    i.insulin = started ? this.pump.deliveredU / this.decisionMinutes : 0;
    i.insulinU = started ? this.pump.deliveredU : 0;
    i.basal = started ? this.pump.basal : 0;
    i.bolus = started ? this.pump.bolus : 0;
    i.cho = started ? this.patient.eaten : 0;
    i.announcedCarbs = this.meals.announcedNow;
    i.iob = this.pump.insulinOnBoard();
    i.cob = this.meals.carbsOnBoard(this.simulation.time);
    i.risk = bgRisk(bg);
    i.lbgi = lowRisk(bg);
    i.hbgi = highRisk(bg);
    i.termination = termination;
    if (this.nurse !== null) {
      i.nurseChecks = this.nurse.checks;
      i.nurseRescues = this.nurse.rescues;
    }
  }

  private writeObservation(): void {
    const obs = this.observation;
    const h = this.histLen;
    for (let k = 0; k < h; k++) obs[k] = this.history[(this.historyPos + k) % h] as number;
    const i = this.info;
    obs[h] = Math.min(OBS_IOB_MAX, Math.max(0, i.iob as number));
    const visible = this.o.announceMeals;
    obs[h + 1] = visible ? Math.min(OBS_CARBS_MAX, i.cob as number) : 0;
    obs[h + 2] = visible ? Math.min(OBS_CARBS_MAX, this.meals.announcedNow) : 0;
    const angle = (2 * Math.PI * (this.simulation.time % MINUTES_PER_DAY)) / MINUTES_PER_DAY;
    obs[h + 3] = Math.sin(angle);
    obs[h + 4] = Math.cos(angle);
  }
}

const OPTION_NAMES = [
  'patient',
  'patients',
  'cohort',
  'scenario',
  'sensor',
  'sensorNoise',
  'spline',
  'pump',
  'pumpMode',
  'decisionMinutes',
  'basalMultiples',
  'mealBolus',
  'announceMeals',
  'announceLeadMinutes',
  'cgmHistory',
  'randomInitialBG',
  'startHour',
  'horizonSteps',
  'hypoThreshold',
  'hyperThreshold',
  'integrator',
  'rk4Step',
  'nurse',
] as const;

let registered = false;

export function registerGlucoseAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: GLUCOSE_AGENTS_ENV_ID,
    description:
      'glucose/t1d-v1 as an agent composition on engine/simulation.ts (meals, clinician, pump, patient, CGM; optional nurse): same trajectories for the same seed; devices and agents by configuration',
    entryPoint: (options) => new GlucoseAgentsEnv(options as GlucoseAgentsOptions),
    maxEpisodeSteps: 288,
    optionNames: OPTION_NAMES,
    optionDocs: {
      sensor: "the CGM agent: 'GuardianRT' (default, 5 min) | 'Dexcom' (3 min) | 'Navigator' (1 min)",
      pump: "the pump agent: 'Insulet' (default) | 'Cozmo'",
      nurse: 'add a nurse agent { everyMinutes, threshold = 70, rescueCarbs = 15 }: capillary glucose checks, 15 g carbs when low',
      other: 'every other option as glucose/t1d-v1 (no continuous actions)',
    },
    decisionInterval: '5 min',
    reference: 'Dalla Man et al. 2007 IEEE TBME 54:1740; simglucose v0.2.11; Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
