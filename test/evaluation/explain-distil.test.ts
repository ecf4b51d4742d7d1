import { describe, expect, it } from 'vitest';
import type { Env } from '../../engine/env.js';
import { make } from '../../engine/registry.js';
import '../../environments/index.js';
import { distil, treeAction, treeJson, treeText } from '../../evaluation/explain/distil.js';
import { GreedyQPolicy } from '../../policies/greedy-q.js';

// A "network" whose greedy rule is known: Q(s, right) − Q(s, left) = θ̇ + 0.5·θ (CartPole: push towards the fall).
const teacherLayers = [
  {
    inputSize: 4,
    outputSize: 2,
    kernel: Float32Array.from([0, 0, -0.5, -1, 0, 0, 0.5, 1]),
    bias: new Float32Array(2),
    activation: 'linear' as const,
  },
];

describe('VIPER distillation into a decision tree', () => {
  const makeEnv = (): Env => make('classic/cartpole-v1');
  const teacher = new GreedyQPolicy(teacherLayers).bindTo(makeEnv());

  it('recovers a faithful shallow tree, rendered as text and JSON, and compares returns on the same episodes', () => {
    const result = distil({ teacher, makeEnv, seed: 3, states: 6000, iterations: 3, trainSize: 3000, maxDepth: 4, heldOutStates: 3000, evalEpisodes: 5 });
    expect(result.fidelity.heldOut).toBeGreaterThan(0.93);
    expect(result.fidelity.onTreeStates).toBeGreaterThan(0.9);
    expect(result.depth).toBeLessThanOrEqual(4);
    expect(result.iterations).toHaveLength(3);
    // The teacher's rule is dominated by the pole's angular velocity: the root splits on it near 0.
    const root = result.tree as { feature: number; threshold: number };
    expect(result.featureLabels[root.feature]).toMatch(/^theta/);
    expect(Math.abs(root.threshold)).toBeLessThan(0.3);
    // The tree acts like the teacher on a state where the rule is clear.
    expect(treeAction(result.tree, [0, 0, 0.05, 1.5])).toBe(1);
    expect(treeAction(result.tree, [0, 0, -0.05, -1.5])).toBe(0);
    const text = treeText(result.tree, result.featureLabels, result.actionLabels);
    expect(text).toMatch(/^if \S+ < /);
    expect(text).toContain('→');
    expect(JSON.parse(JSON.stringify(treeJson(result.tree, result.featureLabels, result.actionLabels)))).toHaveProperty('threshold');
    // Same evaluation episodes for both; a faithful tree keeps most of the teacher's return.
    expect(result.performance.teacher.meanReturn).toBeGreaterThan(100);
    expect(result.performance.tree.meanReturn).toBeGreaterThan(0.5 * result.performance.teacher.meanReturn);
  });

  it('is deterministic given the seed', () => {
    const options = { teacher, makeEnv, seed: 9, states: 2000, iterations: 2, trainSize: 1000, maxDepth: 3, heldOutStates: 1000, evalEpisodes: 2 };
    expect(JSON.stringify(distil(options).tree)).toBe(JSON.stringify(distil(options).tree));
  });

  it('names a bad option', () => {
    expect(() => distil({ teacher, makeEnv, seed: 1, maxDepth: 0 })).toThrow(/maxDepth must be an integer ≥ 1/);
  });
});
