import { existsSync, readdirSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import type { TwinlabEvent } from '../engine/events.js';
import { TwinlabError } from '../engine/errors.js';
import { getTwin } from '../engine/twin.js';
import { hasPolicy } from '../policies/registry.js';
import { codeVersion } from './code-version.js';
import { endpointDefinition } from './endpoints.js';
import { type Executor, PiscinaExecutor } from './executor.js';
import type { JobOutcome, JobTask } from './job-runner.js';
import { expandJobsAsync, type JobSpec, jobId, type TrialJobConfig } from './jobs.js';
import { currentOwner, LEASE_RENEW_MS, LEASE_TTL_MS, leaseIsLive } from './lease.js';
import { cohortSize, type ExperimentSpec, hypothesisOf, type TrialSpec, validateSpec } from './spec.js';
import type { ExperimentRecord, ExperimentStatus, JobRecord, Store } from './store.js';
import { checkpointDirFor } from './train-job.js';
import { StreamingTrialAggregator } from './streaming-trial.js';
import { analyzeTrial, type TrialAnalysis, type TrialEndpointMeta } from './trial-analysis.js';
import type { TrialBlockResult } from './trial-blocks.js';

/**
 * The experiment runner: the one path by which the CLI, the server and the tests run experiments.
 *
 * Pipeline of `runExperiment`:
 *   1. validate — the whole spec (schema + registries); on any error throw INVALID_SPEC, nothing written;
 *   2. id — `<name-slug>-<UTC timestamp>` (unique in the store; the id never feeds a seed);
 *   3. expand — jobs with ids `<id>/job-<index>` and seeds derived from (experiment seed, index);
 *      errors here (e.g. inclusion rules enrol too few patients) are INVALID_SPEC, still nothing written;
 *   4. persist — the experiment and all its jobs, pending, in one transaction;
 *   5. execute — the executor runs the jobs (Piscina workers by default); each job goes running →
 *      finished / failed / cancelled in the store as it happens;
 *   6. store — events are appended in batches (per job, in order, flushed every 25 ms / 500 events and
 *      before the job's own result); a finished job's result, episode logs, artifacts and its
 *      `run.finished` event are written in ONE transaction, so a crash never leaves half a result;
 *   7. analyse — for a trial whose jobs all finished, the paired analysis is computed and stored;
 *   8. finish — the experiment's final status.
 *
 * Failure policy: a job that throws is recorded `failed` with its error and stack, and the other jobs
 * keep running. The experiment then ends `failed` (error: "k of n jobs failed: …") — never
 * "finished" — because its results are incomplete (a trial missing patients cannot be analysed
 * paired and honestly). The finished jobs' results stay; `resumeExperiment` re-runs only the jobs
 * that did not finish and then completes the analysis. Aborting (signal) ends it `cancelled`.
 */
export interface RunnerEvent {
  experimentId: string;
  jobId: string | null;
  event: TwinlabEvent;
}

export interface RunnerOptions {
  store: Store;
  /** Defaults to a PiscinaExecutor with `workers` threads (closed at the end). */
  executor?: Executor;
  workers?: number;
  /** Live events (the CLI draws progress from them); called before they are persisted. */
  onEvent?: (event: RunnerEvent) => void;
  /** Called once the experiment row exists and this process owns it (e.g. to print its id); on resume, with the jobs to re-run. */
  onCreated?: (experiment: ExperimentRecord, jobs: JobSpec[]) => void;
  signal?: AbortSignal;
}

export interface RunExperimentOptions extends RunnerOptions {
  /** A parsed spec (validated here unless `validated`). */
  spec: unknown;
  /** `spec` is already the result of validateSpec (saved-policy paths absolute): do not validate it again. */
  validated?: boolean;
  /** Directory relative saved-policy paths resolve against. */
  baseDir?: string;
  /** Experiment id (default: generated). */
  id?: string;
}

export interface ExperimentOutcome {
  id: string;
  status: ExperimentStatus;
  error?: string;
  jobs: JobRecord[];
  trial?: TrialAnalysis;
}

/** Events are written in batches at most this far apart: the live viewer's latency budget (< 100 ms) includes it. */
const FLUSH_INTERVAL_MS = 25;
const FLUSH_EVENTS = 500;

export async function runExperiment(options: RunExperimentOptions): Promise<ExperimentOutcome> {
  const { store } = options;
  // 1. validate
  const spec = options.validated ? (options.spec as ExperimentSpec) : validateSpec(options.spec, { baseDir: options.baseDir });
  // 2. id
  let id = options.id ?? newExperimentId(store, spec.name);
  if (store.getExperiment(id)) throw new TwinlabError('CONFLICT', `experiment ${id} already exists in ${store.path}`);
  const ownExecutor = options.executor === undefined;
  const executor = options.executor ?? new PiscinaExecutor({ workers: options.workers });
  try {
    // Workers start (and load their module) while the main thread expands the cohort.
    executor.warmUp?.(workerKind(spec));
    // 3. expand
    let jobs = await expandJobsAsync(id, spec); // yields to the event loop: a large trial does not stall the server
    if (options.id === undefined && store.getExperiment(id)) {
      // a concurrent run took the generated id while this one expanded
      id = newExperimentId(store, spec.name);
      jobs = jobs.map((j) => ({ ...j, id: jobId(id, j.index) }));
    }
    // 4. persist
    const experiment = store.createExperiment({ id, kind: spec.kind, name: spec.name, spec, seed: spec.seed, codeVersion: codeVersion(), jobs });
    const lease = takeLease(store, experiment.id);
    try {
      options.onCreated?.(experiment, jobs);
      return await executeAndFinish(
        store,
        experiment,
        spec,
        jobs.map((j) => toTask(store, experiment.id, j)),
        options,
        executor,
      );
    } finally {
      lease.release();
    }
  } finally {
    if (ownExecutor) await executor.close();
  }
}

/** Which worker the experiment's jobs need: protocol-only trials run in the light one (no tfjs). */
function workerKind(spec: ExperimentSpec): 'light' | 'full' {
  return spec.kind === 'trial' && spec.arms.every((a) => hasPolicy(a.policy)) ? 'light' : 'full';
}

/**
 * Resume an interrupted, cancelled or failed experiment: only jobs that did not finish run again,
 * training jobs from their last recorded checkpoint when its files exist. Each re-run job first loses
 * what its unfinished attempts left in the store after that checkpoint (events, metric points), so
 * curves and reports show one attempt. Finished results are never re-run or overwritten, so the final
 * results equal those of an uninterrupted run. An experiment whose owning process is still alive (its
 * lease, see lease.ts) is refused with CONFLICT; a dead owner's is taken over.
 */
export async function resumeExperiment(options: RunnerOptions & { id: string }): Promise<ExperimentOutcome> {
  const { store, id } = options;
  const experiment = store.getExperiment(id);
  if (!experiment) throw new TwinlabError('NOT_FOUND', `no experiment ${id} in ${store.path}`);
  const lease = takeLease(store, id);
  try {
    store.resetUnfinishedJobs(id);
    const spec = experiment.spec as ExperimentSpec;
    // Only the unfinished rows are read: a streaming trial's finished blocks hold its patients' values.
    const pendingIds = store.prepare("SELECT id FROM jobs WHERE experiment_id = ? AND status != 'finished' ORDER BY idx").raw(true).all(id) as Array<[string]>;
    const pending = pendingIds.map(([jobId]) => store.getJob(jobId) as JobRecord);
    const tasks = pending.map((j) => {
      const task = toTask(store, id, { id: j.id, index: j.index, kind: j.kind as JobSpec['kind'], config: j.config as JobSpec['config'], seed: j.seed });
      if (j.kind === 'train') {
        const usable = j.checkpointPath !== undefined && j.checkpointSeq !== undefined && existsSync(join(store.dataDir, j.checkpointPath, 'checkpoint.json'));
        if (usable) task.checkpointPath = j.checkpointPath;
        pruneCheckpoints(store, j.id, usable ? j.checkpointPath : undefined);
      }
      return task;
    });
    options.onCreated?.(experiment, tasks);
    const ownExecutor = options.executor === undefined;
    const executor = options.executor ?? new PiscinaExecutor({ workers: options.workers });
    try {
      return await executeAndFinish(store, experiment, spec, tasks, options, executor);
    } finally {
      if (ownExecutor) await executor.close();
    }
  } finally {
    lease.release();
  }
}

/** Experiments this process is running now (a second run of one of them is refused, like another process's). */
const runningHere = new Set<string>();

/**
 * Takes the experiment's lease for this process (CONFLICT when a live process holds it, see lease.ts)
 * and renews it every LEASE_RENEW_MS until `release`.
 */
function takeLease(store: Store, id: string): { release(): void } {
  const owner = currentOwner();
  if (runningHere.has(id)) {
    throw new TwinlabError('CONFLICT', `experiment ${id} is being run by this process (pid ${owner.pid} on host ${owner.host}); wait for it to end or cancel it`, {
      experimentId: id,
      ownerPid: owner.pid,
      ownerHost: owner.host,
    });
  }
  store.acquireLease(id, owner, { nowMs: Date.now(), ttlMs: LEASE_TTL_MS, isLive: (lease) => leaseIsLive(lease) });
  runningHere.add(id);
  const timer = setInterval(() => {
    try {
      store.renewLease(id, owner.id, Date.now(), LEASE_TTL_MS);
    } catch {
      // e.g. a full disk: the run fails through its own writes; on this host the pid still identifies the owner.
    }
  }, LEASE_RENEW_MS);
  timer.unref();
  return {
    release: () => {
      clearInterval(timer);
      runningHere.delete(id);
      try {
        if (store.isOpen) store.releaseLease(id, owner.id);
      } catch {
        // Left behind, the lease names a process that is gone once this one exits: it is taken over then.
      }
    },
  };
}

/** Removes a training job's checkpoint directories other than `keep` (unrecorded or superseded ones). */
function pruneCheckpoints(store: Store, jobId: string, keep: string | undefined): void {
  const root = checkpointDirFor(jobId).split('\\').join('/');
  const absolute = join(store.dataDir, root);
  if (!existsSync(absolute)) return;
  for (const entry of readdirSync(absolute, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    if (keep !== undefined && `${root}/${entry.name}` === keep) continue;
    rmSync(join(absolute, entry.name), { recursive: true, force: true });
  }
}

function toTask(store: Store, experimentId: string, job: JobSpec): JobTask {
  return { ...job, experimentId, dataDir: store.dataDir };
}

export function newExperimentId(store: Store, name: string, now = new Date()): string {
  const slug =
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'experiment';
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  let id = `${slug}-${stamp}`;
  for (let k = 2; store.getExperiment(id); k++) id = `${slug}-${stamp}-${k}`;
  return id;
}

async function executeAndFinish(
  store: Store,
  experiment: ExperimentRecord,
  spec: ExperimentSpec,
  tasks: JobTask[],
  options: RunnerOptions,
  executor: Executor,
): Promise<ExperimentOutcome> {
  const id = experiment.id;
  store.setExperimentStatus(id, 'running');
  // A store write that fails (a full disk, an I/O error) stops the run instead of crashing the process:
  // the first failure is kept, the jobs are aborted, and the experiment ends failed with the reason.
  let failure: { error: unknown } | undefined;
  const stop = new AbortController();
  const fail = (error: unknown): void => {
    if (failure !== undefined) return;
    failure = { error };
    stop.abort();
  };
  const guard =
    <A extends unknown[]>(fn: (...args: A) => void) =>
    (...args: A): void => {
      if (failure !== undefined) return;
      try {
        fn(...args);
      } catch (error) {
        fail(error);
      }
    };
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const buffer = new EventBuffer(store, id, fail);
  const byId = new Map(tasks.map((t) => [t.id, t]));
  // Streaming trials aggregate each block as it is stored (blocks finished before a resume first).
  const streaming = spec.kind === 'trial' && spec.streaming !== undefined ? streamingAggregator(spec) : undefined;
  if (streaming) for (const block of finishedBlocks(store, id)) streaming.push(block);
  // A job resumed from a checkpoint announces itself again: its first run.started is not stored twice.
  const resumed = new Set(tasks.filter((t) => t.checkpointPath !== undefined).map((t) => t.id));
  try {
    // 5. execute + 6. store
    await executor.run(
      tasks,
      {
        onStarted: guard((jobId) => {
          store.transaction(() => {
            // A job that ran before lost its attempt: drop what that attempt stored after the checkpoint it resumes from.
            const job = store.getJob(jobId);
            if (job !== undefined && job.attempts > 0) store.discardUnfinishedAttempts(jobId, byId.get(jobId)?.checkpointPath ? job.checkpointSeq : undefined);
            store.markJobRunning(jobId);
          });
        }),
        onEvent: guard((jobId, event) => {
          // The runner writes each job's one run.finished / run.failed itself (with the stored result).
          if (event.type === 'run.finished' || event.type === 'run.failed') return;
          if (event.type === 'run.started' && resumed.delete(jobId)) return;
          options.onEvent?.({ experimentId: id, jobId, event });
          if (event.type === 'checkpoint.saved') {
            buffer.flush();
            const path = dataRelative(store, event.data.path);
            const previous = store.getJob(jobId)?.checkpointPath;
            store.transaction(() => {
              const [seq] = store.appendEvents(id, jobId, [event]);
              store.setJobCheckpoint(jobId, path, seq);
            });
            if (previous !== undefined && previous !== path) removeCheckpoint(store, previous);
            return;
          }
          buffer.push(jobId, event);
        }),
        onFinished: guard((jobId, outcome) => {
          buffer.flush();
          // A block's bootstrap sums are for the aggregation only (2B numbers per comparison): not stored.
          const result = outcome.result.kind === 'trial-block' ? withoutBootstrap(outcome.result) : outcome.result;
          const finished: TwinlabEvent = { type: 'run.finished', step: Number(result.steps ?? 0), data: { result } };
          store.transaction(() => {
            for (const e of outcome.episodes) {
              const episode = e.encoded ?? e.log;
              if (episode === undefined) throw new TwinlabError('INTERNAL', `job ${jobId} returned episode ${e.key} without a log`);
              store.saveEpisode(jobId, e.key, episode, e.summary);
            }
            for (const a of outcome.artifacts) store.addArtifact(jobId, a.kind, a.path, a.meta);
            store.markJobFinished(jobId, result);
            store.appendEvents(id, jobId, [finished]);
          });
          if (streaming && outcome.result.kind === 'trial-block') streaming.push(outcome.result as unknown as TrialBlockResult);
          options.onEvent?.({ experimentId: id, jobId, event: finished });
        }),
        onFailed: guard((jobId, error, stack) => {
          buffer.flush();
          const failed: TwinlabEvent = { type: 'run.failed', step: 0, data: stack === undefined ? { error } : { error, stack } };
          store.transaction(() => {
            store.markJobFailed(jobId, error, stack);
            store.appendEvents(id, jobId, [failed]);
          });
          options.onEvent?.({ experimentId: id, jobId, event: failed });
        }),
        onCancelled: guard((jobId) => {
          buffer.flush();
          store.markJobCancelled(jobId);
        }),
      },
      signal,
    );
  } catch (error) {
    if (failure === undefined) {
      buffer.close();
      store.setExperimentStatus(id, 'failed', error instanceof Error ? error.message : String(error));
      throw error;
    }
  } finally {
    buffer.close();
  }
  if (failure === undefined) {
    try {
      return streaming ? finishStreaming(store, id, streaming, options.signal) : finish(store, id, spec, options.signal);
    } catch (error) {
      fail(error);
    }
  }
  return recordFailure(store, id, (failure as { error: unknown }).error);
}

/** "store write failed: database or disk is full" (SQLite errors) or "runner failed: …" (anything else). */
export function describeRunnerFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? `store write failed: ${message}` : `runner failed: ${message}`;
}

/**
 * The run stopped on a failed write: the experiment and its running jobs are marked failed with the
 * one-line reason as far as the store still takes writes (each its own small in-place update, the
 * experiment first, so a nearly full file records at least that); when it takes none, the outcome
 * alone carries the reason (the store keeps `running` until a restart reconciles it to `interrupted`).
 */
function recordFailure(store: Store, id: string, error: unknown): ExperimentOutcome {
  const reason = describeRunnerFailure(error);
  const notes: string[] = [];
  try {
    store.setExperimentStatus(id, 'failed', reason);
  } catch (again) {
    notes.push(`experiment status not recorded in the store: ${again instanceof Error ? again.message : String(again)}`);
  }
  let jobs: JobRecord[] = [];
  try {
    jobs = store.listJobs(id);
  } catch {
    // unreadable too: the outcome has no job records
  }
  let unrecorded = 0;
  jobs = jobs.map((job) => {
    if (job.status !== 'running') return job;
    try {
      // What its attempt wrote after its checkpoint is dropped on resume anyway; dropping it now frees pages.
      store.transaction(() => {
        store.discardUnfinishedAttempts(job.id, job.checkpointSeq);
        store.markJobFailed(job.id, reason);
      });
    } catch {
      unrecorded++; // the store keeps it `running`; resume resets it to pending
    }
    return { ...job, status: 'failed', error: reason };
  });
  if (unrecorded > 0) notes.push(`${unrecorded} job status${unrecorded === 1 ? '' : 'es'} not recorded`);
  return { id, status: 'failed', error: notes.length > 0 ? `${reason} (${notes.join('; ')})` : reason, jobs };
}

function finish(store: Store, id: string, spec: ExperimentSpec | undefined, signal: AbortSignal | undefined, listed?: JobRecord[]): ExperimentOutcome {
  const jobs = listed ?? store.listJobs(id);
  const failed = jobs.filter((j) => j.status === 'failed');
  const unfinished = jobs.filter((j) => j.status !== 'finished');
  if (signal?.aborted && unfinished.length > 0) {
    const interrupted = unfinished.length - failed.length;
    const error = `cancelled: ${jobs.length - unfinished.length} of ${jobs.length} jobs finished, ${interrupted} interrupted${failed.length > 0 ? `, ${failed.length} failed` : ''}`;
    store.setExperimentStatus(id, 'cancelled', error);
    return { id, status: 'cancelled', error, jobs };
  }
  if (unfinished.length > 0) {
    const error = `${failed.length} of ${jobs.length} jobs failed: ${failed
      .slice(0, 3)
      .map((j) => `${j.id}: ${j.error}`)
      .join('; ')}${failed.length > 3 ? '; …' : ''}`;
    store.setExperimentStatus(id, 'failed', failed.length > 0 ? error : `${unfinished.length} jobs did not finish`);
    return { id, status: 'failed', error, jobs };
  }
  // 7. analyse
  let trial: TrialAnalysis | undefined;
  if (spec?.kind === 'trial') {
    trial = analyzeTrialJobs(spec, jobs);
    store.saveTrialResult(id, trial);
  }
  // 8. finish
  store.setExperimentStatus(id, 'finished');
  return trial ? { id, status: 'finished', jobs, trial } : { id, status: 'finished', jobs };
}

/** The endpoints of a trial spec with their metadata and declared hypotheses, in spec order. */
export function trialEndpointMetas(spec: TrialSpec): TrialEndpointMeta[] {
  const twin = spec.cohort.twin ? getTwin(spec.cohort.twin) : undefined;
  const primary = new Set(spec.endpoints.primary);
  return [...spec.endpoints.primary, ...spec.endpoints.secondary].map((eid) => {
    const d = endpointDefinition(twin, eid);
    const { hypothesis, margin, alpha } = hypothesisOf(spec, d.id);
    return { id: d.id, label: d.label, unit: d.unit, kind: d.kind, better: d.better, safety: d.safety ?? false, primary: primary.has(d.id), hypothesis, margin, alpha };
  });
}

function withoutBootstrap(result: Record<string, unknown>): Record<string, unknown> {
  const { bootstrap: _sums, ...rest } = result;
  return rest;
}

/** The streaming analysis of a trial spec with `streaming` (streaming-trial.ts), empty. */
export function streamingAggregator(spec: TrialSpec): StreamingTrialAggregator {
  return new StreamingTrialAggregator({
    endpoints: trialEndpointMetas(spec),
    arms: spec.arms.map((a) => a.name),
    reference: spec.reference,
    patients: cohortSize(spec.cohort),
    replicates: spec.replicates,
    seed: spec.seed,
    primary: spec.endpoints.primary,
    resamples: spec.streaming?.resamples,
    blockSize: spec.streaming?.blockSize,
  });
}

/** The stored results of an experiment's finished trial blocks, read one row at a time (never all at once). */
export function* finishedBlocks(store: Store, experimentId: string): Generator<TrialBlockResult> {
  const rows = store.prepare("SELECT result FROM jobs WHERE experiment_id = ? AND status = 'finished' ORDER BY idx").raw(true).iterate(experimentId) as Iterable<[string | null]>;
  for (const [text] of rows) {
    const result = text === null ? undefined : (JSON.parse(text) as { kind?: string });
    if (result?.kind === 'trial-block') yield result as TrialBlockResult;
  }
}

/**
 * `finish` for a streaming trial: the analysis is the aggregator's, and the job records returned carry
 * no results (a block's result holds its patients' values; all of them at once would be the whole cohort).
 */
function finishStreaming(store: Store, id: string, aggregator: StreamingTrialAggregator, signal: AbortSignal | undefined): ExperimentOutcome {
  const jobs = (
    store.prepare('SELECT id, idx, kind, seed, status, attempts, error FROM jobs WHERE experiment_id = ? ORDER BY idx').all(id) as Array<{
      id: string;
      idx: number;
      kind: string;
      seed: number;
      status: JobRecord['status'];
      attempts: number;
      error: string | null;
    }>
  ).map((r): JobRecord => ({ id: r.id, experimentId: id, index: r.idx, kind: r.kind, config: undefined, seed: r.seed, status: r.status, attempts: r.attempts, ...(r.error !== null ? { error: r.error } : {}) }));
  const unfinished = jobs.filter((j) => j.status !== 'finished');
  if (unfinished.length > 0) return finish(store, id, undefined, signal, jobs);
  const trial = aggregator.result();
  store.saveTrialResult(id, trial);
  store.setExperimentStatus(id, 'finished');
  return { id, status: 'finished', jobs, trial };
}

/** The paired analysis of a finished trial: its job results tabulated by patient (enrolment position), arm and replicate, then analyzeTrial. */
export function analyzeTrialJobs(spec: TrialSpec, jobs: Array<Pick<JobRecord, 'config' | 'result'>>, options: { resamples?: number } = {}): TrialAnalysis {
  const table = new Map<string, Record<string, number>>();
  for (const job of jobs) {
    const config = job.config as TrialJobConfig;
    const result = job.result as { endpoints: Record<string, number> };
    table.set(`${config.enrolled}\0${config.arm.name}\0${config.replicate}`, result.endpoints);
  }
  return analyzeTrial({
    endpoints: trialEndpointMetas(spec),
    arms: spec.arms.map((a) => a.name),
    reference: spec.reference,
    patients: cohortSize(spec.cohort),
    replicates: spec.replicates,
    values: (patient, arm, endpoint, replicate) => table.get(`${patient}\0${arm}\0${replicate}`)?.[endpoint],
    seed: spec.seed,
    primary: spec.endpoints.primary,
    resamples: options.resamples,
  });
}

function dataRelative(store: Store, path: string): string {
  return isAbsolute(path) ? relative(store.dataDir, path).split('\\').join('/') : path;
}

/** Per-job event batches, appended in order; flushed on a timer, by size, and before job results. */
class EventBuffer {
  private readonly pending = new Map<string, TwinlabEvent[]>();
  private count = 0;
  private readonly timer: NodeJS.Timeout;

  /** `onError` receives a failed timed flush (nothing else would catch it: it would crash the process). */
  constructor(
    private readonly store: Store,
    private readonly experimentId: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.timer = setInterval(() => this.flushOrReport(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  push(jobId: string, event: TwinlabEvent): void {
    let list = this.pending.get(jobId);
    if (!list) {
      list = [];
      this.pending.set(jobId, list);
    }
    list.push(event);
    if (++this.count >= FLUSH_EVENTS) this.flush();
  }

  /** Writes the pending events in one transaction; on failure they are dropped (the run is failing). */
  flush(): void {
    if (this.count === 0) return;
    const batches = [...this.pending.entries()];
    this.pending.clear();
    this.count = 0;
    this.store.transaction(() => {
      for (const [jobId, events] of batches) this.store.appendEvents(this.experimentId, jobId, events);
    });
  }

  private flushOrReport(): void {
    try {
      this.flush();
    } catch (error) {
      this.onError(error);
    }
  }

  /** Stops the timer and writes what is pending. */
  close(): void {
    clearInterval(this.timer);
    this.flushOrReport();
  }
}

/** Deletes a superseded checkpoint directory (best effort: a leftover is pruned at the next resume). */
function removeCheckpoint(store: Store, checkpointPath: string): void {
  try {
    rmSync(store.resolvePath(checkpointPath), { recursive: true, force: true });
  } catch {
    // ignored
  }
}

export type { JobOutcome };
