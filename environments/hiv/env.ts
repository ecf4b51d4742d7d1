import { BaseEnv, type Info, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { TwinlabError, describeValue } from '../../engine/errors.js';
import { DormandPrince } from '../../engine/ode.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { HIV_ACTIONS, HIV_DIM, HIV_STATE_NAMES, HIV_STEADY_STATES, type HivParams, type HivRhs, hivParams, hivRhs } from './model.js';

/**
 * `hiv/sti-v1`: structured treatment interruption on the Adams et al. 2004 model (model.ts) with the
 * reinforcement-learning formulation of Ernst et al. 2006 as encoded in RLPy `HIVTreatment`:
 *
 * - Four actions, RLPy order (pinned): 0 none, 1 RTI only (ε1 = 0.7), 2 PI only (ε2 = 0.3), 3 both.
 * - Decision every 5 days, drugs held constant in between; `make` truncates at 200 steps (1000 days).
 * - Reward from the state at the END of the 5-day interval (RLPy):
 *     r = −Q·V − R1·ε1² − R2·ε2² + S·E,   Q = 0.1, R1 = 20000, S = 1000,
 *   R2 = 2000 by default (RLPy; the gymnasium `HIVPatient` uses 20000 — unverified which matches Ernst
 *   2006, so `piWeight` sets it). `rewardScale` multiplies the reward (default 1 = the published scale).
 * - Observation: log10 of the six states (as RLPy), each floored at 1e−3 (log10 = −3) so an uninfected
 *   start stays finite.
 * - Start: the "unhealthy" steady state (RL episodes start there); `initial` may name "healthy" or
 *   "uninfected" (then V = `inoculum`, default 1 virion/mL).
 * - Integration: adaptive Dormand–Prince 5(4), rtol 1e−8, atol 1e−6 (the system is mildly stiff).
 * - Deterministic: no noise; the seed is accepted but unused.
 */
export const HIV_ENV_ID = 'hiv/sti-v1';
export const HIV_STEP_DAYS = 5;
export const HIV_REWARD = Object.freeze({ Q: 0.1, R1: 20000, R2: 2000, S: 1000 });
const LOG_FLOOR = 1e-3;
export const HIV_OBS_LOW = -3;
export const HIV_OBS_HIGH = 9;
const OBS_LOW = HIV_OBS_LOW;
const OBS_HIGH = HIV_OBS_HIGH;

export type HivInitial = keyof typeof HIV_STEADY_STATES;

export interface HivEnvOptions {
  piWeight?: number;
  rewardScale?: number;
  initial?: HivInitial;
  inoculum?: number;
  patientId?: string;
  /** Any model parameter (lambda1 … deltaE) overrides the Adams et al. value. */
  [parameter: string]: unknown;
}

export interface HivState {
  y: number[];
  step: number;
  rtiDays: number;
  piDays: number;
}

function optionNumber(options: Record<string, unknown>, name: string, fallback: number, min: number, envId: string): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option ${name} must be a finite number ≥ ${min}, got ${describeValue(value)}`);
  }
  return value;
}

/** The validated options of an HIV env (shared by `hiv/sti-v1` and `hiv/sti-agents-v0`). */
export interface HivConfig {
  params: Readonly<HivParams>;
  piWeight: number;
  rewardScale: number;
  initial: HivInitial;
  inoculum: number;
  patientId: string;
}

/** Validates the options of `hiv/sti-v1` (errors name `envId` and the option). */
export function resolveHivOptions(options: HivEnvOptions, envId: string = HIV_ENV_ID): HivConfig {
  const o = options as Record<string, unknown>;
  const params = hivParams(o);
  const piWeight = optionNumber(o, 'piWeight', HIV_REWARD.R2, 0, envId);
  const rewardScale = optionNumber(o, 'rewardScale', 1, 0, envId);
  const initial = o.initial ?? 'unhealthy';
  if (typeof initial !== 'string' || !(initial in HIV_STEADY_STATES)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${envId}: option initial must be one of ${Object.keys(HIV_STEADY_STATES).join(', ')}, got ${describeValue(initial)}`);
  }
  const inoculum = optionNumber(o, 'inoculum', 1, 0, envId);
  const patientId = typeof o.patientId === 'string' ? o.patientId : 'adams-2004';
  return { params, piWeight, rewardScale, initial: initial as HivInitial, inoculum, patientId };
}

/** The start state: the named steady state; an uninfected start gets `inoculum` virions/mL. */
export function hivInitialState(y: Float64Array, initial: HivInitial, inoculum: number): void {
  y.set(HIV_STEADY_STATES[initial]);
  if (initial === 'uninfected') y[4] = inoculum;
}

/** The Ernst 2006 / RLPy reward (unscaled) on state `y` under efficacies ε1, ε2: −Q·V − R1·ε1² − R2·ε2² + S·E. */
export function hivReward(y: Float64Array, eps1: number, eps2: number, piWeight: number): number {
  const V = y[4] as number;
  const E = y[5] as number;
  return -HIV_REWARD.Q * V - HIV_REWARD.R1 * eps1 * eps1 - piWeight * eps2 * eps2 + HIV_REWARD.S * E;
}

/** log10 of the six states, floored at 1e−3 and capped at the Box's upper bound. */
export function writeHivObservation(o: Float32Array, y: ArrayLike<number>): void {
  for (let i = 0; i < HIV_DIM; i++) {
    o[i] = Math.min(OBS_HIGH, Math.log10(Math.max(LOG_FLOOR, y[i] as number)));
  }
}

/** The step info of the HIV envs (true state, drugs of the last interval, drug-days). */
export function writeHivInfo(info: Info, y: Float64Array, day: number, drugs: { eps1: number; eps2: number }, rtiDays: number, piDays: number): void {
  info.day = day;
  info.T1 = y[0];
  info.T1infected = y[1];
  info.T2 = y[2];
  info.T2infected = y[3];
  info.V = y[4];
  info.E = y[5];
  info.log10V = Math.log10(Math.max(LOG_FLOOR, y[4] as number));
  info.eps1 = drugs.eps1;
  info.eps2 = drugs.eps2;
  info.rtiDays = rtiDays;
  info.piDays = piDays;
}

export class HivEnv extends BaseEnv<number> {
  readonly id = HIV_ENV_ID;
  readonly observationSpace = new Box(OBS_LOW, OBS_HIGH, [HIV_DIM], HIV_STATE_NAMES.map((s) => `log10 ${s}`));
  readonly actionSpace = new Discrete(4, 0, HIV_ACTIONS.map((a) => a.label));
  readonly stepDuration = { value: HIV_STEP_DAYS, unit: 'day' };
  readonly params: Readonly<HivParams>;
  readonly piWeight: number;
  readonly rewardScale: number;
  readonly initial: HivInitial;
  readonly inoculum: number;
  readonly patientId: string;

  private readonly rhs: HivRhs;
  private readonly solver = new DormandPrince(HIV_DIM, { rtol: 1e-8, atol: 1e-6 });
  private readonly y = new Float64Array(HIV_DIM);
  private readonly observation = new Float32Array(HIV_DIM);
  private stepIndex = 0;
  private rtiDays = 0;
  private piDays = 0;
  private readonly info: Info = {};
  private readonly result: StepResult;

  constructor(options: HivEnvOptions = {}) {
    super();
    const c = resolveHivOptions(options);
    this.params = c.params;
    this.piWeight = c.piWeight;
    this.rewardScale = c.rewardScale;
    this.initial = c.initial;
    this.inoculum = c.inoculum;
    this.patientId = c.patientId;
    this.rhs = hivRhs(this.params);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  protected resetEnv(_options: ResetOptions): ResetResult {
    hivInitialState(this.y, this.initial, this.inoculum);
    this.stepIndex = 0;
    this.rtiDays = 0;
    this.piDays = 0;
    this.writeObservation();
    this.writeInfo(0);
    return {
      observation: this.observation,
      info: { ...this.info, patientId: this.patientId, initialState: this.initial, piWeight: this.piWeight, params: { ...this.params } },
    };
  }

  protected stepEnv(action: number): StepResult {
    const drugs = HIV_ACTIONS[action] as { eps1: number; eps2: number };
    this.rhs.eps1 = drugs.eps1;
    this.rhs.eps2 = drugs.eps2;
    const t0 = this.stepIndex * HIV_STEP_DAYS;
    this.solver.integrate(this.rhs.f, this.y, t0, t0 + HIV_STEP_DAYS);
    for (let i = 0; i < HIV_DIM; i++) if ((this.y[i] as number) < 0) this.y[i] = 0;
    this.stepIndex++;
    if (drugs.eps1 > 0) this.rtiDays += HIV_STEP_DAYS;
    if (drugs.eps2 > 0) this.piDays += HIV_STEP_DAYS;
    const reward = hivReward(this.y, drugs.eps1, drugs.eps2, this.piWeight);
    this.writeObservation();
    this.writeInfo(action);
    const r = this.result;
    r.reward = this.rewardScale * reward;
    r.terminated = false;
    r.truncated = false;
    return r;
  }

  private writeObservation(): void {
    writeHivObservation(this.observation, this.y);
  }

  private writeInfo(action: number): void {
    writeHivInfo(this.info, this.y, this.stepIndex * HIV_STEP_DAYS, HIV_ACTIONS[action] as { eps1: number; eps2: number }, this.rtiDays, this.piDays);
  }

  getState(): HivState {
    return { y: Array.from(this.y), step: this.stepIndex, rtiDays: this.rtiDays, piDays: this.piDays };
  }

  setState(saved: unknown): void {
    const s = saved as HivState;
    if (!s || !Array.isArray(s.y) || s.y.length !== HIV_DIM || !Number.isInteger(s.step)) {
      throw new TwinlabError('INVALID_STATE', `${HIV_ENV_ID}: setState expects { y: number[6], step, rtiDays, piDays }, got ${describeValue(saved)}`);
    }
    this.y.set(s.y);
    this.stepIndex = s.step;
    this.rtiDays = s.rtiDays;
    this.piDays = s.piDays;
    this.writeObservation();
    this.writeInfo(0);
  }
}
