import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { Rng } from '../../engine/random.js';
import { register } from '../../engine/registry.js';
import { type DataCollector, type ScheduledEvent, type SimAgent, Simulation } from '../../engine/simulation.js';
import { Box, Discrete } from '../../engine/spaces.js';
import {
  infusionHours,
  type ResolvedPatient,
  resolveVancoOptions,
  VANCO_OBS_LABELS,
  VANCO_RK4_STEP_HOURS,
  VANCO_STEP_HOURS,
  type VancoEnvOptions,
  type VancoState,
  vancoExposureReward,
} from './vancomycin-env.js';
import { AKI_MODEL, akiHazardPerDay, GOTI, individualPk, VANCO_DIM, type VancoPk, type VancoRhs, vancoRhs } from './vancomycin-model.js';

/**
 * The vancomycin twin as a composition of agents on the engine's `Simulation` (engine/simulation.ts),
 * clock in hours, one Env step = one 12-h dose interval = one `Simulation.step(12)`:
 *
 *   clinician (decision)   — the dose for the interval (`decide`): the Env's action (the learner), or a
 *                            policy given to the constructor that reads the observation.
 *   line      (device)     — the infusion line (`act`): starts the dose at rate dose/duration, duration
 *                            max(1 h, dose/1000 mg·h), and stops it by an event at the end of the infusion.
 *   patient   (physiology) — the Goti 2018 two-compartment PK (vancomycin-model.ts), integrated by RK4
 *                            (h = 0.05 h) in the Simulation's `advance` phase, reading the line's rate; an
 *                            event 1 h after the infusion (the true peak) and an end-of-interval review
 *                            (exposure AUC24 and the SYNTHETIC kidney-injury draw, stream `aki`).
 *   lab       (device)     — in every `sampleEvery`-th interval draws the pre-dose level (`sense`), the
 *                            peak 1 h after the infusion and the trough at the end of the interval (events),
 *                            each with the Goti residual error (stream `assay`), and reports the set
 *                            `lab.turnaroundHours` after the trough was drawn. Results are posted at the
 *                            end of a step (`collect`), so the clinician sees a set at the first decision
 *                            at or after its turnaround; posting is not an event, so the turnaround does
 *                            not split the ODE integration and the concentrations do not depend on it.
 *
 * Agents run in that order (the patient and the lab read the line's infusion times in `act`). With
 * turnaround 0 (the default) the arithmetic is that of `pkpd/vancomycin-v1` (vancomycin-env.ts): the
 * integration is split at the same times (infusion end, 1 h after it, interval end), the assay draws come
 * in the same order from the same named substreams ('assay', 'aki', 'patient' of the reset seed), so the
 * episode hash equals v1's for the same options, seed and actions (test/environments/pkpd/vancomycin-agents.test.ts).
 * As in v1 a reset without a seed continues the streams: the agents take them from `sim.rng` at a seeded
 * reset and keep them over unseeded resets (each reset starts a new Simulation at hour 0).
 */

export const VANCO_AGENTS_ENV_ID = 'pkpd/vancomycin-agents-v0';
/** Longest accepted lab turnaround, h (30 days). */
export const VANCO_MAX_TURNAROUND_HOURS = 720;

export interface VancoLabConfig {
  /** Hours from the trough draw until the clinician can see the set of levels (default 0 = as pkpd/vancomycin-v1). */
  turnaroundHours: number;
}

export interface VancoAgentsOptions extends VancoEnvOptions {
  /** The lab agent's configuration (undefined or null: turnaround 0). */
  lab?: VancoLabConfig | null;
}

/** A clinician's policy: the dose index (as the Env's action space) from the observation at the decision time. */
export type VancoClinicianPolicy = (observation: Float32Array, sim: Simulation) => number;

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class VancoClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The action for the coming interval: set by the Env (the learner) when `policy` is null. */
  action = 0;
  /** The dose ordered for the current interval, mg. */
  dose = 0;

  constructor(
    private readonly doses: readonly number[],
    private readonly observation: Float32Array,
    readonly policy: VancoClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(this.observation, sim);
    const dose = this.doses[action];
    if (!Number.isInteger(action) || dose === undefined) {
      throw new TwinlabError('INVALID_ACTION', `${VANCO_AGENTS_ENV_ID}: the clinician policy returned ${describeValue(action)}, not a dose index in [0, ${this.doses.length})`);
    }
    this.dose = dose;
  }
}

export class InfusionLineAgent implements SimAgent {
  readonly name = 'line';
  /** Infusion rate now, mg/h. */
  rate = 0;
  /** Dose started in the current interval, mg, and when its infusion ends / the level 1 h later is due (h). */
  lastDose = 0;
  infusionEnd = 0;
  peakTime = 0;
  private readonly stop: ScheduledEvent;

  constructor(private readonly clinician: VancoClinicianAgent) {
    const self = this;
    this.stop = {
      time: 0,
      name: 'infusion end',
      fire(): void {
        self.rate = 0;
      },
    };
  }

  start(): void {
    this.rate = 0;
    this.lastDose = 0;
  }

  act(sim: Simulation): void {
    const dose = this.clinician.dose;
    const t0 = sim.time;
    this.lastDose = dose;
    let tInf = 0;
    if (dose > 0) {
      tInf = infusionHours(dose);
      this.rate = dose / tInf;
      this.stop.time = t0 + tInf;
      sim.schedule(this.stop);
    }
    this.infusionEnd = t0 + tInf;
    this.peakTime = t0 + tInf + 1;
  }

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('dose_mg', this.lastDose);
  }
}

export class VancoPatientAgent implements SimAgent {
  readonly name = 'patient';
  /** Amount central, amount peripheral (mg), exposure AUC (mg·h/L). */
  readonly y = new Float64Array(VANCO_DIM);
  readonly rhs: VancoRhs;
  patient!: ResolvedPatient;
  crcl = 0;
  aki = false;
  akiStep = -1;
  /** Set by the end-of-interval review when kidney injury began in this interval. */
  akiOnset = false;
  /** Completed intervals. */
  interval = 0;
  aucStep = 0;
  auc24 = 0;
  prevAucStep = 0;
  truePeak = 0;
  trueTrough = 0;
  akiRng: Rng;
  private aucStart = 0;
  private readonly rk4 = new Rk4(VANCO_DIM);
  private readonly peak: ScheduledEvent;
  private readonly review: ScheduledEvent;

  constructor(
    private readonly line: InfusionLineAgent,
    private readonly akiEnabled: boolean,
    first: ResolvedPatient,
  ) {
    this.patient = first;
    this.crcl = first.crcl;
    this.rhs = vancoRhs(this.pk());
    this.akiRng = Rng.fromSeed(0).fork('aki');
    const self = this;
    this.peak = {
      time: 0,
      name: 'peak (1 h after infusion)',
      fire(): void {
        self.truePeak = self.concentration();
      },
    };
    this.review = {
      time: 0,
      name: 'interval review',
      priority: 1,
      fire(): void {
        self.endInterval();
      },
    };
  }

  /** Individual PK parameters at the current renal function. */
  pk(): VancoPk {
    const p = this.patient;
    return individualPk(this.crcl, p.weight, p.dialysis, p.eta);
  }

  /** Central concentration, mg/L. */
  concentration(): number {
    return (this.y[0] as number) / this.rhs.pk.v1;
  }

  start(patient: ResolvedPatient): void {
    this.patient = patient;
    this.y.fill(0);
    this.crcl = patient.crcl;
    this.rhs.pk = this.pk();
    this.rhs.rate = 0;
    this.aki = false;
    this.akiStep = -1;
    this.akiOnset = false;
    this.interval = 0;
    this.aucStep = 0;
    this.auc24 = 0;
    this.prevAucStep = 0;
    this.truePeak = 0;
    this.trueTrough = 0;
  }

  sense(): void {
    this.aucStart = this.y[2] as number;
    this.akiOnset = false;
  }

  act(sim: Simulation): void {
    this.peak.time = this.line.peakTime;
    sim.schedule(this.peak);
    this.review.time = sim.time + VANCO_STEP_HOURS;
    sim.schedule(this.review);
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    this.rhs.rate = this.line.rate;
    this.rk4.integrate(this.rhs.f, this.y, t0, t1, VANCO_RK4_STEP_HOURS);
  }

  /** Exposure over the interval and the SYNTHETIC kidney-injury draw (vancomycin-model.ts), as pkpd/vancomycin-v1. */
  private endInterval(): void {
    const y = this.y;
    this.trueTrough = this.concentration();
    const aucStep = (y[2] as number) - this.aucStart;
    this.auc24 = this.interval === 0 ? 2 * aucStep : this.prevAucStep + aucStep;
    this.aucStep = aucStep;
    this.prevAucStep = aucStep;
    this.interval++;
    if (this.akiEnabled && !this.aki) {
      const p = 1 - Math.exp(-akiHazardPerDay(this.auc24) * (VANCO_STEP_HOURS / 24));
      // One draw per interval whatever p is (common random numbers across policies), as v1.
      const u = this.akiRng.next();
      if (u < p) {
        this.aki = true;
        this.akiOnset = true;
        this.akiStep = this.interval - 1;
        this.crcl *= AKI_MODEL.crclFactor;
        this.rhs.pk = this.pk();
      }
    }
  }

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('concentration', this.concentration());
    out.record('auc24', this.auc24);
    out.record('crcl', this.crcl);
  }
}

/** Fields of one pending set of levels in the lab's ring buffer: pre-dose, peak, trough, interval drawn, posting time. */
const SET = 5;

export class VancoLabAgent implements SimAgent {
  readonly name = 'lab';
  assay: Rng;
  /** The set the clinician can see (pre-dose, peak, trough, mg/L) and the interval it was drawn in (−1: none yet). */
  readonly posted = new Float64Array(3);
  postedInterval = -1;
  /** Intervals begun so far (the current interval's index while a step runs). */
  interval = 0;
  private sampling = false;
  private readonly draw = new Float64Array(3);
  /** Sets drawn but not yet reported: a ring of `capacity` sets of SET numbers. */
  private readonly pending: Float64Array;
  private readonly capacity: number;
  private head = 0;
  private count = 0;
  private readonly peak: ScheduledEvent;
  private readonly trough: ScheduledEvent;

  constructor(
    private readonly patient: VancoPatientAgent,
    private readonly line: InfusionLineAgent,
    readonly sampleEvery: number,
    readonly assayError: boolean,
    readonly turnaroundHours: number,
  ) {
    this.assay = Rng.fromSeed(0).fork('assay');
    // At most one set per sampleEvery intervals is drawn, each waits turnaroundHours.
    this.capacity = Math.ceil(turnaroundHours / (VANCO_STEP_HOURS * sampleEvery)) + 1;
    this.pending = new Float64Array(this.capacity * SET);
    const self = this;
    this.peak = {
      time: 0,
      name: 'lab: peak sample',
      fire(): void {
        self.draw[1] = self.measure(self.patient.concentration());
      },
    };
    this.trough = {
      time: 0,
      name: 'lab: trough sample',
      fire(sim: Simulation): void {
        self.draw[2] = self.measure(self.patient.concentration());
        self.enqueue(sim.time + self.turnaroundHours);
      },
    };
  }

  /** Sets drawn and not yet reported. */
  get pendingSets(): number {
    return this.count;
  }

  start(): void {
    this.posted.fill(0);
    this.postedInterval = -1;
    this.interval = 0;
    this.head = 0;
    this.count = 0;
  }

  /** The Goti 2018 residual error Cobs = C·(1 + ε_prop) + ε_add, floored at 0 (exact with assayError false). */
  private measure(concentration: number): number {
    if (!this.assayError) return concentration;
    const e = GOTI.residual;
    const value = concentration * (1 + e.proportional * this.assay.normal()) + e.additive * this.assay.normal();
    return Math.max(0, value);
  }

  sense(): void {
    this.sampling = (this.interval + 1) % this.sampleEvery === 0;
    if (this.sampling) this.draw[0] = this.measure(this.patient.concentration());
  }

  act(sim: Simulation): void {
    if (!this.sampling) return;
    this.peak.time = this.line.peakTime;
    sim.schedule(this.peak);
    this.trough.time = sim.time + VANCO_STEP_HOURS;
    sim.schedule(this.trough);
  }

  private enqueue(postTime: number): void {
    if (this.count === this.capacity) throw new TwinlabError('INTERNAL', `${VANCO_AGENTS_ENV_ID}: lab result ring overflow (capacity ${this.capacity})`);
    const at = ((this.head + this.count) % this.capacity) * SET;
    const q = this.pending;
    q[at] = this.draw[0] as number;
    q[at + 1] = this.draw[1] as number;
    q[at + 2] = this.draw[2] as number;
    q[at + 3] = this.interval;
    q[at + 4] = postTime;
    this.count++;
  }

  /** Report every set whose turnaround has passed (in drawing order), then close the interval. */
  collect(sim: Simulation, out: DataCollector): void {
    const q = this.pending;
    while (this.count > 0 && (q[this.head * SET + 4] as number) <= sim.time) {
      const at = this.head * SET;
      this.posted[0] = q[at] as number;
      this.posted[1] = q[at + 1] as number;
      this.posted[2] = q[at + 2] as number;
      this.postedInterval = q[at + 3] as number;
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
      this.count--;
    }
    this.interval++;
    out.record('lab_pending', this.count);
  }

  /** Pending sets as plain numbers (SET per set, oldest first). */
  getPending(): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.count; k++) {
      const at = ((this.head + k) % this.capacity) * SET;
      for (let j = 0; j < SET; j++) out.push(this.pending[at + j] as number);
    }
    return out;
  }

  setPending(sets: readonly number[]): void {
    if (sets.length % SET !== 0 || sets.length / SET > this.capacity) {
      throw new TwinlabError('INVALID_STATE', `${VANCO_AGENTS_ENV_ID}: lab.pending must hold at most ${this.capacity} sets of ${SET} numbers, got ${sets.length} numbers`);
    }
    this.head = 0;
    this.count = sets.length / SET;
    this.pending.set(sets);
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

/** pkpd/vancomycin-v1's state (restorable into this env, and the reverse when no result is pending) plus the lab's pending sets. */
export interface VancoAgentsState extends VancoState {
  labPending?: number[];
}

function labConfig(v: unknown): VancoLabConfig {
  if (v === undefined || v === null) return { turnaroundHours: 0 };
  if (typeof v !== 'object' || Array.isArray(v)) throw new TwinlabError('INVALID_ARGUMENT', `${VANCO_AGENTS_ENV_ID}: option lab must be { turnaroundHours }, got ${describeValue(v)}`, { field: 'lab' });
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).find((k) => k !== 'turnaroundHours');
  if (extra !== undefined) throw new TwinlabError('INVALID_ARGUMENT', `${VANCO_AGENTS_ENV_ID}: option lab.${extra} is not a lab option (turnaroundHours)`, { field: `lab.${extra}` });
  const t = o.turnaroundHours ?? 0;
  if (!(typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= VANCO_MAX_TURNAROUND_HOURS)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${VANCO_AGENTS_ENV_ID}: option lab.turnaroundHours must be a number of hours in [0, ${VANCO_MAX_TURNAROUND_HOURS}], got ${describeValue(t)}`, {
      field: 'lab.turnaroundHours',
    });
  }
  return { turnaroundHours: t };
}

const OBS_HIGH = [400, 300, 64, 365, 10000, 1000, 1000, 1000, 10000, 1, 1];

/**
 * `pkpd/vancomycin-agents-v0`: pkpd/vancomycin-v1 run as the agent composition above. Same options,
 * observation, actions, rewards and info, plus `lab: { turnaroundHours }`. A `policy` given to the
 * constructor drives the clinician instead of the Env's action (the action is still validated, then ignored).
 */
export class VancoAgentsEnv extends BaseEnv<number> {
  readonly id = VANCO_AGENTS_ENV_ID;
  readonly observationSpace = new Box(0, OBS_HIGH, [VANCO_OBS_LABELS.length], VANCO_OBS_LABELS);
  readonly actionSpace: Discrete;
  readonly stepDuration = { value: VANCO_STEP_HOURS, unit: 'h' };
  readonly doses: readonly number[];
  readonly mic: number;
  readonly maxSteps: number;
  readonly akiPenalty: number;

  readonly clinician: VancoClinicianAgent;
  readonly line: InfusionLineAgent;
  readonly patient: VancoPatientAgent;
  readonly lab: VancoLabAgent;
  /** The simulation of the current episode (a new one per reset, clock in hours). */
  simulation: Simulation;

  private readonly pool: readonly ResolvedPatient[] | undefined;
  private poolIndex = -1;
  private patientRng = Rng.fromSeed(0).fork('patient');
  private episodeSeed = 0;
  private steps = 0;
  private readonly observation = new Float32Array(VANCO_OBS_LABELS.length);
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: VancoAgentsOptions = {}, policy: VancoClinicianPolicy | null = null) {
    super();
    const { lab, ...rest } = options;
    const c = resolveVancoOptions(rest, VANCO_AGENTS_ENV_ID);
    const labOptions = labConfig(lab);
    this.pool = c.pool;
    this.doses = c.doses;
    this.mic = c.mic;
    this.maxSteps = c.maxSteps;
    this.akiPenalty = c.akiPenalty;
    this.actionSpace = new Discrete(this.doses.length, 0, this.doses.map((d) => (d === 0 ? 'hold' : `${d} mg`)));
    this.clinician = new VancoClinicianAgent(this.doses, this.observation, policy);
    this.line = new InfusionLineAgent(this.clinician);
    this.patient = new VancoPatientAgent(this.line, c.akiEnabled, c.first);
    this.lab = new VancoLabAgent(this.patient, this.line, c.sampleEvery, c.assayError, labOptions.turnaroundHours);
    this.simulation = this.newSimulation(0);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  private newSimulation(startTime: number): Simulation {
    const sim = new Simulation({ seed: this.episodeSeed, startTime });
    sim.addAgent(this.clinician);
    sim.addAgent(this.line);
    sim.addAgent(this.patient);
    sim.addAgent(this.lab);
    return sim;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.episodeSeed = options.seed;
    const sim = this.newSimulation(0);
    this.simulation = sim;
    if (options.seed !== undefined) {
      this.lab.assay = sim.rng('assay');
      this.patient.akiRng = sim.rng('aki');
      this.patientRng = sim.rng('patient');
    }
    let patient = this.patient.patient;
    if (this.pool !== undefined) {
      this.poolIndex = this.pool.length === 1 ? 0 : this.patientRng.integer(0, this.pool.length);
      patient = this.pool[this.poolIndex] as ResolvedPatient;
    }
    this.patient.start(patient);
    this.line.start();
    this.lab.start();
    this.steps = 0;
    this.writeObservation();
    this.writeInfo();
    const pk = this.patient.rhs.pk;
    return {
      observation: this.observation,
      info: {
        ...this.info,
        patientId: patient.patientId,
        prescription: { weightKg: patient.weight, crclMlMin: patient.crcl, mic: this.mic, doseLevelsMg: [...this.doses] },
        pk: { ...pk },
        eta: { ...patient.eta },
        dialysis: patient.dialysis,
        agents: sim.agents.map((a) => a.name),
        labTurnaroundHours: this.lab.turnaroundHours,
      },
    };
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    this.simulation.step(VANCO_STEP_HOURS);
    this.steps++;
    const pt = this.patient;
    let reward = vancoExposureReward(pt.auc24 / this.mic);
    if (pt.akiOnset) reward += this.akiPenalty;
    this.writeObservation();
    this.writeInfo();
    const r = this.result;
    r.reward = reward;
    r.terminated = false;
    r.truncated = this.steps >= this.maxSteps;
    return r;
  }

  private writeObservation(): void {
    const o = this.observation;
    const pt = this.patient;
    const lab = this.lab;
    const hasLevels = lab.postedInterval >= 0;
    o[0] = pt.patient.weight;
    o[1] = pt.crcl;
    o[2] = this.mic;
    o[3] = (this.steps * VANCO_STEP_HOURS) / 24;
    o[4] = this.line.lastDose;
    o[5] = Math.min(1000, lab.posted[0] as number);
    o[6] = Math.min(1000, lab.posted[1] as number);
    o[7] = Math.min(1000, lab.posted[2] as number);
    o[8] = hasLevels ? Math.min(10000, (this.steps - 1 - lab.postedInterval) * VANCO_STEP_HOURS) : 0;
    o[9] = hasLevels ? 1 : 0;
    o[10] = pt.aki ? 1 : 0;
  }

  /** As pkpd/vancomycin-v1's info (zeros for the interval quantities at reset and after setState), plus the lab queue. */
  private writeInfo(fresh = this.steps === 0): void {
    const info = this.info;
    const pt = this.patient;
    const pk = pt.rhs.pk;
    const auc24 = fresh ? 0 : pt.auc24;
    info.hour = this.steps * VANCO_STEP_HOURS;
    info.dose = fresh ? 0 : this.line.lastDose;
    info.aucStep = fresh ? 0 : pt.aucStep;
    info.auc24 = auc24;
    info.aucOverMic = auc24 / this.mic;
    info.concentration = pt.concentration();
    info.trough = fresh ? 0 : pt.trueTrough;
    info.peak = fresh ? 0 : pt.truePeak;
    info.crcl = pt.crcl;
    info.cl = pk.cl;
    info.aki = pt.aki;
    info.akiStep = pt.akiStep;
    info.mic = this.mic;
    info.labPending = this.lab.pendingSets;
  }

  getState(): VancoAgentsState {
    const pt = this.patient;
    const lab = this.lab;
    return {
      y: Array.from(pt.y),
      step: this.steps,
      crcl: pt.crcl,
      aki: pt.aki,
      akiStep: pt.akiStep,
      lastDose: this.line.lastDose,
      levels: Array.from(lab.posted),
      levelStep: lab.postedInterval,
      prevAucStep: pt.prevAucStep,
      assay: lab.assay.saveState(),
      akiRng: pt.akiRng.saveState(),
      ...(this.pool !== undefined ? { patient: this.poolIndex, patientRng: this.patientRng.saveState() } : {}),
      ...(lab.pendingSets > 0 ? { labPending: lab.getPending() } : {}),
    };
  }

  /**
   * Continue from `getState()` (of this env, or of pkpd/vancomycin-v1 with the same options) in a new
   * Simulation started at the saved hour; the streams are restored from the state.
   */
  setState(saved: unknown): void {
    const s = saved as VancoAgentsState;
    if (!s || !Array.isArray(s.y) || s.y.length !== VANCO_DIM || !Array.isArray(s.levels) || s.levels.length !== 3 || !Number.isInteger(s.step) || s.step < 0) {
      throw new TwinlabError('INVALID_STATE', `${VANCO_AGENTS_ENV_ID}: setState expects a state from getState(), got ${describeValue(saved)}`);
    }
    let patient = this.patient.patient;
    if (this.pool !== undefined) {
      if (!(Number.isInteger(s.patient) && (s.patient as number) >= 0 && (s.patient as number) < this.pool.length) || s.patientRng === undefined) {
        throw new TwinlabError('INVALID_STATE', `${VANCO_AGENTS_ENV_ID}: setState of an env with ${this.pool.length} patients needs the patient index of getState(), got ${describeValue(s.patient)}`);
      }
      this.poolIndex = s.patient as number;
      patient = this.pool[this.poolIndex] as ResolvedPatient;
      this.patientRng = Rng.restore(s.patientRng);
    }
    const pt = this.patient;
    const lab = this.lab;
    lab.setPending(s.labPending ?? []);
    pt.start(patient);
    pt.y.set(s.y);
    pt.crcl = s.crcl;
    pt.aki = s.aki;
    pt.akiStep = s.akiStep;
    pt.prevAucStep = s.prevAucStep;
    pt.interval = s.step;
    pt.rhs.pk = pt.pk();
    pt.akiRng = Rng.restore(s.akiRng);
    this.line.start();
    this.line.lastDose = s.lastDose;
    lab.posted.set(s.levels);
    lab.postedInterval = s.levelStep;
    lab.interval = s.step;
    lab.assay = Rng.restore(s.assay);
    this.steps = s.step;
    this.simulation = this.newSimulation(s.step * VANCO_STEP_HOURS);
    this.writeObservation();
    this.writeInfo(true);
    this.info.hour = this.steps * VANCO_STEP_HOURS;
    this.info.dose = this.line.lastDose;
  }
}

let registered = false;

export function registerVancomycinAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: VANCO_AGENTS_ENV_ID,
    description:
      'pkpd/vancomycin-v1 as an agent composition on engine/simulation.ts (clinician, infusion line, patient, lab): same episodes for the same seed; a lab turnaround delay by configuration',
    entryPoint: (options) => new VancoAgentsEnv(options as VancoAgentsOptions),
    maxEpisodeSteps: 14,
    decisionInterval: '12 h',
    optionNames: ['weight', 'crcl', 'dialysis', 'etaCl', 'etaV1', 'etaV2', 'mic', 'days', 'doseLevels', 'sampleEvery', 'assayError', 'aki', 'akiPenalty', 'patientId', 'patients', 'lab'],
    optionDocs: {
      lab: 'the lab agent { turnaroundHours = 0 }: hours from the trough draw until the clinician sees the levels (0 = as pkpd/vancomycin-v1)',
      other: 'every other option as pkpd/vancomycin-v1',
    },
    reference: 'Goti et al., Ther Drug Monit 2018;40(2):212–221; Rybak et al., Am J Health-Syst Pharm 2020;77:835–864; Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
