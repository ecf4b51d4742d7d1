import type { DqnResult } from '../../agents/dqn.js';
import type { Env } from '../../engine/env.js';
import { getTwin } from '../../engine/twin.js';
import { evaluatePolicy } from '../../policies/evaluate.js';
import { GreedyQPolicy } from '../../policies/greedy-q.js';
import type { Policy } from '../../policies/policy.js';

/** The trained network as a backend-independent greedy policy (what a saved policy would do). */
export function greedyPolicy(result: DqnResult, weights: Float32Array[] | null = null): GreedyQPolicy {
  if (weights) result.online.setWeights(weights);
  return new GreedyQPolicy(result.online.toDenseLayers(), { name: 'dqn', normalization: result.normalizer.toSpec() });
}

/**
 * One episode of `policy` per seed on a fresh env from `makeEnv(k)`, recorded, and the twin's
 * endpoints computed from each log. Arms evaluated with the same seeds and env factory are paired
 * (common random numbers: same patient, meals, noise).
 */
export function endpointsPerSeed(
  twinId: string,
  endpointIds: string[],
  makeEnv: (k: number) => Env,
  makePolicy: (env: Env) => Policy,
  seeds: number[],
): { values: Record<string, number[]>; returns: number[] } {
  const twin = getTwin(twinId);
  const defs = endpointIds.map((id) => {
    const d = twin.endpoints.find((e) => e.id === id);
    if (!d) throw new Error(`twin ${twinId} has no endpoint ${id}`);
    return d;
  });
  const values: Record<string, number[]> = Object.fromEntries(endpointIds.map((id) => [id, [] as number[]]));
  const returns: number[] = [];
  seeds.forEach((seed, k) => {
    const env = makeEnv(k);
    const policy = makePolicy(env);
    const result = evaluatePolicy(env, policy, { seed, episodes: 1, episodeSeeds: [seed], record: true });
    const episode = result.episodes[0];
    if (!episode?.log) throw new Error('evaluatePolicy did not record the episode');
    for (const d of defs) (values[d.id] as number[]).push(d.compute(episode.log));
    returns.push(episode.return);
    env.close?.();
  });
  return { values, returns };
}

export function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

export function sd(xs: number[]): number {
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(xs.length - 1, 1));
}

/** Mean and normal-approximation 95 % CI of paired differences. */
export function pairedDifference(a: number[], b: number[]): { mean: number; lo: number; hi: number; sd: number } {
  const d = a.map((x, i) => x - (b[i] as number));
  const m = mean(d);
  const s = sd(d);
  const half = (1.96 * s) / Math.sqrt(d.length);
  return { mean: m, lo: m - half, hi: m + half, sd: s };
}

export function fmt(x: number, digits = 2): string {
  return x.toFixed(digits);
}
