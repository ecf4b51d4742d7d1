import { describe, expect, it } from 'vitest';
import { make } from '../../engine/registry.js';
import { Rng } from '../../engine/random.js';
import { registerSepsis } from '../../environments/sepsis/index.js';
import { solveSepsis } from '../../environments/sepsis/solve.js';
import { policyContext } from '../../policies/policy.js';
import { makePolicy } from '../../policies/registry.js';
import { registerSepsisPolicies } from '../../policies/sepsis/index.js';

// Source: Oberst & Sontag ICML 2019, plots-main-paper.ipynb (physician = full-information optimal
// policy softened with PHYS_EPSILON = 0.05); docs/MODELS.md §2.
registerSepsis();
registerSepsisPolicies();

describe('sepsis baseline policies', () => {
  it('optimal / optimal-observed read the state back from every observation encoding and follow the VI tables', () => {
    const sol = solveSepsis(true);
    for (const observation of ['factored', 'onehot', 'index']) {
      const env = make('sepsis/oberst-v1', { observation });
      const optimal = makePolicy('sepsis/optimal', env);
      const observed = makePolicy('sepsis/optimal-observed', env);
      const rng = Rng.fromSeed(1);
      for (let ep = 0; ep < 30; ep++) {
        let { observation: obs, info } = env.reset({ seed: ep });
        optimal.reset?.(policyContext(env, info));
        for (let t = 0; t < 20; t++) {
          const full = info.fullIndex as number;
          expect(optimal.act(obs, rng)).toBe(sol.fullVI.policy[full]);
          expect(observed.act(obs, rng)).toBe(sol.observedVI.policy[full % 720]);
          const r = env.step(sol.fullVI.policy[full] as number);
          obs = r.observation;
          info = r.info;
          if (r.terminated || r.truncated) break;
        }
      }
    }
  });

  it('physician: greedy action w.p. 0.95, each other action w.p. 0.05/7 (seed 3)', () => {
    const env = make('sepsis/oberst-v1');
    const policy = makePolicy('sepsis/physician', env);
    const { observation, info } = env.reset({ seed: 2 });
    policy.reset?.(policyContext(env, info));
    const greedy = solveSepsis(true).fullVI.policy[info.fullIndex as number] as number;
    const rng = Rng.fromSeed(3);
    const n = 70_000;
    const counts = new Array<number>(8).fill(0);
    for (let k = 0; k < n; k++) counts[policy.act(observation, rng) as number]++;
    for (let a = 0; a < 8; a++) {
      const p = a === greedy ? 0.95 : 0.05 / 7;
      expect(Math.abs((counts[a] as number) / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it('full-information policies refuse the glucose-blind projected view; the projected policy accepts it', () => {
    const env = make('sepsis/oberst-v1', { view: 'projected' });
    expect(() => makePolicy('sepsis/optimal', env)).toThrow(/view "projected"/);
    const rl = makePolicy('sepsis/optimal-projected', env);
    const { observation } = env.reset({ seed: 1 });
    expect(rl.act(observation, Rng.fromSeed(0))).toBeGreaterThanOrEqual(0);
    const cartpole = { id: 'classic/cartpole-v1', observationSpace: env.observationSpace } as never;
    expect(() => makePolicy('sepsis/optimal', cartpole)).toThrow(/does not apply|sepsis/);
  });

  it('no-treatment and treat-all are constant', () => {
    const env = make('sepsis/oberst-v1');
    const obs = env.reset({ seed: 0 }).observation;
    expect(makePolicy('sepsis/no-treatment', env).act(obs, Rng.fromSeed(0))).toBe(0);
    expect(makePolicy('sepsis/treat-all', env).act(obs, Rng.fromSeed(0))).toBe(7);
  });
});
