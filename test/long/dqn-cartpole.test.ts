import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { make } from '../../engine/registry.js';
import '../../environments/index.js';
import { trainDqn } from '../../agents/dqn.js';
import { ZOO_CARTPOLE } from '../../agents/dqn-config.js';
import { savePolicy } from '../../agents/save.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { loadSavedPolicy } from '../../policies/saved.js';

/**
 * The RL Baselines3 Zoo DQN CartPole-v1 set, 10 seeds. Per seed: train 50 000 env steps with a
 * 10-episode greedy evaluation every 2 500 steps keeping the best weights (SB3 EvalCallback's
 * best model), save that policy (model.json + weights.bin + policy.json), load it back and evaluate
 * it greedily over 100 fresh episodes (seeds disjoint from the periodic evaluations). Pass: mean
 * return ≥ 475 in at least 8 of 10 seeds. SB3 2.4.1 on the same set: 12 of 20 seeds' *final*
 * policies solve (agents/README.md).
 */
const SEEDS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

describe('DQN on classic/cartpole-v1 with the zoo hyperparameters', () => {
  it('≥ 8 of 10 seeds give a saved policy with mean greedy return ≥ 475 over 100 episodes', async () => {
    const rows: string[] = [];
    let solved = 0;
    const dir = mkdtempSync(join(tmpdir(), 'twinlab-dqn-cartpole-'));
    try {
      for (const seed of SEEDS) {
        const t0 = performance.now();
        const result = await trainDqn({ envFactory: () => make('classic/cartpole-v1'), config: ZOO_CARTPOLE, seed });
        const seconds = (performance.now() - t0) / 1000;
        if (result.bestWeights) result.online.setWeights(result.bestWeights);
        const policyDir = join(dir, `seed-${seed}`);
        await savePolicy(policyDir, result.online, {
          envId: 'classic/cartpole-v1',
          normalization: result.normalizer.toSpec(),
          provenance: { seed, config: { ...ZOO_CARTPOLE }, codeVersion: 'test', trainedSteps: result.steps, finalEvaluation: result.bestEvaluation },
        });
        const saved = await loadSavedPolicy(policyDir);
        const env = make('classic/cartpole-v1');
        const evaluation = evaluatePolicy(env, saved.create(env), { seed: 10_000 + seed, episodes: 100 });
        const ok = evaluation.meanReturn >= 475;
        if (ok) solved++;
        rows.push(
          `seed ${seed}: 100-episode mean ${evaluation.meanReturn.toFixed(1)} ± ${evaluation.stdReturn.toFixed(1)} (kept eval @${result.bestEvaluation?.step} = ${result.bestEvaluation?.meanReturn}; final 10-ep ${result.finalEvaluation.meanReturn.toFixed(1)}) ` +
            `${result.gradientSteps} grad steps, ${seconds.toFixed(0)} s, ${result.stepsPerSecond.toFixed(0)} steps/s, ${result.backend}${ok ? '  SOLVED' : ''}`,
        );
        console.log(rows[rows.length - 1]);
        result.online.dispose();
        result.target.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(`${solved} of ${SEEDS.length} seeds solved\n${rows.join('\n')}`);
    expect(solved).toBeGreaterThanOrEqual(8);
  });
});
