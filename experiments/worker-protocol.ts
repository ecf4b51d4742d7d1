import type { MessagePort } from 'node:worker_threads';
import type { TwinlabEvent } from '../engine/events.js';
import type { JobOutcome, JobTask } from './job-types.js';

/**
 * The port protocol between a worker and the executor. A pool task is a batch of jobs run one after
 * the other (see `batchTasks` in executor.ts) with one port. For each job, its events are posted as
 * they happen and then one `finished` (with the outcome; encoded episode bytes are transferred, not
 * copied) or `failed` (message and stack) message, all tagged with the job id, so the main thread never
 * depends on the ordering between the port and Piscina's own result channel. A `{ type: 'cancel' }`
 * message from the main thread aborts the running job cooperatively and cancels the batch's rest.
 */
export interface WorkerRequest {
  tasks: JobTask[];
  port: MessagePort;
}

export type WorkerMessage =
  | { type: 'event'; jobId: string; event: TwinlabEvent }
  | { type: 'finished'; jobId: string; outcome: JobOutcome }
  | { type: 'failed'; jobId: string; error: string; stack?: string; cancelled: boolean };

export type JobFunction = (task: JobTask, emit: (e: TwinlabEvent) => void, signal: AbortSignal) => Promise<JobOutcome>;

export async function serveJobs(tasks: JobTask[], port: MessagePort, run: JobFunction): Promise<boolean> {
  const controller = new AbortController();
  port.on('message', (message: { type?: string }) => {
    if (message?.type === 'cancel') controller.abort();
  });
  let ok = true;
  try {
    // A batch queued in the pool may have been cancelled before it started: let that message arrive first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (const task of tasks) {
      const jobId = task.id;
      try {
        if (controller.signal.aborted) throw new Error('cancelled before it started');
        const outcome = await run(task, (event) => port.postMessage({ type: 'event', jobId, event } satisfies WorkerMessage), controller.signal);
        const transfer = new Set<ArrayBuffer>();
        for (const e of outcome.episodes) if (e.encoded && e.encoded.bytes.buffer instanceof ArrayBuffer) transfer.add(e.encoded.bytes.buffer);
        port.postMessage({ type: 'finished', jobId, outcome } satisfies WorkerMessage, [...transfer]);
      } catch (error) {
        ok = false;
        const e = error instanceof Error ? error : new Error(String(error));
        port.postMessage({ type: 'failed', jobId, error: e.message, stack: e.stack, cancelled: controller.signal.aborted } satisfies WorkerMessage);
      }
    }
    return ok;
  } finally {
    port.close();
  }
}
