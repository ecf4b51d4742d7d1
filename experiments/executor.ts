import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { TwinlabEvent } from '../engine/events.js';
import { TwinlabError } from '../engine/errors.js';
import { type JobOutcome, type JobTask, runJob } from './job-runner.js';
import { hasPolicy } from '../policies/registry.js';
import type { WorkerMessage, WorkerRequest } from './worker-protocol.js';

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
  /**
   * Optional: start the workers and load the worker module now, so they are ready when `run` comes
   * (the runner calls it before expanding a cohort, which takes a while on the main thread). Never
   * affects results.
   */
  warmUp?(kind: 'light' | 'full'): void;
  run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `runBatch` over the batches with at most `lanes` in flight, in index order; stops starting new
 * ones on abort. Every job of a batch is reported started when the batch is handed over.
 */
async function runLanes(
  batches: JobTask[][],
  lanes: number,
  handlers: ExecutorHandlers,
  signal: AbortSignal | undefined,
  runBatch: (batch: JobTask[]) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++] as JobTask[];
      if (signal?.aborted) {
        for (const task of batch) handlers.onCancelled?.(task.id);
        continue;
      }
      for (const task of batch) handlers.onStarted?.(task.id);
      await runBatch(batch);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, batches.length)) }, lane));
}

/** Most jobs in one pool task. */
const MAX_BATCH = 16;

/**
 * Groups consecutive trial jobs that simulate the same env with the same options — the arms of one
 * patient and replicate — into one pool task: they run one after the other in the same worker, which
 * builds the patient's env once (see `EnvPool` in trial-job.ts) and pays the per-task round trip once.
 * Other jobs (training) run alone. Grouping never changes results: each job still resets the env with
 * its own seed, and `reset({ seed })` fully determines an episode (conformance check 5).
 */
export function batchTasks(tasks: JobTask[]): JobTask[][] {
  const batches: JobTask[][] = [];
  let key: string | undefined;
  for (const task of tasks) {
    const k =
      task.config.kind === 'trial' ? `${needsFullWorker(task) ? 'full' : 'light'}\0${JSON.stringify([task.config.envId, task.config.envOptions])}` : undefined;
    const last = batches[batches.length - 1];
    if (k !== undefined && k === key && last !== undefined && last.length < MAX_BATCH) last.push(task);
    else batches.push([task]);
    key = k;
  }
  return batches;
}

function errorParts(error: unknown): { message: string; stack?: string } {
  return error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
}

/** Same process, one job at a time: for tests and debugging (breakpoints work, stacks are local). */
export class InlineExecutor implements Executor {
  readonly workers = 1;

  async run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void> {
    await runLanes(
      jobs.map((task) => [task]),
      1,
      handlers,
      signal,
      async ([task]) => {
        if (task === undefined) return;
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
      },
    );
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
  if (task.config.kind === 'trial-block') return !task.config.shape.arms.every((a) => hasPolicy(a.policy));
  return task.config.kind !== 'trial' || !hasPolicy(task.config.arm.policy);
}

export interface PiscinaExecutorOptions {
  /** Worker threads (default: os.availableParallelism()). */
  workers?: number;
  /** Worker module for every job (default: worker.ts, or worker-light.ts for protocol-only trial jobs). */
  filename?: string;
}

/** Jobs in flight per worker thread (one running, the rest queued in Piscina). */
const PREFETCH_LANES = 2;

/** How long to wait for a worker's final port message after its task resolved (it was posted before). */
const FINAL_MESSAGE_GRACE_MS = 5_000;

/**
 * Piscina 5 pool, one pool task per worker at a time (each worker has its own tfjs instance) and one
 * more queued per worker. A task is a batch of jobs (`batchTasks`: the arms of one trial patient, or a
 * single training job); its jobs are reported started when it is handed to the pool. Events and
 * results stream back over one MessageChannel per task, tagged with the job id, as they happen.
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
    this.pool ??= new Piscina({
      filename: this.filename ?? workerFile('worker-light'),
      minThreads: 0,
      maxThreads: this.workers,
      idleTimeout: 30_000,
      concurrentTasksPerWorker: 1,
    });
    return this.pool;
  }

  warmUp(kind: 'light' | 'full'): void {
    const pool = this.getPool();
    const filename = this.filename ?? workerFile(kind === 'full' ? 'worker' : 'worker-light');
    for (let i = 0; i < this.workers; i++) {
      const { port1, port2 } = new MessageChannel();
      const request: WorkerRequest = { tasks: [], port: port2 };
      pool.run(request, { transferList: [port2], filename }).then(
        () => port1.close(),
        () => port1.close(), // a worker that cannot start fails the real jobs with the reason
      );
    }
  }

  async run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void> {
    const pool = this.getPool();
    const running = new Set<MessagePort>();
    const onAbort = (): void => {
      for (const port of running) port.postMessage({ type: 'cancel' });
    };
    signal?.addEventListener('abort', onAbort);
    try {
      // Twice as many lanes as workers: Piscina then holds each worker's next batch and hands it over as
      // soon as the worker is free, instead of after the main thread has stored the previous results
      // and scheduled the next batch (short jobs, such as a trial's patient-days, idled ≈ 10 % otherwise).
      await runLanes(batchTasks(jobs), this.workers * PREFETCH_LANES, handlers, signal, (batch) => this.runBatch(pool, batch, handlers, running));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private runBatch(pool: Piscina, tasks: JobTask[], handlers: ExecutorHandlers, running: Set<MessagePort>): Promise<void> {
    const { port1, port2 } = new MessageChannel();
    running.add(port1);
    const pending = new Set(tasks.map((t) => t.id));
    return new Promise<void>((resolve) => {
      let grace: NodeJS.Timeout | undefined;
      const done = (): void => {
        if (grace) clearTimeout(grace);
        running.delete(port1);
        port1.close();
        resolve();
      };
      const settle = (jobId: string, report: () => void): void => {
        if (!pending.delete(jobId)) return;
        try {
          report();
        } finally {
          if (pending.size === 0) done();
        }
      };
      const failRest = (error: string, stack?: string): void => {
        for (const jobId of [...pending]) settle(jobId, () => handlers.onFailed(jobId, error, stack));
      };
      port1.on('message', (message: WorkerMessage) => {
        const jobId = message.jobId;
        if (!pending.has(jobId)) return;
        if (message.type === 'events') for (const event of message.events) handlers.onEvent(jobId, event);
        else if (message.type === 'finished') settle(jobId, () => handlers.onFinished(jobId, message.outcome));
        else if (message.cancelled) settle(jobId, () => (handlers.onCancelled ? handlers.onCancelled(jobId) : handlers.onFailed(jobId, 'cancelled')));
        else settle(jobId, () => handlers.onFailed(jobId, message.error, message.stack));
      });
      const first = tasks[0] as JobTask;
      const request: WorkerRequest = { tasks, port: port2 };
      pool.run(request, { transferList: [port2], filename: this.filename ?? workerFile(needsFullWorker(first) ? 'worker' : 'worker-light') }).then(
        () => {
          if (pending.size > 0) grace = setTimeout(() => failRest('worker finished without reporting a result'), FINAL_MESSAGE_GRACE_MS);
        },
        (error: unknown) => {
          const { message, stack } = errorParts(error);
          failRest(`worker crashed: ${message}`, stack);
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
