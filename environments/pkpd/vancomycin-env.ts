import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { TwinlabError, describeValue } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import {
  AKI_MODEL,
  AUC_TARGET,
  akiHazardPerDay,
  GOTI,
  individualPk,
  VANCO_DIM,
  type VancoPk,
  type VancoRhs,
  vancoRhs,
} from './vancomycin-model.js';

/**
 * `pkpd/vancomycin-v1`: vancomycin dosing every 12 h on the Goti 2018 two-compartment model
 * (vancomycin-model.ts), targeting AUC24/MIC 400–600 (Rybak 2020) with a SYNTHETIC exposure-driven
 * kidney-injury risk. See README.md.
 *
 * - Action: index into `doseLevels` (mg, default 0 = hold, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500),
 *   infused at the start of the 12-h interval over max(1 h, dose/1000 mg·h) ("about 1 h per g").
 *   The ODE is integrated by classical RK4 (h = 0.05 h), split at the infusion end and the peak sample.
 * - Levels (what the clinician has): in every `sampleEvery`-th interval (default 2 → the second dose of
 *   each day) the lab reports the pre-dose level, the peak 1 h after the end of the infusion and the
 *   trough at the end of the interval, each with the Goti 2018 residual error
 *   Cobs = C·(1 + ε_prop) + ε_add (22.7 %, 3.4 mg/L; `assayError: false` gives exact levels), floored at 0.
 * - Observation (11): weight kg, CrCL mL/min (current, i.e. after any kidney injury), MIC mg/L, day,
 *   last dose mg, pre-dose / peak / trough level mg/L (0 until the first sample), hours since the levels
 *   were drawn (trough time; 0 = this interval), has-levels flag, AKI flag.
 * - Reward per 12-h step, from the rolling exposure AUC24 over the last 24 h (the first step projects
 *   its 12-h AUC to 24 h): +1 if AUC24/MIC ∈ [400, 600], otherwise −min(1, distance/200); −10 at the
 *   onset of AKI.
 * - AKI (SYNTHETIC): hazard h(AUC24) per day (vancomycin-model.ts), event probability per step
 *   1 − exp(−h·0.5 day); at onset CrCL falls by 40 % (×0.6) and CL is recomputed with the patient's η,
 *   closing the loop (toxicity lowers clearance, which raises exposure). At most one AKI per episode.
 * - Episode: `days` (default 7 → 14 steps); the env truncates itself so a restored keyframe ends on time.
 * - Random streams (from the reset seed): `assay` (level errors) and `aki` (injury draws).
 */
export const VANCO_ENV_ID = 'pkpd/vancomycin-v1';
export const VANCO_STEP_HOURS = 12;
export const VANCO_RK4_STEP_HOURS = 0.05;
export const VANCO_DEFAULT_DOSES: readonly number[] = Object.freeze([0, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500]);
export const VANCO_OBS_LABELS = [
  'weight_kg',
  'crcl_ml_min',
  'mic_mg_l',
  'day',
  'last_dose_mg',
  'level_predose_mg_l',
  'level_peak_mg_l',
  'level_trough_mg_l',
  'hours_since_levels',
  'has_levels',
  'aki',
] as const;
const OBS_HIGH = [400, 300, 64, 365, 10000, 1000, 1000, 1000, 10000, 1, 1];
const AKI_PENALTY = -10;

/** One patient of a `patients` pool (e.g. a personal twin's posterior draw, experiments/personal-cohort-vancomycin.ts). */
export interface VancoPatient {
  patientId?: string;
  weight: number;
  crcl: number;
  dialysis?: boolean;
  etaCl: number;
  etaV1: number;
  etaV2: number;
}

export interface VancoEnvOptions {
  weight?: number;
  crcl?: number;
  dialysis?: boolean;
  /** Patient random effects (log scale) on CL, V1, V2 (default 0 = typical patient). */
  etaCl?: number;
  etaV1?: number;
  etaV2?: number;
  mic?: number;
  /** Episode length in days (default 7); the env truncates itself (its step counter is part of getState). */
  days?: number;
  doseLevels?: number[] | string;
  sampleEvery?: number;
  assayError?: boolean;
  aki?: boolean;
  akiPenalty?: number;
  patientId?: string;
  /**
   * A pool of patients, one drawn per reset (stream `patient` of the reset seed; a reset without a seed
   * continues that stream). Excludes weight, crcl, dialysis, etaCl/V1/V2 and patientId.
   */
  patients?: VancoPatient[];
}

export interface VancoState {
  y: number[];
  step: number;
  crcl: number;
  aki: boolean;
  akiStep: number;
  lastDose: number;
  levels: number[];
  levelStep: number;
  prevAucStep: number;
  assay: RngState;
  akiRng: RngState;
  /** Index of the current patient in the `patients` pool (absent without a pool). */
  patient?: number;
  patientRng?: RngState;
}

function num(o: Record<string, unknown>, name: string, fallback: number, min: number, max: number, prefix = '', id = VANCO_ENV_ID): number {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TwinlabError('INVALID_ARGUMENT', `${id}: option ${prefix}${name} must be a number in [${min}, ${max}], got ${describeValue(value)}`);
  }
  return value;
}

function bool(o: Record<string, unknown>, name: string, fallback: boolean, prefix = '', id = VANCO_ENV_ID): boolean {
  const value = o[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TwinlabError('INVALID_ARGUMENT', `${id}: option ${prefix}${name} must be a boolean, got ${describeValue(value)}`);
  return value;
}

export interface ResolvedPatient {
  patientId: string;
  weight: number;
  crcl: number;
  dialysis: boolean;
  eta: { cl: number; v1: number; v2: number };
}

const PATIENT_KEYS = ['patientId', 'weight', 'crcl', 'dialysis', 'etaCl', 'etaV1', 'etaV2'] as const;

/** A patient from options (the single-patient options, or one entry of `patients`, field names prefixed). */
function resolvePatient(o: Record<string, unknown>, prefix: string, required: boolean, id: string): ResolvedPatient {
  if (required) {
    for (const key of ['weight', 'crcl', 'etaCl', 'etaV1', 'etaV2']) {
      if (o[key] === undefined) throw new TwinlabError('INVALID_ARGUMENT', `${id}: option ${prefix}${key} is required`);
    }
    const unknown = Object.keys(o).filter((k) => !(PATIENT_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0) throw new TwinlabError('INVALID_ARGUMENT', `${id}: option ${prefix}${unknown[0]} is not a patient field (expected ${PATIENT_KEYS.join(', ')})`);
  }
  const patientId = o.patientId;
  if (patientId !== undefined && typeof patientId !== 'string') {
    throw new TwinlabError('INVALID_ARGUMENT', `${id}: option ${prefix}patientId must be a string, got ${describeValue(patientId)}`);
  }
  return {
    patientId: patientId ?? 'typical',
    weight: num(o, 'weight', 70, 20, 400, prefix, id),
    crcl: num(o, 'crcl', 90, 1, GOTI.crclCap, prefix, id),
    dialysis: bool(o, 'dialysis', false, prefix, id),
    eta: { cl: num(o, 'etaCl', 0, -5, 5, prefix, id), v1: num(o, 'etaV1', 0, -5, 5, prefix, id), v2: num(o, 'etaV2', 0, -5, 5, prefix, id) },
  };
}

function patientPool(o: Record<string, unknown>, id: string): ResolvedPatient[] | undefined {
  if (o.patients === undefined) return undefined;
  const clash = PATIENT_KEYS.find((k) => o[k] !== undefined);
  if (clash) throw new TwinlabError('INVALID_ARGUMENT', `${id}: give either option ${clash} or option patients, not both`);
  if (!Array.isArray(o.patients) || o.patients.length === 0) {
    throw new TwinlabError('INVALID_ARGUMENT', `${id}: option patients must be a non-empty list of patients, got ${describeValue(o.patients)}`);
  }
  return o.patients.map((p, i) => {
    if (p === null || typeof p !== 'object' || Array.isArray(p)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${id}: option patients[${i}] must be an object, got ${describeValue(p)}`);
    }
    const patient = resolvePatient(p as Record<string, unknown>, `patients[${i}].`, true, id);
    if (patient.patientId === 'typical' && (p as Record<string, unknown>).patientId === undefined) patient.patientId = `patient-${i}`;
    return patient;
  });
}

function doseList(value: unknown, id: string): number[] {
  if (value === undefined) return [...VANCO_DEFAULT_DOSES];
  const list = typeof value === 'string' ? value.split(',').map((s) => Number(s.trim())) : value;
  if (!Array.isArray(list) || list.length < 2 || list.some((d) => typeof d !== 'number' || !Number.isFinite(d) || d < 0 || d > 10000)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${id}: option doseLevels must be ≥ 2 doses in mg within [0, 10000], got ${describeValue(value)}`);
  }
  return list as number[];
}

/** The env's options resolved and checked (shared with the agent composition, vancomycin-agents.ts; errors name `id`). */
export interface VancoConfig {
  /** The `patients` pool, or undefined for one patient given by the single-patient options. */
  pool: readonly ResolvedPatient[] | undefined;
  /** The single patient, or the pool's first. */
  first: ResolvedPatient;
  mic: number;
  maxSteps: number;
  doses: readonly number[];
  sampleEvery: number;
  assayError: boolean;
  akiEnabled: boolean;
  akiPenalty: number;
}

export function resolveVancoOptions(options: VancoEnvOptions, id = VANCO_ENV_ID): VancoConfig {
  const o = options as Record<string, unknown>;
  const pool = patientPool(o, id);
  const first = pool?.[0] ?? resolvePatient(o, '', false, id);
  const mic = num(o, 'mic', 1, 0.0625, 64, '', id);
  const days = num(o, 'days', 7, 0.5, 365, '', id);
  const maxSteps = Math.round((days * 24) / VANCO_STEP_HOURS);
  if (maxSteps * VANCO_STEP_HOURS !== days * 24) {
    throw new TwinlabError('INVALID_ARGUMENT', `${id}: option days must be a multiple of 0.5 (12-h steps), got ${days}`);
  }
  const doses = Object.freeze(doseList(o.doseLevels, id));
  const sampleEvery = num(o, 'sampleEvery', 2, 1, 1000, '', id);
  if (!Number.isInteger(sampleEvery)) throw new TwinlabError('INVALID_ARGUMENT', `${id}: option sampleEvery must be an integer ≥ 1, got ${sampleEvery}`);
  return {
    pool,
    first,
    mic,
    maxSteps,
    doses,
    sampleEvery,
    assayError: bool(o, 'assayError', true, '', id),
    akiEnabled: bool(o, 'aki', true, '', id),
    akiPenalty: num(o, 'akiPenalty', AKI_PENALTY, -1e6, 0, '', id),
  };
}

/** Infusion duration (h) for a dose: about 1 h per gram, at least 1 h. */
export function infusionHours(doseMg: number): number {
  return Math.max(1, doseMg / 1000);
}

/** Reward for one step from the rolling AUC24/MIC (see class comment). */
export function vancoExposureReward(aucOverMic: number): number {
  if (aucOverMic >= AUC_TARGET.low && aucOverMic <= AUC_TARGET.high) return 1;
  const distance = aucOverMic < AUC_TARGET.low ? AUC_TARGET.low - aucOverMic : aucOverMic - AUC_TARGET.high;
  return -Math.min(1, distance / 200);
}

export class VancomycinEnv extends BaseEnv<number> {
  readonly id = VANCO_ENV_ID;
  readonly observationSpace = new Box(0, OBS_HIGH, [VANCO_OBS_LABELS.length], VANCO_OBS_LABELS);
  readonly actionSpace: Discrete;
  readonly stepDuration = { value: VANCO_STEP_HOURS, unit: 'h' };
  readonly doses: readonly number[];
  /** The current patient (with a `patients` pool: the one drawn at the last reset). */
  weight: number;
  baselineCrcl: number;
  dialysis: boolean;
  eta: { cl: number; v1: number; v2: number };
  patientId: string;
  readonly mic: number;
  readonly maxSteps: number;
  readonly sampleEvery: number;
  readonly assayError: boolean;
  readonly akiEnabled: boolean;
  readonly akiPenalty: number;
  /** The `patients` pool, or undefined for one patient given by the single-patient options. */
  private readonly pool: readonly ResolvedPatient[] | undefined;
  private poolIndex = -1;
  private patientRng = Rng.fromSeed(0).fork('patient');

  private readonly rhs: VancoRhs;
  private readonly rk4 = new Rk4(VANCO_DIM);
  private readonly y = new Float64Array(VANCO_DIM);
  private readonly observation = new Float32Array(VANCO_OBS_LABELS.length);
  /** Measured pre-dose, peak, trough (mg/L). */
  private readonly levels = new Float64Array(3);
  private levelStep = -1;
  private stepIndex = 0;
  private crcl: number;
  private aki = false;
  private akiStep = -1;
  private lastDose = 0;
  private prevAucStep = 0;
  private assayRng = Rng.fromSeed(0).fork('assay');
  private akiRng = Rng.fromSeed(0).fork('aki');
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: VancoEnvOptions = {}) {
    super();
    const c = resolveVancoOptions(options);
    this.pool = c.pool;
    const first = c.first;
    this.weight = first.weight;
    this.baselineCrcl = first.crcl;
    this.dialysis = first.dialysis;
    this.eta = first.eta;
    this.patientId = first.patientId;
    this.mic = c.mic;
    this.maxSteps = c.maxSteps;
    this.doses = c.doses;
    this.sampleEvery = c.sampleEvery;
    this.assayError = c.assayError;
    this.akiEnabled = c.akiEnabled;
    this.akiPenalty = c.akiPenalty;
    this.actionSpace = new Discrete(this.doses.length, 0, this.doses.map((d) => (d === 0 ? 'hold' : `${d} mg`)));
    this.crcl = this.baselineCrcl;
    this.rhs = vancoRhs(this.pk());
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  /** Individual PK parameters at the current renal function. */
  pk(): VancoPk {
    return individualPk(this.crcl, this.weight, this.dialysis, this.eta);
  }

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) {
      const root = Rng.fromSeed(options.seed);
      this.assayRng = root.fork('assay');
      this.akiRng = root.fork('aki');
      this.patientRng = root.fork('patient');
    }
    if (this.pool !== undefined) this.usePatient(this.pool.length === 1 ? 0 : this.patientRng.integer(0, this.pool.length));
    this.y.fill(0);
    this.stepIndex = 0;
    this.crcl = this.baselineCrcl;
    this.rhs.pk = this.pk();
    this.aki = false;
    this.akiStep = -1;
    this.lastDose = 0;
    this.prevAucStep = 0;
    this.levels.fill(0);
    this.levelStep = -1;
    this.writeObservation();
    this.writeInfo(0, 0, 0, 0);
    const pk = this.rhs.pk;
    return {
      observation: this.observation,
      info: {
        ...this.info,
        patientId: this.patientId,
        prescription: { weightKg: this.weight, crclMlMin: this.baselineCrcl, mic: this.mic, doseLevelsMg: [...this.doses] },
        pk: { ...pk },
        eta: { ...this.eta },
        dialysis: this.dialysis,
      },
    };
  }

  private usePatient(index: number): void {
    const p = (this.pool as readonly ResolvedPatient[])[index] as ResolvedPatient;
    this.poolIndex = index;
    this.weight = p.weight;
    this.baselineCrcl = p.crcl;
    this.dialysis = p.dialysis;
    this.eta = p.eta;
    this.patientId = p.patientId;
  }

  private measure(concentration: number): number {
    if (!this.assayError) return concentration;
    const e = GOTI.residual;
    const value = concentration * (1 + e.proportional * this.assayRng.normal()) + e.additive * this.assayRng.normal();
    return Math.max(0, value);
  }

  private advance(t0: number, t1: number): void {
    if (t1 > t0) this.rk4.integrate(this.rhs.f, this.y, t0, t1, VANCO_RK4_STEP_HOURS);
  }

  protected stepEnv(action: number): StepResult {
    const dose = this.doses[action] as number;
    const y = this.y;
    const pk = this.rhs.pk;
    const sampled = (this.stepIndex + 1) % this.sampleEvery === 0;
    const aucStart = y[2] as number;
    const t0 = this.stepIndex * VANCO_STEP_HOURS;
    const tEnd = t0 + VANCO_STEP_HOURS;
    if (sampled) this.levels[0] = this.measure((y[0] as number) / pk.v1);
    let tInf = 0;
    if (dose > 0) {
      tInf = infusionHours(dose);
      this.rhs.rate = dose / tInf;
      this.advance(t0, t0 + tInf);
      this.rhs.rate = 0;
    }
    const tPeak = t0 + tInf + 1;
    this.advance(t0 + tInf, tPeak);
    const truePeak = (y[0] as number) / pk.v1;
    if (sampled) this.levels[1] = this.measure(truePeak);
    this.advance(tPeak, tEnd);
    const trueTrough = (y[0] as number) / pk.v1;
    if (sampled) {
      this.levels[2] = this.measure(trueTrough);
      this.levelStep = this.stepIndex;
    }
    const aucStep = (y[2] as number) - aucStart;
    const auc24 = this.stepIndex === 0 ? 2 * aucStep : this.prevAucStep + aucStep;
    this.prevAucStep = aucStep;
    this.lastDose = dose;
    this.stepIndex++;

    let reward = vancoExposureReward(auc24 / this.mic);
    if (this.akiEnabled && !this.aki) {
      const p = 1 - Math.exp(-akiHazardPerDay(auc24) * (VANCO_STEP_HOURS / 24));
      // One draw per step whatever p is, so the aki stream stays aligned across policies (common random numbers).
      const u = this.akiRng.next();
      if (u < p) {
        this.aki = true;
        this.akiStep = this.stepIndex - 1;
        this.crcl *= AKI_MODEL.crclFactor;
        this.rhs.pk = this.pk();
        reward += this.akiPenalty;
      }
    }
    this.writeObservation();
    this.writeInfo(dose, aucStep, auc24, trueTrough, truePeak);
    const r = this.result;
    r.reward = reward;
    r.terminated = false;
    r.truncated = this.stepIndex >= this.maxSteps;
    return r;
  }

  private writeObservation(): void {
    const o = this.observation;
    const hasLevels = this.levelStep >= 0;
    o[0] = this.weight;
    o[1] = this.crcl;
    o[2] = this.mic;
    o[3] = (this.stepIndex * VANCO_STEP_HOURS) / 24;
    o[4] = this.lastDose;
    o[5] = Math.min(1000, this.levels[0] as number);
    o[6] = Math.min(1000, this.levels[1] as number);
    o[7] = Math.min(1000, this.levels[2] as number);
    o[8] = hasLevels ? Math.min(10000, (this.stepIndex - 1 - this.levelStep) * VANCO_STEP_HOURS) : 0;
    o[9] = hasLevels ? 1 : 0;
    o[10] = this.aki ? 1 : 0;
  }

  private writeInfo(dose: number, aucStep: number, auc24: number, trough: number, peak = 0): void {
    const info = this.info;
    const pk = this.rhs.pk;
    info.hour = this.stepIndex * VANCO_STEP_HOURS;
    info.dose = dose;
    info.aucStep = aucStep;
    info.auc24 = auc24;
    info.aucOverMic = auc24 / this.mic;
    info.concentration = (this.y[0] as number) / pk.v1;
    info.trough = trough;
    info.peak = peak;
    info.crcl = this.crcl;
    info.cl = pk.cl;
    info.aki = this.aki;
    info.akiStep = this.akiStep;
    info.mic = this.mic;
  }

  getState(): VancoState {
    return {
      y: Array.from(this.y),
      step: this.stepIndex,
      crcl: this.crcl,
      aki: this.aki,
      akiStep: this.akiStep,
      lastDose: this.lastDose,
      levels: Array.from(this.levels),
      levelStep: this.levelStep,
      prevAucStep: this.prevAucStep,
      assay: this.assayRng.saveState(),
      akiRng: this.akiRng.saveState(),
      ...(this.pool !== undefined ? { patient: this.poolIndex, patientRng: this.patientRng.saveState() } : {}),
    };
  }

  setState(saved: unknown): void {
    const s = saved as VancoState;
    if (!s || !Array.isArray(s.y) || s.y.length !== VANCO_DIM || !Array.isArray(s.levels) || !Number.isInteger(s.step)) {
      throw new TwinlabError('INVALID_STATE', `${VANCO_ENV_ID}: setState expects a state from getState(), got ${describeValue(saved)}`);
    }
    if (this.pool !== undefined) {
      if (!(Number.isInteger(s.patient) && (s.patient as number) >= 0 && (s.patient as number) < this.pool.length) || s.patientRng === undefined) {
        throw new TwinlabError('INVALID_STATE', `${VANCO_ENV_ID}: setState of an env with ${this.pool.length} patients needs the patient index of getState(), got ${describeValue(s.patient)}`);
      }
      this.usePatient(s.patient as number);
      this.patientRng = Rng.restore(s.patientRng);
    }
    this.y.set(s.y);
    this.stepIndex = s.step;
    this.crcl = s.crcl;
    this.aki = s.aki;
    this.akiStep = s.akiStep;
    this.lastDose = s.lastDose;
    this.levels.set(s.levels);
    this.levelStep = s.levelStep;
    this.prevAucStep = s.prevAucStep;
    this.assayRng = Rng.restore(s.assay);
    this.akiRng = Rng.restore(s.akiRng);
    this.rhs.pk = this.pk();
    this.writeObservation();
    this.writeInfo(this.lastDose, 0, 0, 0);
  }
}
