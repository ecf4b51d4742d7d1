import type { EventSink } from '../engine/events.js';
import { loadSavedPolicy } from '../policies/saved.js';
import type { JobOutcome, JobTask } from './job-types.js';
import type { TrainJobConfig } from './jobs.js';
import { runTrainJob } from './train-job.js';
import { runTrialJob } from './trial-job.js';

export type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';
export { aggregateEndpoint, episodeKey } from './trial-job.js';

/**
 * Executes one job, in a worker thread or inline — the same code either way, so a job's result does
 * not depend on where it ran. Events go to `emit` as they happen. Episode logs travel back in the
 * outcome and the main thread stores them.
 *
 * This module loads tfjs (DQN training, saved policies). Trials whose arms are all registered
 * protocols run in the light worker (worker-light.ts → trial-job.ts) instead. All imports are static:
 * under tsx, worker threads load modules through the CommonJS route where dynamic import() of .ts fails.
 */
export async function runJob(task: JobTask, emit: EventSink, signal?: AbortSignal): Promise<JobOutcome> {
  if (task.config.kind === 'trial') return runTrialJob(task, task.config, emit, loadSavedPolicy);
  return runTrainJob(task, task.config as TrainJobConfig, emit, signal);
}
