import type { Env, Info } from '../engine/env.js';
import type { Action } from '../engine/spaces.js';
import type { EpisodeLog } from '../engine/episode-log.js';
import { deriveSeed, Rng } from '../engine/random.js';
import { RecordEpisode, type RecordEpisodeOptions } from '../engine/wrappers.js';
import { TrajectoryHasher } from '../engine/hash.js';
import { type Policy, policyContext } from './policy.js';

/**
 * Runs a policy for whole episodes. Episode k is reset with seed `deriveSeed(seed, 'episode', k)`
 * and the policy draws from substream `policy/episode/k`, so episode k is the same whatever K is.
 * Returns per-episode returns and lengths, the combined trajectory hash, and (when `record` is set)
 * the episode logs.
 */
export interface EvaluateOptions {
  seed: number;
  episodes: number;
  record?: boolean | RecordEpisodeOptions;
  /** Called after each episode. */
  onEpisode?: (episode: EpisodeSummary) => void;
  /** Seeds for the episodes, overriding the derived ones (trials use a patient's seed). */
  episodeSeeds?: number[];
  /**
   * Called at each reset (t = 0, action null) and after each step (t = steps taken) with the env's own
   * observation and info objects: copy what you keep (envs may reuse them). Reads only, so results
   * are the same with or without it.
   */
  onFrame?: (frame: EpisodeFrame) => void;
}

export interface EpisodeFrame {
  episode: number;
  t: number;
  observation: Float32Array;
  action: Action | null;
  reward: number;
  info: Info;
}

export interface EpisodeSummary {
  episode: number;
  seed: number;
  return: number;
  length: number;
  terminated: boolean;
  truncated: boolean;
  hash: string;
  log?: EpisodeLog;
}

export interface EvaluationResult {
  episodes: EpisodeSummary[];
  meanReturn: number;
  stdReturn: number;
  meanLength: number;
  /** SHA-256 over all episodes' trajectories in order. */
  hash: string;
}

export function episodeSeed(seed: number, episode: number): number {
  return deriveSeed(seed, 'episode', episode);
}

export function evaluatePolicy(env: Env, policy: Policy, options: EvaluateOptions): EvaluationResult {
  const recorder = options.record ? new RecordEpisode(env, typeof options.record === 'object' ? options.record : {}) : undefined;
  const target: Env = recorder ?? env;
  const combined = new TrajectoryHasher();
  const episodes: EpisodeSummary[] = [];
  for (let k = 0; k < options.episodes; k++) {
    const seed = options.episodeSeeds?.[k] ?? episodeSeed(options.seed, k);
    const rng = Rng.fromSeed(options.seed).fork(`policy/episode/${k}`);
    const hasher = new TrajectoryHasher();
    let { observation, info } = target.reset({ seed });
    options.onFrame?.({ episode: k, t: 0, observation, action: null, reward: 0, info });
    policy.reset?.(policyContext(env, info));
    hasher.observation(observation);
    combined.episodeBoundary().observation(observation);
    let total = 0;
    let length = 0;
    let terminated = false;
    let truncated = false;
    let lastInfo: Info = info;
    while (!terminated && !truncated) {
      const action = policy.act(observation, rng, lastInfo);
      const result = target.step(action);
      hasher.step(action, result.reward, result.observation);
      combined.step(action, result.reward, result.observation);
      observation = result.observation;
      lastInfo = result.info;
      info = result.info;
      total += result.reward;
      length++;
      terminated = result.terminated;
      truncated = result.truncated;
      options.onFrame?.({ episode: k, t: length, observation: result.observation, action: action as EpisodeFrame['action'], reward: result.reward, info: result.info });
    }
    const summary: EpisodeSummary = { episode: k, seed, return: total, length, terminated, truncated, hash: hasher.digest() };
    if (recorder) summary.log = recorder.lastEpisode;
    episodes.push(summary);
    options.onEpisode?.(summary);
  }
  const returns = episodes.map((e) => e.return);
  const mean = returns.reduce((a, b) => a + b, 0) / Math.max(1, returns.length);
  const variance = returns.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, returns.length);
  return {
    episodes,
    meanReturn: mean,
    stdReturn: Math.sqrt(variance),
    meanLength: episodes.reduce((a, e) => a + e.length, 0) / Math.max(1, episodes.length),
    hash: combined.digest(),
  };
}
