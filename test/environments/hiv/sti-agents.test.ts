import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { HivEnv, type HivEnvOptions } from '../../../environments/hiv/env.js';
import { HIV_AGENTS_ENV_ID, HivAgentsEnv } from '../../../environments/hiv/sti-agents.js';
import { evaluatePolicy } from '../../../policies/evaluate.js';
import { registerHivPolicies } from '../../../policies/hiv/index.js';
import { makePolicy } from '../../../policies/registry.js';

const INFO_KEYS = ['day', 'T1', 'T1infected', 'T2', 'T2infected', 'V', 'E', 'log10V', 'eps1', 'eps2', 'rtiDays', 'piDays'] as const;

interface Episode {
  hash: string;
  observations: Float32Array[];
  infos: number[][];
  rewards: number[];
}

/** Cycles through all four regimens in blocks of `block` intervals (an interruption schedule). */
const schedule =
  (block: number) =>
  (t: number): number =>
    [3, 1, 0, 2, 3, 0][Math.floor(t / block) % 6] as number;

/** One episode of `steps` intervals: observations, actions, rewards and every numeric info field hashed. */
function run(env: Env, steps: number, policy: (t: number) => number, seed = 1): Episode {
  const h = new TrajectoryHasher();
  const out: Episode = { hash: '', observations: [], infos: [], rewards: [] };
  const first = env.reset({ seed });
  h.observation(first.observation);
  for (const k of INFO_KEYS) h.reward(first.info[k] as number);
  out.observations.push(Float32Array.from(first.observation));
  for (let t = 0; t < steps; t++) {
    const a = policy(t);
    const r = env.step(a);
    h.step(a, r.reward, r.observation);
    for (const k of INFO_KEYS) h.reward(r.info[k] as number);
    out.infos.push(INFO_KEYS.map((k) => r.info[k] as number));
    out.observations.push(Float32Array.from(r.observation));
    out.rewards.push(r.reward);
  }
  out.hash = h.digest();
  return out;
}

const OPTION_SETS: Array<[HivEnvOptions, number, number]> = [
  [{}, 200, 5],
  [{}, 60, 1],
  [{ initial: 'healthy' }, 80, 3],
  [{ initial: 'uninfected', inoculum: 5 }, 60, 10],
  [{ piWeight: 20000, rewardScale: 1e-6 }, 60, 2],
  [{ k1: 6e-7, k2: 5e-5, f: 0.3, patientId: 'randomized#0' }, 60, 4],
];

describe('hiv/sti-agents-v0: the HIV twin as agents on the Simulation', () => {
  it('reproduces hiv/sti-v1 exactly (equal episode hash, info included) for the same options and actions', () => {
    for (const [options, steps, block] of OPTION_SETS) {
      const ref = run(new HivEnv(options), steps, schedule(block));
      const agents = run(new HivAgentsEnv(options), steps, schedule(block));
      expect(agents.infos).toEqual(ref.infos);
      expect(agents.hash).toBe(ref.hash);
    }
  });

  it('the same through the registry (make), over consecutive resets', () => {
    const ids = ['hiv/sti-v1', HIV_AGENTS_ENV_ID];
    const [a, b] = ids.map((id) => {
      const env = make(id, { initial: 'uninfected' });
      return [run(env, 30, schedule(2), 1).hash, run(env, 30, schedule(3), 2).hash].join();
    });
    expect(b).toBe(a);
  });

  it('lab.everySteps: 1 (explicit) equals v1; every 6 intervals the patient and rewards are unchanged and the observation shows the latest draw', () => {
    const policy = schedule(4);
    const ref = run(new HivEnv({}), 60, policy);
    expect(run(new HivAgentsEnv({ lab: { everySteps: 1 } }), 60, policy).hash).toBe(ref.hash);
    expect(run(new HivAgentsEnv({ lab: {} }), 60, policy).hash).toBe(ref.hash);

    const env = new HivAgentsEnv({ lab: { everySteps: 6 } });
    const sparse = run(env, 60, policy);
    expect(sparse.hash).not.toBe(ref.hash);
    expect(sparse.infos).toEqual(ref.infos); // true state, drugs, drug-days: identical
    expect(sparse.rewards).toEqual(ref.rewards); // the reward is the patient's, not the lab's
    // observation after interval t = v1's observation after the last draw (intervals 6, 12, …; the start)
    let changed = 0;
    for (let t = 0; t <= 60; t++) {
      const drawn = t - (t % 6);
      expect(sparse.observations[t]).toEqual(ref.observations[drawn]);
      if (t % 6 !== 0 && (ref.observations[t] as Float32Array).some((v, k) => v !== (ref.observations[drawn] as Float32Array)[k])) changed++;
    }
    expect(changed).toBeGreaterThan(0); // the result did go stale while the patient moved
    const last = env.step(0);
    expect(last.info.labResultAge).toBe(1);
  });

  it('getState/setState continues exactly, with the lab result, and accepts a v1 state', () => {
    const policy = schedule(3);
    const a = new HivAgentsEnv({ lab: { everySteps: 5 } });
    a.reset({ seed: 1 });
    for (let t = 0; t < 7; t++) a.step(policy(t));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    expect(saved.labAge).toBe(2);
    const b = new HivAgentsEnv({ lab: { everySteps: 5 } });
    b.reset({ seed: 1 });
    b.setState(saved);
    for (let t = 7; t < 25; t++) {
      const x = a.step(policy(t));
      const xo = Float32Array.from(x.observation);
      const y = b.step(policy(t));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
    }
    const v1 = new HivEnv({});
    const ag = new HivAgentsEnv({});
    v1.reset({ seed: 1 });
    for (let t = 0; t < 9; t++) v1.step(policy(t));
    ag.reset({ seed: 1 });
    ag.setState(JSON.parse(JSON.stringify(v1.getState())));
    for (let t = 9; t < 30; t++) {
      const x = v1.step(policy(t));
      const xo = Float32Array.from(x.observation);
      const xd = x.info.day;
      const y = ag.step(policy(t));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
      expect(y.info.day).toBe(xd);
    }
    expect(() => ag.setState({ y: [1, 2], step: 0 })).toThrow(/hiv\/sti-agents-v0: setState expects/);
  });

  it('a policy can drive the clinician instead of the Env action', () => {
    const orders: number[] = [];
    // treat while the observed viral load is above 10^4 copies/mL, interrupt below
    const env = new HivAgentsEnv({}, (obs) => {
      const a = (obs[4] as number) > 4 ? 3 : 0;
      orders.push(a);
      return a;
    });
    const first = env.reset({ seed: 1 });
    expect(first.info.agents).toEqual(['clinician', 'pharmacy', 'patient', 'lab']);
    const got = run(env, 60, () => 0);
    expect(new Set(orders).size).toBe(2); // the rule both treated and interrupted
    // the same regimens given to v1 as actions: the same patient, observations and rewards (the hash differs: it holds the Env actions, all 0 here)
    const ref = run(new HivEnv({}), 60, (t) => orders[t] as number);
    expect(got.infos).toEqual(ref.infos);
    expect(got.observations).toEqual(ref.observations);
    expect(got.rewards).toEqual(ref.rewards);
    const bad = new HivAgentsEnv({}, () => 4);
    bad.reset({ seed: 1 });
    expect(() => bad.step(0)).toThrow(/policy returned 4/);
  });

  it('the HIV baselines apply to the agent env and give the returns of v1', () => {
    registerHivPolicies();
    for (const name of ['hiv/cycling', 'hiv/always-on']) {
      const [a, b] = ['hiv/sti-v1', HIV_AGENTS_ENV_ID].map((id) => {
        const env = make(id, { maxEpisodeSteps: 40 });
        return evaluatePolicy(env, makePolicy(name, env), { seed: 0, episodes: 1 }).meanReturn;
      });
      expect(b).toBe(a);
    }
  });

  it('rejects bad options naming the field', () => {
    expect(() => new HivAgentsEnv({ lab: { everySteps: 0 } })).toThrow(/option lab\.everySteps must be a whole number of 5-day intervals in \[1, 200\], got 0/);
    expect(() => new HivAgentsEnv({ lab: { everySteps: 1.5 } })).toThrow(/lab\.everySteps/);
    expect(() => new HivAgentsEnv({ lab: { every: 6 } as never })).toThrow(/option lab\.every is not a lab option/);
    expect(() => new HivAgentsEnv({ lab: 'monthly' as never })).toThrow(/option lab must be \{ everySteps \}/);
    expect(() => new HivAgentsEnv({ piWeight: -1 })).toThrow(/hiv\/sti-agents-v0: option piWeight must be a finite number ≥ 0/);
    try {
      new HivAgentsEnv({ lab: { everySteps: 201 } });
      expect.unreachable();
    } catch (error) {
      expect((error as { details?: { field?: string } }).details?.field).toBe('lab.everySteps');
    }
  });

  it('passes the conformance suite, with and without the lab cadence', () => {
    expect(checkEnv(() => make(HIV_AGENTS_ENV_ID), { steps: 60 })).toEqual([]);
    expect(getTwin('hiv').envIds).toContain(HIV_AGENTS_ENV_ID);
    expect(checkEnv(() => make(HIV_AGENTS_ENV_ID, { lab: { everySteps: 18 } }), { steps: 40 })).toEqual([]);
  });
});
