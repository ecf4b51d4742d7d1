import { describe, expect, it } from 'vitest';
import { checkEnv } from '../../../engine/conformance.js';
import type { Env } from '../../../engine/env.js';
import { TrajectoryHasher } from '../../../engine/hash.js';
import { Rng } from '../../../engine/random.js';
import { make } from '../../../engine/registry.js';
import { getTwin } from '../../../engine/twin.js';
import '../../../environments/index.js';
import { SepsisEnv, type SepsisEnvOptions } from '../../../environments/sepsis/env.js';
import { SEPSIS_AGENTS_ENV_ID, SepsisAgentsEnv } from '../../../environments/sepsis/oberst-agents.js';
import { policyContext } from '../../../policies/policy.js';
import { makePolicy } from '../../../policies/registry.js';
import { registerSepsisPolicies } from '../../../policies/sepsis/index.js';

registerSepsisPolicies();

const INFO_KEYS = ['fullIndex', 'obsIndex', 'diabetic', 'hr', 'sysbp', 'o2', 'glucose', 'abx', 'vaso', 'vent', 'numAbnormal'] as const;

interface Episodes {
  hash: string;
  steps: number;
  deaths: number;
  discharges: number;
  observations: Float32Array[];
  /** INFO_KEYS and the outcome per step (the true state). */
  infos: unknown[][];
  rewards: number[];
}

/** A fixed action sequence that visits every treatment combination. */
const CYCLE = (t: number, e: number): number => [5, 7, 4, 0, 1, 6, 2, 3, 0, 0][(t + 3 * e) % 10] as number;

/**
 * `episodes` consecutive episodes of at most 20 steps (the first reset seeded, the rest unseeded, so the
 * continued streams are covered), hashing observations, actions, rewards and the true state of the info.
 */
function run(env: Env, seed: number, episodes = 3): Episodes {
  const h = new TrajectoryHasher();
  const out: Episodes = { hash: '', steps: 0, deaths: 0, discharges: 0, observations: [], infos: [], rewards: [] };
  for (let e = 0; e < episodes; e++) {
    const first = env.reset(e === 0 ? { seed } : {});
    h.observation(first.observation);
    h.reward(first.info.fullIndex as number);
    h.reward((first.info.prescription as { diabetic: number }).diabetic);
    out.observations.push(Float32Array.from(first.observation));
    for (let t = 0; t < 20; t++) {
      const a = CYCLE(t, e);
      const r = env.step(a);
      out.steps++;
      h.step(a, r.reward, r.observation);
      for (const k of INFO_KEYS) h.reward(r.info[k] as number);
      out.infos.push([...INFO_KEYS.map((k) => r.info[k]), r.info.outcome, r.terminated]);
      out.observations.push(Float32Array.from(r.observation));
      out.rewards.push(r.reward);
      if (r.reward < 0) out.deaths++;
      if (r.reward > 0) out.discharges++;
      if (r.terminated || r.truncated) break;
    }
    h.episodeBoundary();
  }
  out.hash = h.digest();
  return out;
}

const OPTION_SETS: Array<[SepsisEnvOptions, number]> = [
  [{}, 1],
  [{}, 2024],
  [{ observation: 'onehot' }, 7],
  [{ observation: 'index', view: 'projected' }, 3],
  [{ view: 'projected' }, 11],
  [{ glucoseDefect: false, pDiabetes: 0.6 }, 5],
  [{ diabetic: 1 }, 9],
  [{ initialState: 1000 }, 13],
];

describe('sepsis/oberst-agents-v0: the sepsis twin as agents on the Simulation', () => {
  it('reproduces sepsis/oberst-v1 exactly (equal episode hash) for the same options, seed and actions', () => {
    let deaths = 0;
    let discharges = 0;
    for (const [options, seed] of OPTION_SETS) {
      for (const episodes of [1, 6]) {
        const ref = run(new SepsisEnv(options), seed, episodes);
        const agents = run(new SepsisAgentsEnv(options), seed, episodes);
        expect(agents.steps).toBe(ref.steps);
        expect(agents.infos).toEqual(ref.infos);
        expect(agents.hash).toBe(ref.hash);
        deaths += ref.deaths;
        discharges += ref.discharges;
      }
    }
    // both absorbing outcomes are exercised, not only running episodes
    expect(deaths).toBeGreaterThan(0);
    expect(discharges).toBeGreaterThan(0);
  });

  it('the same through the registry (make), with the TimeLimit of 20 steps', () => {
    const ref = run(make('sepsis/oberst-v1'), 4, 8);
    expect(run(make(SEPSIS_AGENTS_ENV_ID), 4, 8).hash).toBe(ref.hash);
  });

  it('lab.glucoseEverySteps: 1 (explicit) equals v1; every 3 steps the patient is unchanged and the observation shows the latest draw', () => {
    const ref = run(new SepsisEnv({}), 21, 12);
    expect(run(new SepsisAgentsEnv({ lab: { glucoseEverySteps: 1 } }), 21, 12).hash).toBe(ref.hash);
    expect(run(new SepsisAgentsEnv({ lab: {} }), 21, 12).hash).toBe(ref.hash);

    const env = new SepsisAgentsEnv({ lab: { glucoseEverySteps: 3 } });
    const sparse = run(env, 21, 12);
    expect(sparse.hash).not.toBe(ref.hash);
    // the patient (true state, outcome, reward, episode lengths) is exactly v1's for the same actions
    expect(sparse.infos).toEqual(ref.infos);
    expect(sparse.rewards).toEqual(ref.rewards);
    // replay the episodes step by step: glucose one-hot (factored indices 8–12) = true glucose at the last draw
    const GLUCOSE = [8, 9, 10, 11, 12];
    const glucoseOf = (o: Float32Array): number => GLUCOSE.findIndex((k) => o[k] === 1);
    env.reset({ seed: 21 });
    const check = new SepsisEnv({});
    let i = 0;
    let stale = 0;
    for (let e = 0; e < 12; e++) {
      const first = env.reset(e === 0 ? { seed: 21 } : {});
      const truth = check.reset(e === 0 ? { seed: 21 } : {});
      expect(first.observation).toEqual(truth.observation); // admission draw: fresh
      expect(first.info.glucoseResultAge).toBe(0);
      let drawn = truth.info.glucose as number;
      i++;
      for (let t = 0; t < 20; t++) {
        const a = CYCLE(t, e);
        const r = env.step(a);
        const v = check.step(a);
        if ((t + 1) % 3 === 0) drawn = v.info.glucose as number;
        expect(r.info.glucoseResultAge).toBe((t + 1) % 3);
        expect(r.info.labGlucose).toBe(drawn);
        expect(glucoseOf(r.observation)).toBe(drawn);
        if (drawn !== v.info.glucose) stale++;
        // everything but the glucose digit is the true observed state
        for (let k = 0; k < r.observation.length; k++) if (!GLUCOSE.includes(k)) expect(r.observation[k]).toBe(v.observation[k]);
        expect(sparse.observations[i]).toEqual(Float32Array.from(r.observation));
        i++;
        if (r.terminated) break;
      }
    }
    expect(stale).toBeGreaterThan(0); // the charted glucose did lag the patient's in some steps
  });

  it('glucose is hidden in the projected view, so the lab cadence leaves that observation unchanged', () => {
    const ref = run(new SepsisEnv({ view: 'projected' }), 6, 5);
    expect(run(new SepsisAgentsEnv({ view: 'projected', lab: { glucoseEverySteps: 5 } }), 6, 5).hash).toBe(ref.hash);
  });

  it('getState/setState continues exactly, with the lab result, and accepts a v1 state', () => {
    const options = { lab: { glucoseEverySteps: 4 }, initialState: 1000 };
    const a = new SepsisAgentsEnv(options);
    a.reset({ seed: 3 });
    for (let t = 0; t < 2; t++) a.step(CYCLE(t, 0));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    expect(saved.labAge).toBe(2);
    const b = new SepsisAgentsEnv(options);
    b.reset({ seed: 99 });
    b.setState(saved);
    for (let t = 2; t < 20; t++) {
      const x = a.step(CYCLE(t, 0));
      const xo = Float32Array.from(x.observation);
      const y = b.step(CYCLE(t, 0));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
      expect(y.info.fullIndex).toBe(x.info.fullIndex);
      if (x.terminated) break;
    }
    // a v1 state restored into the agent env continues as v1 does
    const v1 = new SepsisEnv({});
    const ag = new SepsisAgentsEnv({});
    v1.reset({ seed: 8 });
    v1.step(4);
    ag.reset({ seed: 77 });
    ag.setState(JSON.parse(JSON.stringify(v1.getState())));
    for (let t = 1; t < 20; t++) {
      const x = v1.step(CYCLE(t, 1));
      const xo = Float32Array.from(x.observation);
      const y = ag.step(CYCLE(t, 1));
      expect(y.observation).toEqual(xo);
      expect(y.reward).toBe(x.reward);
      if (x.terminated) break;
    }
    expect(() => ag.setState({ full: 5000, steps: 0 })).toThrow(/sepsis\/oberst-agents-v0: setState/);
  });

  it('a policy can drive the clinician instead of the Env action; the sepsis baselines run on the agent env', () => {
    const orders: number[] = [];
    const env = new SepsisAgentsEnv({}, (obs) => {
      const a = obs[8] === 1 || obs[9] === 1 ? 1 : 4; // vasopressors if glucose is (very) low, else antibiotics
      orders.push(a);
      return a;
    });
    const first = env.reset({ seed: 5 });
    expect(first.info.agents).toEqual(['clinician', 'patient', 'lab', 'monitor']);
    const ref = new SepsisEnv({});
    ref.reset({ seed: 5 });
    for (let t = 0; t < 20; t++) {
      const r = env.step(0);
      const v = ref.step(orders[t] as number);
      expect(r.info.fullIndex).toBe(v.info.fullIndex);
      if (r.terminated) break;
    }
    expect(orders.length).toBeGreaterThan(0);

    // the physician (ε-greedy on the full-information table) gives the same episodes on both envs
    for (const id of ['sepsis/oberst-v1', SEPSIS_AGENTS_ENV_ID]) expect(make(id).id).toBe(id);
    const outcomes = ['sepsis/oberst-v1', SEPSIS_AGENTS_ENV_ID].map((id) => {
      const e = make(id);
      const physician = makePolicy('sepsis/physician', e);
      const rng = Rng.fromSeed(2).fork('physician');
      const trace: number[] = [];
      for (let ep = 0; ep < 40; ep++) {
        let { observation, info } = e.reset({ seed: ep });
        physician.reset?.(policyContext(e, info));
        for (;;) {
          const r = e.step(physician.act(observation, rng));
          trace.push(r.info.fullIndex as number);
          observation = r.observation;
          info = r.info;
          if (r.terminated || r.truncated) break;
        }
      }
      return trace;
    });
    expect(outcomes[1]).toEqual(outcomes[0]);

    const bad = new SepsisAgentsEnv({}, () => 9);
    bad.reset({ seed: 1 });
    expect(() => bad.step(0)).toThrow(/policy returned 9/);
  });

  it('rejects bad options naming the field', () => {
    expect(() => new SepsisAgentsEnv({ lab: { glucoseEverySteps: 0 } })).toThrow(/option lab\.glucoseEverySteps must be a whole number of steps in \[1, 20\], got 0/);
    expect(() => new SepsisAgentsEnv({ lab: { glucoseEverySteps: 2.5 } })).toThrow(/lab\.glucoseEverySteps/);
    expect(() => new SepsisAgentsEnv({ lab: { glucoseEverySteps: '4' } as never })).toThrow(/lab\.glucoseEverySteps .*got "4"/);
    expect(() => new SepsisAgentsEnv({ lab: { glucoseEvery: 4 } as never })).toThrow(/option lab\.glucoseEvery is not a lab option/);
    expect(() => new SepsisAgentsEnv({ lab: 4 as never })).toThrow(/option lab must be \{ glucoseEverySteps \}/);
    expect(() => new SepsisAgentsEnv({ pDiabetes: 2 })).toThrow(/sepsis\/oberst-agents-v0: option pDiabetes = 2 is invalid/);
    try {
      new SepsisAgentsEnv({ lab: { glucoseEverySteps: 21 } });
      expect.unreachable();
    } catch (error) {
      expect((error as { details?: { field?: string } }).details?.field).toBe('lab.glucoseEverySteps');
    }
  });

  it('passes the conformance suite, with and without the lab cadence', () => {
    expect(checkEnv(() => make(SEPSIS_AGENTS_ENV_ID), { steps: 300 })).toEqual([]);
    expect(getTwin('sepsis').envIds).toContain(SEPSIS_AGENTS_ENV_ID);
    expect(checkEnv(() => make(SEPSIS_AGENTS_ENV_ID, { lab: { glucoseEverySteps: 3 }, observation: 'onehot' }), { steps: 100 })).toEqual([]);
  });
});
