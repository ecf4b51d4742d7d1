import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { TwinlabError, describeValue } from '../../engine/errors.js';
import { Rk4 } from '../../engine/ode.js';
import { Box, Discrete } from '../../engine/spaces.js';
import {
  B_IDX,
  CHEMO_DIM,
  CUMULATIVE_TOXICITY,
  type ChemoParams,
  type ChemoRhs,
  chemoParams,
  chemoRhs,
  DTR_BENCH_INITIAL,
  I_IDX,
  N_IDX,
  T_IDX,
  X_IDX,
} from './chemo-model.js';

/**
 * `oncology/chemo-v1`: the DTR-Bench `AhnChemoEnv` formulation of the de Pillis–Radunskaya 2003
 * model (see chemo-model.ts and README.md), with discrete dose levels for DQN.
 *
 * - Decision every Δt = 0.25 day (6 h); the infusion rate v is held constant over the step and the ODE
 *   is integrated with classical RK4 (h = 0.01 day). States are clipped at ≥ 0 after each step.
 *   `make` truncates at 600 steps (150 days).
 * - Action: index k of `doseLevels` evenly spaced levels v = k/(doseLevels − 1) ∈ [0, 1] (default 5; 11 is
 *   the DTR-Bench README example).
 * - Observation: (T, I, B) as DTR-Bench (N hidden); `observeNormal: true` gives (N, T, I, B);
 *   `observeLogTumour: true` appends log10(max(T, 1e−12)) — the clearance threshold T < 1e−3 and the
 *   tumour's response to the dose are visible on a log scale, lost in T itself once T ≪ 1.
 * - Reward (DTR-Bench, from the state before the transition): r = N/N0 − T/T0 − v. If N after the step
 *   falls below 0.7·N0 the patient dies: terminated, reward = deathPenalty (−100 as DTR-Bench).
 * - Deterministic: the seed is accepted but unused (no noise in DTR-Bench "setting 1").
 */
export const CHEMO_ENV_ID = 'oncology/chemo-v1';
export const CHEMO_STEP_DAYS = 0.25;
export const CHEMO_RK4_STEP_DAYS = 0.01;
export const CHEMO_DEATH_FRACTION = 0.7;
export const CHEMO_CLEARANCE_THRESHOLD = 1e-3;
/** Episode length of `make` (150 days of 6-h steps). */
export const CHEMO_MAX_STEPS = 600;

export type ChemoToxicity = 'published' | 'cumulative';

export interface ChemoEnvOptions {
  doseLevels?: number;
  observeNormal?: boolean;
  /** Append log10(max(T, 1e−12)) to the observation. */
  observeLogTumour?: boolean;
  toxicity?: ChemoToxicity;
  deathPenalty?: number;
  /** Initial normal, tumour, immune populations (default: DTR-Bench 0.9, 0.2, 0.005). */
  N0?: number;
  T0?: number;
  I0?: number;
  /** Patient identifier carried into the reset info. */
  patientId?: string;
  /** Any model parameter (a1 … rho, toxEmax …) overrides the published value. */
  [parameter: string]: unknown;
}

export interface ChemoState {
  y: number[];
  step: number;
  cumulativeDose: number;
  nadir: number;
  dead: boolean;
}

/** Upper bounds of the observed populations (observations are clipped to them). */
export const CHEMO_OBS_HIGH: Readonly<{ N: number; T: number; I: number; B: number }> = Object.freeze({ N: 10, T: 10, I: 100, B: 100 });
/** Floor of T inside log10 for the `observeLogTumour` component. */
export const CHEMO_LOG_T_FLOOR = 1e-12;
const OBS_HIGH = CHEMO_OBS_HIGH;
const LOG_T_FLOOR = CHEMO_LOG_T_FLOOR;

function optionNumber(envId: string, options: Record<string, unknown>, name: string, fallback: number, min: number, max = Number.POSITIVE_INFINITY): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option ${name} must be a number in [${min}, ${max}], got ${describeValue(value)}`);
  }
  return value;
}

/** The options of oncology/chemo-v1 checked and resolved (shared with the agent composition, chemo-agents.ts). */
export interface ResolvedChemoOptions {
  toxicity: ChemoToxicity;
  levels: Float64Array;
  params: Readonly<ChemoParams>;
  initial: Readonly<{ N: number; T: number; I: number }>;
  deathPenalty: number;
  observeNormal: boolean;
  observeLogTumour: boolean;
  patientId: string;
  /** Observation bounds and labels: (N,) T, I, B (, log10T). */
  low: number[];
  high: number[];
  labels: string[];
}

/** Check and resolve the options of oncology/chemo-v1; errors name `envId` and the option. */
export function resolveChemoOptions(options: ChemoEnvOptions, envId: string): ResolvedChemoOptions {
  const o = options as Record<string, unknown>;
  const toxicity = o.toxicity ?? 'published';
  if (toxicity !== 'published' && toxicity !== 'cumulative') {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option toxicity must be "published" or "cumulative", got ${describeValue(toxicity)}`);
  }
  const nLevels = optionNumber(envId, o, 'doseLevels', 5, 2, 101);
  if (!Number.isInteger(nLevels)) throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option doseLevels must be an integer in [2, 101], got ${nLevels}`);
  const levels = Float64Array.from({ length: nLevels }, (_, k) => k / (nLevels - 1));
  const params = chemoParams(toxicity === 'cumulative' ? { ...CUMULATIVE_TOXICITY, ...o } : o);
  const initial = Object.freeze({
    N: optionNumber(envId, o, 'N0', DTR_BENCH_INITIAL.N, 1e-6, OBS_HIGH.N),
    T: optionNumber(envId, o, 'T0', DTR_BENCH_INITIAL.T, 1e-6, OBS_HIGH.T),
    I: optionNumber(envId, o, 'I0', DTR_BENCH_INITIAL.I, 0, OBS_HIGH.I),
  });
  const deathPenalty = optionNumber(envId, o, 'deathPenalty', -100, Number.NEGATIVE_INFINITY);
  const observeNormal = o.observeNormal ?? false;
  if (typeof observeNormal !== 'boolean') {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option observeNormal must be a boolean, got ${describeValue(observeNormal)}`);
  }
  const observeLogTumour = o.observeLogTumour ?? false;
  if (typeof observeLogTumour !== 'boolean') {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option observeLogTumour must be a boolean, got ${describeValue(observeLogTumour)}`);
  }
  const patientId = typeof o.patientId === 'string' ? o.patientId : 'dtr-bench-default';
  const low = [0, 0, 0];
  const high = [OBS_HIGH.T, OBS_HIGH.I, OBS_HIGH.B];
  const labels = ['T', 'I', 'B'];
  if (observeNormal) {
    low.unshift(0);
    high.unshift(OBS_HIGH.N);
    labels.unshift('N');
  }
  if (observeLogTumour) {
    low.push(Math.log10(LOG_T_FLOOR));
    high.push(Math.log10(OBS_HIGH.T));
    labels.push('log10T');
  }
  return { toxicity, levels, params, initial, deathPenalty, observeNormal, observeLogTumour, patientId, low, high, labels };
}

/** Dose-level labels of the action space, `v=0.25` … */
export function chemoActionLabels(levels: Float64Array): string[] {
  return Array.from(levels, (v) => `v=${Number(v.toFixed(3))}`);
}

/** Reward of a step from the state before it (DTR-Bench): N/N0 − T/T0 − v. */
export function chemoReward(N: number, T: number, v: number, initial: Readonly<{ N: number; T: number }>): number {
  return N / initial.N - T / initial.T - v;
}

/**
 * Write the observation (N,) T, I, B (, log10 T) of the given populations into `o`, clipped to
 * CHEMO_OBS_HIGH; returns the number of components written.
 */
export function writeChemoObservation(o: Float32Array, N: number, T: number, I: number, B: number, observeNormal: boolean, observeLogTumour: boolean): number {
  let k = 0;
  if (observeNormal) o[k++] = Math.min(OBS_HIGH.N, N);
  o[k++] = Math.min(OBS_HIGH.T, T);
  o[k++] = Math.min(OBS_HIGH.I, I);
  o[k++] = Math.min(OBS_HIGH.B, B);
  if (observeLogTumour) o[k++] = Math.log10(Math.max(LOG_T_FLOOR, Math.min(OBS_HIGH.T, T)));
  return k;
}

/** Clip every state component at ≥ 0 (after each step, as DTR-Bench). */
export function clipChemoState(y: Float64Array): void {
  for (let i = 0; i < CHEMO_DIM; i++) if ((y[i] as number) < 0) y[i] = 0;
}

/** The step info of oncology/chemo-v1 (the endpoints read it), written in place. */
export function writeChemoInfo(
  info: Info,
  y: Float64Array,
  stepIndex: number,
  dose: number,
  cumulativeDose: number,
  nadir: number,
  dead: boolean,
  initial: Readonly<{ N: number; T: number }>,
): void {
  info.day = stepIndex * CHEMO_STEP_DAYS;
  info.N = y[N_IDX];
  info.T = y[T_IDX];
  info.I = y[I_IDX];
  info.B = y[B_IDX];
  info.exposure = y[X_IDX];
  info.dose = dose;
  info.cumulativeDose = cumulativeDose;
  info.normalRatio = (y[N_IDX] as number) / initial.N;
  info.tumourRatio = (y[T_IDX] as number) / initial.T;
  info.nadirRatio = nadir / initial.N;
  info.dead = dead;
}

/** The initial state (N0, T0, I0, B = 0, X = 0) into y. */
export function chemoInitialState(y: Float64Array, initial: Readonly<{ N: number; T: number; I: number }>): void {
  y[N_IDX] = initial.N;
  y[T_IDX] = initial.T;
  y[I_IDX] = initial.I;
  y[B_IDX] = 0;
  y[X_IDX] = 0;
}

/** Validate a saved ChemoState (of oncology/chemo-v1 or its agent composition). */
export function checkChemoState(saved: unknown, envId: string): ChemoState {
  const s = saved as ChemoState;
  if (!s || !Array.isArray(s.y) || s.y.length !== CHEMO_DIM || !Number.isInteger(s.step)) {
    throw new TwinlabError('INVALID_STATE', `${envId}: setState expects { y: number[${CHEMO_DIM}], step, cumulativeDose, nadir, dead }, got ${describeValue(saved)}`);
  }
  return s;
}

export class ChemoEnv extends BaseEnv<number> {
  readonly id = CHEMO_ENV_ID;
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

  private readonly rhs: ChemoRhs;
  private readonly rk4 = new Rk4(CHEMO_DIM);
  private readonly y = new Float64Array(CHEMO_DIM);
  private readonly observation: Float32Array;
  private stepIndex = 0;
  private cumulativeDose = 0;
  private nadir = 0;
  private dead = false;
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: ChemoEnvOptions = {}) {
    super();
    const c = resolveChemoOptions(options, CHEMO_ENV_ID);
    this.toxicity = c.toxicity;
    this.levels = c.levels;
    this.params = c.params;
    this.initial = c.initial;
    this.deathPenalty = c.deathPenalty;
    this.observeNormal = c.observeNormal;
    this.observeLogTumour = c.observeLogTumour;
    this.patientId = c.patientId;
    this.observationSpace = new Box(c.low, c.high, [c.labels.length], c.labels);
    this.actionSpace = new Discrete(this.levels.length, 0, chemoActionLabels(this.levels));
    this.observation = new Float32Array(c.labels.length);
    this.rhs = chemoRhs(this.params);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  protected resetEnv(_options: ResetOptions): ResetResult {
    chemoInitialState(this.y, this.initial);
    this.stepIndex = 0;
    this.cumulativeDose = 0;
    this.nadir = this.initial.N;
    this.dead = false;
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
    };
    return { observation: this.observation, info };
  }

  protected stepEnv(action: number): StepResult {
    const y = this.y;
    const v = this.levels[action] as number;
    const N0 = this.initial.N;
    const reward = chemoReward(y[N_IDX] as number, y[T_IDX] as number, v, this.initial);
    this.rhs.v = v;
    const t0 = this.stepIndex * CHEMO_STEP_DAYS;
    this.rk4.integrate(this.rhs.f, y, t0, t0 + CHEMO_STEP_DAYS, CHEMO_RK4_STEP_DAYS);
    clipChemoState(y);
    this.stepIndex++;
    this.cumulativeDose += v * CHEMO_STEP_DAYS;
    const N = y[N_IDX] as number;
    if (N < this.nadir) this.nadir = N;
    this.dead = N < CHEMO_DEATH_FRACTION * N0;
    this.writeObservation();
    this.writeInfo(v);
    const r = this.result;
    r.reward = this.dead ? this.deathPenalty : reward;
    r.terminated = this.dead;
    r.truncated = false;
    return r;
  }

  private writeObservation(): void {
    const y = this.y;
    writeChemoObservation(this.observation, y[N_IDX] as number, y[T_IDX] as number, y[I_IDX] as number, y[B_IDX] as number, this.observeNormal, this.observeLogTumour);
  }

  private writeInfo(dose: number): void {
    writeChemoInfo(this.info, this.y, this.stepIndex, dose, this.cumulativeDose, this.nadir, this.dead, this.initial);
  }

  getState(): ChemoState {
    return { y: Array.from(this.y), step: this.stepIndex, cumulativeDose: this.cumulativeDose, nadir: this.nadir, dead: this.dead };
  }

  setState(saved: unknown): void {
    const s = checkChemoState(saved, CHEMO_ENV_ID);
    this.y.set(s.y);
    this.stepIndex = s.step;
    this.cumulativeDose = s.cumulativeDose;
    this.nadir = s.nadir;
    this.dead = s.dead;
    this.writeObservation();
    this.writeInfo(0);
  }
}
