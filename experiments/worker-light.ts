import type { MessagePort } from 'node:worker_threads';
import type { JobTask } from './job-types.js';
import type { TrialBlockConfig, TrialJobConfig } from './jobs.js';
import { runTrialBlockJob } from './trial-blocks.js';
import { EnvPool, runTrialJob } from './trial-job.js';
import { serveJobs } from './worker-protocol.js';

/**
 * Light Piscina worker for trial jobs whose arm is a registered protocol: it never loads tfjs, so it
 * starts in a fraction of the time of the full worker (worker.ts), which the executor uses for
 * training jobs and saved-policy arms. The jobs of one batch (the arms of a patient) share its envs.
 */
export default async function runInLightWorker({ tasks, port }: { tasks: JobTask[]; port: MessagePort }): Promise<boolean> {
  const envs = new EnvPool();
  try {
    return await serveJobs(tasks, port, (t, emit, signal) =>
      t.config.kind === 'trial-block'
        ? runTrialBlockJob(t, t.config as TrialBlockConfig, emit, undefined, signal)
        : runTrialJob(t, t.config as TrialJobConfig, emit, undefined, envs),
    );
  } finally {
    envs.close();
  }
}
