import { z } from 'zod';
import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { DormandPrince } from '../../engine/ode.js';
import { register } from '../../engine/registry.js';
import { type SimAgent, Simulation } from '../../engine/simulation.js';
import { Box, Discrete } from '../../engine/spaces.js';
import {
  HIV_OBS_HIGH,
  HIV_OBS_LOW,
  HIV_STEP_DAYS,
  type HivEnvOptions,
  type HivInitial,
  type HivState,
  hivInitialState,
  hivReward,
  resolveHivOptions,
  writeHivInfo,
  writeHivObservation,
} from './env.js';
import { HIV_ACTIONS, HIV_DIM, HIV_PARAM_NAMES, HIV_STATE_NAMES, type HivParams, type HivRhs, hivRhs } from './model.js';

/**
 * The HIV structured-treatment-interruption twin (`hiv/sti-v1`, env.ts: Adams et al. 2004 model, Ernst et
 * al. 2006 formulation) as a composition of agents on the engine's `Simulation` (engine/simulation.ts),
 * clock in days; one Env step = one 5-day interval = one `Simulation.step(5)`. Agents, in this order:
 *
 *   clinician (decision)   — the regimen for the interval (`decide`): the Env's action (the learner), or a
 *                            policy given to the constructor that reads the observation (0 none, 1 RTI,
 *                            2 PI, 3 both; RLPy order, HIV_ACTIONS).
 *   pharmacy  (device)     — dispenses the regimen (`act`): sets the drug efficacies ε1, ε2 held over the
 *                            interval and counts RTI and PI days.
 *   patient   (physiology) — the six-state model (model.ts), integrated by Dormand–Prince 5(4) (rtol 1e−8,
 *                            atol 1e−6, as v1) in the `advance` phase under the pharmacy's efficacies, states
 *                            floored at 0 after integrating.
 *   lab       (device)     — measures the six states at the start of the episode and at the end of every
 *                            `lab.everySteps`-th interval (`collect`); between draws the latest result stands.
 *                            The observation is the log10 of the latest result. Default 1: every interval,
 *                            as v1.
 *
 * Why the episode hash equals `hiv/sti-v1`'s for the same options and actions: nothing is scheduled, so
 * the patient's `advance` runs once per step over exactly [5k, 5k + 5] — the one `integrate` call v1 makes,
 * with the same solver settings and right-hand side — and then floors the states as v1 does; the reward is
 * v1's function (`hivReward`) of the true end-of-interval state, and with a result every interval the
 * observation is v1's function of the same state. The model is deterministic (no stream is drawn; the seed
 * only names the Simulation). The reward is always the patient's, never the lab's: a sparser cadence changes
 * only what the clinician sees (tested).
 */

export const HIV_AGENTS_ENV_ID = 'hiv/sti-agents-v0';
/** Longest accepted lab interval, steps (200 = one draw per 1000-day episode, at the start). */
export const HIV_MAX_LAB_EVERY = 200;
/** The agents in the order they run (published in the reset info). */
export const HIV_AGENT_NAMES: readonly string[] = Object.freeze(['clinician', 'pharmacy', 'patient', 'lab']);

export interface HivLabConfig {
  /** Intervals (5 days each) between lab draws (default 1 = every interval, as hiv/sti-v1). */
  everySteps: number;
}

export interface HivAgentsOptions extends HivEnvOptions {
  /** The lab agent's configuration (undefined or null: every interval). */
  lab?: Partial<HivLabConfig> | null;
}

/** A clinician's policy: the action (0–3) from the observation at the decision time. */
export type HivClinicianPolicy = (observation: Float32Array, sim: Simulation) => number;

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class HivClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The regimen for the coming interval: set by the Env (the learner) when `policy` is null. */
  action = 0;
  /** The regimen ordered for the current interval. */
  order = 0;

  constructor(
    private readonly observation: Float32Array,
    readonly policy: HivClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(this.observation, sim);
    if (!(Number.isInteger(action) && action >= 0 && action < HIV_ACTIONS.length)) {
      throw new TwinlabError('INVALID_ACTION', `${HIV_AGENTS_ENV_ID}: the clinician policy returned ${describeValue(action)}, not an action in [0, ${HIV_ACTIONS.length})`);
    }
    this.order = action;
  }
}

export class PharmacyAgent implements SimAgent {
  readonly name = 'pharmacy';
  /** Efficacies dispensed for the current interval (RTI ε1, PI ε2). */
  eps1 = 0;
  eps2 = 0;
  /** Regimen dispensed in the current interval (index of HIV_ACTIONS). */
  regimen = 0;
  rtiDays = 0;
  piDays = 0;

  constructor(private readonly clinician: HivClinicianAgent) {}

  start(): void {
    this.eps1 = 0;
    this.eps2 = 0;
    this.regimen = 0;
    this.rtiDays = 0;
    this.piDays = 0;
  }

  act(): void {
    const drugs = HIV_ACTIONS[this.clinician.order] as { eps1: number; eps2: number };
    this.regimen = this.clinician.order;
    this.eps1 = drugs.eps1;
    this.eps2 = drugs.eps2;
    if (drugs.eps1 > 0) this.rtiDays += HIV_STEP_DAYS;
    if (drugs.eps2 > 0) this.piDays += HIV_STEP_DAYS;
  }
}

export class HivPatientAgent implements SimAgent {
  readonly name = 'patient';
  /** T1, T1*, T2, T2*, V, E per mL. */
  readonly y = new Float64Array(HIV_DIM);
  readonly rhs: HivRhs;
  private readonly solver = new DormandPrince(HIV_DIM, { rtol: 1e-8, atol: 1e-6 });

  constructor(
    private readonly pharmacy: PharmacyAgent,
    params: Readonly<HivParams>,
  ) {
    this.rhs = hivRhs(params);
  }

  advance(_sim: Simulation, t0: number, t1: number): void {
    const y = this.y;
    this.rhs.eps1 = this.pharmacy.eps1;
    this.rhs.eps2 = this.pharmacy.eps2;
    this.solver.integrate(this.rhs.f, y, t0, t1);
    for (let i = 0; i < HIV_DIM; i++) if ((y[i] as number) < 0) y[i] = 0;
  }
}

export class HivLabAgent implements SimAgent {
  readonly name = 'lab';
  /** The latest result (the six states) and the intervals since it was drawn. */
  readonly result = new Float64Array(HIV_DIM);
  age = 0;

  constructor(
    private readonly patient: HivPatientAgent,
    readonly everySteps: number,
  ) {}

  /** A draw now. */
  draw(): void {
    this.result.set(this.patient.y);
    this.age = 0;
  }

  collect(): void {
    if (++this.age >= this.everySteps) this.draw();
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

const EVERY = `must be a whole number of 5-day intervals in [1, ${HIV_MAX_LAB_EVERY}]`;
const LabSchema = z
  .object({ everySteps: z.number({ error: EVERY }).int({ error: EVERY }).min(1, { error: EVERY }).max(HIV_MAX_LAB_EVERY, { error: EVERY }).default(1) })
  .strict();

/** The lab option, validated (errors name the field, e.g. `lab.everySteps`). */
export function hivLabConfig(v: unknown): HivLabConfig {
  if (v === undefined || v === null) return { everySteps: 1 };
  const parsed = LabSchema.safeParse(v);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = ['lab', ...issue.path.map(String), ...keys.slice(0, 1)].join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `option ${field} is not a lab option (everySteps)`
      : issue.path.length === 0
        ? `option lab must be { everySteps }, got ${describeValue(v)}`
        : `option ${field} ${issue.message}, got ${describeValue((v as Record<string, unknown>)[String(issue.path[0])])}`;
  throw new TwinlabError('INVALID_ARGUMENT', `${HIV_AGENTS_ENV_ID}: ${message}`, { field });
}

/** hiv/sti-v1's state (restorable here, and the reverse) plus the lab's latest result. */
export interface HivAgentsState extends HivState {
  labResult?: number[];
  labAge?: number;
}

/**
 * `hiv/sti-agents-v0`: hiv/sti-v1 run as the agent composition above. Same options, observation, actions,
 * rewards and info (plus `labResultAge`), and `lab: { everySteps }`. A `policy` given to the constructor
 * drives the clinician instead of the Env's action (the action is still validated, then ignored).
 */
export class HivAgentsEnv extends BaseEnv<number> {
  readonly id = HIV_AGENTS_ENV_ID;
  readonly observationSpace = new Box(
    HIV_OBS_LOW,
    HIV_OBS_HIGH,
    [HIV_DIM],
    HIV_STATE_NAMES.map((s) => `log10 ${s}`),
  );
  readonly actionSpace = new Discrete(4, 0, HIV_ACTIONS.map((a) => a.label));
  readonly stepDuration = { value: HIV_STEP_DAYS, unit: 'day' };
  readonly params: Readonly<HivParams>;
  readonly piWeight: number;
  readonly rewardScale: number;
  readonly initial: HivInitial;
  readonly inoculum: number;
  readonly patientId: string;

  readonly clinician: HivClinicianAgent;
  readonly pharmacy: PharmacyAgent;
  readonly patient: HivPatientAgent;
  readonly lab: HivLabAgent;
  /** The simulation of the current episode (a new one per reset, clock in days). */
  simulation: Simulation;

  private seed: number | string = 0;
  private steps = 0;
  private readonly observation = new Float32Array(HIV_DIM);
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: HivAgentsOptions = {}, policy: HivClinicianPolicy | null = null) {
    super();
    const { lab, ...rest } = options;
    const c = resolveHivOptions(rest, HIV_AGENTS_ENV_ID);
    const labOptions = hivLabConfig(lab);
    this.params = c.params;
    this.piWeight = c.piWeight;
    this.rewardScale = c.rewardScale;
    this.initial = c.initial;
    this.inoculum = c.inoculum;
    this.patientId = c.patientId;
    this.clinician = new HivClinicianAgent(this.observation, policy);
    this.pharmacy = new PharmacyAgent(this.clinician);
    this.patient = new HivPatientAgent(this.pharmacy, this.params);
    this.lab = new HivLabAgent(this.patient, labOptions.everySteps);
    this.simulation = this.newSimulation(0);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  private newSimulation(startTime: number): Simulation {
    const sim = new Simulation({ seed: this.seed, startTime });
    sim.addAgent(this.clinician);
    sim.addAgent(this.pharmacy);
    sim.addAgent(this.patient);
    sim.addAgent(this.lab);
    return sim;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.seed = options.seed;
    this.simulation = this.newSimulation(0);
    hivInitialState(this.patient.y, this.initial, this.inoculum);
    this.pharmacy.start();
    this.lab.draw();
    this.steps = 0;
    this.refresh();
    const info: Info = Object.assign({}, this.info);
    info.patientId = this.patientId;
    info.initialState = this.initial;
    info.piWeight = this.piWeight;
    info.params = { ...this.params };
    info.agents = HIV_AGENT_NAMES;
    info.labEverySteps = this.lab.everySteps;
    return { observation: this.observation, info };
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    this.simulation.step(HIV_STEP_DAYS);
    this.steps++;
    const ph = this.pharmacy;
    const reward = hivReward(this.patient.y, ph.eps1, ph.eps2, this.piWeight);
    this.refresh();
    const r = this.result;
    r.reward = this.rewardScale * reward;
    r.terminated = false;
    r.truncated = false;
    return r;
  }

  private refresh(): void {
    const ph = this.pharmacy;
    writeHivObservation(this.observation, this.lab.result);
    writeHivInfo(this.info, this.patient.y, this.steps * HIV_STEP_DAYS, HIV_ACTIONS[ph.regimen] as { eps1: number; eps2: number }, ph.rtiDays, ph.piDays);
    this.info.labResultAge = this.lab.age;
  }

  getState(): HivAgentsState {
    return {
      y: Array.from(this.patient.y),
      step: this.steps,
      rtiDays: this.pharmacy.rtiDays,
      piDays: this.pharmacy.piDays,
      labResult: Array.from(this.lab.result),
      labAge: this.lab.age,
    };
  }

  /**
   * Continue from `getState()` (of this env, or of hiv/sti-v1: then the lab draws the current state now) in
   * a new Simulation started at the saved day.
   */
  setState(saved: unknown): void {
    const s = saved as HivAgentsState;
    if (!s || !Array.isArray(s.y) || s.y.length !== HIV_DIM || !Number.isInteger(s.step) || s.step < 0) {
      throw new TwinlabError('INVALID_STATE', `${HIV_AGENTS_ENV_ID}: setState expects { y: number[6], step, rtiDays, piDays }, got ${describeValue(saved)}`);
    }
    this.patient.y.set(s.y);
    this.pharmacy.start();
    this.pharmacy.rtiDays = s.rtiDays;
    this.pharmacy.piDays = s.piDays;
    this.lab.draw();
    if (s.labResult !== undefined) {
      if (!(Array.isArray(s.labResult) && s.labResult.length === HIV_DIM && Number.isInteger(s.labAge) && (s.labAge as number) >= 0)) {
        throw new TwinlabError('INVALID_STATE', `${HIV_AGENTS_ENV_ID}: setState labResult must be number[6] with a labAge ≥ 0, got ${describeValue(s.labResult)}`);
      }
      this.lab.result.set(s.labResult);
      this.lab.age = s.labAge as number;
    }
    this.steps = s.step;
    this.simulation = this.newSimulation(s.step * HIV_STEP_DAYS);
    this.refresh();
  }
}

let registered = false;

/** Registers `hiv/sti-agents-v0` (idempotent; called by registerHiv). */
export function registerHivAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: HIV_AGENTS_ENV_ID,
    description:
      'hiv/sti-v1 as an agent composition on engine/simulation.ts (clinician, pharmacy, patient, lab): same episodes for the same actions; a sparser lab monitoring cadence by configuration',
    entryPoint: (options) => new HivAgentsEnv(options as HivAgentsOptions),
    maxEpisodeSteps: 200, // as hiv/sti-v1 (HIV_MAX_STEPS of twin.ts, which imports this module)
    decisionInterval: '5 days',
    optionNames: ['piWeight', 'rewardScale', 'initial', 'inoculum', 'patientId', ...HIV_PARAM_NAMES, 'lab'],
    optionDocs: {
      lab: `the lab agent { everySteps = 1 }: 5-day intervals between lab draws (1–${HIV_MAX_LAB_EVERY}); the observation is the log10 of the latest result (1 = as hiv/sti-v1)`,
      other: 'every other option as hiv/sti-v1',
    },
    reference: 'Adams et al., Math Biosci Eng 1(2) (2004) 223–241; Ernst et al., IEEE CDC 2006; Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
