import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TwinlabEvent } from '../../engine/events.js';
import { type DqnCheckpoint, loadCheckpoint, saveCheckpoint } from '../../agents/checkpoint.js';
import { trainDqn } from '../../agents/dqn.js';
import { type DqnConfigInput, ZOO_CARTPOLE, parseDqnConfig } from '../../agents/dqn-config.js';
import { valueIteration } from '../../agents/tabular.js';
import { CHAIN_GAMMA, chainMdp, chainObservation, makeChainEnv } from './fixtures/chain.js';

const BACKEND = 'wasm' as const;

/** Tabular-sized DQN on the chain: one-hot inputs, one hidden layer, one gradient step per env step. */
const CHAIN: DqnConfigInput = {
  totalSteps: 3000,
  learningStarts: 200,
  batchSize: 32,
  learningRate: 3e-3,
  hidden: [32],
  gamma: CHAIN_GAMMA,
  trainFrequency: 1,
  gradientSteps: 1,
  targetUpdateInterval: 50,
  explorationFraction: 0.3,
  explorationFinal: 0.2,
  loss: 'mse',
  maxGradNorm: null,
  evalEvery: 0,
  evalEpisodes: 4,
  evalSeed: 500,
  backend: BACKEND,
};

function qOfChain(result: Awaited<ReturnType<typeof trainDqn>>): number[][] {
  const input = new Float32Array(4 * 5);
  for (let s = 0; s < 4; s++) input.set(chainObservation(s), s * 5);
  const q = result.online.predict(input, 4);
  return [0, 1, 2, 3].map((s) => [q[2 * s] as number, q[2 * s + 1] as number]);
}

function expectOptimal(result: Awaited<ReturnType<typeof trainDqn>>, tolerance: number): void {
  const exact = valueIteration(chainMdp(), CHAIN_GAMMA);
  const q = qOfChain(result);
  for (let s = 0; s < 4; s++) {
    for (let a = 0; a < 2; a++) expect(Math.abs((q[s]![a] as number) - (exact.q[s * 2 + a] as number))).toBeLessThan(tolerance);
    expect(q[s]![0]! > q[s]![1]! ? 0 : 1).toBe(exact.policy[s]);
  }
}

describe('DQN against the exact oracle', () => {
  it('vanilla DQN (SB3 target) reaches value iteration’s Q* and policy on the chain', async () => {
    const result = await trainDqn({ envFactory: () => makeChainEnv(), config: CHAIN, seed: 1 });
    expectOptimal(result, 0.01);
    // greedy evaluation: from states 0 or 3 one step, 1 → 0 → exit (0.72 undiscounted 0.8), 2 → 3 → exit
    expect(result.finalEvaluation.meanReturn).toBeGreaterThan(0.79);
    expect(result.backend).toBe(BACKEND);
    result.online.dispose();
    result.target.dispose();
  });

  it('double DQN + dueling + prioritized replay + Polyak targets, 2 envs, also reach Q*', async () => {
    const result = await trainDqn({
      envFactory: () => makeChainEnv(),
      config: { ...CHAIN, numEnvs: 2, doubleDqn: true, dueling: true, prioritized: { alpha: 0.6, betaStart: 0.4 }, tau: 0.1, targetUpdateInterval: 4, loss: 'huber', maxGradNorm: 10 },
      seed: 2,
    });
    expectOptimal(result, 0.01);
    result.online.dispose();
    result.target.dispose();
  });
});

const SHORT: DqnConfigInput = { ...CHAIN, totalSteps: 700, learningStarts: 100, evalEvery: 200, keepBest: true, metricsEvery: 100 };

describe('DQN determinism and resume', () => {
  it('same seed and backend → identical weights, evaluations and event stream; another seed differs', async () => {
    const eventsA: TwinlabEvent[] = [];
    const a = await trainDqn({ envFactory: () => makeChainEnv(), config: SHORT, seed: 7, onEvent: (e) => eventsA.push(e) });
    const eventsB: TwinlabEvent[] = [];
    const b = await trainDqn({ envFactory: () => makeChainEnv(), config: SHORT, seed: 7, onEvent: (e) => eventsB.push(e) });
    const c = await trainDqn({ envFactory: () => makeChainEnv(), config: SHORT, seed: 8 });
    expect(a.weightsHash).toMatch(/^[0-9a-f]{16,}$/);
    expect(b.weightsHash).toBe(a.weightsHash);
    expect(c.weightsHash).not.toBe(a.weightsHash);
    expect(b.evaluations.map((e) => e.hash)).toEqual(a.evaluations.map((e) => e.hash));
    // the stream minus wall-clock speed is identical
    const strip = (es: TwinlabEvent[]) => es.map((e) => (e.type === 'train.metrics' ? { ...e, data: { ...e.data, stepsPerSecond: 0 } } : e));
    expect(strip(eventsB)).toEqual(strip(eventsA));

    // what the stream contains
    const started = eventsA[0];
    expect(started?.type).toBe('run.started');
    if (started?.type === 'run.started') {
      expect(started.data.backend).toBe(BACKEND);
      expect(started.data.tfjsVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(started.data.config.totalSteps).toBe(700);
    }
    const episodes = eventsA.filter((e) => e.type === 'episode.ended');
    expect(episodes.length).toBe(a.episodes);
    const metrics = eventsA.filter((e) => e.type === 'train.metrics');
    expect(metrics.length).toBeGreaterThanOrEqual(5);
    for (const m of metrics) {
      if (m.type !== 'train.metrics') continue;
      expect(Number.isFinite(m.data.loss)).toBe(true);
      expect(m.data.stepsPerSecond).toBeGreaterThan(0);
    }
    // ε follows the SB3 linear schedule: 1 → 0.2 over 30 % of 700 steps
    const eps = metrics.map((m) => (m.type === 'train.metrics' ? m.data.epsilon : Number.NaN));
    expect(eps[0]).toBeCloseTo(1 - (0.8 * 200) / 210, 6);
    expect(eps[eps.length - 1]).toBeCloseTo(0.2, 12);
    const evals = eventsA.filter((e) => e.type === 'eval.completed');
    expect(evals.map((e) => e.step)).toEqual([200, 400, 600, 700]);
    expect(eventsA[eventsA.length - 1]?.type).toBe('run.finished');
    expect(a.bestEvaluation?.meanReturn).toBe(Math.max(...a.evaluations.map((e) => e.meanReturn)));
    expect(a.steps).toBe(700);
    for (const r of [a, b, c]) {
      r.online.dispose();
      r.target.dispose();
    }
  });

  it('a run checkpointed at step k and resumed ends with the same weights as an uninterrupted run', async () => {
    const config: DqnConfigInput = { ...SHORT, numEnvs: 2, nStep: 3, prioritized: {}, normalization: 'running', checkpointEvery: 300, trainFrequency: 4, gradientSteps: 2 };
    const whole = await trainDqn({ envFactory: () => makeChainEnv(), config, seed: 11 });

    const checkpoints: DqnCheckpoint[] = [];
    const interrupted = await trainDqn({
      envFactory: () => makeChainEnv(),
      config,
      seed: 11,
      checkpoint: (c) => {
        checkpoints.push(c);
      },
    });
    expect(interrupted.weightsHash).toBe(whole.weightsHash); // taking checkpoints does not perturb the run
    expect(checkpoints.map((c) => c.counters.steps)).toEqual([304, 600]);

    const dir = mkdtempSync(join(tmpdir(), 'twinlab-dqn-ckpt-'));
    try {
      saveCheckpoint(dir, checkpoints[0] as DqnCheckpoint);
      const restored = loadCheckpoint(dir);
      expect(restored.replay.size).toBe(checkpoints[0]?.replay.size);
      const events: TwinlabEvent[] = [];
      const resumed = await trainDqn({ envFactory: () => makeChainEnv(), config, seed: 11, resumeFrom: restored, onEvent: (e) => events.push(e) });
      expect(resumed.weightsHash).toBe(whole.weightsHash);
      expect(resumed.steps).toBe(700);
      expect(resumed.episodes).toBe(whole.episodes);
      expect(resumed.finalEvaluation.hash).toBe(whole.finalEvaluation.hash);
      expect(events[0]?.step).toBe(304);
      for (const r of [whole, interrupted, resumed]) {
        r.online.dispose();
        r.target.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('DQN run control', () => {
  it('stops at a phase boundary when the signal aborts, and rejects non-Discrete action spaces', async () => {
    const controller = new AbortController();
    const result = await trainDqn({
      envFactory: () => makeChainEnv(),
      config: SHORT,
      seed: 3,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === 'train.metrics' && e.step >= 300) controller.abort();
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.steps).toBe(300);
    result.online.dispose();
    result.target.dispose();
    const { Box } = await import('../../engine/spaces.js');
    const boxEnv = makeChainEnv() as unknown as { actionSpace: unknown };
    Object.defineProperty(boxEnv, 'actionSpace', { value: new Box(0, 1, [1]) });
    await expect(trainDqn({ envFactory: () => boxEnv as never, config: SHORT, seed: 3 })).rejects.toThrow(/Discrete action space/);
  });
});

describe('DQN config', () => {
  it('fills SB3 defaults and the zoo CartPole preset', () => {
    const d = parseDqnConfig({});
    expect([d.learningRate, d.bufferSize, d.learningStarts, d.batchSize, d.trainFrequency, d.targetUpdateInterval, d.maxGradNorm]).toEqual([1e-4, 1_000_000, 100, 32, 4, 10_000, 10]);
    expect(d.doubleDqn || d.dueling || d.prioritized !== null || d.nStep !== 1).toBe(false);
    expect(ZOO_CARTPOLE).toMatchObject({
      totalSteps: 50_000,
      learningRate: 2.3e-3,
      batchSize: 64,
      bufferSize: 100_000,
      learningStarts: 1000,
      gamma: 0.99,
      targetUpdateInterval: 10,
      trainFrequency: 256,
      gradientSteps: 128,
      explorationFraction: 0.16,
      explorationFinal: 0.04,
      hidden: [256, 256],
    });
  });

  it('validation errors name the field and the bad value', () => {
    expect(() => parseDqnConfig({ batchSize: 0 })).toThrow(/dqn config: batchSize: .*got 0/);
    expect(() => parseDqnConfig({ gamma: 1.5 })).toThrow(/gamma: .*got 1.5/);
    expect(() => parseDqnConfig({ prioritized: { alpha: -1 } })).toThrow(/prioritized\.alpha: .*got -1/);
    expect(() => parseDqnConfig({ loss: 'l1' })).toThrow(/loss: .*"l1"/);
    expect(() => parseDqnConfig({ explorationInitial: 0.1, explorationFinal: 0.5 })).toThrow(/explorationFinal: must be ≤ explorationInitial/);
    expect(() => parseDqnConfig({ learningrate: 1e-3 })).toThrow(/learningrate/);
    expect(() => parseDqnConfig({ hidden: [64, 0] })).toThrow(/hidden\.1: /);
    let code = '';
    try {
      parseDqnConfig({ nStep: 1.5 });
    } catch (error) {
      code = (error as { code: string }).code;
    }
    expect(code).toBe('INVALID_ARGUMENT');
  });
});
