import type { Env, Info } from '../engine/env.js';
import type { BoundCost, BoundShield } from '../engine/twin.js';
import { argmax } from '../policies/dense-stack.js';
import { TrajectoryHasher, sha256Hex } from '../engine/hash.js';
import type { ObservationNormalizer } from './normalization.js';
import type { EvaluationSummary } from './checkpoint.js';

/** Anything that maps a batch of (normalised) observations to Q-values, B × A row-major. */
export interface QFunction {
  predict(observations: Float32Array, batch: number): Float32Array;
}

/** Index of the largest of q[row·A .. row·A + A) (lowest index on ties). */
export function argmaxRow(q: ArrayLike<number>, row: number, numActions: number): number {
  return argmax(q, row * numActions, numActions);
}

/**
 * Index of the largest of q[row·A .. row·A + A) among the actions allowed by mask[maskRow·A + a] = 1
 * (lowest index on ties) — the masked max of invalid-action masking. A row with no allowed action
 * (a shield must allow one) falls back to the unmasked argmax.
 */
export function argmaxAllowed(q: ArrayLike<number>, row: number, numActions: number, mask: Uint8Array, maskRow: number): number {
  const base = row * numActions;
  const m = maskRow * numActions;
  let best = -1;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (let a = 0; a < numActions; a++) {
    if (mask[m + a] !== 1) continue;
    const v = q[base + a] as number;
    if (best < 0 || v > bestValue) {
      best = a;
      bestValue = v;
    }
  }
  return best < 0 ? argmaxRow(q, row, numActions) : best;
}

/** A shield during greedy evaluation: one bound shield per env (lane), and how it acts (agents/dqn-config.ts ShieldConfigSchema). */
export interface EvaluationShield {
  bounds: BoundShield[];
  mode: 'mask' | 'replace';
}

/**
 * Greedy evaluation (SB3 `evaluate_policy(deterministic=True)`: no ε): episode i is reset with seed
 * `seed + i`. Up to `envs.length` episodes run side by side with one batched forward pass per step;
 * the result does not depend on how they are interleaved except through the batch composition of
 * the forward pass. Each episode is hashed (engine TrajectoryHasher: reset observation, then action,
 * reward, observation per step); the summary hash is SHA-256 over those digests in episode order.
 */
export function evaluateGreedy(
  q: QFunction,
  envs: Env[],
  options: {
    episodes: number;
    seed: number;
    normalizer: ObservationNormalizer;
    actionStart?: number;
    step?: number;
    maxStepsPerEpisode?: number;
    /** Act under a shield (masked argmax, or replacement of a masked argmax by the shield's safest action). */
    shield?: EvaluationShield;
    /** Also measure each episode's cost (one bound cost per env), its mean or sum over the steps. */
    costs?: { bounds: BoundCost[]; episodeCost: 'mean' | 'sum' };
  },
): EvaluationSummary {
  const { episodes, seed, normalizer } = options;
  const start = options.actionStart ?? 0;
  const maxSteps = options.maxStepsPerEpisode ?? 1_000_000;
  const d = normalizer.dim;
  const lanes = Math.min(envs.length, episodes);
  const obs = new Float32Array(lanes * d);
  const input = new Float32Array(lanes * d);
  const laneEpisode = new Int32Array(lanes).fill(-1);
  const laneRows = new Int32Array(lanes);
  const returns = new Array<number>(episodes).fill(0);
  const costSums = new Array<number>(episodes).fill(0);
  const costs = options.costs;
  const laneObs = Array.from({ length: lanes }, (_, lane) => obs.subarray(lane * d, lane * d + d));
  const lengths = new Array<number>(episodes).fill(0);
  const hashes: TrajectoryHasher[] = [];
  const shield = options.shield;
  const laneInfo: Info[] = new Array<Info>(lanes).fill({});
  let allowed = new Uint8Array(0);
  let nextEpisode = 0;
  let running = 0;

  const startEpisode = (lane: number): void => {
    if (nextEpisode >= episodes) {
      laneEpisode[lane] = -1;
      return;
    }
    const e = nextEpisode++;
    laneEpisode[lane] = e;
    const hasher = new TrajectoryHasher();
    hashes[e] = hasher;
    const { observation, info } = (envs[lane] as Env).reset({ seed: seed + e });
    laneInfo[lane] = info;
    hasher.observation(observation);
    obs.set(observation, lane * d);
    running++;
  };
  for (let lane = 0; lane < lanes; lane++) startEpisode(lane);

  let numActions = 0;
  while (running > 0) {
    let m = 0;
    for (let lane = 0; lane < lanes; lane++) {
      if (laneEpisode[lane] < 0) continue;
      input.set(obs.subarray(lane * d, lane * d + d), m * d);
      laneRows[lane] = m++;
    }
    normalizer.apply(input, m, input);
    const values = q.predict(m === lanes ? input : input.subarray(0, m * d), m);
    if (numActions === 0) {
      numActions = values.length / m;
      allowed = new Uint8Array(numActions);
    }
    for (let lane = 0; lane < lanes; lane++) {
      const e = laneEpisode[lane] as number;
      if (e < 0) continue;
      let action: number;
      if (shield) {
        const bound = shield.bounds[lane] as BoundShield;
        allowed.fill(0);
        bound.mask(laneObs[lane] as Float32Array, laneInfo[lane] as Info, allowed);
        if (shield.mode === 'mask') action = start + argmaxAllowed(values, laneRows[lane] as number, numActions, allowed, 0);
        else {
          action = start + argmaxRow(values, laneRows[lane] as number, numActions);
          if (allowed[action - start] !== 1) action = bound.safest(action, allowed);
        }
      } else action = start + argmaxRow(values, laneRows[lane] as number, numActions);
      const out = (envs[lane] as Env).step(action);
      laneInfo[lane] = out.info;
      const hasher = hashes[e] as TrajectoryHasher;
      hasher.step(action, out.reward, out.observation);
      returns[e] = (returns[e] as number) + out.reward;
      if (costs) costSums[e] = (costSums[e] as number) + (costs.bounds[lane] as BoundCost).cost(out.info);
      lengths[e] = (lengths[e] as number) + 1;
      obs.set(out.observation, lane * d);
      if (out.terminated || out.truncated || (lengths[e] as number) >= maxSteps) {
        hasher.episodeBoundary();
        running--;
        startEpisode(lane);
      }
    }
  }
  const mean = returns.reduce((a, b) => a + b, 0) / episodes;
  const variance = returns.reduce((a, b) => a + (b - mean) ** 2, 0) / episodes;
  return {
    step: options.step ?? 0,
    meanReturn: mean,
    stdReturn: Math.sqrt(variance),
    meanLength: lengths.reduce((a, b) => a + b, 0) / episodes,
    returns,
    lengths,
    hash: sha256Hex(hashes.map((h) => h.digest()).join('\n')),
    ...(costs ? episodeCosts(costSums, lengths, costs.episodeCost) : {}),
  };
}

function episodeCosts(sums: number[], lengths: number[], kind: 'mean' | 'sum'): { costs: number[]; meanCost: number } {
  const costs = sums.map((c, e) => (kind === 'mean' ? c / Math.max(lengths[e] as number, 1) : c));
  return { costs, meanCost: costs.reduce((a, b) => a + b, 0) / Math.max(costs.length, 1) };
}
