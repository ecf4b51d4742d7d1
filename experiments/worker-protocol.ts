import type { MessagePort } from 'node:worker_threads';
import type { TwinlabEvent } from '../engine/events.js';
import type { JobOutcome, JobTask } from './job-types.js';

/**
 * The port protocol between a worker and the executor. Events are posted on `port` as they happen;
 * the last message is `finished` (with the outcome) or `failed` (message and stack), so the main
 * thread never depends on the ordering between the port and Piscina's own result channel. A
 * `{ type: 'cancel' }` message from the main thread aborts the job cooperatively.
 */
export type WorkerMessage =
  | { type: 'event'; event: TwinlabEvent }
  | { type: 'finished'; outcome: JobOutcome }
  | { type: 'failed'; error: string; stack?: string; cancelled: boolean };

export async function serveJob(task: JobTask, port: MessagePort, run: (task: JobTask, emit: (e: TwinlabEvent) => void, signal: AbortSignal) => Promise<JobOutcome>): Promise<boolean> {
  const controller = new AbortController();
  port.on('message', (message: { type?: string }) => {
    if (message?.type === 'cancel') controller.abort();
  });
  try {
    const outcome = await run(task, (event) => port.postMessage({ type: 'event', event } satisfies WorkerMessage), controller.signal);
    port.postMessage({ type: 'finished', outcome } satisfies WorkerMessage);
    return true;
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    port.postMessage({ type: 'failed', error: e.message, stack: e.stack, cancelled: controller.signal.aborted } satisfies WorkerMessage);
    return false;
  } finally {
    port.close();
  }
}
