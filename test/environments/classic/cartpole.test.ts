import { describe, expect, it } from 'vitest';
import { make } from '../../../engine/registry.js';
import { CartPoleEnv } from '../../../environments/classic/cartpole.js';
import '../../../environments/index.js';

/**
 * CartPole-v1 against Gymnasium's definition: Barto, Sutton & Anderson 1983 dynamics as written in
 * gymnasium/envs/classic_control/cartpole.py (Euler, τ = 0.02, 12° / 2.4 thresholds, reward 1, 500 steps).
 */
function referenceStep(s: number[], action: number): number[] {
  // The cart-pole equations in matrix form (Florian 2007, eqs. 21–22 with frictionless joints),
  // solved here by Cramer's rule rather than the substitution Gymnasium uses.
  const [x, xDot, th, thDot] = s as [number, number, number, number];
  const mc = 1.0;
  const mp = 0.1;
  const l = 0.5;
  const g = 9.8;
  const F = action === 1 ? 10 : -10;
  // (mc+mp)·ẍ + mp·l·cosθ·θ̈ = F + mp·l·θ̇²·sinθ ;  cosθ·ẍ + (4/3)·l·θ̈ = g·sinθ
  const a11 = mc + mp;
  const a12 = mp * l * Math.cos(th);
  const a21 = Math.cos(th);
  const a22 = (4 / 3) * l;
  const b1 = F + mp * l * thDot * thDot * Math.sin(th);
  const b2 = g * Math.sin(th);
  const det = a11 * a22 - a12 * a21;
  const xAcc = (b1 * a22 - a12 * b2) / det;
  const thAcc = (a11 * b2 - a21 * b1) / det;
  return [x + 0.02 * xDot, xDot + 0.02 * xAcc, th + 0.02 * thDot, thDot + 0.02 * thAcc];
}

describe('classic/cartpole-v1', () => {
  it('follows the cart-pole equations step by step (float32 observations of float64 state)', () => {
    const env = new CartPoleEnv();
    const first = env.reset({ seed: 3 });
    let state = Array.from(env.getState().state);
    expect(Array.from(first.observation)).toEqual(state.map(Math.fround));
    for (const v of state) expect(Math.abs(v)).toBeLessThanOrEqual(0.05);
    const actions = [1, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1];
    for (const a of actions) {
      const r = env.step(a);
      state = referenceStep(state, a);
      const mine = env.getState().state;
      for (let i = 0; i < 4; i++) expect(mine[i]).toBeCloseTo(state[i] as number, 12);
      expect(r.reward).toBe(1);
    }
  });

  it('terminates beyond |x| = 2.4 or |θ| = 12°, with reward 1 on the terminating step', () => {
    const env = new CartPoleEnv();
    env.reset({ seed: 0 });
    const rng = env.getState().rng;
    env.setState({ state: [2.39, 1, 0, 0], rng });
    const r = env.step(1);
    expect(env.getState().state[0]).toBeGreaterThan(2.4);
    expect(r.terminated).toBe(true);
    expect(r.reward).toBe(1);
    env.reset({ seed: 0 });
    env.setState({ state: [0, 0, 0.2, 0.6], rng }); // 0.2 rad < 12° = 0.2094 rad; θ̇·τ = 0.012 pushes it over
    expect(env.step(1).terminated).toBe(true);
    env.reset({ seed: 0 });
    env.setState({ state: [0, 0, 0.1, 0], rng });
    expect(env.step(1).terminated).toBe(false);
  });

  it('a balancing controller survives to the 500-step limit: truncated, not terminated', () => {
    const env = make('classic/cartpole-v1');
    let { observation } = env.reset({ seed: 1 });
    let steps = 0;
    for (;;) {
      const action = (observation[2] as number) + 0.5 * (observation[3] as number) + 0.01 * (observation[0] as number) + 0.1 * (observation[1] as number) > 0 ? 1 : 0;
      const r = env.step(action);
      steps++;
      observation = r.observation;
      if (r.terminated || r.truncated) {
        expect(r.truncated).toBe(true);
        expect(r.terminated).toBe(false);
        break;
      }
    }
    expect(steps).toBe(500);
  });

  it('random play lasts about 22 steps on average (the known CartPole random baseline)', () => {
    const env = make('classic/cartpole-v1');
    let total = 0;
    const episodes = 400;
    let s = 12345;
    for (let e = 0; e < episodes; e++) {
      env.reset({ seed: e });
      for (;;) {
        s = (s * 1103515245 + 12345) % 2147483648; // test-local LCG: the policy is not under test
        const r = env.step((s >>> 16) & 1);
        total++;
        if (r.terminated || r.truncated) break;
      }
    }
    expect(total / episodes).toBeGreaterThan(18);
    expect(total / episodes).toBeLessThan(26);
  });
});
