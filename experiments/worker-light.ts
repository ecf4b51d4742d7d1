import type { MessagePort } from 'node:worker_threads';
import type { JobTask } from './job-types.js';
import type { TrialJobConfig } from './jobs.js';
import { runTrialJob } from './trial-job.js';
import { serveJob } from './worker-protocol.js';

/**
 * Light Piscina worker for trial jobs whose arm is a registered protocol: it never loads tfjs, so it
 * starts in a fraction of the time of the full worker (worker.ts), which the executor uses for
 * training jobs and saved-policy arms.
 */
export default function runInLightWorker({ task, port }: { task: JobTask; port: MessagePort }): Promise<boolean> {
  return serveJob(task, port, (t, emit) => runTrialJob(t, t.config as TrialJobConfig, emit));
}
