import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Job, Queue, type QueueOptions, UnrecoverableError, Worker } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { z } from 'zod';
import type { TwinlabEvent } from '../engine/events.js';
import { TwinlabError } from '../engine/errors.js';
import { codeVersion } from './code-version.js';
import type { EncodedEpisode } from './episode-codec.js';
import { type Executor, type ExecutorHandlers, PiscinaExecutor } from './executor.js';
import type { JobOutcome, JobTask, StoredEpisode } from './job-types.js';

/**
 * Distributed execution over Redis with BullMQ (issue #15). The coordinator — the process that owns
 * the SQLite store (`twinlab run/resume --executor redis`, or the server) — puts batches of jobs on a
 * BullMQ queue; `twinlab worker` processes on any number of hosts take them, run them with the same
 * job runner as the Piscina pool (so results are bit-identical), and report back through one Redis
 * stream per experiment, in order: `started` (one attempt of one job), `events`, then `finished`
 * (the outcome, episode bytes in base64) or `failed`. The coordinator reads that stream and calls the
 * runner's handlers, so the runner and store do not know where jobs ran.
 *
 * - Queue jobs (`queueBatches`: up to `batchSize` trial jobs, default 64; a training job or a streaming trial's block alone) keep the per-job queue cost low.
 *   A BullMQ job id is derived from the experiment and the batch's job indices, so a resumed
 *   coordinator re-attaches to a batch still queued (or already done) instead of queueing it again.
 * - At most `window` batches are outstanding at a time: Redis and coordinator memory stay bounded
 *   whatever the cohort size.
 * - Results are keyed by job: the first result settles a job, later ones (a retried attempt of a
 *   worker presumed dead) are ignored. A job seen starting under a new attempt token before it
 *   settled is reported started again, which makes the runner drop the previous attempt's events.
 * - Lost stream entries (trimmed, or Redis restarted) are recovered by a reconcile loop: a batch whose
 *   BullMQ job completed is settled from its return value; a failed one fails its unsettled jobs with
 *   BullMQ's reason; a vanished one (Redis restarted without persistence) is queued again.
 * - Redis unreachable for longer than `unreachableMs` fails the run with a one-line reason.
 */

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_QUEUE = 'twinlab';
/** Version of the queue payload and stream messages. */
export const WIRE_VERSION = 1;

export interface RedisTarget {
  /** ioredis options (host, port, username, password, db, tls). */
  options: RedisOptions;
  /** The URL without its password, for messages and logs. */
  display: string;
}

/**
 * Parses `redis://[user[:password]@]host[:port][/db]` or `rediss://…` (TLS; the server's certificate
 * is verified against the system CAs). Anything else is INVALID_ARGUMENT naming `--redis`; the
 * password never appears in messages (`display`).
 */
export function parseRedisUrl(url: string = DEFAULT_REDIS_URL, argument = '--redis'): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TwinlabError('INVALID_ARGUMENT', `${argument} must be a URL like redis://127.0.0.1:6379, got "${redact(url)}"`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new TwinlabError('INVALID_ARGUMENT', `${argument} must start with redis:// or rediss:// (TLS), got ${parsed.protocol}//`);
  }
  if (parsed.hostname === '') throw new TwinlabError('INVALID_ARGUMENT', `${argument} has no host`);
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const dbText = parsed.pathname.replace(/^\/+/, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new TwinlabError('INVALID_ARGUMENT', `${argument}: database must be an integer ≥ 0, got "${dbText}"`);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const options: RedisOptions = { host, port, db };
  if (parsed.username !== '') options.username = decodeURIComponent(parsed.username);
  if (parsed.password !== '') options.password = decodeURIComponent(parsed.password);
  if (parsed.protocol === 'rediss:') options.tls = { servername: host };
  const auth = parsed.username !== '' ? `${parsed.username}${parsed.password !== '' ? ':***' : ''}@` : parsed.password !== '' ? ':***@' : '';
  return { options, display: `${parsed.protocol}//${auth}${parsed.host}${db !== 0 ? `/${db}` : ''}` };
}

/** A URL with any password replaced by ***. */
export function redact(text: string): string {
  return text.replace(/(rediss?:\/\/[^:@/\s]*:)[^@/\s]*@/g, '$1***@');
}

/** BullMQ needs `maxRetriesPerRequest: null` on connections used by workers (blocking commands). */
export function connectionOptions(target: RedisTarget, extra: RedisOptions = {}): RedisOptions {
  return { ...target.options, maxRetriesPerRequest: null, enableOfflineQueue: true, ...extra };
}

export function checkQueueName(name: string, argument = '--queue'): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(name)) {
    throw new TwinlabError('INVALID_ARGUMENT', `${argument} must be 1–64 letters, digits, '_', '.' or '-' (starting with a letter or digit), got "${name}"`);
  }
  return name;
}

/** Redis keys of one queue (BullMQ keeps its own under `bull:<queue>:`). */
export const keys = {
  stream: (queue: string, experimentId: string) => `twinlab:${queue}:stream:${experimentId}`,
  workers: (queue: string) => `twinlab:${queue}:workers`,
  cancel: (queue: string) => `twinlab:${queue}:cancel`,
};

/** A BullMQ job id for a batch: stable across coordinator restarts (no ':' — BullMQ reserves it). */
export function batchJobId(tasks: JobTask[]): string {
  const first = tasks[0] as JobTask;
  const indices = tasks.map((t) => t.index);
  const contiguous = indices.every((v, i) => v === (indices[0] as number) + i);
  const span = contiguous ? `${indices[0]}-${indices[indices.length - 1]}` : indices.join('.');
  return `${first.experimentId.replace(/[^A-Za-z0-9_.-]/g, '_')}_${span}`;
}

// ---- wire format ---------------------------------------------------------------------------------

export interface BatchPayload {
  v: number;
  codeVersion: string;
  experimentId: string;
  stream: string;
  tasks: JobTask[];
}

/** An outcome as JSON: episode bytes in base64. */
export interface WireOutcome {
  result: Record<string, unknown>;
  episodes: Array<{ key: string; summary: Record<string, number>; bytes?: string; length?: number; log?: unknown }>;
  artifacts: JobOutcome['artifacts'];
}

export function outcomeToWire(outcome: JobOutcome): WireOutcome {
  return {
    result: outcome.result,
    artifacts: outcome.artifacts,
    episodes: outcome.episodes.map((e) =>
      e.encoded ? { key: e.key, summary: e.summary, bytes: Buffer.from(e.encoded.bytes.buffer, e.encoded.bytes.byteOffset, e.encoded.bytes.byteLength).toString('base64'), length: e.encoded.length } : { key: e.key, summary: e.summary, log: e.log },
    ),
  };
}

export function outcomeFromWire(wire: WireOutcome): JobOutcome {
  return {
    result: wire.result,
    artifacts: wire.artifacts,
    episodes: wire.episodes.map((e): StoredEpisode => {
      if (e.bytes !== undefined) {
        const buffer = Buffer.from(e.bytes, 'base64');
        const encoded: EncodedEpisode = { bytes: new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength), length: e.length ?? 0 };
        return { key: e.key, summary: e.summary, encoded };
      }
      return { key: e.key, summary: e.summary, log: e.log as StoredEpisode['log'] };
    }),
  };
}

export type StreamMessage =
  | { t: 'started'; job: string; a: string }
  | { t: 'events'; job: string; a: string; events: TwinlabEvent[] }
  | { t: 'finished'; job: string; a: string; outcome: WireOutcome }
  | { t: 'failed'; job: string; a: string; error: string; stack?: string; final: boolean }
  | { t: 'cancelled'; job: string; a: string };

const StreamMessageSchema = z.object({ t: z.enum(['started', 'events', 'finished', 'failed', 'cancelled']), job: z.string(), a: z.string() }).passthrough();

/** The return value of a batch's BullMQ job (for reconcile when stream entries were lost). */
export interface BatchResult {
  outcomes: Record<string, WireOutcome>;
}

/** Most jobs in one queue job (the payload limit). */
export const MAX_QUEUE_BATCH = 1024;
/** Default jobs per queue job: with one-day glucose patients (≈ 10 ms of CPU per job) the queue's fixed cost per queue job is then spread over 64 jobs. */
export const DEFAULT_QUEUE_BATCH = 64;

/**
 * Queue jobs: consecutive trial jobs (one patient and arm each) grouped up to `batchSize` — the worker's
 * pool splits them again by patient (`batchTasks`), so the arms of a patient still share its env — and
 * every other job (training, a streaming trial's block, already large) alone. Grouping never changes
 * results (jobs are independent; seeds come from job indices).
 */
export function queueBatches(tasks: JobTask[], batchSize: number = DEFAULT_QUEUE_BATCH): JobTask[][] {
  const batches: JobTask[][] = [];
  let open: JobTask[] | undefined;
  for (const task of tasks) {
    if (task.config.kind !== 'trial') {
      batches.push([task]);
      open = undefined;
      continue;
    }
    if (open === undefined || open.length >= batchSize) {
      open = [];
      batches.push(open);
    }
    open.push(task);
  }
  return batches;
}

/** Stream entries kept per experiment (approximate trim): bounds Redis memory when the coordinator is away. */
export const STREAM_MAXLEN = 20_000;

// ---- coordinator ---------------------------------------------------------------------------------

export interface RedisExecutorOptions {
  /** `redis://…` or `rediss://…` (default: loopback). */
  url?: string;
  /** Queue name (default `twinlab`): workers started with the same `--queue` take the jobs. */
  queue?: string;
  /** Batches outstanding at a time (default 256). */
  window?: number;
  /** Trial jobs per queue job (default 64, at most 1024; see `queueBatches`). */
  batchSize?: number;
  /** Attempts per batch before its jobs are recorded failed (default 2). */
  attempts?: number;
  /** Fail the run when Redis has been unreachable this long (default 30 s). */
  unreachableMs?: number;
  /** How often outstanding batches are checked against BullMQ (default 1 s). */
  reconcileMs?: number;
  /** The code version jobs require (default: this process's). */
  codeVersion?: string;
  /** Concurrency reported as `workers` (only informative: the workers decide). */
  workers?: number;
}

interface WorkerAnnouncement {
  id: string;
  host: string;
  pid: number;
  codeVersion: string;
  backend: string;
  concurrency: number;
  startedAt: string;
  seenAt: number;
}

export class RedisExecutor implements Executor {
  readonly workers: number;
  readonly target: RedisTarget;
  readonly queueName: string;
  private readonly window: number;
  readonly batchSize: number;
  private readonly attempts: number;
  private readonly unreachableMs: number;
  private readonly reconcileMs: number;
  private readonly version: string;
  private connection: Redis | undefined;
  private queue: Queue | undefined;

  constructor(options: RedisExecutorOptions = {}) {
    this.target = parseRedisUrl(options.url ?? DEFAULT_REDIS_URL);
    this.queueName = checkQueueName(options.queue ?? DEFAULT_QUEUE);
    this.window = options.window ?? 256;
    this.batchSize = options.batchSize ?? DEFAULT_QUEUE_BATCH;
    this.attempts = options.attempts ?? 2;
    this.unreachableMs = options.unreachableMs ?? 30_000;
    this.reconcileMs = options.reconcileMs ?? 1_000;
    this.version = options.codeVersion ?? queueCodeVersion();
    this.workers = options.workers ?? 1;
    for (const [name, value, min] of [
      ['window', this.window, 1],
      ['attempts', this.attempts, 1],
      ['batchSize', this.batchSize, 1],
    ] as const) {
      if (!Number.isInteger(value) || value < min) throw new TwinlabError('INVALID_ARGUMENT', `${name} must be an integer ≥ ${min}, got ${value}`);
    }
    if (this.batchSize > MAX_QUEUE_BATCH) throw new TwinlabError('INVALID_ARGUMENT', `batchSize must be at most ${MAX_QUEUE_BATCH}, got ${this.batchSize}`);
  }

  private getQueue(): { queue: Queue; redis: Redis } {
    if (this.queue === undefined || this.connection === undefined) {
      this.connection = new Redis(connectionOptions(this.target, { lazyConnect: false }));
      this.connection.on('error', () => {}); // reported through failing commands and the unreachable timer
      const options: QueueOptions = { connection: this.connection };
      this.queue = new Queue(this.queueName, options);
      this.queue.on('error', () => {});
    }
    return { queue: this.queue, redis: this.connection };
  }

  /** Workers that announced themselves on this queue in the last 30 s. */
  async listWorkers(): Promise<WorkerAnnouncement[]> {
    const { redis } = this.getQueue();
    const all = await redis.hgetall(keys.workers(this.queueName));
    const now = Date.now();
    return Object.values(all)
      .map((v) => JSON.parse(v) as WorkerAnnouncement)
      .filter((w) => now - w.seenAt < 30_000);
  }

  async run(jobs: JobTask[], handlers: ExecutorHandlers, signal?: AbortSignal): Promise<void> {
    if (jobs.length === 0) return;
    const { queue, redis } = this.getQueue();
    const run = new CoordinatorRun(this, queue, redis, jobs, handlers, signal, {
      window: this.window,
      batchSize: this.batchSize,
      attempts: this.attempts,
      unreachableMs: this.unreachableMs,
      reconcileMs: this.reconcileMs,
      codeVersion: this.version,
    });
    await run.execute();
  }

  async close(): Promise<void> {
    const queue = this.queue;
    const connection = this.connection;
    this.queue = undefined;
    this.connection = undefined;
    await queue?.close().catch(() => {});
    connection?.disconnect();
  }
}

interface Outstanding {
  bullId: string;
  tasks: JobTask[];
  completedSeenAt?: number;
}

class CoordinatorRun {
  private readonly stream: string;
  private readonly experimentId: string;
  /** Settled job ids (finished, failed or cancelled): later results for them are ignored. */
  private readonly settled = new Set<string>();
  /** Current attempt token per unsettled job, and the tokens it has left behind. */
  private readonly attempt = new Map<string, string>();
  private readonly retired = new Map<string, Set<string>>();
  private readonly outstanding = new Map<string, Outstanding>();
  private readonly batchOf = new Map<string, Outstanding>();
  private readonly batches: JobTask[][];
  private nextBatch = 0;
  private failure: Error | undefined;
  private unreachableSince: number | undefined;
  private lastError = '';
  private wake: (() => void) | undefined;
  private reconciling = false;
  /** Resolves when the run must stop waiting on Redis (failure or abort): commands queue while Redis is down. */
  private readonly stopped: Promise<void>;
  private stop: () => void = () => {};

  constructor(
    private readonly owner: RedisExecutor,
    private readonly queue: Queue,
    private readonly redis: Redis,
    private readonly jobs: JobTask[],
    private readonly handlers: ExecutorHandlers,
    private readonly signal: AbortSignal | undefined,
    private readonly options: { window: number; batchSize: number; attempts: number; unreachableMs: number; reconcileMs: number; codeVersion: string },
  ) {
    this.experimentId = (jobs[0] as JobTask).experimentId;
    this.stream = keys.stream(owner.queueName, this.experimentId);
    this.batches = queueBatches(jobs, options.batchSize);
    this.stopped = new Promise<void>((resolve) => {
      this.stop = resolve;
    });
  }

  /** `promise`, or undefined once the run stops (Redis down too long, or aborted). */
  private until<T>(promise: Promise<T>): Promise<T | undefined> {
    promise.catch(() => {});
    return Promise.race([promise, this.stopped.then(() => undefined)]);
  }

  private get remaining(): number {
    return this.jobs.length - this.settled.size;
  }

  async execute(): Promise<void> {
    const reader = this.redis.duplicate();
    reader.on('error', () => {});
    const onAbort = (): void => {
      this.stop();
      this.wake?.();
    };
    if (this.signal?.aborted) onAbort();
    this.signal?.addEventListener('abort', onAbort);
    const reconcile = setInterval(() => void this.reconcile(), this.options.reconcileMs);
    try {
      await this.fill();
      let lastId = '0';
      while (this.remaining > 0 && this.failure === undefined && !this.signal?.aborted) {
        type XReadReply = Array<[string, Array<[string, string[]]>]> | null;
        let reply: XReadReply;
        try {
          reply = (await Promise.race([
            reader.xread('COUNT', 500, 'BLOCK', 500, 'STREAMS', this.stream, lastId),
            new Promise<null>((resolve) => {
              this.wake = () => resolve(null);
            }),
          ])) as XReadReply;
          this.reachable();
        } catch (error) {
          this.unreachable(error);
          await new Promise((resolve) => setTimeout(resolve, 200));
          continue;
        }
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            lastId = id;
            const raw = fields[1];
            if (raw !== undefined) this.handle(raw);
          }
        }
        await this.fill();
      }
      if (this.failure !== undefined) throw this.failure;
      if (this.signal?.aborted) await this.cancelRest();
      else await this.cleanUp();
    } finally {
      clearInterval(reconcile);
      this.signal?.removeEventListener('abort', onAbort);
      reader.disconnect();
    }
  }

  /** Queues batches until `window` are outstanding. */
  private async fill(): Promise<void> {
    while (this.outstanding.size < this.options.window && this.nextBatch < this.batches.length && !this.signal?.aborted) {
      const tasks = this.batches[this.nextBatch++] as JobTask[];
      const open = tasks.filter((t) => !this.settled.has(t.id));
      if (open.length === 0) continue;
      await this.enqueue(open);
    }
  }

  private async enqueue(tasks: JobTask[]): Promise<void> {
    const bullId = batchJobId(tasks);
    const entry: Outstanding = { bullId, tasks };
    this.outstanding.set(bullId, entry);
    for (const t of tasks) this.batchOf.set(t.id, entry);
    const payload: BatchPayload = { v: WIRE_VERSION, codeVersion: this.options.codeVersion, experimentId: this.experimentId, stream: this.stream, tasks };
    for (;;) {
      try {
        // Same id as a batch still in Redis: BullMQ keeps the existing one (re-attach on resume). The
        // coordinator removes a batch once all its jobs are settled; the ages only bound what a
        // coordinator that never comes back leaves behind.
        await this.until(this.queue.add('batch', payload, { jobId: bullId, attempts: this.options.attempts, removeOnComplete: { age: 3_600 }, removeOnFail: { age: 86_400 } }));
        this.reachable();
        return;
      } catch (error) {
        this.unreachable(error);
        if (this.failure !== undefined || this.signal?.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  private handle(raw: string): void {
    let message: StreamMessage;
    try {
      message = StreamMessageSchema.parse(JSON.parse(raw)) as StreamMessage;
    } catch {
      return; // not ours / malformed: ignored
    }
    const jobId = message.job;
    if (this.settled.has(jobId) || !this.batchOf.has(jobId)) return;
    if (this.retired.get(jobId)?.has(message.a)) return;
    const current = this.attempt.get(jobId);
    if (current !== message.a) {
      if (message.t !== 'started') return; // events of an attempt whose start was trimmed away: wait for its result via reconcile
      if (current !== undefined) {
        let old = this.retired.get(jobId);
        if (old === undefined) {
          old = new Set();
          this.retired.set(jobId, old);
        }
        old.add(current);
      }
      this.attempt.set(jobId, message.a);
      this.handlers.onStarted?.(jobId);
      return;
    }
    switch (message.t) {
      case 'events':
        for (const event of message.events) this.handlers.onEvent(jobId, event);
        break;
      case 'finished':
        this.settle(jobId, () => this.handlers.onFinished(jobId, outcomeFromWire(message.outcome)));
        break;
      case 'failed':
        if (message.final) this.settle(jobId, () => this.handlers.onFailed(jobId, message.error, message.stack));
        break;
      case 'cancelled':
        break; // a worker cancelled it for another coordinator's request: it is retried or reconciled
    }
  }

  private settle(jobId: string, report: () => void): void {
    if (this.settled.has(jobId)) return;
    this.settled.add(jobId);
    this.attempt.delete(jobId);
    this.retired.delete(jobId);
    try {
      report();
    } finally {
      const batch = this.batchOf.get(jobId);
      this.batchOf.delete(jobId);
      if (batch?.tasks.every((t) => this.settled.has(t.id))) {
        this.outstanding.delete(batch.bullId);
        void this.queue.remove(batch.bullId).catch(() => {});
      }
      this.wake?.();
    }
  }

  /** Settles batches whose stream entries were lost, re-queues vanished ones (see the module comment). */
  private async reconcile(): Promise<void> {
    if (this.redis.status !== 'ready') {
      this.unreachable(new Error(`connection ${this.redis.status}`));
      return;
    }
    if (this.reconciling || this.outstanding.size === 0) return;
    this.reconciling = true;
    try {
      const now = Date.now();
      for (const entry of [...this.outstanding.values()]) {
        const job = await Job.fromId<BatchPayload, BatchResult>(this.queue, entry.bullId);
        if (job === undefined) {
          // Gone (Redis restarted without persistence, or removed by hand): queue it again.
          const open = entry.tasks.filter((t) => !this.settled.has(t.id));
          this.outstanding.delete(entry.bullId);
          if (open.length > 0) await this.enqueue(open);
          continue;
        }
        const state = await job.getState();
        if (state !== 'completed' && state !== 'failed') continue;
        // Give the stream reader time to deliver the entries written before completion.
        entry.completedSeenAt ??= now;
        if (now - entry.completedSeenAt < 2_000) continue;
        const open = entry.tasks.filter((t) => !this.settled.has(t.id));
        if (state === 'completed') {
          const outcomes = (job.returnvalue as BatchResult | null)?.outcomes ?? {};
          for (const t of open) {
            const wire = outcomes[t.id];
            if (wire) this.settle(t.id, () => this.handlers.onFinished(t.id, outcomeFromWire(wire)));
            else this.settle(t.id, () => this.handlers.onFailed(t.id, 'worker completed the batch without a result for this job'));
          }
        } else {
          for (const t of open) this.settle(t.id, () => this.handlers.onFailed(t.id, job.failedReason, job.stacktrace?.[job.stacktrace.length - 1]));
        }
        this.outstanding.delete(entry.bullId);
      }
      this.reachable();
    } catch (error) {
      this.unreachable(error);
    } finally {
      this.reconciling = false;
    }
    this.wake?.();
  }

  private reachable(): void {
    this.unreachableSince = undefined;
  }

  private unreachable(error: unknown): void {
    this.lastError = error instanceof Error ? error.message : String(error);
    const now = Date.now();
    this.unreachableSince ??= now;
    if (now - this.unreachableSince >= this.options.unreachableMs && this.failure === undefined) {
      this.failure = new TwinlabError(
        'INTERNAL',
        `redis at ${this.owner.target.display} unreachable for ${Math.round((now - this.unreachableSince) / 1000)} s: ${redact(this.lastError)}`,
      );
      this.stop();
      this.wake?.();
    }
  }

  /** Abort: queued batches are removed, running ones asked to stop, unsettled jobs reported cancelled. */
  private async cancelRest(): Promise<void> {
    try {
      if (this.redis.status === 'ready') {
        await this.redis.publish(keys.cancel(this.owner.queueName), this.experimentId);
        for (const entry of this.outstanding.values()) await this.queue.remove(entry.bullId).catch(() => {});
      }
    } catch {
      // Redis gone: workers time out on their own; late results are never read.
    }
    for (const task of this.jobs) if (!this.settled.has(task.id)) this.settle(task.id, () => this.handlers.onCancelled?.(task.id));
  }

  private async cleanUp(): Promise<void> {
    try {
      if (this.redis.status === 'ready') await this.redis.del(this.stream);
    } catch {
      // best effort: the stream is capped anyway
    }
  }
}

/**
 * The code version a coordinator requires and a worker runs: `codeVersion()` (a hash of the sources),
 * or TWINLAB_CODE_VERSION when set — for tests and deployments that pin one label for a build whose
 * sources are edited while it runs. Pinning tells a worker to trust that label: set it only to one
 * value for the coordinator and all its workers.
 */
export function queueCodeVersion(): string {
  const pinned = process.env.TWINLAB_CODE_VERSION;
  return pinned !== undefined && pinned !== '' ? pinned : codeVersion();
}

/** A new attempt token (worker id + counter), unique across workers. */
export function workerId(): string {
  return randomUUID().slice(0, 8);
}

// ---- worker ----------------------------------------------------------------------------------------

const ArmSchema = z.object({ name: z.string(), policy: z.string().min(1), options: z.record(z.string(), z.unknown()), shield: z.union([z.literal(true), z.string()]).optional() });

/** A streaming trial's block (jobs.ts `TrialBlockConfig`): the cohort request and the trial's shape, never patient data. */
const TrialBlockSchema = z.object({
  kind: z.literal('trial-block'),
  cohort: z.object({ population: z.string().optional(), size: z.number().int().min(1), seed: z.number().int(), generated: z.boolean().optional() }),
  shape: z.object({
    twinId: z.string().nullable(),
    envId: z.string(),
    scenario: z.record(z.string(), z.unknown()),
    steps: z.number().int().min(1).nullable(),
    trialSeed: z.number().int(),
    paired: z.boolean(),
    episodes: z.number().int().min(1),
    arms: z.array(ArmSchema).min(1),
    endpoints: z.array(z.string()),
    keyframeInterval: z.number().int().min(0),
    keepEvery: z.number().int().min(1),
    frames: z.boolean().optional(),
  }),
  replicates: z.number().int().min(1),
  from: z.number().int().min(0),
  to: z.number().int().min(1),
  bootstrap: z.object({ seed: z.number().int(), resamples: z.number().int().min(2).max(100_000), reference: z.string() }).optional(),
});

const JobTaskSchema = z.object({
  id: z.string().min(1),
  index: z.number().int().min(0),
  kind: z.enum(['train', 'trial']),
  seed: z.number().int(),
  experimentId: z.string().min(1),
  dataDir: z.string().min(1),
  checkpointPath: z.string().optional(),
  config: z.discriminatedUnion('kind', [
    z
      .object({
        kind: z.literal('trial'),
        twinId: z.string().nullable(),
        envId: z.string(),
        envOptions: z.record(z.string(), z.unknown()),
        patientIndex: z.number().int().min(0),
        enrolled: z.number().int().min(0),
        patientId: z.string(),
        covariates: z.record(z.string(), z.union([z.number(), z.string()])),
        arm: ArmSchema,
        armIndex: z.number().int().min(0),
        replicate: z.number().int().min(0),
        episodeSeeds: z.array(z.number().int()).min(1),
        policySeed: z.number().int(),
        endpoints: z.array(z.string()),
        keyframeInterval: z.number().int().min(1),
      })
      .passthrough(),
    z
      .object({
        kind: z.literal('train'),
        envId: z.string(),
        envOptions: z.record(z.string(), z.unknown()),
        agent: z.literal('dqn'),
        agentConfig: z.record(z.string(), z.unknown()),
        gridPoint: z.record(z.string(), z.unknown()),
        replicate: z.number().int().min(0),
        evalEpisodes: z.number().int().min(0),
      })
      .passthrough(),
    TrialBlockSchema,
  ]),
});

export const BatchPayloadSchema = z.object({
  v: z.literal(WIRE_VERSION),
  codeVersion: z.string().min(1),
  experimentId: z.string().min(1),
  stream: z.string().min(1),
  tasks: z.array(JobTaskSchema).min(1).max(MAX_QUEUE_BATCH),
});

/** "tasks.3.config.arm.policy: …" — the first problems of a zod error, naming the field. */
function describeZod(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
}

export interface TaskChecks {
  hasEnv(id: string): boolean;
  hasTwin(id: string): boolean;
  hasPolicy(name: string): boolean;
  /** A saved-policy directory on this host (policy.json inside). */
  isSavedPolicy(path: string): boolean;
}

/**
 * Validates a batch taken from the queue: the payload's shape (zod), the code version, and that every
 * job names only registered envs, twins and policies, or saved-policy files on this host — a queue
 * message never brings code. Throws TwinlabError naming the field; `version` mismatches say both.
 */
export function validateBatch(data: unknown, expectedVersion: string, checks: TaskChecks, worker = 'this worker'): BatchPayload {
  const parsed = BatchPayloadSchema.safeParse(data);
  if (!parsed.success) throw new TwinlabError('INVALID_ARGUMENT', `invalid job payload: ${describeZod(parsed.error)}`);
  const payload = parsed.data as unknown as BatchPayload;
  if (payload.codeVersion !== expectedVersion) {
    throw new TwinlabError(
      'CONFLICT',
      `code version mismatch: ${worker} runs ${expectedVersion}, the job needs ${payload.codeVersion}; start workers from the same sources as the coordinator`,
    );
  }
  for (const [i, task] of payload.tasks.entries()) {
    const where = `tasks.${i} (${task.id})`;
    if (task.experimentId !== payload.experimentId) throw new TwinlabError('INVALID_ARGUMENT', `${where}: experimentId differs from the batch's`);
    const config = task.config;
    if (config.kind === 'trial-block') {
      // A block names its env, twin and arms once, in its shape; the worker regenerates the patients.
      const shape = config.shape;
      if (!checks.hasEnv(shape.envId)) throw new TwinlabError('INVALID_ARGUMENT', `${where}: config.shape.envId "${shape.envId}" is not a registered env`);
      if (shape.twinId !== null && !checks.hasTwin(shape.twinId)) throw new TwinlabError('INVALID_ARGUMENT', `${where}: config.shape.twinId "${shape.twinId}" is not a registered twin`);
      for (const [a, arm] of shape.arms.entries()) {
        if (!checks.hasPolicy(arm.policy) && !checks.isSavedPolicy(arm.policy)) {
          throw new TwinlabError('INVALID_ARGUMENT', `${where}: config.shape.arms.${a}.policy "${arm.policy}" is neither a registered policy nor a saved-policy directory on this host`);
        }
      }
      continue;
    }
    if (!checks.hasEnv(config.envId)) throw new TwinlabError('INVALID_ARGUMENT', `${where}: config.envId "${config.envId}" is not a registered env`);
    if (config.kind === 'trial') {
      if (config.twinId !== null && !checks.hasTwin(config.twinId)) throw new TwinlabError('INVALID_ARGUMENT', `${where}: config.twinId "${config.twinId}" is not a registered twin`);
      const policy = config.arm.policy;
      if (!checks.hasPolicy(policy) && !checks.isSavedPolicy(policy)) {
        throw new TwinlabError('INVALID_ARGUMENT', `${where}: config.arm.policy "${policy}" is neither a registered policy nor a saved-policy directory on this host`);
      }
    }
  }
  return payload;
}

export interface RedisWorkerOptions {
  url?: string;
  queue?: string;
  /** Jobs run at the same time (Piscina worker threads; default 1). */
  concurrency?: number;
  /** BullMQ lock duration: a worker silent this long is presumed dead and its batch retried (default 30 s). */
  lockDurationMs?: number;
  /** How often BullMQ looks for stalled batches (default 30 s). */
  stalledIntervalMs?: number;
  /** Runs the jobs (default: a PiscinaExecutor with `concurrency` threads). */
  executor?: Executor;
  /** Code version this worker runs (default: its sources'). */
  codeVersion?: string;
  log?: (line: string) => void;
}

export interface RunningRedisWorker {
  id: string;
  close(): Promise<void>;
}

/** Flushes a job's events to the stream every EVENT_FLUSH_MS (or on its result). */
const EVENT_FLUSH_MS = 50;

/**
 * `twinlab worker`: takes batches from the queue, validates them (`validateBatch`), runs them on the
 * local executor (the same job runner as everywhere else) and writes the ordered stream messages
 * (see the module comment). A batch with a failed job throws, so BullMQ retries it (up to the
 * coordinator's `attempts`) and finally marks it failed; a payload that fails validation or the code
 * version check fails at once (UnrecoverableError): no retry can fix it.
 */
export async function startRedisWorker(options: RedisWorkerOptions, checks: TaskChecks): Promise<RunningRedisWorker> {
  const target = parseRedisUrl(options.url ?? DEFAULT_REDIS_URL);
  const queueName = checkQueueName(options.queue ?? DEFAULT_QUEUE);
  const concurrency = options.concurrency ?? 1;
  const version = options.codeVersion ?? queueCodeVersion();
  const id = `${hostname()}-${process.pid}-${workerId()}`;
  const log = options.log ?? (() => {});
  const executor = options.executor ?? new PiscinaExecutor({ workers: concurrency });
  const redis = new Redis(connectionOptions(target));
  redis.on('error', () => {});
  const subscriber = redis.duplicate();
  subscriber.on('error', () => {});
  const running = new Map<string, Set<AbortController>>();
  await subscriber.subscribe(keys.cancel(queueName));
  subscriber.on('message', (_channel: string, experimentId: string) => {
    for (const controller of running.get(experimentId) ?? []) controller.abort();
  });
  const announcement = (): string =>
    JSON.stringify({ id, host: hostname(), pid: process.pid, codeVersion: version, backend: process.env.TWINLAB_BACKEND ?? 'auto', concurrency, startedAt, seenAt: Date.now() });
  const startedAt = new Date().toISOString();
  await redis.hset(keys.workers(queueName), id, announcement());
  const heartbeat = setInterval(() => void redis.hset(keys.workers(queueName), id, announcement()).catch(() => {}), 5_000);
  heartbeat.unref();
  let attempts = 0;
  const workerConnection = redis.duplicate();
  workerConnection.on('error', () => {});

  const worker = new Worker<BatchPayload, BatchResult>(
    queueName,
    async (job) => {
      let payload: BatchPayload;
      try {
        payload = validateBatch(job.data, version, checks, `worker ${id}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        log(`refused batch ${job.id}: ${message}`);
        throw new UnrecoverableError(message);
      }
      const attempt = `${id}#${++attempts}`;
      const final = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const writes: Array<Promise<unknown>> = [];
      const send = (message: StreamMessage): void => {
        writes.push(redis.xadd(payload.stream, 'MAXLEN', '~', STREAM_MAXLEN, '*', 'm', JSON.stringify(message)));
      };
      const buffered = new Map<string, TwinlabEvent[]>();
      const flush = (jobId?: string): void => {
        for (const [key, events] of buffered) {
          if (jobId !== undefined && key !== jobId) continue;
          if (events.length > 0) send({ t: 'events', job: key, a: attempt, events });
          buffered.delete(key);
        }
      };
      const timer = setInterval(() => flush(), EVENT_FLUSH_MS);
      const controller = new AbortController();
      let set = running.get(payload.experimentId);
      if (set === undefined) {
        set = new Set();
        running.set(payload.experimentId, set);
      }
      set.add(controller);
      const outcomes: Record<string, WireOutcome> = {};
      const failures: string[] = [];
      try {
        await executor.run(
          payload.tasks,
          {
            onStarted: (jobId) => send({ t: 'started', job: jobId, a: attempt }),
            onEvent: (jobId, event) => {
              let list = buffered.get(jobId);
              if (list === undefined) {
                list = [];
                buffered.set(jobId, list);
              }
              list.push(event);
            },
            onFinished: (jobId, outcome) => {
              flush(jobId);
              const wire = outcomeToWire(outcome);
              outcomes[jobId] = wire;
              send({ t: 'finished', job: jobId, a: attempt, outcome: wire });
            },
            onFailed: (jobId, error, stack) => {
              flush(jobId);
              failures.push(`${jobId}: ${error}`);
              send({ t: 'failed', job: jobId, a: attempt, error, ...(stack !== undefined ? { stack } : {}), final });
            },
            onCancelled: (jobId) => {
              flush(jobId);
              send({ t: 'cancelled', job: jobId, a: attempt });
            },
          },
          controller.signal,
        );
      } finally {
        clearInterval(timer);
        flush();
        set.delete(controller);
        if (set.size === 0) running.delete(payload.experimentId);
        await Promise.allSettled(writes);
      }
      await Promise.all(writes); // a lost write fails the attempt: it is retried
      if (controller.signal.aborted) throw new UnrecoverableError('cancelled by the coordinator');
      if (failures.length > 0) throw new Error(failures.length === 1 ? (failures[0] as string) : `${failures.length} jobs failed: ${failures.slice(0, 3).join('; ')}`);
      return { outcomes };
    },
    {
      connection: workerConnection,
      concurrency,
      lockDuration: options.lockDurationMs ?? 30_000,
      stalledInterval: options.stalledIntervalMs ?? 30_000,
      maxStalledCount: 2,
    },
  );
  worker.on('error', (error) => log(`redis: ${redact(error.message)}`));
  await worker.waitUntilReady();
  log(`worker ${id} on ${target.display} queue ${queueName} (code ${version}, concurrency ${concurrency})`);
  return {
    id,
    async close() {
      clearInterval(heartbeat);
      await worker.close();
      await redis.hdel(keys.workers(queueName), id).catch(() => {});
      await executor.close();
      subscriber.disconnect();
      workerConnection.disconnect();
      redis.disconnect();
    },
  };
}
