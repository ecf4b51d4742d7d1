import { describe, expect, it } from 'vitest';
import { trainDqn } from '../../agents/dqn.js';
import { parseDqnConfig } from '../../agents/dqn-config.js';
import type { StepResult } from '../../engine/env.js';
import { make } from '../../engine/registry.js';
import '../../environments/index.js';
import { registerAllPolicies } from '../../policies/index.js';
import { makePolicy } from '../../policies/registry.js';
import { CohortEnv, endpointsPerSeed, fmt, greedyPolicy, mean, memberOptions, pairedDifference } from './helpers.js';

/**
 * A trained DQN policy beats the best registered protocol of the twin on its first primary endpoint,
 * on held-out virtual patients (cohort seed 42: training pool = patients 0–199, held-out = 1000+k,
 * never seen in training or in the periodic evaluations that pick the kept weights). Every arm sees
 * the same held-out patient and reset seed (paired). "Best protocol" = the protocol with the best mean
 * on the held-out patients themselves (the most favourable choice for the baselines).
 *
 * Training draws a new pool patient at every reset (`CohortEnv`, test/long/helpers.ts).
 */
const COHORT_SEED = 42;
const POOL = Array.from({ length: 200 }, (_, i) => i);

function run(name: string, best: 'higher' | 'lower', baselines: Record<string, number[]>, dqn: number[]): { diff: ReturnType<typeof pairedDifference>; arm: string } {
  const arms = Object.keys(baselines);
  const arm = arms.reduce((a, b) => ((best === 'higher' ? mean(baselines[b] as number[]) > mean(baselines[a] as number[]) : mean(baselines[b] as number[]) < mean(baselines[a] as number[])) ? b : a));
  const diff = pairedDifference(dqn, baselines[arm] as number[]);
  console.log(
    [
      `${name}: DQN ${fmt(mean(dqn), 3)}; ${arms.map((a) => `${a} ${fmt(mean(baselines[a] as number[]), 3)}`).join(', ')}`,
      `paired DQN − ${arm}: ${fmt(diff.mean, 3)} [${fmt(diff.lo, 3)}, ${fmt(diff.hi, 3)}] (${dqn.length} patients)`,
    ].join('\n'),
  );
  return { diff, arm };
}

/**
 * Vancomycin (primary endpoint target_attained_final: AUC24/MIC in 400–600 on day 7; higher better).
 * Env reward (+1 per 12 h in target, graded penalty outside, −10 at AKI) is aligned with it. Why the
 * config: 14-step episodes → γ 0.95 is enough horizon; bounds normalisation (finite Box); double DQN +
 * 3-step returns; 300k env steps ≈ 21k episodes; kept weights by 100-episode validation evaluations.
 */
const VANCO_CONFIG = parseDqnConfig({
  totalSteps: 300_000,
  numEnvs: 8,
  learningRate: 5e-4,
  batchSize: 64,
  bufferSize: 300_000,
  learningStarts: 5_000,
  trainFrequency: 1,
  gradientSteps: 1,
  targetUpdateInterval: 2_000,
  doubleDqn: true,
  nStep: 3,
  gamma: 0.95,
  normalization: 'bounds',
  explorationFraction: 0.3,
  hidden: [64, 64],
  evalEvery: 15_000,
  evalEpisodes: 100,
  keepBest: true,
});

/**
 * Chemotherapy (primary endpoint time_to_clearance, days, censored at 150; lower better), virtual
 * population (IIV on r1, c2, a2, T0), observing (N, T, I, B). The DTR-Bench reward (N/N0 − T/T0 − v)
 * is not the endpoint: trained on it, DQN tied front-loading (+0.08 days [−0.48, 0.64], 60 patients).
 * So training uses a reward aligned with the endpoint: −0.01 per 6-h step until the tumour first falls
 * below 1e−3, 0 after, and on death −0.01 × the remaining steps (death = censored at 150 days);
 * γ 0.995 (clearance takes 60–300 steps).
 */
const CHEMO_CONFIG = parseDqnConfig({
  totalSteps: 300_000,
  numEnvs: 8,
  learningRate: 5e-4,
  batchSize: 64,
  bufferSize: 300_000,
  learningStarts: 5_000,
  trainFrequency: 1,
  gradientSteps: 1,
  targetUpdateInterval: 2_000,
  doubleDqn: true,
  nStep: 3,
  gamma: 0.995,
  normalization: 'running',
  explorationFraction: 0.3,
  hidden: [64, 64],
  evalEvery: 20_000,
  evalEpisodes: 16,
  keepBest: true,
});
const CHEMO_HORIZON = 600;

function clearanceReward(result: StepResult, env: CohortEnv): number {
  if (env.done) return 0;
  if ((result.info.T as number) < 1e-3) {
    env.done = true;
    return 0;
  }
  if (result.terminated) return -0.01 * (CHEMO_HORIZON - env.steps - 1);
  return -0.01;
}

describe('DQN against the registered protocols on held-out virtual patients', () => {
  it('pkpd/vancomycin-v1: higher day-7 target attainment than the best protocol (200 held-out adults)', async () => {
    registerAllPolicies();
    const held = Array.from({ length: 200 }, (_, k) => 1000 + k);
    const seeds = held.map((k) => 9_000_000 + k);
    const makeEnv = (k: number) => make('pkpd/vancomycin-v1', memberOptions('vancomycin', 'adult', COHORT_SEED, held[k] as number));
    const ids = ['target_attained_final', 'aki', 'days_in_target'];
    const start = performance.now();
    const result = await trainDqn({ envFactory: () => new CohortEnv('pkpd/vancomycin-v1', 'vancomycin', 'adult', COHORT_SEED, POOL), config: VANCO_CONFIG, seed: 0 });
    const seconds = (performance.now() - start) / 1000;
    const dqn = endpointsPerSeed('vancomycin', ids, makeEnv, () => greedyPolicy(result, result.bestWeights), seeds);
    const base: Record<string, ReturnType<typeof endpointsPerSeed>> = {};
    for (const arm of ['pkpd/vancomycin-nomogram', 'pkpd/vancomycin-auc-guided']) base[arm] = endpointsPerSeed('vancomycin', ids, makeEnv, (env) => makePolicy(arm, env), seeds);
    console.log(
      [
        `vancomycin: trained ${seconds.toFixed(0)} s, kept eval @ ${result.bestEvaluation?.step}`,
        '| arm | PTA day 7 | AKI | days in target |',
        '|---|---|---|---|',
        ...[['dqn', dqn] as const, ...Object.entries(base)].map(([a, r]) => `| ${a} | ${ids.map((id) => fmt(mean(r.values[id] as number[]), 3)).join(' | ')} |`),
      ].join('\n'),
    );
    const { diff } = run(
      'vancomycin target_attained_final',
      'higher',
      Object.fromEntries(Object.entries(base).map(([a, r]) => [a, r.values.target_attained_final as number[]])),
      dqn.values.target_attained_final as number[],
    );
    result.online.dispose();
    result.target.dispose();
    expect(diff.lo).toBeGreaterThan(0);
  });

  // KNOWN FAILURE (it.fails: the honest assertion is kept and is expected to fail; if DQN ever wins,
  // this flips to a failure and the marker must go). Measured (seed 0, 300k steps, 60 held-out
  // patients): DQN 84.27 d vs front-loaded 84.22 d, paired +0.05 [−0.49, 0.59]; MTD 84.56, pulsed
  // 85.37. Why: in the virtual population time to clearance barely depends on the schedule — 40 % of
  // patients die of tumour burden under every protocol (censored at 150 d) and the spread between the
  // best and worst protocol is ≈ 1 day; with the DTR-Bench reward DQN also tied (+0.08 [−0.48, 0.64]).
  // The population where dosing decisions matter (cumulative toxicity) is tested in dqn-chemo.test.ts.
  it.fails('oncology/chemo-v1: shorter time to clearance than the best protocol (60 held-out virtual patients)', async () => {
    registerAllPolicies();
    const held = Array.from({ length: 60 }, (_, k) => 1000 + k);
    const seeds = held.map((k) => 9_000_000 + k);
    const envBase = { observeNormal: true };
    const makeEnv = (k: number) => make('oncology/chemo-v1', { ...envBase, ...memberOptions('chemo', 'virtual', COHORT_SEED, held[k] as number) });
    const ids = ['time_to_clearance', 'death', 'cleared', 'normal_nadir'];
    const start = performance.now();
    const result = await trainDqn({
      envFactory: () => new CohortEnv('oncology/chemo-v1', 'chemo', 'virtual', COHORT_SEED, POOL, envBase, clearanceReward),
      config: CHEMO_CONFIG,
      seed: 0,
    });
    const seconds = (performance.now() - start) / 1000;
    const dqn = endpointsPerSeed('chemo', ids, makeEnv, () => greedyPolicy(result, result.bestWeights), seeds);
    const base: Record<string, ReturnType<typeof endpointsPerSeed>> = {};
    for (const arm of ['oncology/chemo-mtd', 'oncology/chemo-pulsed', 'oncology/chemo-front-loaded']) base[arm] = endpointsPerSeed('chemo', ids, makeEnv, (env) => makePolicy(arm, env), seeds);
    console.log(
      [
        `chemo: trained ${seconds.toFixed(0)} s, kept eval @ ${result.bestEvaluation?.step}`,
        '| arm | time to clearance (d) | death | cleared | normal nadir |',
        '|---|---|---|---|---|',
        ...[['dqn', dqn] as const, ...Object.entries(base)].map(([a, r]) => `| ${a} | ${ids.map((id) => fmt(mean(r.values[id] as number[]), 3)).join(' | ')} |`),
        `per-patient time to clearance, dqn: ${(dqn.values.time_to_clearance as number[]).map((x) => x.toFixed(0)).join(' ')}`,
      ].join('\n'),
    );
    const { diff } = run(
      'chemo time_to_clearance',
      'lower',
      Object.fromEntries(Object.entries(base).map(([a, r]) => [a, r.values.time_to_clearance as number[]])),
      dqn.values.time_to_clearance as number[],
    );
    result.online.dispose();
    result.target.dispose();
    expect(diff.hi).toBeLessThan(0);
  });
});
