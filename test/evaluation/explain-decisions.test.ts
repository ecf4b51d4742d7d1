import { describe, expect, it } from 'vitest';
import type { Env } from '../../engine/env.js';
import { Rng } from '../../engine/random.js';
import { make } from '../../engine/registry.js';
import type { Discrete } from '../../engine/spaces.js';
import '../../environments/index.js';
import { counterfactuals } from '../../evaluation/explain/counterfactual.js';
import { decisionQ } from '../../evaluation/explain/decision.js';
import { integratedGradients, integratedGradientsOnInput } from '../../evaluation/explain/integrated-gradients.js';
import { decodeEpisode } from '../../experiments/episode-codec.js';
import type { JobTask } from '../../experiments/job-types.js';
import type { TrialJobConfig } from '../../experiments/jobs.js';
import { runTrialJob } from '../../experiments/trial-job.js';
import type { DenseLayerWeights } from '../../policies/dense-stack.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { GreedyQPolicy } from '../../policies/greedy-q.js';
import '../../policies/index.js';
import { makePolicy } from '../../policies/registry.js';

function randomLayers(sizes: number[], seed: number, activation: 'relu' | 'linear' = 'relu'): DenseLayerWeights[] {
  const rng = Rng.fromSeed(seed);
  return sizes.slice(1).map((outputSize, l) => {
    const inputSize = sizes[l] as number;
    return {
      inputSize,
      outputSize,
      kernel: Float32Array.from({ length: inputSize * outputSize }, () => rng.normal(0, 1 / Math.sqrt(inputSize))),
      bias: Float32Array.from({ length: outputSize }, () => rng.normal(0, 0.1)),
      activation: l === sizes.length - 2 ? 'linear' : activation,
    };
  });
}

describe('Q-values and action gap', () => {
  it('gap is best minus second best', () => {
    expect(decisionQ([1, 3, 2.5, -1])).toEqual({ values: [1, 3, 2.5, -1], best: 1, gap: 0.5 });
    expect(decisionQ([2, 2]).gap).toBe(0);
  });
});

describe('integrated gradients', () => {
  it('completeness: attributions sum to Q(x) − Q(baseline)', () => {
    const layers = randomLayers([6, 32, 32, 4], 1);
    const rng = Rng.fromSeed(2);
    for (let trial = 0; trial < 5; trial++) {
      const x = Float32Array.from({ length: 6 }, () => rng.normal(0, 1.5));
      const ig = integratedGradientsOnInput(layers, x, { steps: 1024 });
      const sum = ig.attributions.reduce((a, b) => a + b, 0);
      const delta = ig.q - ig.qBaseline;
      expect(Math.abs(delta)).toBeGreaterThan(1e-3); // a non-trivial difference to explain
      // the trapezoid's error over ReLU kinks plus float32 gradients: ≈ 1e-4 at m = 1024 (Sundararajan et al. ask for < 5 % of Δ)
      expect(Math.abs(sum - delta)).toBeLessThan(0.01 * Math.abs(delta) + 5e-4);
      expect(ig.completenessError).toBeCloseTo(Math.abs(sum - delta), 10);
    }
  });

  it('is exact for a linear network: IG_i = w_ai (x_i − x′_i)', () => {
    const layers = randomLayers([3, 2], 3, 'linear');
    const x = Float32Array.from([1.5, -2, 0.25]);
    const ig = integratedGradientsOnInput(layers, x, { steps: 4, action: 1 });
    const w = (layers[0] as DenseLayerWeights).kernel;
    for (let i = 0; i < 3; i++) expect(ig.attributions[i]).toBeCloseTo((w[3 + i] as number) * (x[i] as number), 5);
  });

  it('explains the greedy action of a policy through its normalisation (baseline = the normaliser mean)', () => {
    const mean = [100, 2, 0, 0];
    const std = [30, 1, 10, 1];
    const policy = new GreedyQPolicy(randomLayers([4, 16, 3], 4), { normalization: { kind: 'running', mean, std } });
    const obs = Float32Array.from([180, 3, 20, 1]);
    const ig = integratedGradients(policy, obs, { steps: 128 });
    const q = policy.qValues(obs);
    expect(ig.action).toBe(decisionQ(q).best);
    expect(ig.q).toBeCloseTo(q[ig.action] as number, 4);
    const atMean = policy.qValues(Float32Array.from(mean));
    expect(ig.qBaseline).toBeCloseTo(atMean[ig.action] as number, 4);
  });
});

describe('Q-values in trial episode logs', () => {
  const config = (policy: string): TrialJobConfig => ({
    kind: 'trial',
    twinId: 'sepsis',
    envId: 'sepsis/oberst-v1',
    envOptions: {},
    patientIndex: 0,
    enrolled: 0,
    patientId: 'p0',
    covariates: {},
    arm: { name: policy, policy, options: {} },
    armIndex: 0,
    replicate: 0,
    episodeSeeds: [11, 12, 13],
    policySeed: 11,
    endpoints: ['mortality'],
    keyframeInterval: 0,
  });
  const layers = randomLayers([19, 16, 8], 5);
  const loadSaved = async () => ({ envId: 'sepsis/oberst-v1', envOptions: {}, create: (env: Env) => new GreedyQPolicy(layers).bindTo(env) });
  const task = {} as JobTask;

  it('a Q policy logs q at every step (argmax = the action taken); its trajectory hash is the unrecorded one', async () => {
    const outcome = await runTrialJob(task, config('saved-q'), () => {}, loadSaved);
    const env = make('sepsis/oberst-v1');
    const plain = evaluatePolicy(env, new GreedyQPolicy(layers).bindTo(env), { seed: 11, episodes: 3, episodeSeeds: [11, 12, 13] });
    expect((outcome.result as { trajectoryHash: string }).trajectoryHash).toBe(plain.hash);
    for (const stored of outcome.episodes) {
      const log = decodeEpisode((stored.encoded as { bytes: Uint8Array }).bytes);
      for (const s of log.steps) {
        const q = s.info.q as number[];
        expect(q).toHaveLength(8);
        expect(decisionQ(q).best).toBe(s.action);
      }
    }
  });

  it('a protocol logs no q and keeps its hash', async () => {
    const outcome = await runTrialJob(task, config('sepsis/physician'), () => {});
    const env = make('sepsis/oberst-v1');
    const plain = evaluatePolicy(env, makePolicy('sepsis/physician', env), { seed: 11, episodes: 3, episodeSeeds: [11, 12, 13] });
    expect((outcome.result as { trajectoryHash: string }).trajectoryHash).toBe(plain.hash);
    const log = decodeEpisode((outcome.episodes[0] as { encoded: { bytes: Uint8Array } }).encoded.bytes);
    expect(log.steps.some((s) => 'q' in s.info || 'shield' in s.info)).toBe(false);
  });
});

describe('counterfactual rollouts', () => {
  // PID is stateful (integral term): the branch must rebuild the policy's state as well as the twin's.
  const envOptions = { patient: 'adult#002', maxEpisodeSteps: 96 };
  const makeEnv = () => make('glucose/t1d-v1', envOptions);
  const run = () => {
    const env = makeEnv();
    const result = evaluatePolicy(env, makePolicy('glucose/pid', env), { seed: 21, episodes: 1, record: { keyframeInterval: 0 } });
    return result.episodes[0]?.log as NonNullable<(typeof result.episodes)[0]['log']>;
  };
  const request = (log: ReturnType<typeof run>, step: number, horizon: number, actions?: number[]) => ({
    makeEnv,
    makePolicy: (env: Env) => makePolicy('glucose/pid', env),
    policyRng: () => Rng.fromSeed(21).fork('policy/episode/0'),
    log,
    step,
    horizon,
    actions,
  });

  it('given the logged action, reproduces the logged future bit for bit; other actions branch at step t', () => {
    const log = run();
    const t = 40;
    const result = counterfactuals(request(log, t, 1));
    expect(result.branches).toHaveLength((makeEnv().actionSpace as Discrete).n);
    const factual = result.branches.find((b) => b.logged);
    expect(factual?.action).toBe(log.steps[t]?.action);
    expect(factual?.hash).toBe(log.hash);
    expect(factual?.log.steps.map((s) => [s.action, s.reward, s.observation])).toEqual(log.steps.map((s) => [s.action, s.reward, s.observation]));
    for (const b of result.branches.filter((x) => !x.logged)) {
      expect(b.log.steps.slice(0, t).map((s) => s.observation)).toEqual(log.steps.slice(0, t).map((s) => s.observation));
      expect(b.log.steps[t]?.action).toBe(b.action);
      expect(b.hash).not.toBe(log.hash);
    }
  });

  it('holds the alternative action for H steps, then the policy acts again', () => {
    const log = run();
    const logged = log.steps[30]?.action as number;
    const other = logged === 0 ? 6 : 0;
    const [b] = counterfactuals(request(log, 30, 4, [other])).branches;
    expect(b?.log.steps.slice(30, 34).map((s) => s.action)).toEqual([other, other, other, other]);
    expect(b?.returnFromStep).toBeCloseTo(
      (b?.log.steps.slice(30) ?? []).reduce((a, s) => a + s.reward, 0),
      12,
    );
  });

  it('refuses a log the policy does not reproduce before step t', () => {
    const log = run();
    const tampered = { ...log, steps: log.steps.map((s, i) => (i === 10 ? { ...s, action: (s.action as number) === 0 ? 1 : 0 } : s)) };
    expect(() => counterfactuals(request(tampered, 20, 1, [0]))).toThrow(/step 10/);
  });
});
