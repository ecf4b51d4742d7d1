import type { MessagePort } from 'node:worker_threads';
import { TwinlabError } from '../engine/errors.js';
import type { TwinlabEvent } from '../engine/events.js';
import type { JobOutcome, JobTask } from './job-types.js';

/**
 * The port protocol between a worker and the executor. A pool task is a batch of jobs run one after
 * the other (see `batchTasks` in executor.ts) with one port. For each job, its events are posted in
 * small batches (every EVENT_BATCH_MS or EVENT_BATCH_SIZE events, whichever comes first — one message
 * per event would make the main thread's message handling a bottleneck for fast jobs) and then one `finished` (with the outcome; encoded episode bytes are transferred, not
 * copied) or `failed` (message and stack) message, all tagged with the job id, so the main thread never
 * depends on the ordering between the port and Piscina's own result channel. A `{ type: 'cancel' }`
 * message from the main thread aborts the running job cooperatively and cancels the batch's rest.
 */
export interface WorkerRequest {
  tasks: JobTask[];
  port: MessagePort;
}

export type WorkerMessage =
  | { type: 'events'; jobId: string; events: TwinlabEvent[] }
  | { type: 'finished'; jobId: string; outcome: JobOutcome }
  | { type: 'failed'; jobId: string; error: string; stack?: string; cancelled: boolean };

const EVENT_BATCH_MS = 15;
const EVENT_BATCH_SIZE = 256;

/** Buffers a job's events and posts them in batches; flushes on size, on age (checked at each event and by a timer when the job yields) and on demand. */
class EventBatcher {
  private events: TwinlabEvent[] = [];
  private firstAt = 0;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly port: MessagePort,
    private readonly jobId: string,
  ) {}
  push(event: TwinlabEvent): void {
    const now = Date.now();
    if (this.events.length === 0) {
      this.firstAt = now;
      this.timer = setTimeout(() => this.flush(), EVENT_BATCH_MS);
    }
    this.events.push(event);
    if (this.events.length >= EVENT_BATCH_SIZE || now - this.firstAt >= EVENT_BATCH_MS) this.flush();
  }
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.events.length === 0) return;
    this.port.postMessage({ type: 'events', jobId: this.jobId, events: this.events } satisfies WorkerMessage);
    this.events = [];
  }
}

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
        if (controller.signal.aborted) throw new TwinlabError('INVALID_STATE', 'cancelled before it started');
        const batcher = new EventBatcher(port, jobId);
        let outcome: JobOutcome;
        try {
          outcome = await run(task, (event) => batcher.push(event), controller.signal);
        } finally {
          batcher.flush();
        }
        const transfer = new Set<ArrayBuffer>();
        for (const e of outcome.episodes) if (e.encoded && e.encoded.bytes.buffer instanceof ArrayBuffer) transfer.add(e.encoded.bytes.buffer);
        port.postMessage({ type: 'finished', jobId, outcome } satisfies WorkerMessage, [...transfer]);
      } catch (error) {
        ok = false;
        const e = error instanceof Error ? error : new TwinlabError('INTERNAL', String(error));
        port.postMessage({ type: 'failed', jobId, error: e.message, stack: e.stack, cancelled: controller.signal.aborted } satisfies WorkerMessage);
      }
    }
    return ok;
  } finally {
    port.close();
  }
}
