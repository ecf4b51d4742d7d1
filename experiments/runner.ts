import { isAbsolute, relative } from 'node:path';
import type { TwinlabEvent } from '../engine/events.js';
import { TwinlabError } from '../engine/errors.js';
import { getTwin } from '../engine/twin.js';
import { hasPolicy } from '../policies/registry.js';
import { codeVersion } from './code-version.js';
import { endpointDefinition } from './endpoints.js';
import { type Executor, PiscinaExecutor } from './executor.js';
import type { JobOutcome, JobTask } from './job-runner.js';
import { expandJobsAsync, type JobSpec, jobId, type TrialJobConfig } from './jobs.js';
import { type ExperimentSpec, type TrialSpec, validateSpec } from './spec.js';
import type { ExperimentRecord, ExperimentStatus, JobRecord, Store } from './store.js';
import { analyzeTrial, type TrialAnalysis } from './trial-analysis.js';

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
 *   6. store — events are appended in batches (per job, in order, flushed every 250 ms / 500 events and
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
  /** Called once the experiment row exists (e.g. to print its id). */
  onCreated?: (experiment: ExperimentRecord, jobs: JobSpec[]) => void;
  signal?: AbortSignal;
}

export interface RunExperimentOptions extends RunnerOptions {
  /** A parsed spec (validated here). */
  spec: unknown;
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
  const spec = validateSpec(options.spec, { baseDir: options.baseDir });
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
    options.onCreated?.(experiment, jobs);
    return await executeAndFinish(
      store,
      experiment,
      spec,
      jobs.map((j) => toTask(store, id, j)),
      options,
      executor,
    );
  } finally {
    if (ownExecutor) await executor.close();
  }
}

/** Which worker the experiment's jobs need: protocol-only trials run in the light one (no tfjs). */
function workerKind(spec: ExperimentSpec): 'light' | 'full' {
  return spec.kind === 'trial' && spec.arms.every((a) => hasPolicy(a.policy)) ? 'light' : 'full';
}

/**
 * Resume an interrupted or failed experiment: jobs left `running` by a dead process go back to
 * pending, and only jobs that did not finish run again (training jobs from their last checkpoint when
 * there is one). Finished results are never re-run or overwritten, so the final results equal those
 * of an uninterrupted run.
 */
export async function resumeExperiment(options: RunnerOptions & { id: string }): Promise<ExperimentOutcome> {
  const { store, id } = options;
  const experiment = store.getExperiment(id);
  if (!experiment) throw new TwinlabError('NOT_FOUND', `no experiment ${id} in ${store.path}`);
  store.resetUnfinishedJobs(id);
  const spec = experiment.spec as ExperimentSpec;
  const pending = store.listJobs(id).filter((j) => j.status !== 'finished');
  const tasks = pending.map((j) => {
    const task = toTask(store, id, { id: j.id, index: j.index, kind: j.kind as JobSpec['kind'], config: j.config as JobSpec['config'], seed: j.seed });
    if (j.checkpointPath) task.checkpointPath = j.checkpointPath;
    return task;
  });
  const ownExecutor = options.executor === undefined;
  const executor = options.executor ?? new PiscinaExecutor({ workers: options.workers });
  try {
    return await executeAndFinish(store, experiment, spec, tasks, options, executor);
  } finally {
    if (ownExecutor) await executor.close();
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
  const buffer = new EventBuffer(store, id);
  try {
    // 5. execute + 6. store
    await executor.run(
      tasks,
      {
        onStarted: (jobId) => store.markJobRunning(jobId),
        onEvent: (jobId, event) => {
          // The runner writes each job's one run.finished / run.failed itself (with the stored result).
          if (event.type === 'run.finished' || event.type === 'run.failed') return;
          options.onEvent?.({ experimentId: id, jobId, event });
          if (event.type === 'checkpoint.saved') {
            buffer.flush();
            store.setJobCheckpoint(jobId, dataRelative(store, event.data.path));
          }
          buffer.push(jobId, event);
        },
        onFinished: (jobId, outcome) => {
          buffer.flush();
          const finished: TwinlabEvent = { type: 'run.finished', step: Number(outcome.result.steps ?? 0), data: { result: outcome.result } };
          store.transaction(() => {
            for (const e of outcome.episodes) {
              const episode = e.encoded ?? e.log;
              if (episode === undefined) throw new TwinlabError('INTERNAL', `job ${jobId} returned episode ${e.key} without a log`);
              store.saveEpisode(jobId, e.key, episode, e.summary);
            }
            for (const a of outcome.artifacts) store.addArtifact(jobId, a.kind, a.path, a.meta);
            store.markJobFinished(jobId, outcome.result);
            store.appendEvents(id, jobId, [finished]);
          });
          options.onEvent?.({ experimentId: id, jobId, event: finished });
        },
        onFailed: (jobId, error, stack) => {
          buffer.flush();
          const failed: TwinlabEvent = { type: 'run.failed', step: 0, data: stack === undefined ? { error } : { error, stack } };
          store.transaction(() => {
            store.markJobFailed(jobId, error, stack);
            store.appendEvents(id, jobId, [failed]);
          });
          options.onEvent?.({ experimentId: id, jobId, event: failed });
        },
        onCancelled: (jobId) => {
          buffer.flush();
          store.markJobCancelled(jobId);
        },
      },
      options.signal,
    );
  } catch (error) {
    buffer.flush();
    store.setExperimentStatus(id, 'failed', error instanceof Error ? error.message : String(error));
    throw error;
  } finally {
    buffer.close();
  }
  return finish(store, id, spec, options.signal);
}

function finish(store: Store, id: string, spec: ExperimentSpec, signal: AbortSignal | undefined): ExperimentOutcome {
  const jobs = store.listJobs(id);
  const failed = jobs.filter((j) => j.status === 'failed');
  const unfinished = jobs.filter((j) => j.status !== 'finished');
  if (signal?.aborted && unfinished.length > 0) {
    store.setExperimentStatus(id, 'cancelled', `cancelled with ${unfinished.length} of ${jobs.length} jobs unfinished`);
    return { id, status: 'cancelled', jobs };
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
  if (spec.kind === 'trial') {
    trial = analyseTrial(spec, jobs);
    store.saveTrialResult(id, trial);
  }
  // 8. finish
  store.setExperimentStatus(id, 'finished');
  return trial ? { id, status: 'finished', jobs, trial } : { id, status: 'finished', jobs };
}

/** The paired analysis of a finished trial from its job results (patient = enrolment position). */
export function analyseTrial(spec: TrialSpec, jobs: JobRecord[]): TrialAnalysis {
  const twin = spec.cohort.twin ? getTwin(spec.cohort.twin) : undefined;
  const table = new Map<string, Record<string, number>>();
  for (const job of jobs) {
    const config = job.config as TrialJobConfig;
    const result = job.result as { endpoints: Record<string, number> };
    table.set(`${config.enrolled}\0${config.arm.name}\0${config.replicate}`, result.endpoints);
  }
  const primary = new Set(spec.endpoints.primary);
  const endpoints = [...spec.endpoints.primary, ...spec.endpoints.secondary].map((eid) => {
    const d = endpointDefinition(twin, eid);
    return { id: d.id, label: d.label, unit: d.unit, kind: d.kind, better: d.better, safety: d.safety ?? false, primary: primary.has(d.id) };
  });
  return analyzeTrial({
    endpoints,
    arms: spec.arms.map((a) => a.name),
    reference: spec.reference,
    patients: spec.cohort.size,
    replicates: spec.replicates,
    values: (patient, arm, endpoint, replicate) => table.get(`${patient}\0${arm}\0${replicate}`)?.[endpoint],
    seed: spec.seed,
    primary: spec.endpoints.primary,
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

  constructor(
    private readonly store: Store,
    private readonly experimentId: string,
  ) {
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
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

  flush(): void {
    if (this.count === 0) return;
    const batches = [...this.pending.entries()];
    this.pending.clear();
    this.count = 0;
    this.store.transaction(() => {
      for (const [jobId, events] of batches) this.store.appendEvents(this.experimentId, jobId, events);
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }
}

export type { JobOutcome };
