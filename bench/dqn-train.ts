import { make } from '../engine/registry.js';
import '../environments/index.js';
import { trainDqn } from '../agents/dqn.js';
import { ONE_TO_ONE, ZOO_CARTPOLE } from '../agents/dqn-config.js';
import type { BenchResult } from './types.js';
import { runAsMain } from './util.js';

/**
 * DQN training throughput on classic/cartpole-v1 (one thread, the backend `initBackend('auto')` picks):
 *  1. train every env step on the settings of the SB3 run it is compared with (batch 64, [64, 64],
 *     20 000 env steps of which the first 1 000 without gradient steps, target network copied every
 *     10 steps): env steps/s, i.e. ≈ one env step + one gradient step each — SB3 does ≈ 900/s on the
 *     same settings (agents/README.md);
 *  2. wall time of the RL Baselines3 Zoo CartPole set (50 000 env steps, 24 704 gradient steps on a
 *     4-256-256-2 MLP) for seed 0, periodic evaluation off — SB3 ≈ 44 s median on this machine kind.
 *
 * Run directly: `npx tsx bench/dqn-train.ts` (add `--quick` for step 1 only).
 */
export async function run(options: { quick?: boolean } = {}): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const factory = () => make('classic/cartpole-v1');

  const oneToOne = await trainDqn({ envFactory: factory, seed: 0, config: { ...ONE_TO_ONE, totalSteps: 20_000, targetUpdateInterval: 10, evalEvery: 0, evalEpisodes: 1 } });
  results.push({
    name: 'dqn.cartpole.train-every-step',
    value: oneToOne.stepsPerSecond,
    unit: 'env steps/s',
    note: `SB3's settings: batch 64, [64,64], 20 000 env steps, 1 gradient step per env step after 1 000 warm-up steps (${oneToOne.gradientSteps} gradient steps), target copy every 10 steps; backend ${oneToOne.backend}`,
  });
  oneToOne.online.dispose();
  oneToOne.target.dispose();
  if (options.quick) return results;

  const t0 = performance.now();
  const zoo = await trainDqn({ envFactory: factory, seed: 0, config: { ...ZOO_CARTPOLE, evalEvery: 0, evalEpisodes: 10, keepBest: false } });
  const seconds = (performance.now() - t0) / 1000;
  results.push({
    name: 'dqn.cartpole.zoo-set.wall',
    value: seconds,
    unit: 's',
    note: `50 000 env steps, ${zoo.gradientSteps} gradient steps (256×256), incl. final 10-episode greedy eval (mean ${zoo.finalEvaluation.meanReturn}); backend ${zoo.backend}`,
  });
  results.push({ name: 'dqn.cartpole.zoo-set.throughput', value: zoo.stepsPerSecond, unit: 'env steps/s', note: 'training only (evaluation excluded)' });
  zoo.online.dispose();
  zoo.target.dispose();
  return results;
}

runAsMain(import.meta.url, () => run({ quick: process.argv.includes('--quick') }));
