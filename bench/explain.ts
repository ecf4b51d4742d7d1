import { Rng } from '../engine/random.js';
import { make } from '../engine/registry.js';
import '../environments/index.js';
import { distil } from '../evaluation/explain/distil.js';
import { integratedGradients } from '../evaluation/explain/integrated-gradients.js';
import type { DenseLayerWeights } from '../policies/dense-stack.js';
import { GreedyQPolicy } from '../policies/greedy-q.js';
import type { BenchResult } from './types.js';
import { median } from './util.js';

/**
 * Explanations. `npm run bench -- explain`:
 * - integrated gradients of one decision of a glucose-sized Q-network (17 inputs, 64-64 ReLU, 7
 *   actions) with m = 64 and m = 256 trapezoid intervals (one batched tfjs gradient call each; cpu backend);
 * - VIPER distillation of a CartPole Q-network (4-64-64-2, random weights) into a depth-5 tree from
 *   10⁵ states (4 DAgger iterations, 5,000 resampled states per fit), including the rollouts, the
 *   teacher's labels, the fits, fidelity and the 10-episode comparison.
 */
function randomLayers(sizes: number[], seed: number): DenseLayerWeights[] {
  const rng = Rng.fromSeed(seed);
  return sizes.slice(1).map((outputSize, l) => {
    const inputSize = sizes[l] as number;
    return {
      inputSize,
      outputSize,
      kernel: Float32Array.from({ length: inputSize * outputSize }, () => rng.normal(0, Math.sqrt(2 / inputSize))),
      bias: new Float32Array(outputSize),
      activation: l === sizes.length - 2 ? 'linear' : 'relu',
    };
  });
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const env = make('glucose/t1d-v1');
  const d = env.observationSpace.size;
  const policy = new GreedyQPolicy(randomLayers([d, 64, 64, 7], 1), {
    normalization: { kind: 'running', mean: Array(d).fill(120).fill(0, 12), std: Array(d).fill(40).fill(1, 12) },
  }).bindTo(env);
  const obs = Float32Array.from(env.reset({ seed: 1 }).observation);
  for (const steps of [64, 256]) {
    integratedGradients(policy, obs, { steps }); // warm-up
    const times: number[] = [];
    let error = 0;
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now(); // clock-ok
      const ig = integratedGradients(policy, obs, { steps });
      times.push(performance.now() - t0); // clock-ok
      error = Math.max(error, ig.completenessError);
    }
    out.push({
      name: `integrated gradients per decision (m = ${steps})`,
      value: median(times),
      unit: 'ms',
      note: `median of 30; ${d} inputs, 64-64 ReLU, 7 actions; completeness error ≤ ${error.toExponential(1)}`,
    });
  }
  env.close?.();

  const makeEnv = () => make('classic/cartpole-v1');
  const teacher = new GreedyQPolicy(randomLayers([4, 64, 64, 2], 2)).bindTo(makeEnv());
  const t0 = performance.now(); // clock-ok
  const result = distil({ teacher, makeEnv, seed: 1, states: 100_000, iterations: 4, trainSize: 5_000, maxDepth: 5, heldOutStates: 5_000, evalEpisodes: 10 });
  const seconds = (performance.now() - t0) / 1000; // clock-ok
  out.push({
    name: 'VIPER tree distillation, 10^5 states (CartPole)',
    value: seconds,
    unit: 's',
    note: `depth ${result.depth}, ${result.leaves} leaves; fidelity ${(result.fidelity.heldOut * 100).toFixed(1)} % (network states), ${(result.fidelity.onTreeStates * 100).toFixed(1)} % (tree states); return ${result.performance.teacher.meanReturn.toFixed(1)} network vs ${result.performance.tree.meanReturn.toFixed(1)} tree`,
  });
  return out;
}
