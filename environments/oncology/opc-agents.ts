import { z } from 'zod';
import { BaseEnv, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { describeValue, TwinlabError } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import { register } from '../../engine/registry.js';
import { type SimAgent, Simulation } from '../../engine/simulation.js';
import { Box, Discrete } from '../../engine/spaces.js';
import {
  checkOpcState,
  OPC_LABELS,
  OPC_LAST_STAGE,
  OPC_RESIDUAL_OBS_INDEX,
  type OpcEnvOptions,
  type OpcState,
  opcResetInfo,
  opcStage,
  opcStepInfo,
  opcUtility,
  resolveOpcOptions,
  writeOpcObservation,
} from './opc-env.js';
import { emptyCourse, type OpcCourse, type OpcPatient, samplePatient } from './opc-model.js';

/**
 * The SYNTHETIC OPC treatment-sequencing twin (oncology/opc-sequencing-v1, opc-env.ts) as a composition
 * of agents on the engine's `Simulation` (engine/simulation.ts). The clock counts treatment phases: one
 * Env step = one decision and the phase it starts = one `Simulation.step(1)` (step 0 induction
 * chemotherapy, 1 concurrent chemoradiation or RT alone, 2 neck dissection and follow-up). Agents, in this order:
 *
 *   clinician (decision)   — yes/no for the stage's treatment (`decide`): the Env's action (the learner), or
 *                            a policy given to the constructor that reads the observation.
 *   patient   (physiology) — the SCM (opc-model.ts): covariates and the hidden frailty F; the phase's
 *                            treatment is given (`act`) and the stage's outcomes happen in the Simulation's
 *                            `advance` phase (`opcStage`, the stage's uniforms from stream `outcomes`
 *                            whatever the decision, as opc-sequencing-v1).
 *   imaging   (device)     — the post-treatment response assessment after chemoradiation (`collect` of step
 *                            1): reports residual nodal disease to the clinician before the neck-dissection
 *                            decision. By default it reports the truth, as opc-sequencing-v1. With
 *                            `imaging: { sensitivity, specificity }` it reports a positive with probability
 *                            `sensitivity` when residual disease is present and `1 − specificity` when it
 *                            is absent (one uniform per assessment from its own stream `imaging`), so the
 *                            clinician may dissect a clean neck or leave residual disease; the neck
 *                            dissection still acts on the true disease.
 *
 * Episodes are three steps, so one Simulation runs about a thousand consecutive episodes (a new one per
 * reset cost more than the episode: 69 % of v1's throughput, bench/opc-agents.ts); the random streams are
 * the episode's, taken at a seeded reset, not the Simulation's.
 *
 * Why the hash equals opc-sequencing-v1's: a seeded reset takes the streams `root.fork('patient')` and
 * `root.fork('outcomes')` of root = `Rng.fromSeed(seed)`, as the hand env does; the patient is drawn, the
 * frailty impression drawn, each stage run, the observation, reward and info written by the functions
 * opc-env.ts exports and calls itself, in the same order. As in the hand env a reset without a seed continues the streams (the agents keep them). The
 * default imaging agent draws nothing. Test: test/environments/oncology/opc-agents.test.ts.
 */

export const OPC_AGENTS_ENV_ID = 'oncology/opc-sequencing-agents-v0';
/** Collector rows after which a reset starts a new Simulation (about 1,000 three-step episodes). */
export const OPC_AGENTS_SIM_ROWS = 3072;

export interface OpcImagingConfig {
  /** P(reported residual | residual nodal disease), in [0, 1]; default 1. */
  sensitivity: number;
  /** P(reported clear | no residual nodal disease), in [0, 1]; default 1. */
  specificity: number;
}

export interface OpcAgentsOptions extends OpcEnvOptions {
  /** The imaging agent's accuracy (undefined or null: it reports the true residual status, as oncology/opc-sequencing-v1). */
  imaging?: Partial<OpcImagingConfig> | null;
}

/** A clinician's policy: 0 or 1 (as the Env's action space) from the observation at the decision time. */
export type OpcClinicianPolicy = (observation: Float32Array, sim: Simulation) => number;

// ---------------------------------------------------------------------------------------------
// Agents
// ---------------------------------------------------------------------------------------------

export class OpcClinicianAgent implements SimAgent {
  readonly name = 'clinician';
  /** The action for the coming phase: set by the Env (the learner) when `policy` is null. */
  action = 0;
  /** The decision for the current phase (0 no, 1 yes). */
  decision = 0;

  constructor(
    private readonly observation: Float32Array,
    readonly policy: OpcClinicianPolicy | null = null,
  ) {}

  decide(sim: Simulation): void {
    const action = this.policy === null ? this.action : this.policy(this.observation, sim);
    if (action !== 0 && action !== 1) {
      throw new TwinlabError('INVALID_ACTION', `${OPC_AGENTS_ENV_ID}: the clinician policy returned ${describeValue(action)}, not 0 or 1`);
    }
    this.decision = action;
  }
}

export class OpcPatientAgent implements SimAgent {
  readonly name = 'patient';
  patient: OpcPatient = { age: 58, hpv: 1, smoker: 0, T: 2, N: 2, PS: 0, F: 0 };
  course: OpcCourse = emptyCourse();
  /** Decision stage reached (0 IC, 1 CC, 2 ND, 3 done). */
  stage = 0;
  outcomes: Rng = Rng.fromSeed(0).fork('outcomes');
  private given = -1;

  constructor(private readonly clinician: OpcClinicianAgent) {}

  start(patient: OpcPatient, course: OpcCourse, stage: number): void {
    this.patient = patient;
    this.course = course;
    this.stage = stage;
    this.given = -1;
  }

  /** The phase's treatment starts. */
  act(): void {
    this.given = this.clinician.decision;
  }

  /** The stage's outcomes (once per phase, whatever the integration splits). */
  advance(): void {
    if (this.given < 0) return;
    opcStage(this.stage, this.patient, this.course, this.given, this.outcomes);
    this.given = -1;
    this.stage++;
  }
}

export class OpcImagingAgent implements SimAgent {
  readonly name = 'imaging';
  rng: Rng = Rng.fromSeed(0).fork('imaging');
  /** Residual nodal disease as reported to the clinician (0/1; valid from stage 2). */
  reported = 0;

  constructor(
    private readonly patient: OpcPatientAgent,
    readonly config: OpcImagingConfig | null,
  ) {}

  /** After the chemoradiation phase: assess residual nodal disease. */
  collect(): void {
    if (this.patient.stage !== OPC_LAST_STAGE) return;
    const resid = this.patient.course.resid;
    const c = this.config;
    if (c === null) {
      this.reported = resid;
      return;
    }
    const u = this.rng.next();
    this.reported = resid === 1 ? (u < c.sensitivity ? 1 : 0) : u < c.specificity ? 0 : 1;
  }
}

// ---------------------------------------------------------------------------------------------
// The composition and its Env
// ---------------------------------------------------------------------------------------------

const PROBABILITY = 'must be a probability in [0, 1]';
const Probability = z.number({ error: PROBABILITY }).min(0, { error: PROBABILITY }).max(1, { error: PROBABILITY }).default(1);
const ImagingSchema = z.object({ sensitivity: Probability, specificity: Probability }).strict();

/** The imaging option, validated (errors name the field, e.g. `imaging.sensitivity`); null when off. */
export function opcImagingConfig(v: unknown): OpcImagingConfig | null {
  if (v === undefined || v === null) return null;
  const parsed = ImagingSchema.safeParse(v);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
  const field = ['imaging', ...issue.path.map(String), ...keys.slice(0, 1)].join('.');
  const message =
    issue.code === 'unrecognized_keys'
      ? `option ${field} is not an imaging option (sensitivity, specificity)`
      : issue.path.length === 0
        ? `option imaging must be { sensitivity, specificity }, got ${describeValue(v)}`
        : `option ${field} ${issue.message}, got ${describeValue((v as Record<string, unknown>)[String(issue.path[0])])}`;
  throw new TwinlabError('INVALID_ARGUMENT', `${OPC_AGENTS_ENV_ID}: ${message}`, { field });
}

/** oncology/opc-sequencing-v1's state (restorable here, and the reverse) plus, with imaging configured, its stream and report. */
export interface OpcAgentsState extends OpcState {
  imaging?: { rng: RngState; reported: number };
}

/**
 * `oncology/opc-sequencing-agents-v0`: oncology/opc-sequencing-v1 run as the agent composition above.
 * Same options, observation, actions, rewards and info, plus `imaging` (and then `info.imagedResidual`).
 * A `policy` given to the constructor drives the clinician instead of the Env's action (the action is
 * still validated, then ignored).
 */
export class OpcAgentsEnv extends BaseEnv<number> {
  readonly id = OPC_AGENTS_ENV_ID;
  readonly observationSpace = new Box(0, 1, [OPC_LABELS.length], OPC_LABELS);
  readonly actionSpace = new Discrete(2, 0, ['no', 'yes (IC / CC / ND by stage)']);
  readonly lambda: number;

  readonly clinician: OpcClinicianAgent;
  readonly patient: OpcPatientAgent;
  readonly imaging: OpcImagingAgent;
  /**
   * The simulation (clock in treatment phases). Episodes are three steps long, so one Simulation runs
   * consecutive episodes (a new one per reset would cost more than the episode): the current episode
   * began at `episodeStart`, and a reset starts a new Simulation once the collector holds
   * OPC_AGENTS_SIM_ROWS rows. The streams belong to the episode, not to the Simulation (see resetEnv).
   */
  simulation: Simulation;
  /** Clock of `simulation` at the current episode's reset. */
  episodeStart = 0;

  private readonly fixedPatient: OpcPatient | undefined;
  private patientRng = Rng.fromSeed(0).fork('patient');
  private readonly agentNames: readonly string[];
  private readonly observation = new Float32Array(OPC_LABELS.length);
  private readonly result: StepResult = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: {} };

  constructor(options: OpcAgentsOptions = {}, policy: OpcClinicianPolicy | null = null) {
    super();
    const { imaging, ...rest } = options;
    const c = resolveOpcOptions(rest, OPC_AGENTS_ENV_ID);
    this.lambda = c.lambda;
    this.fixedPatient = c.patient;
    this.clinician = new OpcClinicianAgent(this.observation, policy);
    this.patient = new OpcPatientAgent(this.clinician);
    this.imaging = new OpcImagingAgent(this.patient, opcImagingConfig(imaging));
    this.simulation = this.newSimulation();
    this.agentNames = Object.freeze(this.simulation.agents.map((a) => a.name));
  }

  private newSimulation(): Simulation {
    const sim = new Simulation({ seed: 0, startTime: 0 });
    sim.addAgent(this.clinician);
    sim.addAgent(this.patient);
    sim.addAgent(this.imaging);
    return sim;
  }

  /**
   * A seeded reset takes the streams 'patient', 'outcomes' (and 'imaging' when configured) of
   * Rng.fromSeed(seed) — those of opc-sequencing-v1 — and a reset without a seed continues them.
   */
  protected resetEnv(options: ResetOptions): ResetResult {
    if (this.simulation.collector.rows >= OPC_AGENTS_SIM_ROWS) this.simulation = this.newSimulation();
    this.episodeStart = this.simulation.time;
    if (options.seed !== undefined) {
      const root = Rng.fromSeed(options.seed);
      this.patientRng = root.fork('patient');
      this.patient.outcomes = root.fork('outcomes');
      if (this.imaging.config !== null) this.imaging.rng = root.fork('imaging');
    }
    const p = this.fixedPatient ? { ...this.fixedPatient } : samplePatient(this.patientRng);
    this.patient.start(p, emptyCourse(), 0);
    this.imaging.reported = 0;
    this.writeObservation();
    const info = opcResetInfo(p, this.patientRng);
    info.agents = this.agentNames;
    if (this.imaging.config !== null) info.imaging = { ...this.imaging.config };
    return { observation: this.observation, info };
  }

  protected stepEnv(action: number): StepResult {
    this.clinician.action = action;
    this.simulation.step(1);
    const pt = this.patient;
    const r = this.result;
    const done = pt.stage > OPC_LAST_STAGE;
    r.reward = done ? opcUtility(pt.course, this.lambda) : 0;
    r.terminated = done;
    r.truncated = false;
    this.writeObservation();
    r.observation = this.observation;
    const info = opcStepInfo(pt.stage, pt.course, pt.patient);
    if (this.imaging.config !== null && pt.stage >= OPC_LAST_STAGE) info.imagedResidual = this.imaging.reported;
    r.info = info;
    return r;
  }

  private writeObservation(): void {
    const pt = this.patient;
    writeOpcObservation(this.observation, pt.patient, pt.course, pt.stage);
    if (pt.stage >= OPC_LAST_STAGE) this.observation[OPC_RESIDUAL_OBS_INDEX] = this.imaging.reported;
  }

  getState(): OpcAgentsState {
    const pt = this.patient;
    const im = this.imaging;
    return {
      stage: pt.stage,
      patient: { ...pt.patient },
      course: { ...pt.course },
      patientRng: this.patientRng.saveState(),
      outcomeRng: pt.outcomes.saveState(),
      ...(im.config !== null ? { imaging: { rng: im.rng.saveState(), reported: im.reported } } : {}),
    };
  }

  /**
   * Continue from `getState()` (of this env, or of oncology/opc-sequencing-v1 with the same options) in a
   * new Simulation started at the saved stage. A state without the imaging report (v1's) takes the true
   * residual status as reported.
   */
  setState(saved: unknown): void {
    const s = checkOpcState(saved, OPC_AGENTS_ENV_ID) as OpcAgentsState;
    const pt = this.patient;
    const im = this.imaging;
    pt.start({ ...s.patient }, { ...s.course }, s.stage);
    pt.outcomes = Rng.restore(s.outcomeRng);
    this.patientRng = Rng.restore(s.patientRng);
    if (s.imaging !== undefined && im.config !== null) {
      if (!(s.imaging.reported === 0 || s.imaging.reported === 1)) {
        throw new TwinlabError('INVALID_STATE', `${OPC_AGENTS_ENV_ID}: setState: imaging.reported must be 0 or 1, got ${describeValue(s.imaging.reported)}`);
      }
      im.rng = Rng.restore(s.imaging.rng);
      im.reported = s.imaging.reported;
    } else im.reported = s.stage >= OPC_LAST_STAGE ? s.course.resid : 0;
    this.episodeStart = this.simulation.time - s.stage;
    this.writeObservation();
  }
}

let registered = false;

/** Registers `oncology/opc-sequencing-agents-v0` (idempotent). */
export function registerOpcAgents(): void {
  if (registered) return;
  registered = true;
  register({
    id: OPC_AGENTS_ENV_ID,
    description:
      'SYNTHETIC oncology/opc-sequencing-v1 as an agent composition on engine/simulation.ts (clinician, patient, imaging): same episodes for the same seed and actions; imperfect post-chemoradiation imaging of residual nodal disease by configuration',
    entryPoint: (options) => new OpcAgentsEnv(options as OpcAgentsOptions),
    maxEpisodeSteps: OPC_LAST_STAGE + 1,
    defaultOptions: { lambda: 0.3 },
    optionNames: ['lambda', 'patient', 'imaging'],
    optionDocs: {
      lambda: 'dysphagia weight λ in OS − λ·Dys (default 0.3)',
      patient: 'fixed virtual patient { age, hpv, smoker, T, N, PS, F } (cohort members)',
      imaging:
        'the imaging agent { sensitivity = 1, specificity = 1 }: accuracy of the post-chemoradiation assessment of residual nodal disease the clinician sees before the neck-dissection decision (unset = the truth, as oncology/opc-sequencing-v1)',
    },
    decisionInterval: '1 treatment phase',
    reference: 'SYNTHETIC SCM (docs/MODELS.md §5) after Tardini E et al., J Med Internet Res 2022;24(4):e29455; Masad & Kazil 2015 (Mesa) for the agent pipeline',
  });
}
