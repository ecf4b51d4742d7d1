import { z } from 'zod';
import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { register } from '../../engine/registry.js';
import { type DataCollector, type SimAgent, Simulation } from '../../engine/simulation.js';
import { Box, Discrete } from '../../engine/spaces.js';
import {
  CHEMO_DEATH_FRACTION,
  CHEMO_MAX_STEPS,
  CHEMO_RK4_STEP_DAYS,
  CHEMO_STEP_DAYS,
  type ChemoEnvOptions,
  type ChemoState,
  type ChemoToxicity,
  chemoActionLabels,
  chemoInitialState,
  chemoReward,
  checkChemoState,
  clipChemoState,
  resolveChemoOptions,
  writeChemoInfo,
  writeChemoObservation,
} from './chemo-env.js';
import { B_IDX, CHEMO_DIM, CHEMO_PARAM_NAMES, type ChemoParams, type ChemoRhs, chemoRhs, I_IDX, N_IDX, T_IDX } from './chemo-model.js';

/**
 * The chemotherapy twin (oncology/chemo-v1, chemo-env.ts) as a composition of agents on the engine's
 * `Simulation` (engine/simulation.ts), clock in days, one Env step = one 6-h decision = one
 * `Simulation.step(0.25)`. Agents, in this order:
 *
 *   clinician (decision)   — the dose level for the step (`decide`): the Env's action (the learner), or a
 *                            policy given to the constructor that reads the observation.
 *   pump      (device)     — the infusion pump: holds the ordered rate v over the step (`act`, zero-order
 *                            hold as chemo-v1) and totals the drug given, Σ v·Δt (`advance`).
 *   patient   (physiology) — the de Pillis–Radunskaya 2003 model (chemo-model.ts): keeps the state before
 *                            the step for the reward (`sense`), integrates it by RK4 (h = 0.01 day) in the
 *                            Simulation's `advance` phase reading the pump's rate, and at the end of the
 *                            step (`collect`) clips the state at ≥ 0, updates the normal-cell nadir and
 *                            decides death (N < 0.7·N0).
 *   monitor   (device)     — what the clinician sees: tumour burden T from imaging and the blood values
 *                            (N, I, B) from a blood draw, each taken at the end of a step on its own
 *                            cadence (`collect`, after the patient). By default both are taken every step,
 *                            which is chemo-v1's observation of the true state. With
 *                            `monitoring: { imagingEveryDays, bloodsEveryDays }` each holds its last value
 *                            between measurements and the observation gains the days since each.
 *
 * Why the hash equals chemo-v1's: no agent schedules an event, so the integration of every step runs
 * from t = 0.25·k to 0.25·(k + 1) in one `advance` call — the same RK4 grid as chemo-v1's single
 * `integrate` (the clock is a sum of 0.25s, exact in binary); the reward, clipping, nadir, death, info and
 * observation are the functions chemo-env.ts exports and chemo-v1 itself calls, in the same order. The
 * model draws no random numbers (the seed only seeds the Simulation). Test:
 * test/environments/oncology/chemo-agents.test.ts.
 */

export const CHEMO_AGENTS_ENV_ID = 'oncology/chemo-agents-v0';
/** Longest accepted measurement interval, days. */
export const CHEMO_MAX_MONITOR_DAYS = 365;

export interface ChemoMonitoringConfig {
  /** Days between tumour-burden assessments (imaging), a multiple of 0.25 in [0.25, 365]; default 0.25 (every step). */
  imagingEveryDays: number;
  /** Days between blood draws (N, I, B), a multiple of 0.25 in [0.25, 365]; default 0.25 (every step). */
  bloodsEveryDays: number;
}

export interface ChemoAgentsOptions extends ChemoEnvOptions {
  /** The monitor's cadences (undefined or null: every value every step, as oncology/chemo-v1). */
  monitoring?: Partial<ChemoMonitoringConfig> | null;
}

/** A clinician's policy: the dose-level index (as the Env's action space) from the observation at the decision time. */
export type ChemoClinicianPolicy = (observation: Float32Array, sim: Simulation) => number;

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class ChemoClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The action for the coming step: set by the Env (the learner) when `policy` is null. */
  action = 0;
  /** The dose rate v ordered for the step. */
  v = 0;

  constructor(
    private readonly levels: Float64Array,
    private readonly observation: Float32Array,
    readonly policy: ChemoClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(this.observation, sim);
    const v = this.levels[action];
    if (!Number.isInteger(action) || v === undefined) {
      throw new TwinlabError('INVALID_ACTION', `${CHEMO_AGENTS_ENV_ID}: the clinician policy returned ${describeValue(action)}, not a dose-level index in [0, ${this.levels.length})`);
    }
    this.v = v;
  }
}

export class ChemoPumpAgent implements SimAgent {
  readonly name = 'pump';
  /** Infusion rate v now (held over the step). */
  rate = 0;
  /** Drug given so far, Σ v·Δt (dose·day). */
  cumulativeDose = 0;

  constructor(private readonly clinician: ChemoClinicianAgent) {}

  start(cumulativeDose = 0): void {
    this.rate = 0;
    this.cumulativeDose = cumulativeDose;
  }

  act(): void {
    this.rate = this.clinician.v;
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    this.cumulativeDose += this.rate * (t1 - t0);
  }

  collect(_sim: Simulation, out: DataCollector): void {
    out.record('dose', this.rate);
  }
}

export class ChemoPatientAgent implements SimAgent {
  readonly name = 'patient';
  /** (N, T, I, B, X), chemo-model.ts. */
  readonly y = new Float64Array(CHEMO_DIM);
  readonly rhs: ChemoRhs;
  /** N and T at the start of the step (the reward's state). */
  nBefore = 0;
  tBefore = 0;
  /** Completed steps. */
  steps = 0;
  nadir = 0;
  dead = false;
  private readonly rk4 = new Rk4(CHEMO_DIM);

  constructor(
    private readonly pump: ChemoPumpAgent,
    params: Readonly<ChemoParams>,
    readonly initial: Readonly<{ N: number; T: number; I: number }>,
  ) {
    this.rhs = chemoRhs(params);
  }

  start(): void {
    chemoInitialState(this.y, this.initial);
    this.steps = 0;
    this.nadir = this.initial.N;
    this.dead = false;
  }

  sense(): void {
    this.nBefore = this.y[N_IDX] as number;
    this.tBefore = this.y[T_IDX] as number;
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    this.rhs.v = this.pump.rate;
    this.rk4.integrate(this.rhs.f, this.y, t0, t1, CHEMO_RK4_STEP_DAYS);
  }

  /** End of the step: clip, nadir, death (as oncology/chemo-v1). */
  collect(_sim: Simulation, out: DataCollector): void {
    const y = this.y;
    clipChemoState(y);
    this.steps++;
    const N = y[N_IDX] as number;
    if (N < this.nadir) this.nadir = N;
    this.dead = N < CHEMO_DEATH_FRACTION * this.initial.N;
    out.record('N', N);
    out.record('T', y[T_IDX] as number);
  }
}

export class ChemoMonitorAgent implements SimAgent {
  readonly name = 'monitor';
  /** Last measured N, T, I, B and the step at which imaging (T) and bloods (N, I, B) were last taken. */
  readonly measured = new Float64Array(4);
  imagingStep = 0;
  bloodsStep = 0;
  readonly imagingEverySteps: number;
  readonly bloodsEverySteps: number;

  constructor(
    private readonly patient: ChemoPatientAgent,
    readonly config: ChemoMonitoringConfig | null,
  ) {
    this.imagingEverySteps = config === null ? 1 : Math.round(config.imagingEveryDays / CHEMO_STEP_DAYS);
    this.bloodsEverySteps = config === null ? 1 : Math.round(config.bloodsEveryDays / CHEMO_STEP_DAYS);
  }

  /** Measure everything now (at reset and after setState). */
  start(step: number): void {
    this.image(step);
    this.draw(step);
  }

  private image(step: number): void {
    this.measured[1] = this.patient.y[T_IDX] as number;
    this.imagingStep = step;
  }

  private draw(step: number): void {
    const y = this.patient.y;
    this.measured[0] = y[N_IDX] as number;
    this.measured[2] = y[I_IDX] as number;
    this.measured[3] = y[B_IDX] as number;
    this.bloodsStep = step;
  }

  collect(): void {
    const step = this.patient.steps;
    if (step % this.imagingEverySteps === 0) this.image(step);
    if (step % this.bloodsEverySteps === 0) this.draw(step);
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

const EVERY_ERROR = `must be a number of days in [${CHEMO_STEP_DAYS}, ${CHEMO_MAX_MONITOR_DAYS}], a multiple of ${CHEMO_STEP_DAYS} (the 6-h step)`;
const EveryDays = z
  .number({ error: EVERY_ERROR })
  .min(CHEMO_STEP_DAYS, { error: EVERY_ERROR })
  .max(CHEMO_MAX_MONITOR_DAYS, { error: EVERY_ERROR })
  .multipleOf(CHEMO_STEP_DAYS, { error: EVERY_ERROR })
  .default(CHEMO_STEP_DAYS);
const MonitoringSchema = z.object({ imagingEveryDays: EveryDays, bloodsEveryDays: EveryDays }).strict();

/** The monitoring option, validated (errors name the field, e.g. `monitoring.imagingEveryDays`); null when off. */
export function chemoMonitoringConfig(v: unknown): ChemoMonitoringConfig | null {
  if (v === undefined || v === null) return null;
  const parsed = MonitoringSchema.safeParse(v);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = ['monitoring', ...issue.path.map(String), ...keys.slice(0, 1)].join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `option ${field} is not a monitoring option (imagingEveryDays, bloodsEveryDays)`
      : issue.path.length === 0
        ? `option monitoring must be { imagingEveryDays, bloodsEveryDays }, got ${describeValue(v)}`
        : `option ${field} ${issue.message}, got ${describeValue((v as Record<string, unknown>)[String(issue.path[0])])}`;
  throw new TwinlabError('INVALID_ARGUMENT', `${CHEMO_AGENTS_ENV_ID}: ${message}`, { field });
}

/** oncology/chemo-v1's state (restorable into this env, and the reverse) plus, with monitoring, what the monitor last measured. */
export interface ChemoAgentsState extends ChemoState {
  monitor?: { measured: number[]; imagingStep: number; bloodsStep: number };
}

/**
 * `oncology/chemo-agents-v0`: oncology/chemo-v1 run as the agent composition above. Same options,
 * observation, actions, rewards and info, plus `monitoring`. A `policy` given to the constructor drives
 * the clinician instead of the Env's action (the action is still validated, then ignored).
 */
export class ChemoAgentsEnv extends BaseEnv<number> {
  readonly id = CHEMO_AGENTS_ENV_ID;
  readonly observationSpace: Box;
  readonly actionSpace: Discrete;
  readonly stepDuration = { value: CHEMO_STEP_DAYS, unit: 'day' };
  readonly params: Readonly<ChemoParams>;
  readonly levels: Float64Array;
  readonly initial: Readonly<{ N: number; T: number; I: number }>;
  readonly observeNormal: boolean;
  readonly observeLogTumour: boolean;
  readonly toxicity: ChemoToxicity;
  readonly deathPenalty: number;
  readonly patientId: string;

  readonly clinician: ChemoClinicianAgent;
  readonly pump: ChemoPumpAgent;
  readonly patient: ChemoPatientAgent;
  readonly monitor: ChemoMonitorAgent;
  /** The simulation of the current episode (a new one per reset, clock in days). */
  simulation: Simulation;

  private episodeSeed = 0;
  private readonly observation: Float32Array;
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: ChemoAgentsOptions = {}, policy: ChemoClinicianPolicy | null = null) {
    super();
    const { monitoring, ...rest } = options;
    const c = resolveChemoOptions(rest, CHEMO_AGENTS_ENV_ID);
    const monitor = chemoMonitoringConfig(monitoring);
    this.toxicity = c.toxicity;
    this.levels = c.levels;
    this.params = c.params;
    this.initial = c.initial;
    this.deathPenalty = c.deathPenalty;
    this.observeNormal = c.observeNormal;
    this.observeLogTumour = c.observeLogTumour;
    this.patientId = c.patientId;
    const { low, high, labels } = c;
    if (monitor !== null) {
      low.push(0, 0);
      high.push(CHEMO_MAX_MONITOR_DAYS, CHEMO_MAX_MONITOR_DAYS);
      labels.push('days-since-imaging', 'days-since-bloods');
    }
    this.observationSpace = new Box(low, high, [labels.length], labels);
    this.actionSpace = new Discrete(this.levels.length, 0, chemoActionLabels(this.levels));
    this.observation = new Float32Array(labels.length);
    this.clinician = new ChemoClinicianAgent(this.levels, this.observation, policy);
    this.pump = new ChemoPumpAgent(this.clinician);
    this.patient = new ChemoPatientAgent(this.pump, this.params, this.initial);
    this.monitor = new ChemoMonitorAgent(this.patient, monitor);
    this.simulation = this.newSimulation(0);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  private newSimulation(startTime: number): Simulation {
    const sim = new Simulation({ seed: this.episodeSeed, startTime });
    sim.addAgent(this.clinician);
    sim.addAgent(this.pump);
    sim.addAgent(this.patient);
    sim.addAgent(this.monitor);
    return sim;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.episodeSeed = options.seed;
    const sim = this.newSimulation(0);
    this.simulation = sim;
    this.patient.start();
    this.pump.start();
    this.monitor.start(0);
    this.writeObservation();
    this.writeInfo(0);
    const info: Info = {
      ...this.info,
      patientId: this.patientId,
      toxicity: this.toxicity,
      initial: { ...this.initial },
      doseLevels: Array.from(this.levels),
      stepDays: CHEMO_STEP_DAYS,
      params: { ...this.params },
      agents: sim.agents.map((a) => a.name),
    };
    if (this.monitor.config !== null) info.monitoring = { ...this.monitor.config };
    return { observation: this.observation, info };
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    this.simulation.step(CHEMO_STEP_DAYS);
    const pt = this.patient;
    const v = this.pump.rate;
    const reward = chemoReward(pt.nBefore, pt.tBefore, v, this.initial);
    this.writeObservation();
    this.writeInfo(v);
    const r = this.result;
    r.reward = pt.dead ? this.deathPenalty : reward;
    r.terminated = pt.dead;
    r.truncated = false;
    return r;
  }

  private writeObservation(): void {
    const m = this.monitor;
    const x = m.measured;
    const o = this.observation;
    const k = writeChemoObservation(o, x[0] as number, x[1] as number, x[2] as number, x[3] as number, this.observeNormal, this.observeLogTumour);
    if (m.config !== null) {
      const step = this.patient.steps;
      o[k] = (step - m.imagingStep) * CHEMO_STEP_DAYS;
      o[k + 1] = (step - m.bloodsStep) * CHEMO_STEP_DAYS;
    }
  }

  private writeInfo(dose: number): void {
    const pt = this.patient;
    writeChemoInfo(this.info, pt.y, pt.steps, dose, this.pump.cumulativeDose, pt.nadir, pt.dead, this.initial);
    const m = this.monitor;
    if (m.config !== null) {
      this.info.imagingDay = m.imagingStep * CHEMO_STEP_DAYS;
      this.info.bloodsDay = m.bloodsStep * CHEMO_STEP_DAYS;
    }
  }

  getState(): ChemoAgentsState {
    const pt = this.patient;
    const m = this.monitor;
    return {
      y: Array.from(pt.y),
      step: pt.steps,
      cumulativeDose: this.pump.cumulativeDose,
      nadir: pt.nadir,
      dead: pt.dead,
      ...(m.config !== null ? { monitor: { measured: Array.from(m.measured), imagingStep: m.imagingStep, bloodsStep: m.bloodsStep } } : {}),
    };
  }

  /**
   * Continue from `getState()` (of this env, or of oncology/chemo-v1 with the same options) in a new
   * Simulation started at the saved day. A state without the monitor's values (chemo-v1's) is measured afresh.
   */
  setState(saved: unknown): void {
    const s = checkChemoState(saved, CHEMO_AGENTS_ENV_ID) as ChemoAgentsState;
    const pt = this.patient;
    pt.y.set(s.y);
    pt.steps = s.step;
    pt.nadir = s.nadir;
    pt.dead = s.dead;
    this.pump.start(s.cumulativeDose);
    const m = this.monitor;
    const mon = s.monitor;
    if (mon !== undefined && m.config !== null) {
      if (!Array.isArray(mon.measured) || mon.measured.length !== 4 || !Number.isInteger(mon.imagingStep) || !Number.isInteger(mon.bloodsStep)) {
        throw new TwinlabError('INVALID_STATE', `${CHEMO_AGENTS_ENV_ID}: setState: monitor must be { measured: number[4], imagingStep, bloodsStep }, got ${describeValue(mon)}`);
      }
      m.measured.set(mon.measured);
      m.imagingStep = mon.imagingStep;
      m.bloodsStep = mon.bloodsStep;
    } else m.start(s.step);
    this.simulation = this.newSimulation(s.step * CHEMO_STEP_DAYS);
    this.writeObservation();
    this.writeInfo(0);
  }
}

let registered = false;

/** Registers `oncology/chemo-agents-v0` (idempotent). */
export function registerChemoAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: CHEMO_AGENTS_ENV_ID,
    description:
      'oncology/chemo-v1 as an agent composition on engine/simulation.ts (clinician, pump, patient, monitor): same episodes for the same options and actions; sparser imaging and blood-draw cadences by configuration',
    entryPoint: (options) => new ChemoAgentsEnv(options as ChemoAgentsOptions),
    maxEpisodeSteps: CHEMO_MAX_STEPS,
    decisionInterval: '6 h',
    optionNames: ['doseLevels', 'observeNormal', 'observeLogTumour', 'toxicity', 'deathPenalty', 'N0', 'T0', 'I0', 'patientId', ...CHEMO_PARAM_NAMES, 'monitoring'],
    optionDocs: {
      monitoring:
        'the monitor agent { imagingEveryDays = 0.25, bloodsEveryDays = 0.25 }: days between tumour imaging (T) and blood draws (N, I, B); the observation holds the last values and gains the days since each (unset = every step, as oncology/chemo-v1)',
      other: 'every other option as oncology/chemo-v1',
    },
    reference: 'de Pillis & Radunskaya, Math Comput Model 37 (2003) 1221–1244; Luo et al., DTR-Bench, arXiv 2405.18610; Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
