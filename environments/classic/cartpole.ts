import { BaseEnv, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { Rng, type RngState } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';

/**
 * CartPole-v1 exactly as Gymnasium 1.x (`gymnasium/envs/classic_control/cartpole.py`), itself the
 * cart-pole of Barto, Sutton & Anderson (1983), "Neuronlike adaptive elements that can solve difficult
 * learning control problems", IEEE SMC 13(5):834–846, with the dynamics of Florian (2007), "Correct
 * equations for the dynamics of the cart-pole system".
 *
 * State (float64 internally, float32 observations): x, ẋ, θ, θ̇. Action 0 pushes left, 1 right with
 * force 10 N. Explicit Euler with τ = 0.02 s:
 *   temp = (F + m_p·l·θ̇²·sin θ) / (m_c + m_p)
 *   θ̈ = (g·sin θ − cos θ·temp) / (l·(4/3 − m_p·cos²θ/(m_c + m_p)))
 *   ẍ = temp − m_p·l·θ̈·cos θ/(m_c + m_p)
 * Terminates when |x| > 2.4 or |θ| > 12°; reward +1 for every step including the terminating one;
 * `make('classic/cartpole-v1')` truncates at 500 steps. Reset draws each state component from
 * U(−0.05, 0.05).
 */
const GRAVITY = 9.8;
const MASS_CART = 1.0;
const MASS_POLE = 0.1;
const TOTAL_MASS = MASS_CART + MASS_POLE;
const HALF_LENGTH = 0.5;
const POLE_MASS_LENGTH = MASS_POLE * HALF_LENGTH;
const FORCE_MAG = 10.0;
const TAU = 0.02;
const THETA_THRESHOLD = (12 * 2 * Math.PI) / 360;
const X_THRESHOLD = 2.4;
const FLOAT32_MAX = 3.4028234663852886e38;

export interface CartPoleState {
  state: number[];
  rng: RngState;
}

export class CartPoleEnv extends BaseEnv<number> {
  readonly id = 'classic/cartpole-v1';
  readonly observationSpace = new Box(
    [-X_THRESHOLD * 2, -FLOAT32_MAX, -THETA_THRESHOLD * 2, -FLOAT32_MAX],
    [X_THRESHOLD * 2, FLOAT32_MAX, THETA_THRESHOLD * 2, FLOAT32_MAX],
    [4],
    ['x', 'x_dot', 'theta', 'theta_dot'],
  );
  readonly actionSpace = new Discrete(2, 0, ['push left', 'push right']);
  readonly stepDuration = { value: TAU, unit: 's' };

  private readonly state = new Float64Array(4);
  private readonly observation = new Float32Array(4);
  private rng = Rng.fromSeed(0).fork('reset');
  private readonly result: StepResult = { observation: this.observation, reward: 1, terminated: false, truncated: false, info: {} };

  protected resetEnv(options: ResetOptions): ResetResult {
    if (options.seed !== undefined) this.rng = Rng.fromSeed(options.seed).fork('reset');
    for (let i = 0; i < 4; i++) this.state[i] = this.rng.uniform(-0.05, 0.05);
    this.observation.set(this.state);
    return { observation: this.observation, info: {} };
  }

  protected stepEnv(action: number): StepResult {
    const s = this.state;
    let x = s[0] as number;
    let xDot = s[1] as number;
    let theta = s[2] as number;
    let thetaDot = s[3] as number;
    const force = action === 1 ? FORCE_MAG : -FORCE_MAG;
    const cos = Math.cos(theta);
    const sin = Math.sin(theta);
    const temp = (force + POLE_MASS_LENGTH * thetaDot * thetaDot * sin) / TOTAL_MASS;
    const thetaAcc = (GRAVITY * sin - cos * temp) / (HALF_LENGTH * (4.0 / 3.0 - (MASS_POLE * cos * cos) / TOTAL_MASS));
    const xAcc = temp - (POLE_MASS_LENGTH * thetaAcc * cos) / TOTAL_MASS;
    x = x + TAU * xDot;
    xDot = xDot + TAU * xAcc;
    theta = theta + TAU * thetaDot;
    thetaDot = thetaDot + TAU * thetaAcc;
    s[0] = x;
    s[1] = xDot;
    s[2] = theta;
    s[3] = thetaDot;
    this.observation[0] = x;
    this.observation[1] = xDot;
    this.observation[2] = theta;
    this.observation[3] = thetaDot;
    const r = this.result;
    r.terminated = x < -X_THRESHOLD || x > X_THRESHOLD || theta < -THETA_THRESHOLD || theta > THETA_THRESHOLD;
    r.truncated = false;
    r.reward = 1;
    return r;
  }

  getState(): CartPoleState {
    return { state: Array.from(this.state), rng: this.rng.saveState() };
  }

  setState(saved: unknown): void {
    const { state, rng } = saved as CartPoleState;
    this.state.set(state);
    this.observation.set(this.state);
    this.rng = Rng.restore(rng);
  }
}
