import { describe, expect, it } from 'vitest';
import { Rng } from '../../engine/random.js';
import { MdpEnv, tabularQLearning, valueIteration } from '../../agents/tabular.js';
import { CHAIN_GAMMA, chainMdp } from './fixtures/chain.js';

const g = CHAIN_GAMMA;

describe('value iteration oracle', () => {
  it('gives the hand-computed optimal Q of the chain', () => {
    const { q, policy } = valueIteration(chainMdp(), g);
    // right exit: Q*(s, right) = γ^(3−s); left exit: 0.8 from state 0, V* propagates
    const v = [0.8, 0.81, 0.9, 1];
    const expected = [
      [0.8, g * v[1]!],
      [g * v[0]!, g * v[2]!],
      [g * v[1]!, g * v[3]!],
      [g * v[2]!, 1],
    ];
    for (let s = 0; s < 4; s++) for (let a = 0; a < 2; a++) expect(q[s * 2 + a]).toBeCloseTo(expected[s]![a]!, 10);
    expect(Array.from(policy.subarray(0, 4))).toEqual([0, 1, 1, 1]);
  });

  it('handles stochastic transitions: a slippery chain satisfies the Bellman optimality equation', () => {
    const mdp = chainMdp();
    for (const row of mdp.transitions.slice(0, 4)) {
      for (const a of [0, 1]) {
        const main = row[a]![0]!;
        const other = row[1 - a]![0]!;
        row[a] = [
          { ...main, prob: 0.8 },
          { ...other, prob: 0.2 },
        ];
      }
    }
    const { q, v } = valueIteration(mdp, g);
    for (let s = 0; s < 4; s++) {
      for (let a = 0; a < 2; a++) {
        const backup = mdp.transitions[s]![a]!.reduce((acc, o) => acc + o.prob * (o.reward + (o.done ? 0 : g * v[o.next]!)), 0);
        expect(q[s * 2 + a]).toBeCloseTo(backup, 10);
      }
    }
  });

  it('tabular Q-learning converges to the value-iteration Q*', () => {
    const mdp = chainMdp();
    const exact = valueIteration(mdp, g).q;
    const q = tabularQLearning(mdp, { gamma: g, alpha: 0.1, epsilon: 0.3, episodes: 5000, maxStepsPerEpisode: 6, startState: (r) => r.integer(0, 4), rng: Rng.fromSeed(1) });
    for (let i = 0; i < 8; i++) expect(Math.abs((q[i] as number) - (exact[i] as number))).toBeLessThan(1e-3);
  });

  it('rejects malformed MDPs naming the entry', () => {
    const mdp = chainMdp();
    mdp.transitions[2]![1]![0]!.prob = 0.5;
    expect(() => valueIteration(mdp, g)).toThrow(/transitions\[2\]\[1\] probabilities sum to 0.5/);
    expect(() => valueIteration(chainMdp(), 1)).toThrow(/gamma must lie in \[0, 1\)/);
  });

  it('MdpEnv replays identically from a saved state', () => {
    const env = new MdpEnv(chainMdp(), [0, 1, 2, 3]);
    env.reset({ seed: 3 });
    env.step(1);
    const saved = env.getState();
    const a = [env.step(0).observation.slice(), env.step(1).observation.slice()];
    const other = new MdpEnv(chainMdp(), [0, 1, 2, 3]);
    other.reset({ seed: 99 });
    other.setState(saved);
    const b = [other.step(0).observation.slice(), other.step(1).observation.slice()];
    expect(b).toEqual(a);
  });
});
