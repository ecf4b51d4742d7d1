import { z } from 'zod';
import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import { register } from '../../engine/registry.js';
import { type SimAgent, Simulation } from '../../engine/simulation.js';
import { type Box, Discrete } from '../../engine/spaces.js';
import {
  decodeSepsisInfo,
  drawInitialState,
  newSepsisInfo,
  resolveSepsisOptions,
  SEPSIS_OPTION_DOCS,
  type SepsisConfig,
  type SepsisEnvOptions,
  type SepsisObservationMode,
  type SepsisView,
  sepsisObservationSpace,
  writeSepsisObservation,
} from './env.js';
import { sampleTransition } from './model.js';
import { PAPER, solveSepsis } from './solve.js';
import { ACTION_LABELS, N_ACTIONS, N_OBS, OBS_REWARD } from './state.js';

/**
 * The sepsis twin (Oberst & Sontag, ICML 2019; env.ts) as a composition of agents on the engine's
 * `Simulation` (engine/simulation.ts). The clock counts the simulator's abstract decision steps; one
 * Env step = one `Simulation.step(1)`. Agents, in this order:
 *
 *   clinician (decision)   — the treatment for the step (`decide`): the Env's action (the learner), or a
 *                            policy given to the constructor that reads the observation, as
 *                            4·antibiotics + 2·ventilation + vasopressors.
 *   patient   (physiology) — the full state (vitals, treatments, hidden diabetes); at reset the
 *                            admission draw (`drawInitialState`, stream `initial-state`), in the `advance`
 *                            phase one transition of the simulator (`sampleTransition` of model.ts, stream
 *                            `dynamics`) under the clinician's treatment; death (≥ 3 abnormal vitals) or
 *                            discharge (all normal, off treatment) from the state it arrives in.
 *   lab       (device)     — blood glucose: draws the patient's glucose level at admission and at the end
 *                            of every `lab.glucoseEverySteps`-th step (`collect`); between draws the last
 *                            result stands. Default 1: a result every step, as in `sepsis/oberst-v1`.
 *   monitor   (device)     — the bedside monitor (`collect`): heart rate, systolic BP, O2 saturation and the
 *                            running treatments at every step, charted with the lab's latest glucose; this
 *                            charted state is what the observation encodes (`writeSepsisObservation`).
 *
 * Why the episode hash equals `sepsis/oberst-v1`'s for the same options, seed and actions: the patient
 * calls the same transition function once per step with the same action, drawing from the same named
 * substreams of the reset seed (`initial-state`, `dynamics`: `sim.rng(name)` is `Rng.fromSeed(seed).fork(name)`,
 * exactly what v1's reset builds); nothing is scheduled, so the `advance` phase runs once per step; and with
 * a glucose result every step the charted state is the true observed state, encoded by the same function
 * as v1's. As in v1 a reset without a seed continues both streams (each reset starts a new Simulation at
 * step 0; the agents keep the streams they took at the last seeded reset). The reward and termination are
 * always read from the patient's true state: a sparser glucose cadence changes only what the clinician
 * sees, never the patient (tested).
 */

export const SEPSIS_AGENTS_ENV_ID = 'sepsis/oberst-agents-v0';
/** The agents in the order they run (published in the reset info). */
export const SEPSIS_AGENT_NAMES: readonly string[] = Object.freeze(['clinician', 'patient', 'lab', 'monitor']);
const AGENT_NAMES = SEPSIS_AGENT_NAMES;
/** Longest accepted glucose cadence, steps (the paper's horizon: one draw at admission only). */
export const SEPSIS_MAX_GLUCOSE_EVERY = PAPER.horizon;

export interface SepsisLabConfig {
  /** Steps between blood-glucose draws (default 1 = every step, as sepsis/oberst-v1). */
  glucoseEverySteps: number;
}

export interface SepsisAgentsOptions extends SepsisEnvOptions {
  /** The lab agent's configuration (undefined or null: glucose every step). */
  lab?: Partial<SepsisLabConfig> | null;
}

/** A clinician's policy: the action (0–7, as the Env's action space) from the observation at the decision. */
export type SepsisClinicianPolicy = (observation: Float32Array, sim: Simulation) => number;

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class SepsisClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The treatment for the coming step: set by the Env (the learner) when `policy` is null. */
  action = 0;
  /** The treatment ordered for the current step (4·abx + 2·vent + vaso). */
  order = 0;

  constructor(
    private readonly observation: Float32Array,
    readonly policy: SepsisClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(this.observation, sim);
    if (!(Number.isInteger(action) && action >= 0 && action < N_ACTIONS)) {
      throw new TwinlabError('INVALID_ACTION', `${SEPSIS_AGENTS_ENV_ID}: the clinician policy returned ${describeValue(action)}, not an action in [0, ${N_ACTIONS})`);
    }
    this.order = action;
  }
}

export class SepsisPatientAgent implements SimAgent {
  readonly name = 'patient';
  /** Full state index: diabetic·720 + observed state. */
  full = 0;
  /** −1 death, +1 discharge, 0 otherwise: the reward of the state the patient is in (OBS_REWARD). */
  outcome = 0;
  initRng = Rng.fromSeed(0).fork('initial-state');
  dynamics = Rng.fromSeed(0).fork('dynamics');

  constructor(
    private readonly clinician: SepsisClinicianAgent,
    private readonly config: SepsisConfig,
  ) {}

  /** Admission: the given state, or a draw from the initial-state law (as v1's reset). */
  admit(): void {
    const c = this.config;
    this.full = c.initialState ?? drawInitialState(this.initRng, c.pDiabetes, c.diabetic);
    this.outcome = 0;
  }

  advance(): void {
    this.full = transition(this.full, this.clinician.order, this.dynamics, this.config.glucoseDefect);
    this.outcome = REWARD[this.full % OBS] as number;
  }
}

// Hot-path bindings read once: under tsx (tests, benches) imported bindings are property getters, and
// reading them on every step cost about a fifth of the agent env's step time (profiled).
const OBS = N_OBS;
const REWARD = OBS_REWARD;
const transition = sampleTransition;
const decodeInfo = decodeSepsisInfo;
const writeObservation = writeSepsisObservation;

/** Weight of the glucose level in the observed-state index (state.ts: (((…·5 + glucose)·2 + abx)·2 + vaso)·2 + vent), so glucose = (obs >> 3) % 5. */
const GLUCOSE_DIGIT = 8;

export class SepsisLabAgent implements SimAgent {
  readonly name = 'lab';
  /** The glucose level (0 very low … 4 very high) of the latest result, and steps since it was drawn. */
  glucose = 0;
  age = 0;

  constructor(
    private readonly patient: SepsisPatientAgent,
    readonly everySteps: number,
  ) {}

  /** The admission draw. */
  start(): void {
    this.glucose = ((this.patient.full % OBS) >> 3) % 5;
    this.age = 0;
  }

  collect(): void {
    if (++this.age >= this.everySteps) this.start();
  }
}

export class SepsisMonitorAgent implements SimAgent {
  readonly name = 'monitor';
  /** The charted observed-state index: the monitor's vitals and treatments with the lab's latest glucose. */
  charted = 0;

  constructor(
    private readonly patient: SepsisPatientAgent,
    private readonly lab: SepsisLabAgent,
  ) {}

  chart(): void {
    const obs = this.patient.full % OBS;
    const lab = this.lab;
    this.charted = lab.age === 0 ? obs : obs + (lab.glucose - (((obs >> 3) % 5) | 0)) * GLUCOSE_DIGIT;
  }

  collect(): void {
    this.chart();
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

const LabSchema = z
  .object({
    glucoseEverySteps: z
      .number({ error: `must be a whole number of steps in [1, ${SEPSIS_MAX_GLUCOSE_EVERY}]` })
      .int({ error: `must be a whole number of steps in [1, ${SEPSIS_MAX_GLUCOSE_EVERY}]` })
      .min(1, { error: `must be a whole number of steps in [1, ${SEPSIS_MAX_GLUCOSE_EVERY}]` })
      .max(SEPSIS_MAX_GLUCOSE_EVERY, { error: `must be a whole number of steps in [1, ${SEPSIS_MAX_GLUCOSE_EVERY}]` })
      .default(1),
  })
  .strict();

/** The lab option, validated (errors name the field, e.g. `lab.glucoseEverySteps`). */
export function sepsisLabConfig(v: unknown): SepsisLabConfig {
  if (v === undefined || v === null) return { glucoseEverySteps: 1 };
  const parsed = LabSchema.safeParse(v);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = ['lab', ...issue.path.map(String), ...keys.slice(0, 1)].join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `option ${field} is not a lab option (glucoseEverySteps)`
      : issue.path.length === 0
        ? `option lab must be { glucoseEverySteps }, got ${describeValue(v)}`
        : `option ${field} ${issue.message}, got ${describeValue((v as Record<string, unknown>)[String(issue.path[0])])}`;
  throw new TwinlabError('INVALID_ARGUMENT', `${SEPSIS_AGENTS_ENV_ID}: ${message}`, { field });
}

/** sepsis/oberst-v1's saved state (restorable here, and the reverse) plus the lab's latest result. */
export interface SepsisAgentsState {
  full: number;
  steps: number;
  initRng: RngState;
  dynamicsRng: RngState;
  labGlucose?: number;
  labAge?: number;
}

/**
 * `sepsis/oberst-agents-v0`: sepsis/oberst-v1 run as the agent composition above. Same options,
 * observation, actions, rewards and info (plus `labGlucose`, `glucoseResultAge`), and
 * `lab: { glucoseEverySteps }`. A `policy` given to the constructor drives the clinician instead of the
 * Env's action (the action is still validated, then ignored).
 */
export class SepsisAgentsEnv extends BaseEnv<number> {
  readonly id = SEPSIS_AGENTS_ENV_ID;
  readonly observationSpace: Box;
  readonly actionSpace = new Discrete(N_ACTIONS, 0, ACTION_LABELS);
  readonly stepDuration = { value: 1, unit: 'step' };
  readonly glucoseDefect: boolean;
  readonly pDiabetes: number;
  readonly mode: SepsisObservationMode;
  readonly view: SepsisView;

  readonly clinician: SepsisClinicianAgent;
  readonly patient: SepsisPatientAgent;
  readonly lab: SepsisLabAgent;
  readonly monitor: SepsisMonitorAgent;
  /** The simulation of the current episode (a new one per reset; clock in steps). */
  simulation: Simulation;

  private episodeSeed: number | string = 0;
  private steps = 0;
  private readonly observation: Float32Array;
  /** v1's info plus the lab's latest glucose level and its age in steps. */
  private readonly info = { ...newSepsisInfo(), labGlucose: 0, glucoseResultAge: 0 };
  private readonly result: StepResult;

  constructor(options: SepsisAgentsOptions = {}, policy: SepsisClinicianPolicy | null = null) {
    super();
    const { lab, ...rest } = options;
    const c = resolveSepsisOptions(rest, SEPSIS_AGENTS_ENV_ID);
    const labOptions = sepsisLabConfig(lab);
    this.glucoseDefect = c.glucoseDefect;
    this.pDiabetes = c.pDiabetes;
    this.mode = c.mode;
    this.view = c.view;
    this.observationSpace = sepsisObservationSpace(c.mode, c.view);
    this.observation = new Float32Array(this.observationSpace.size);
    this.clinician = new SepsisClinicianAgent(this.observation, policy);
    this.patient = new SepsisPatientAgent(this.clinician, c);
    this.lab = new SepsisLabAgent(this.patient, labOptions.glucoseEverySteps);
    this.monitor = new SepsisMonitorAgent(this.patient, this.lab);
    this.simulation = this.newSimulation(0);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info as unknown as Info };
  }

  private newSimulation(startTime: number): Simulation {
    const sim = new Simulation({ seed: this.episodeSeed, startTime });
    sim.addAgent(this.clinician);
    sim.addAgent(this.patient);
    sim.addAgent(this.lab);
    sim.addAgent(this.monitor);
    return sim;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.episodeSeed = options.seed;
    const sim = this.newSimulation(0);
    this.simulation = sim;
    if (options.seed !== undefined) {
      this.patient.initRng = sim.rng('initial-state');
      this.patient.dynamics = sim.rng('dynamics');
    }
    this.patient.admit();
    this.lab.start();
    this.monitor.chart();
    this.steps = 0;
    this.refresh();
    // v1's reset info (same keys, same order) plus the agents; built as v1 builds it (no object spread, see env.ts).
    const info: Info = Object.assign({} as Info, this.info);
    info.prescription = { diabetic: this.patient.full >= N_OBS ? 1 : 0 };
    info.glucoseDefect = this.glucoseDefect;
    info.view = this.view;
    info.observation = this.mode;
    info.agents = AGENT_NAMES;
    info.labGlucoseEverySteps = this.lab.everySteps;
    return { observation: this.observation, info };
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    this.simulation.step(1);
    this.steps++;
    this.refresh();
    const reward = this.patient.outcome;
    const r = this.result;
    r.reward = reward;
    r.terminated = reward !== 0;
    r.truncated = false;
    return r;
  }

  private refresh(): void {
    const info = this.info;
    decodeInfo(info, this.patient.full);
    info.outcome = this.patient.outcome < 0 ? 'death' : this.patient.outcome > 0 ? 'discharge' : 'ongoing';
    info.labGlucose = this.lab.glucose;
    info.glucoseResultAge = this.lab.age;
    writeObservation(this.observation, this.mode, this.view, this.monitor.charted);
  }

  /** As sepsis/oberst-v1 (the policies layer reads the value-iteration tables of this variant from here). */
  sepsisActionTable(kind: 'full' | 'observed' | 'projected'): Int32Array {
    const solution = solveSepsis(this.glucoseDefect, this.pDiabetes);
    if (kind === 'full') return solution.fullVI.policy;
    if (kind === 'observed') return solution.observedVI.policy;
    if (kind === 'projected') return solution.projectedVI.policy;
    throw new TwinlabError('INVALID_ARGUMENT', `sepsisActionTable: kind must be "full", "observed" or "projected", got ${describeValue(kind)}`);
  }

  getState(): SepsisAgentsState {
    return {
      full: this.patient.full,
      steps: this.steps,
      initRng: this.patient.initRng.saveState(),
      dynamicsRng: this.patient.dynamics.saveState(),
      labGlucose: this.lab.glucose,
      labAge: this.lab.age,
    };
  }

  /**
   * Continue from `getState()` (of this env, or of sepsis/oberst-v1: then the lab's latest result is the
   * current glucose, drawn now) in a new Simulation started at the saved step.
   */
  setState(saved: unknown): void {
    const s = saved as SepsisAgentsState;
    if (!s || !Number.isInteger(s.full) || s.full < 0 || s.full >= 2 * N_OBS || !Number.isInteger(s.steps) || s.steps < 0) {
      throw new TwinlabError('INVALID_STATE', `${this.id}: setState needs { full, steps, initRng, dynamicsRng }, got ${describeValue(saved)}`);
    }
    const pt = this.patient;
    pt.full = s.full;
    pt.outcome = OBS_REWARD[s.full % N_OBS] as number;
    pt.initRng = Rng.restore(s.initRng);
    pt.dynamics = Rng.restore(s.dynamicsRng);
    this.lab.start();
    if (s.labGlucose !== undefined) {
      if (!(Number.isInteger(s.labGlucose) && s.labGlucose >= 0 && s.labGlucose < 5 && Number.isInteger(s.labAge) && (s.labAge as number) >= 0)) {
        throw new TwinlabError('INVALID_STATE', `${this.id}: setState labGlucose must be a level 0–4 with a labAge ≥ 0, got ${describeValue(s.labGlucose)} / ${describeValue(s.labAge)}`);
      }
      this.lab.glucose = s.labGlucose;
      this.lab.age = s.labAge as number;
    }
    this.monitor.chart();
    this.steps = s.steps;
    this.simulation = this.newSimulation(s.steps);
    this.refresh();
  }
}

let registered = false;

/** Registers `sepsis/oberst-agents-v0` (idempotent; called by registerSepsis). */
export function registerSepsisAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: SEPSIS_AGENTS_ENV_ID,
    description:
      'sepsis/oberst-v1 as an agent composition on engine/simulation.ts (clinician, patient, glucose lab, bedside monitor): same episodes for the same seed; a sparser blood-glucose cadence by configuration',
    entryPoint: (options) => new SepsisAgentsEnv(options as SepsisAgentsOptions),
    maxEpisodeSteps: PAPER.horizon,
    defaultOptions: { glucoseDefect: true, pDiabetes: PAPER.pDiabetes, observation: 'factored', view: 'observed' },
    optionDocs: {
      ...SEPSIS_OPTION_DOCS,
      lab: `the glucose lab agent { glucoseEverySteps = 1 }: steps between blood-glucose draws (1–${SEPSIS_MAX_GLUCOSE_EVERY}); the observation carries the latest result (1 = as sepsis/oberst-v1)`,
    },
    optionNames: ['glucoseDefect', 'pDiabetes', 'observation', 'view', 'initialState', 'diabetic', 'lab'],
    decisionInterval: '1 step (abstract)',
    reference: 'Oberst M, Sontag D. ICML 2019; clinicalml/gumbel-max-scm; Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
