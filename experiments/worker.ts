import type { MessagePort } from 'node:worker_threads';
import { runJob } from './job-runner.js';
import type { JobTask } from './job-types.js';
import { EnvPool } from './trial-job.js';
import { serveJobs } from './worker-protocol.js';

/**
 * The full Piscina worker: runs any job (training, and trials with saved learned policies; it loads
 * tfjs). See worker-protocol.ts for the messages. No top-level await here or in anything it
 * imports (it breaks loading through tsx).
 */
export default async function runInWorker({ tasks, port }: { tasks: JobTask[]; port: MessagePort }): Promise<boolean> {
  const envs = new EnvPool();
  try {
    return await serveJobs(tasks, port, (task, emit, signal) => runJob(task, emit, signal, envs));
  } finally {
    envs.close();
  }
}
