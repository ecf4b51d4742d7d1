import type { EventSink } from '../engine/events.js';
import { encodeEpisode } from './episode-codec.js';
import { loadSavedPolicy } from '../policies/saved.js';
import type { JobOutcome, JobTask } from './job-types.js';
import type { TrainJobConfig } from './jobs.js';
import { runTrainJob } from './train-job.js';
import { runTrialBlockJob } from './trial-blocks.js';
import { type EnvPool, runTrialJob } from './trial-job.js';

export type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';
export { aggregateEndpoint, episodeKey } from './trial-job.js';

/**
 * Executes one job, in a worker thread or inline — the same code either way, so a job's result does
 * not depend on where it ran. Events go to `emit` as they happen. Episode logs travel back in the
 * outcome already encoded and compressed (`encodeEpisode`); the main thread writes the bytes as is.
 *
 * This module loads tfjs (DQN training, saved policies). Trials whose arms are all registered
 * protocols run in the light worker (worker-light.ts → trial-job.ts) instead. All imports are static:
 * under tsx, worker threads load modules through the CommonJS route where dynamic import() of .ts fails.
 */
export async function runJob(task: JobTask, emit: EventSink, signal?: AbortSignal, envs?: EnvPool): Promise<JobOutcome> {
  if (task.config.kind === 'trial') return runTrialJob(task, task.config, emit, loadSavedPolicy, envs);
  if (task.config.kind === 'trial-block') return runTrialBlockJob(task, task.config, emit, loadSavedPolicy, signal);
  return encodeEpisodes(await runTrainJob(task, task.config as TrainJobConfig, emit, signal));
}

/** Encodes the outcome's plain episode logs for the store (in place), so they leave the job compact. */
export function encodeEpisodes(outcome: JobOutcome): JobOutcome {
  for (const e of outcome.episodes) {
    if (e.encoded === undefined && e.log !== undefined) {
      e.encoded = encodeEpisode(e.log);
      delete e.log;
    }
  }
  return outcome;
}
