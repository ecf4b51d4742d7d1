import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { TwinlabEvent } from '../engine/events.js';
import { TwinlabError } from '../engine/errors.js';
import { type JobOutcome, type JobTask, runJob } from './job-runner.js';
import { hasPolicy } from '../policies/registry.js';
import type { WorkerMessage } from './worker-protocol.js';

/**
 * Executors run jobs and report back through handlers. This interface is the seam for a distributed
 * executor: a BullMQ (Redis) queue will implement the same `run`/`close` later — jobs are
 * self-contained (`JobTask` is plain JSON: config, seed, data dir), events and results come back as
 * the same messages — so the runner does not change.
 *
 * Contract: every task ends in exactly one of onFinished / onFailed / onCancelled; a job that throws
 * is reported failed (message and stack) and the others continue; tasks start in index order (the
 * order never affects results: seeds come from the job index).
 */
export interface ExecutorHandlers {
  onStarted?(jobId: string): void;
  onEvent(jobId: string, event: TwinlabEvent): void;
  onFinished(jobId: string, outcome: JobOutcome): void;
  onFailed(jobId: string, error: string, stack?: string): void;
  onCancelled?(jobId: string): void;
}

export interface Executor {
  /** Jobs run at the same time. */
  readonly workers: number;
  run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** Runs `runOne` over the tasks with at most `lanes` in flight, in index order; stops starting new ones on abort. */
async function runLanes(
  tasks: JobTask[],
  lanes: number,
  handlers: ExecutorHandlers,
  signal: AbortSignal | undefined,
  runOne: (task: JobTask) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next++] as JobTask;
      if (signal?.aborted) {
        handlers.onCancelled?.(task.id);
        continue;
      }
      handlers.onStarted?.(task.id);
      await runOne(task);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, tasks.length)) }, lane));
}

function errorParts(error: unknown): { message: string; stack?: string } {
  return error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
}

/** Same process, one job at a time: for tests and debugging (breakpoints work, stacks are local). */
export class InlineExecutor implements Executor {
  readonly workers = 1;

  async run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void> {
    await runLanes(jobs, 1, handlers, signal, async (task) => {
      let outcome: JobOutcome;
      try {
        outcome = await runJob(task, (event) => handlers.onEvent(task.id, event), signal);
      } catch (error) {
        if (signal?.aborted) handlers.onCancelled?.(task.id);
        else {
          const { message, stack } = errorParts(error);
          handlers.onFailed(task.id, message, stack);
        }
        return;
      }
      handlers.onFinished(task.id, outcome);
    });
  }

  async close(): Promise<void> {}
}

/** A worker module next to this file, with this file's extension (.ts under tsx, .js when compiled). */
export function workerFile(name: 'worker' | 'worker-light' = 'worker'): string {
  const here = fileURLToPath(import.meta.url);
  return join(dirname(here), `${name}${extname(here)}`);
}

/** Trial jobs whose arm is a registered protocol need no tfjs: they go to the light worker. */
export function needsFullWorker(task: JobTask): boolean {
  return task.config.kind !== 'trial' || !hasPolicy(task.config.arm.policy);
}

export interface PiscinaExecutorOptions {
  /** Worker threads (default: os.availableParallelism()). */
  workers?: number;
  /** Worker module for every job (default: worker.ts, or worker-light.ts for protocol-only trial jobs). */
  filename?: string;
}

/** How long to wait for a worker's final port message after its task resolved (it was posted before). */
const FINAL_MESSAGE_GRACE_MS = 5_000;

/**
 * Piscina 5 pool, one job per worker at a time (each worker has its own tfjs instance). Events stream
 * back over a dedicated MessageChannel per job as they happen.
 */
export class PiscinaExecutor implements Executor {
  readonly workers: number;
  private pool: Piscina | undefined;
  private readonly filename: string | undefined;

  constructor(options: PiscinaExecutorOptions = {}) {
    const workers = options.workers ?? availableParallelism();
    if (!Number.isInteger(workers) || workers < 1) throw new TwinlabError('INVALID_ARGUMENT', `workers must be an integer ≥ 1, got ${workers}`);
    this.workers = workers;
    // A plain path: Piscina require()s it first, which is the route tsx supports inside worker
    // threads under Node 20 (its ESM hooks do not reach workers) — hence also no dynamic import()
    // anywhere in the worker's module graph.
    this.filename = options.filename;
  }

  private getPool(): Piscina {
    this.pool ??= new Piscina({ filename: this.filename ?? workerFile('worker-light'), minThreads: 0, maxThreads: this.workers, idleTimeout: 30_000, concurrentTasksPerWorker: 1 });
    return this.pool;
  }

  async run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void> {
    const pool = this.getPool();
    const running = new Set<MessagePort>();
    const onAbort = (): void => {
      for (const port of running) port.postMessage({ type: 'cancel' });
    };
    signal?.addEventListener('abort', onAbort);
    try {
      await runLanes(jobs, this.workers, handlers, signal, (task) => this.runOne(pool, task, handlers, running));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private runOne(pool: Piscina, task: JobTask, handlers: ExecutorHandlers, running: Set<MessagePort>): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    running.add(port1);
    return new Promise<void>((resolve) => {
      let settled = false;
      let grace: NodeJS.Timeout | undefined;
      const settle = (report: () => void): void => {
        if (settled) return;
        settled = true;
        if (grace) clearTimeout(grace);
        running.delete(port1);
        port1.close();
        try {
          report();
        } finally {
          resolve();
        }
      };
      port1.on('message', (message: WorkerMessage) => {
        if (settled) return;
        if (message.type === 'event') handlers.onEvent(task.id, message.event);
        else if (message.type === 'finished') settle(() => handlers.onFinished(task.id, message.outcome));
        else if (message.cancelled) settle(() => (handlers.onCancelled ? handlers.onCancelled(task.id) : handlers.onFailed(task.id, 'cancelled')));
        else settle(() => handlers.onFailed(task.id, message.error, message.stack));
      });
      pool.run({ task, port: port2 }, { transferList: [port2], filename: this.filename ?? workerFile(needsFullWorker(task) ? 'worker' : 'worker-light') }).then(
        () => {
          grace = setTimeout(() => settle(() => handlers.onFailed(task.id, 'worker finished without reporting a result')), FINAL_MESSAGE_GRACE_MS);
        },
        (error: unknown) => {
          const { message, stack } = errorParts(error);
          settle(() => handlers.onFailed(task.id, `worker crashed: ${message}`, stack));
        },
      );
    });
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}
