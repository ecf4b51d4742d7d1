import type { MessagePort } from 'node:worker_threads';
import { runJob } from './job-runner.js';
import type { JobTask } from './job-types.js';
import { serveJob } from './worker-protocol.js';

/**
 * The full Piscina worker: runs any job (training, and trials with saved learned policies; it loads
 * tfjs). See worker-protocol.ts for the messages. No top-level await here or in anything it
 * imports (it breaks loading through tsx).
 */
export default function runInWorker({ task, port }: { task: JobTask; port: MessagePort }): Promise<boolean> {
  return serveJob(task, port, runJob);
}
