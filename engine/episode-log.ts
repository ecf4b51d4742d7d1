import type { Info } from './env.js';

/**
 * The versioned episode log of docs/DESIGN.md: one row per decision step plus periodic keyframes (full
 * simulation state) for seeking. Observations and actions are stored as plain number arrays so a log
 * serialises to JSON unchanged; float32 observations round-trip exactly through float64 numbers.
 */
export const EPISODE_LOG_VERSION = 1;

export interface EpisodeStepRecord {
  step: number;
  action: number | number[];
  reward: number;
  observation: number[];
  terminated: boolean;
  truncated: boolean;
  info: Info;
}

export interface Keyframe {
  /** The state *before* this step index was taken (keyframe 0 = right after reset). */
  step: number;
  state: unknown;
}

export interface EpisodeLog {
  version: typeof EPISODE_LOG_VERSION;
  envId: string;
  seed: number | null;
  initialObservation: number[];
  resetInfo: Info;
  steps: EpisodeStepRecord[];
  keyframes: Keyframe[];
  totalReward: number;
  length: number;
  terminated: boolean;
  truncated: boolean;
  /** TrajectoryHasher digest of the episode. */
  hash: string;
}
