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
const OBS_LOW = -3;
const OBS_HIGH = 9;

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

function optionNumber(options: Record<string, unknown>, name: string, fallback: number, min: number): number {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TwinlabError('INVALID_ARGUMENT', `${HIV_ENV_ID}: option ${name} must be a finite number ≥ ${min}, got ${describeValue(value)}`);
  }
  return value;
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
    const o = options as Record<string, unknown>;
    this.params = hivParams(o);
    this.piWeight = optionNumber(o, 'piWeight', HIV_REWARD.R2, 0);
    this.rewardScale = optionNumber(o, 'rewardScale', 1, 0);
    const initial = o.initial ?? 'unhealthy';
    if (typeof initial !== 'string' || !(initial in HIV_STEADY_STATES)) {
      throw new TwinlabError('INVALID_ARGUMENT', `${HIV_ENV_ID}: option initial must be one of ${Object.keys(HIV_STEADY_STATES).join(', ')}, got ${describeValue(initial)}`);
    }
    this.initial = initial as HivInitial;
    this.inoculum = optionNumber(o, 'inoculum', 1, 0);
    this.patientId = typeof o.patientId === 'string' ? o.patientId : 'adams-2004';
    this.rhs = hivRhs(this.params);
    this.result = { observation: this.observation, reward: 0, terminated: false, truncated: false, info: this.info };
  }

  protected resetEnv(_options: ResetOptions): ResetResult {
    this.y.set(HIV_STEADY_STATES[this.initial]);
    if (this.initial === 'uninfected') this.y[4] = this.inoculum;
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
    const V = this.y[4] as number;
    const E = this.y[5] as number;
    const reward =
      -HIV_REWARD.Q * V - HIV_REWARD.R1 * drugs.eps1 * drugs.eps1 - this.piWeight * drugs.eps2 * drugs.eps2 + HIV_REWARD.S * E;
    this.writeObservation();
    this.writeInfo(action);
    const r = this.result;
    r.reward = this.rewardScale * reward;
    r.terminated = false;
    r.truncated = false;
    return r;
  }

  private writeObservation(): void {
    for (let i = 0; i < HIV_DIM; i++) {
      this.observation[i] = Math.min(OBS_HIGH, Math.log10(Math.max(LOG_FLOOR, this.y[i] as number)));
    }
  }

  private writeInfo(action: number): void {
    const y = this.y;
    const info = this.info;
    const drugs = HIV_ACTIONS[action] as { eps1: number; eps2: number };
    info.day = this.stepIndex * HIV_STEP_DAYS;
    info.T1 = y[0];
    info.T1infected = y[1];
    info.T2 = y[2];
    info.T2infected = y[3];
    info.V = y[4];
    info.E = y[5];
    info.log10V = Math.log10(Math.max(LOG_FLOOR, y[4] as number));
    info.eps1 = drugs.eps1;
    info.eps2 = drugs.eps2;
    info.rtiDays = this.rtiDays;
    info.piDays = this.piDays;
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
