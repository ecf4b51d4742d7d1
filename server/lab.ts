import { TwinlabError } from '../engine/errors.js';
import type { Executor } from '../experiments/executor.js';
import { verifyReplay } from '../experiments/replay.js';
import { buildReport } from '../experiments/report-builder.js';
import { runExperiment } from '../experiments/runner.js';
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
  ) {}

  startExperiment(specInput: unknown): Promise<{ id: string }> {
    const spec = typeof specInput === 'string' ? parseSpecText(specInput, 'body.spec') : specInput;
    const controller = new AbortController();
    return new Promise((resolve, reject) => {
      let created = false;
      const run = runExperiment({
        spec,
        store: this.store,
        executor: this.executor,
        baseDir: this.baseDir,
        signal: controller.signal,
        onCreated: (experiment) => {
          created = true;
          this.running.set(experiment.id, controller);
          this.onExperimentStarted(experiment.id);
          resolve({ id: experiment.id });
        },
      });
      const settled = run.then(
        (outcome) => this.running.delete(outcome.id),
        (error: unknown) => {
          if (!created) reject(error);
          else process.stderr.write(`twinlab: experiment failed: ${error instanceof Error ? error.message : String(error)}\n`);
        },
      );
      this.finished.add(settled);
      void settled.finally(() => this.finished.delete(settled));
    });
  }

  /** Run a spec to completion (the demo uses this); resolves with the experiment id. */
  async runToCompletion(spec: unknown): Promise<string> {
    const controller = new AbortController();
    let id = '';
    const outcome = await runExperiment({
      spec,
      store: this.store,
      executor: this.executor,
      baseDir: this.baseDir,
      signal: controller.signal,
      onCreated: (experiment) => {
        id = experiment.id;
        this.running.set(id, controller);
        this.onExperimentStarted(id);
      },
    });
    this.running.delete(outcome.id);
    return outcome.id;
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
