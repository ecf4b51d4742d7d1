import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { TwinlabError, describeValue } from '../../engine/errors.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { emptyCourse, OPC_DEFAULT_PARAMETERS, type OpcCourse, type OpcPatient, samplePatient, stage1, stage2, stage3 } from './opc-model.js';

export const OPC_ENV_ID = 'oncology/opc-sequencing-v1';

/**
 * SYNTHETIC oropharyngeal cancer treatment-sequencing env on the "OPC-Seq-Twin" SCM (opc-model.ts,
 * docs/MODELS.md §5), after the decision structure of Tardini et al. JMIR 2022. Three decisions, one per step:
 *   step 0: induction chemotherapy (A1 ∈ {0, 1}), step 1: concurrent chemoradiation (A2: 0 = RT alone,
 *   1 = CC), step 2: neck dissection (A3 ∈ {0, 1}); the episode terminates after step 2.
 * Reward 0 on steps 0–1; on step 2, OS − λ·Dys (5-year survival minus λ × late dysphagia; λ = 0.3).
 * Observation (17 floats, the latent frailty F is NEVER included): age/100, HPV+, smoker, T/4, N/3, PS/2,
 * decision-stage one-hot (IC, CC, ND, done), IC given, induction response, DLT1, CC given, locoregional
 * control, DLT2, residual nodal disease — each intermediate revealed once its stage has happened.
 * Random numbers: every stage draws its uniforms whatever the action (common random numbers across arms).
 */
export const OPC_LABELS = [
  'age/100',
  'hpv+',
  'smoker',
  'T/4',
  'N/3',
  'PS/2',
  'stage=IC',
  'stage=CC',
  'stage=ND',
  'stage=done',
  'ic-given',
  'ic-response',
  'dlt1',
  'cc-given',
  'lrc',
  'dlt2',
  'residual-nodal',
] as const;

export interface OpcEnvOptions {
  /** Dysphagia weight λ of the utility OS − λ·Dys (docs/MODELS.md §5: λ ∈ [0.2, 0.5], default 0.3). */
  lambda?: number;
  /** A fixed virtual patient (cohort member); otherwise drawn at reset from the covariate law. */
  patient?: OpcPatient;
}

/** Index of the residual-nodal-disease component in the observation. */
export const OPC_RESIDUAL_OBS_INDEX = OPC_LABELS.indexOf('residual-nodal');

/** The state getState() returns (restorable into oncology/opc-sequencing-v1 and its agent composition). */
export interface OpcState {
  stage: number;
  patient: OpcPatient;
  course: OpcCourse;
  patientRng: RngState;
  outcomeRng: RngState;
}

export class OpcSequencingEnv extends BaseEnv<number> {
  readonly id = OPC_ENV_ID;
  readonly observationSpace = new Box(0, 1, [OPC_LABELS.length], OPC_LABELS);
  readonly actionSpace = new Discrete(2, 0, ['no', 'yes (IC / CC / ND by stage)']);
  readonly lambda: number;
  private readonly fixedPatient?: OpcPatient;
  private patient: OpcPatient = { age: 58, hpv: 1, smoker: 0, T: 2, N: 2, PS: 0, F: 0 };
  private course: OpcCourse = emptyCourse();
  private stage = 0;
  private patientRng = Rng.fromSeed(0).fork('patient');
  private outcomeRng = Rng.fromSeed(0).fork('outcomes');
  private readonly observation = new Float32Array(OPC_LABELS.length);
  private readonly result: StepResult = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: {} };

  constructor(options: OpcEnvOptions = {}) {
    super();
    const c = resolveOpcOptions(options, OPC_ENV_ID);
    this.lambda = c.lambda;
    if (c.patient !== undefined) this.fixedPatient = c.patient;
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) {
      const root = Rng.fromSeed(options.seed);
      this.patientRng = root.fork('patient');
      this.outcomeRng = root.fork('outcomes');
    }
    this.patient = this.fixedPatient ? { ...this.fixedPatient } : samplePatient(this.patientRng);
    this.course = emptyCourse();
    this.stage = 0;
    this.writeObservation();
    return { observation: this.observation, info: opcResetInfo(this.patient, this.patientRng) };
  }

  protected stepEnv(action: number): StepResult {
    const r = this.result;
    const rng = this.outcomeRng;
    const c = this.course;
    r.reward = 0;
    r.terminated = false;
    r.truncated = false;
    opcStage(this.stage, this.patient, c, action, rng);
    if (this.stage === OPC_LAST_STAGE) {
      r.reward = opcUtility(c, this.lambda);
      r.terminated = true;
    }
    this.stage++;
    this.writeObservation();
    r.observation = this.observation;
    r.info = opcStepInfo(this.stage, c, this.patient);
    return r;
  }

  private writeObservation(): void {
    writeOpcObservation(this.observation, this.patient, this.course, this.stage);
  }

  getState(): OpcState {
    return { stage: this.stage, patient: { ...this.patient }, course: { ...this.course }, patientRng: this.patientRng.saveState(), outcomeRng: this.outcomeRng.saveState() };
  }

  setState(saved: unknown): void {
    const s = checkOpcState(saved, this.id);
    this.stage = s.stage;
    this.patient = { ...s.patient };
    this.course = { ...s.course };
    this.patientRng = Rng.restore(s.patientRng);
    this.outcomeRng = Rng.restore(s.outcomeRng);
    this.writeObservation();
  }
}

/** Index of the last decision (neck dissection); the episode terminates after it. */
export const OPC_LAST_STAGE = 2;

/** The options of oncology/opc-sequencing-v1 checked (errors name `envId` and the option). */
export function resolveOpcOptions(options: OpcEnvOptions, envId: string): { lambda: number; patient: OpcPatient | undefined } {
  const lambda = options.lambda ?? 0.3;
  if (typeof lambda !== 'number' || !(lambda >= 0 && lambda <= 1)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option lambda = ${describeValue(options.lambda)} is invalid; expected a number in [0, 1]`);
  }
  return { lambda, patient: options.patient !== undefined ? validatePatient(options.patient, envId) : undefined };
}

/**
 * Run decision stage `stage` (0 IC, 1 CC, 2 ND) of the SCM with `action`, drawing the stage's uniforms
 * from `rng` whatever the action (common random numbers across arms).
 */
export function opcStage(stage: number, p: OpcPatient, c: OpcCourse, action: number, rng: Rng): void {
  if (stage === 0) stage1(p, c, action, rng.next(), rng.next());
  else if (stage === 1) stage2(p, c, action, rng.next(), rng.next(), rng.next());
  else stage3(p, c, action, rng.next(), rng.next(), rng.next(), OPC_DEFAULT_PARAMETERS);
}

/** The episode's reward at the last stage: OS − λ·Dys. */
export function opcUtility(c: OpcCourse, lambda: number): number {
  return c.os - lambda * c.dys;
}

/**
 * The reset info (covariates, the clinician's frailty impression F + N(0, 0.5²) drawn from `patientRng`
 * — what lets a physician policy be confounded by F — and the true state).
 */
export function opcResetInfo(patient: OpcPatient, patientRng: Rng): Info {
  const { F: _hidden, ...covariates } = patient;
  const frailtyImpression = patient.F + patientRng.normal(0, 0.5);
  return { synthetic: true, stage: 0, covariates, prescription: { frailtyImpression }, trueState: { ...patient } };
}

/** The step info after a decision (the stage reached, a copy of the course, the true frailty). */
export function opcStepInfo(stage: number, c: OpcCourse, p: OpcPatient): Info {
  return { synthetic: true, stage, course: { ...c }, frailty: p.F };
}

/** Write the observation at decision stage `stage` (0..3) into `o` (F never included; each intermediate revealed after its stage). */
export function writeOpcObservation(o: Float32Array, p: OpcPatient, c: OpcCourse, stage: number): void {
  o.fill(0);
  o[0] = p.age / 100;
  o[1] = p.hpv;
  o[2] = p.smoker;
  o[3] = p.T / 4;
  o[4] = p.N / 3;
  o[5] = p.PS / 2;
  o[6 + Math.min(stage, 3)] = 1;
  if (stage >= 1) {
    o[10] = c.a1;
    o[11] = c.r1;
    o[12] = c.dlt1;
  }
  if (stage >= 2) {
    o[13] = c.a2;
    o[14] = c.lrc;
    o[15] = c.dlt2;
    o[16] = c.resid;
  }
}

/** Validate a saved OpcState. */
export function checkOpcState(saved: unknown, envId: string): OpcState {
  const s = saved as OpcState;
  if (!s || !Number.isInteger(s.stage) || s.stage < 0 || s.stage > 3) throw new TwinlabError('INVALID_ARGUMENT', `${envId}: setState needs a saved state with stage 0..3, got ${describeValue(saved)}`);
  return s;
}

function validatePatient(p: unknown, envId: string): OpcPatient {
  const q = p as OpcPatient;
  const ok =
    q && typeof q === 'object' && Number.isFinite(q.age) && (q.hpv === 0 || q.hpv === 1) && (q.smoker === 0 || q.smoker === 1) &&
    [1, 2, 3, 4].includes(q.T) && [0, 1, 2, 3].includes(q.N) && [0, 1, 2].includes(q.PS) && Number.isFinite(q.F);
  if (!ok) throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option patient = ${describeValue(p)} is invalid; expected { age, hpv 0|1, smoker 0|1, T 1..4, N 0..3, PS 0..2, F }`);
  return { ...q };
}
