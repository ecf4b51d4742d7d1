import { TwinlabError } from '../engine/errors.js';
import type { Executor } from '../experiments/executor.js';
import { verifyReplay } from '../experiments/replay.js';
import { buildReport } from '../experiments/report-builder.js';
import { leaseIsLive } from '../experiments/lease.js';
import { resumeExperiment, runExperiment } from '../experiments/runner.js';
import { parseSpecText } from '../experiments/spec.js';
import type { Store } from '../experiments/store.js';
import type { Lab } from './app.js';

/**
 * The server's lab: experiments started over the API run in this process's shared worker pool (the
 * same PiscinaExecutor the CLI uses), one AbortController each so they can be cancelled. A failing
 * experiment is recorded failed by the runner; nothing it throws reaches the HTTP layer after the
 * experiment row exists.
 */
export class ServerLab implements Lab {
  readonly startedAt = Date.now();
  private readonly running = new Map<string, AbortController>();
  private readonly finished = new Set<Promise<unknown>>();

  constructor(
    readonly store: Store,
    private readonly executor: Executor,
    private readonly onExperimentStarted: (id: string) => void = () => undefined,
    private readonly baseDir = process.cwd(),
  ) {
    // Experiments a killed process left `running` (its lease is dead) become `interrupted`: resumable, not running forever.
    store.reconcileOrphans((lease) => leaseIsLive(lease));
  }

  /**
   * Validate and launch an experiment: `created` resolves with its id once it is stored (or rejects
   * when the spec is invalid — nothing is written then); `finished` resolves when it has ended.
   */
  private launch(specInput: unknown): { created: Promise<string>; finished: Promise<unknown> } {
    const spec = typeof specInput === 'string' ? parseSpecText(specInput, 'body.spec') : specInput;
    const controller = new AbortController();
    let onCreated: (id: string) => void = () => undefined;
    const created = new Promise<string>((resolve) => {
      onCreated = resolve;
    });
    const finished = runExperiment({
      spec,
      store: this.store,
      executor: this.executor,
      baseDir: this.baseDir,
      signal: controller.signal,
      onCreated: (experiment) => {
        this.running.set(experiment.id, controller);
        this.onExperimentStarted(experiment.id);
        onCreated(experiment.id);
      },
    }).then((outcome) => {
      this.running.delete(outcome.id);
      return outcome;
    });
    this.finished.add(finished);
    void finished.catch(() => undefined).finally(() => this.finished.delete(finished));
    return { created: Promise.race([created, finished.then(() => created)]), finished };
  }

  async startExperiment(specInput: unknown): Promise<{ id: string }> {
    const { created, finished } = this.launch(specInput);
    let stored = false;
    finished.catch((error: unknown) => {
      // Once the experiment row exists the runner has recorded the failure: log it, never throw into HTTP.
      if (stored) process.stderr.write(`twinlab: experiment failed: ${error instanceof Error ? error.message : String(error)}\n`);
    });
    const id = await created;
    stored = true;
    return { id };
  }

  /** Run a spec to completion (the demo uses this); resolves with the experiment id. `onCreated` gets it once stored. */
  async runToCompletion(spec: unknown, onCreated?: (id: string) => void): Promise<string> {
    const { created, finished } = this.launch(spec);
    if (onCreated) void created.then(onCreated);
    await finished;
    return created;
  }

  /**
   * Resume an experiment in the shared pool; resolves once this process owns it (rejects with CONFLICT
   * when a live process — this one or another — runs it, NOT_FOUND when it does not exist).
   */
  async resumeExperiment(id: string): Promise<{ id: string }> {
    if (this.running.has(id)) throw new TwinlabError('CONFLICT', `experiment ${id} is already running in this server`);
    const controller = new AbortController();
    let onOwned: () => void = () => undefined;
    const owned = new Promise<void>((resolve) => {
      onOwned = resolve;
    });
    const finished = resumeExperiment({
      id,
      store: this.store,
      executor: this.executor,
      signal: controller.signal,
      onCreated: () => {
        this.running.set(id, controller);
        this.onExperimentStarted(id);
        onOwned();
      },
    }).finally(() => {
      if (this.running.get(id) === controller) this.running.delete(id);
    });
    this.finished.add(finished);
    void finished.catch(() => undefined).finally(() => this.finished.delete(finished));
    let stored = false;
    finished.catch((error: unknown) => {
      if (stored) process.stderr.write(`twinlab: resumed experiment failed: ${error instanceof Error ? error.message : String(error)}\n`);
    });
    await Promise.race([owned, finished.then(() => undefined)]);
    stored = true;
    return { id };
  }

  cancelExperiment(id: string): boolean {
    const controller = this.running.get(id);
    if (!controller) return false;
    controller.abort();
    return true;
  }

  async verifyEpisode(jobId: string, key: string): Promise<unknown> {
    return verifyReplay(this.store, jobId, key);
  }

  async report(experimentId: string, format: 'md' | 'html' | 'json'): Promise<string> {
    if (!this.store.getExperiment(experimentId)) throw new TwinlabError('NOT_FOUND', `unknown experiment "${experimentId}"`);
    return buildReport(this.store, experimentId, format);
  }

  /** Cancel what runs and wait for the runners to record it. */
  async shutdown(): Promise<void> {
    for (const controller of this.running.values()) controller.abort();
    await Promise.allSettled([...this.finished]);
  }
}
