import type { EpisodeLog } from '../engine/episode-log.js';
import type { EncodedEpisode } from './episode-codec.js';
import type { JobSpec } from './jobs.js';

/** What executors hand to a job and what a job hands back (plain JSON: it crosses threads). */
export interface JobTask extends JobSpec {
  experimentId: string;
  /** Absolute data directory (saved policies and checkpoints go under runs/<jobId>/). */
  dataDir: string;
  /** Checkpoint (relative to dataDir) to resume a training job from. */
  checkpointPath?: string;
}

/**
 * An episode for the store: encoded and compressed where the job ran (`encodeEpisode`, so the main
 * thread only writes the bytes and a worker posts one transferable buffer instead of a large object
 * graph), or — from job code that does not encode — the log itself, which `runJob` encodes.
 */
export interface StoredEpisode {
  key: string;
  summary: Record<string, number>;
  encoded?: EncodedEpisode;
  log?: EpisodeLog;
}

export interface JobOutcome {
  /** Stored as the job's result (JSON). */
  result: Record<string, unknown>;
  /** Episode logs for the store (not part of the result). */
  episodes: StoredEpisode[];
  /** Files written under the data dir, recorded as artifacts. */
  artifacts: Array<{ kind: 'policy' | 'checkpoint'; path: string; meta?: unknown }>;
}
