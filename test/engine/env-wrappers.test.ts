import { describe, expect, it } from 'vitest';
import { BaseEnv, type ResetOptions, type ResetResult, type StepResult } from '../../engine/env.js';
import { TwinlabError } from '../../engine/errors.js';
import { TrajectoryHasher } from '../../engine/hash.js';
import { make, parseEnvId, register } from '../../engine/registry.js';
import { Rng } from '../../engine/random.js';
import { Box, Discrete } from '../../engine/spaces.js';
import { VectorEnv } from '../../engine/vector.js';
import { DiscreteActions, FrameStack, MissingObservations, ObservationNoise, RecordEpisode, TimeLimit } from '../../engine/wrappers.js';
import '../../environments/index.js';

/** A counter env: observation = [t, last dose]; terminates when the cumulative dose exceeds 10. */
class DoseCounter extends BaseEnv<Float32Array> {
  readonly id = 'test/dose-counter-v0';
  readonly observationSpace = new Box([0, 0], [1000, 5], [2], ['t', 'dose']);
  readonly actionSpace = new Box([0], [5]);
  private t = 0;
  private total = 0;
  private readonly obs = new Float32Array(2);
  protected resetEnv(options: ResetOptions): ResetResult {
    this.t = options.seed ?? 0;
    this.total = 0;
    this.obs[0] = this.t;
    this.obs[1] = 0;
    return { observation: this.obs, info: { t: this.t } };
  }
  protected stepEnv(action: Float32Array): StepResult {
    this.t++;
    this.total += action[0] as number;
    this.obs[0] = this.t;
    this.obs[1] = action[0] as number;
    return { observation: this.obs, reward: -(action[0] as number), terminated: this.total > 10, truncated: false, info: { total: this.total } };
  }
  getState() {
    return { t: this.t, total: this.total };
  }
  setState(s: unknown) {
    const state = s as { t: number; total: number };
    this.t = state.t;
    this.total = state.total;
  }
}

describe('Env contract', () => {
  it('refuses step before reset, after termination, and invalid actions naming env, action and space', () => {
    const env = new DoseCounter();
    expect(() => env.step(Float32Array.of(1))).toThrow(/before reset/);
    env.reset();
    try {
      env.step(Float32Array.of(7));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(TwinlabError);
      expect((error as TwinlabError).code).toBe('INVALID_ACTION');
      expect((error as Error).message).toContain('test/dose-counter-v0');
      expect((error as Error).message).toContain('Float32Array[7]');
      expect((error as Error).message).toContain('Box(0, 5, [1])');
    }
    for (let i = 0; i < 3; i++) env.step(Float32Array.of(5));
    expect(() => env.step(Float32Array.of(1))).toThrow(/after the episode ended/);
    env.reset();
    expect(env.step(Float32Array.of(1)).terminated).toBe(false);
  });

  it('CartPole: invalid actions throw an error naming env id, action and space', () => {
    const env = make('classic/cartpole-v1');
    env.reset({ seed: 1 });
    expect(() => env.step(2)).toThrow('classic/cartpole-v1: action 2 is not in the action space Discrete(2)');
  });
});

describe('wrappers', () => {
  it('TimeLimit truncates at the limit and blocks further steps', () => {
    const env = new TimeLimit(new DoseCounter(), 3);
    env.reset();
    expect(env.step(Float32Array.of(0)).truncated).toBe(false);
    expect(env.step(Float32Array.of(0)).truncated).toBe(false);
    const last = env.step(Float32Array.of(0));
    expect(last.truncated).toBe(true);
    expect(last.terminated).toBe(false);
    expect(() => env.step(Float32Array.of(0))).toThrow(/after the episode ended/);
    env.reset();
    expect(env.elapsedSteps).toBe(0);
  });

  it('ObservationNoise adds seeded noise clipped to the space; same seed → same noise', () => {
    const run = (seed: number) => {
      const env = new ObservationNoise(new DoseCounter(), [0.5, 0.1]);
      const out = [Array.from(env.reset({ seed }).observation)];
      for (let i = 0; i < 5; i++) out.push(Array.from(env.step(Float32Array.of(1)).observation));
      return out;
    };
    expect(run(3)).toEqual(run(3));
    expect(run(3)).not.toEqual(run(4));
    for (const obs of run(3)) expect(obs[1]).toBeGreaterThanOrEqual(0);
  });

  it('MissingObservations carries the last value forward and reports a mask', () => {
    const env = new MissingObservations(new DoseCounter(), 0.5, 0);
    expect(env.observationSpace.size).toBe(4);
    const first = env.reset({ seed: 11 });
    expect(Array.from(first.observation)).toEqual([11, 0, 1, 1]);
    let last = [11, 0];
    let missing = 0;
    for (let i = 1; i <= 10; i++) {
      const { observation } = env.step(Float32Array.of(0.5));
      for (let k = 0; k < 2; k++) {
        if (observation[2 + k] === 1) last[k] = k === 0 ? 11 + i : 0.5;
        else missing++;
        expect(observation[k]).toBe(last[k]);
      }
      last = [observation[0] as number, observation[1] as number];
    }
    expect(missing).toBeGreaterThan(0);
    expect(missing).toBeLessThan(20);
  });

  it('DiscreteActions maps indices to dose levels and rejects out-of-range indices and levels', () => {
    const env = new DiscreteActions(new DoseCounter(), [0, 2.5, 5], ['none', 'half', 'full']);
    expect(env.actionSpace.n).toBe(3);
    env.reset();
    expect(Array.from(env.step(1).observation)).toEqual([1, 2.5]);
    expect(() => env.step(3)).toThrow(/action 3 is not in the action space Discrete\(3\)/);
    expect(() => new DiscreteActions(new DoseCounter(), [0, 6])).toThrow(/level 1/);
  });

  it('RecordEpisode writes the episode log with keyframes and the trajectory hash', () => {
    const env = new RecordEpisode(new DoseCounter(), { keyframeInterval: 2 });
    env.reset({ seed: 5 });
    const hasher = new TrajectoryHasher().observation(Float32Array.of(5, 0));
    for (const dose of [4, 4, 4]) {
      const r = env.step(Float32Array.of(dose));
      hasher.step(Float32Array.of(dose), r.reward, r.observation);
    }
    const log = env.lastEpisode;
    expect(log).toBeDefined();
    expect(log?.length).toBe(3);
    expect(log?.terminated).toBe(true);
    expect(log?.totalReward).toBe(-12);
    expect(log?.steps.map((s) => s.action)).toEqual([[4], [4], [4]]);
    expect(log?.keyframes.map((k) => k.step)).toEqual([0, 2]);
    expect(log?.keyframes[1]?.state).toEqual({ t: 7, total: 8 });
    expect(log?.hash).toBe(hasher.digest());
  });
});

describe('VectorEnv', () => {
  it('steps n envs with batched observations and same-step autoreset', () => {
    const vec = VectorEnv.fromFactory(() => new TimeLimit(new DoseCounter(), 4), 3);
    const { observations } = vec.reset({ seed: 10 });
    expect(Array.from(observations)).toEqual([10, 0, 11, 0, 12, 0]);
    let r = vec.step(Float32Array.of(1, 2, 3));
    expect(Array.from(r.rewards)).toEqual([-1, -2, -3]);
    r = vec.step(Float32Array.of(1, 2, 3));
    r = vec.step(Float32Array.of(1, 2, 5)); // env 2 total 11 > 10: terminated
    expect(Array.from(r.terminated)).toEqual([0, 0, 1]);
    expect(Array.from(r.finalObservations.subarray(4, 6))).toEqual([15, 5]);
    expect(Array.from(r.observations.subarray(4, 6))).toEqual([0, 0]); // autoreset without a seed: DoseCounter restarts at t = 0
    r = vec.step(Float32Array.of(1, 1, 1)); // envs 0 and 1 hit the 4-step limit
    expect(Array.from(r.truncated)).toEqual([1, 1, 0]);
    expect(() => vec.step(Float32Array.of(1, 1))).toThrow(/expected 3 action values/);
  });

  it('CartPole in a VectorEnv equals the same envs stepped one by one', () => {
    const n = 4;
    const vec = VectorEnv.fromFactory(() => make('classic/cartpole-v1'), n);
    const singles = Array.from({ length: n }, () => make('classic/cartpole-v1'));
    let obs = vec.reset({ seed: 100 }).observations;
    singles.forEach((env, i) => expect(Array.from(env.reset({ seed: 100 + i }).observation)).toEqual(Array.from(obs.subarray(4 * i, 4 * i + 4))));
    const rng = Rng.fromSeed(0);
    for (let t = 0; t < 300; t++) {
      const actions = Int32Array.from({ length: n }, () => rng.integer(0, 2));
      const r = vec.step(actions);
      obs = r.observations;
      singles.forEach((env, i) => {
        const s = env.step(actions[i] as number);
        const row = s.terminated || s.truncated ? env.reset().observation : s.observation;
        expect(Array.from(row)).toEqual(Array.from(obs.subarray(4 * i, 4 * i + 4)));
      });
    }
  });
});

describe('registry', () => {
  it('parses versioned ids and refuses malformed or duplicate ones', () => {
    expect(parseEnvId('glucose/t1d-v1')).toEqual({ namespace: 'glucose', name: 't1d', version: 1 });
    expect(() => parseEnvId('cartpole')).toThrow(/malformed/);
    const spec = { id: 'test/dose-counter-v0', description: 'test', entryPoint: () => new DoseCounter() };
    register(spec);
    expect(() => register({ ...spec })).toThrow(/already registered/);
    expect(() => make('test/dose-counter-v9')).toThrow(/versions available: test\/dose-counter-v0/);
    expect(() => make('nope/x-v1')).toThrow(/unknown env "nope\/x-v1"/);
  });

  it('applies the spec time limit, overridable through options', () => {
    const env = make('classic/cartpole-v1');
    expect(env).toBeInstanceOf(TimeLimit);
    expect((env as TimeLimit).maxEpisodeSteps).toBe(500);
    expect(make('classic/cartpole-v1', { maxEpisodeSteps: 0 })).not.toBeInstanceOf(TimeLimit);
    expect(() => make('classic/cartpole-v1', { maxEpisodeSteps: -3 })).toThrow(/maxEpisodeSteps/);
  });
});

describe('spaces on envs', () => {
  it('Discrete labels travel to JSON', () => {
    expect(new Discrete(2, 0, ['a', 'b']).toJSON()).toEqual({ kind: 'discrete', n: 2, start: 0, labels: ['a', 'b'] });
  });
});

describe('TimeLimit state', () => {
  it('saves its step counter with the inner state, so a restored episode truncates at the same step', () => {
    const a = new TimeLimit(new DoseCounter(), 5);
    a.reset();
    a.step(Float32Array.of(0));
    a.step(Float32Array.of(0));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const b = new TimeLimit(new DoseCounter(), 5);
    b.reset();
    b.setState(saved);
    expect(b.elapsedSteps).toBe(2);
    b.step(Float32Array.of(0));
    b.step(Float32Array.of(0));
    expect(b.step(Float32Array.of(0)).truncated).toBe(true);
    expect(() => b.setState({ t: 1 })).toThrow(/timeLimitElapsed/);
  });
});

describe('noise wrappers save their streams', () => {
  it('ObservationNoise and MissingObservations continue identically after setState(getState())', () => {
    const make = () => new MissingObservations(new ObservationNoise(new TimeLimit(new DoseCounter(), 50), [0.5, 0.2]), 0.4);
    const a = make();
    a.reset({ seed: 9 });
    for (let i = 0; i < 4; i++) a.step(Float32Array.of(0.5));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const continued = Array.from({ length: 6 }, () => Array.from(a.step(Float32Array.of(0.5)).observation));
    const b = make();
    b.reset({ seed: 1 });
    b.setState(saved);
    expect(Array.from({ length: 6 }, () => Array.from(b.step(Float32Array.of(0.5)).observation))).toEqual(continued);
  });
});

describe('FrameStack', () => {
  it('stacks the last k observations oldest first, padded with the reset observation, with tiled bounds and labels', () => {
    const env = new FrameStack(new DoseCounter(), 3);
    expect(env.observationSpace.shape).toEqual([6]);
    expect(Array.from(env.observationSpace.low)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(env.observationSpace.high)).toEqual([1000, 5, 1000, 5, 1000, 5]);
    expect(env.observationSpace.labels).toEqual(['t@t-2', 'dose@t-2', 't@t-1', 'dose@t-1', 't', 'dose']);
    expect(Array.from(env.reset({ seed: 7 }).observation)).toEqual([7, 0, 7, 0, 7, 0]);
    expect(Array.from(env.step(Float32Array.of(1)).observation)).toEqual([7, 0, 7, 0, 8, 1]);
    expect(Array.from(env.step(Float32Array.of(2)).observation)).toEqual([7, 0, 8, 1, 9, 2]);
    const o = env.step(Float32Array.of(3)).observation;
    expect(Array.from(o)).toEqual([8, 1, 9, 2, 10, 3]);
    expect(env.observationSpace.contains(o)).toBe(true);
    expect(Array.from(env.reset({ seed: 2 }).observation)).toEqual([2, 0, 2, 0, 2, 0]);
    expect(Array.from(new FrameStack(new DoseCounter(), 1).reset({ seed: 4 }).observation)).toEqual([4, 0]);
    expect(() => new FrameStack(new DoseCounter(), 0)).toThrow(/FrameStack needs k an integer ≥ 1, got 0/);
  });

  it('restores its frames from getState (JSON round trip) and from RecordEpisode keyframes exactly', () => {
    const make = () => new FrameStack(new TimeLimit(new DoseCounter(), 40), 4);
    const dose = (i: number) => Float32Array.of((i % 3) * 0.25);
    const a = make();
    a.reset({ seed: 3 });
    for (let i = 0; i < 5; i++) a.step(dose(i));
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const continued = Array.from({ length: 6 }, (_, i) => Array.from(a.step(dose(5 + i)).observation));
    const b = make();
    b.reset({ seed: 11 });
    b.setState(saved);
    expect(Array.from({ length: 6 }, (_, i) => Array.from(b.step(dose(5 + i)).observation))).toEqual(continued);
    expect(() => b.setState({ frameStack: [1, 2], env: {} })).toThrow(/frameStack, an array of 8 numbers/);

    const rec = new RecordEpisode(make(), { keyframeInterval: 4 });
    rec.reset({ seed: 1 });
    for (let i = 0; i < 40; i++) if (rec.step(dose(i)).truncated) break;
    const log = rec.lastEpisode;
    const kf = log?.keyframes.find((k) => k.step === 8);
    expect(kf).toBeDefined();
    const c = make();
    c.reset({ seed: 99 });
    c.setState(JSON.parse(JSON.stringify(kf?.state)));
    for (let i = 8; i < 14; i++) expect(Array.from(c.step(dose(i)).observation)).toEqual(log?.steps[i]?.observation);
  });
});

/** Like most twins: one result object, created once, whose observation field is never reassigned. */
class ReusingCounter extends BaseEnv<number> {
  readonly id = 'test/reusing-counter-v0';
  readonly observationSpace = new Box([0], [1000], [1], ['t']);
  readonly actionSpace = new Discrete(2);
  private readonly obs = new Float32Array(1);
  private readonly result: StepResult = { observation: this.obs, reward: 0, terminated: false, truncated: false, info: {} };
  protected resetEnv(): ResetResult {
    this.obs[0] = 0;
    return { observation: this.obs, info: {} };
  }
  protected stepEnv(action: number): StepResult {
    this.obs[0] = (this.obs[0] as number) + 1 + action;
    return this.result;
  }
}

describe('observation-changing wrappers over an env that reuses its result object', () => {
  it('see the inner observation of every step (they return their own result, never assign into the inner one)', () => {
    const wrapped = [
      new ObservationNoise(new ReusingCounter(), 0),
      new MissingObservations(new ReusingCounter(), 0),
      new FrameStack(new ReusingCounter(), 2),
      new FrameStack(new FrameStack(new ReusingCounter(), 2), 2),
    ];
    for (const env of wrapped) {
      env.reset({ seed: 0 });
      const firsts = Array.from({ length: 4 }, (_, i) => env.step(i % 2).observation[env.observationSpace.size - (env instanceof MissingObservations ? 2 : 1)]);
      expect(firsts).toEqual([1, 3, 4, 6]);
    }
  });
});
